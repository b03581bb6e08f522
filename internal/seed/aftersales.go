package seed

import (
	"context"
	"fmt"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/aftersalesrequest"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/aftersales"
)

// asStep is one step of a demo after-sales request.
type asStep int

const (
	asApprove asStep = iota
	asReject
	asEscalate
	asPropose
	asShipBack
	asConfirm
	asReplace
)

// demoAfterSales are requests on fresh demo orders of the tea house, one in each
// interesting state: awaiting the merchant, awaiting the return, returned, refunded,
// escalated to the platform (the admin's arbitration queue), proposed, exchanged.
var demoAfterSales = []struct {
	order  demoOrder
	typ    aftersalesrequest.Type
	reason aftersalesrequest.Reason
	text   string
	steps  []asStep
}{
	{demoOrder{customer: 0, kind: product.KindPHYSICAL, quantity: 1, steps: []step{pay}},
		aftersalesrequest.TypeREFUND_ONLY, aftersalesrequest.ReasonNO_LONGER_WANTED, "拍错了 Ordered by mistake", nil},
	{demoOrder{customer: 1, kind: product.KindPHYSICAL, quantity: 1, steps: []step{pay, accept, ship, scanDelivered}},
		aftersalesrequest.TypeRETURN_REFUND, aftersalesrequest.ReasonDAMAGED, "盒子压坏了 The tin arrived crushed", []asStep{asApprove}},
	{demoOrder{customer: 2, kind: product.KindPHYSICAL, quantity: 2, steps: []step{pay, accept, ship, scanDelivered}},
		aftersalesrequest.TypeRETURN_REFUND, aftersalesrequest.ReasonNOT_AS_DESCRIBED, "颜色不对 Not the colour pictured", []asStep{asApprove, asShipBack}},
	{demoOrder{customer: 3, kind: product.KindPHYSICAL, quantity: 1, steps: []step{pay}},
		aftersalesrequest.TypeREFUND_ONLY, aftersalesrequest.ReasonNO_LONGER_WANTED, "不想要了 No longer wanted", []asStep{asApprove}},
	{demoOrder{customer: 4, kind: product.KindPHYSICAL, quantity: 1, steps: []step{pay, accept, ship, scanInTransit}},
		aftersalesrequest.TypeREFUND_ONLY, aftersalesrequest.ReasonNOT_RECEIVED, "物流一直不动 The parcel has not moved for a week", []asStep{asReject, asEscalate}},
	{demoOrder{customer: 0, kind: product.KindPHYSICAL, quantity: 2, steps: []step{pay, accept, ship, scanDelivered}},
		aftersalesrequest.TypeREFUND_ONLY, aftersalesrequest.ReasonQUALITY_ISSUE, "茶叶受潮 The tea is damp", []asStep{asPropose}},
	{demoOrder{customer: 1, kind: product.KindPHYSICAL, quantity: 1, steps: []step{pay, accept, ship, scanDelivered}},
		aftersalesrequest.TypeEXCHANGE, aftersalesrequest.ReasonWRONG_ITEM, "发错货了 Wrong item sent", []asStep{asApprove, asShipBack, asConfirm, asReplace}},
}

// placeAfterSales gives the demo its after-sales requests, each step through the
// after-sales service as the person who would take it, in a transaction of its own.
func (s *seeder) placeAfterSales(ctx context.Context, client *ent.Client, publicURL string) error {
	r, err := newOrderRunner(ctx, client, publicURL, s.logger)
	if err != nil {
		return err
	}
	physical, err := r.variants(ctx, product.KindPHYSICAL)
	if err != nil || len(physical) == 0 {
		return fmt.Errorf("merchant %s has no physical variant in stock (%v)", OrdersMerchant, err)
	}
	svc := &aftersales.Service{Config: aftersales.DefaultConfig(), Orders: r.orders, Payments: r.pay}
	for k, d := range demoAfterSales {
		i := 500 + k // idempotency keys apart from the demo orders'
		if err := r.run(ctx, i, d.order, physical[k%len(physical)]); err != nil {
			return fmt.Errorf("after-sales demo %d: %w", k+1, err)
		}
		s.sum.Orders++
		buyer := r.buyers[d.order.customer%len(r.buyers)]
		o, err := client.Order.Query().Where(order.CustomerID(buyer.UserID)).Order(ent.Desc(order.FieldID)).First(ctx)
		if err != nil {
			return err
		}
		var id int
		desc := d.text
		if err := r.as(ctx, buyer, func(ctx context.Context, db *ent.Client) error {
			req, err := svc.Request(ctx, db, aftersales.RequestInput{OrderID: o.ID, Type: d.typ, Reason: d.reason, Description: &desc})
			if err == nil {
				id = req.ID
			}
			return err
		}); err != nil {
			return fmt.Errorf("after-sales demo %d: request: %w", k+1, err)
		}
		for _, st := range d.steps {
			who, fn := r.owner, func(ctx context.Context, db *ent.Client) error { return nil }
			switch st {
			case asApprove:
				fn = func(ctx context.Context, db *ent.Client) error { _, err := svc.Approve(ctx, db, id, nil); return err }
			case asReject:
				fn = func(ctx context.Context, db *ent.Client) error {
					_, err := svc.Reject(ctx, db, id, "物流显示已到站 The carrier shows it at the local station", nil)
					return err
				}
			case asPropose:
				fn = func(ctx context.Context, db *ent.Client) error {
					_, err := svc.Propose(ctx, db, id, "5.00", "可以补偿部分 We offer part of it back")
					return err
				}
			case asConfirm:
				fn = func(ctx context.Context, db *ent.Client) error { _, err := svc.ConfirmReturn(ctx, db, id); return err }
			case asReplace:
				fn = func(ctx context.Context, db *ent.Client) error {
					_, err := svc.ShipReplacement(ctx, db, id, "顺丰速运 SF Express", fmt.Sprintf("SF%010d", 1500000000+id))
					return err
				}
			case asEscalate:
				who = buyer
				fn = func(ctx context.Context, db *ent.Client) error {
					_, err := svc.Escalate(ctx, db, id, "请平台介入 Please decide", nil)
					return err
				}
			case asShipBack:
				who = buyer
				fn = func(ctx context.Context, db *ent.Client) error {
					_, err := svc.ShipReturn(ctx, db, id, "中通快递 ZTO", fmt.Sprintf("ZT%010d", 1600000000+id))
					return err
				}
			}
			if err := r.as(ctx, who, fn); err != nil {
				return fmt.Errorf("after-sales demo %d: step %d: %w", k+1, st, err)
			}
		}
		s.sum.AfterSales++
	}
	return nil
}
