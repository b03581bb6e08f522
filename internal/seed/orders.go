package seed

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/ent/trackingevent"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/cart"
	"github.com/xiadan/xiadan/internal/fulfilment"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payment"
	"github.com/xiadan/xiadan/internal/payment/providers"
	"github.com/xiadan/xiadan/internal/payment/sandbox"
	"github.com/xiadan/xiadan/internal/payments"
	"github.com/xiadan/xiadan/internal/viewer"
)

// OrdersMerchant is the slug of the demo merchant whose orders the demo fills in every
// status: its owner has PAID orders to accept and ACCEPTED ones to ship.
const OrdersMerchant = "tea-house"

// demoOrder is one demo order: who buys what, and how far its life goes.
type demoOrder struct {
	customer int          // index into customers
	kind     product.Kind // what is bought
	quantity int
	// steps run in order after placing; each is one request's transaction.
	steps []step
}

type step int

const (
	pay step = iota
	accept
	ship
	scanInTransit
	scanDelivered
	confirm
	deliverVirtual
	refundPart
	customerCancel
	merchantCancel
)

// demoOrders cover every status of the state machine, a partial refund and the two ways
// of cancelling (unpaid by the customer; paid by the merchant, refunded in full).
var demoOrders = []demoOrder{
	{customer: 0, kind: product.KindPHYSICAL, quantity: 1}, // PENDING_PAYMENT
	{customer: 1, kind: product.KindPHYSICAL, quantity: 2, steps: []step{pay}},
	{customer: 2, kind: product.KindPHYSICAL, quantity: 1, steps: []step{pay}},
	{customer: 3, kind: product.KindPHYSICAL, quantity: 1, steps: []step{pay, accept}},
	{customer: 4, kind: product.KindPHYSICAL, quantity: 1, steps: []step{pay, accept}},
	{customer: 0, kind: product.KindPHYSICAL, quantity: 1, steps: []step{pay, accept, ship, scanInTransit}},
	{customer: 1, kind: product.KindPHYSICAL, quantity: 3, steps: []step{pay, accept, ship, scanInTransit, scanDelivered}},
	{customer: 2, kind: product.KindPHYSICAL, quantity: 1, steps: []step{pay, accept, ship, scanDelivered, confirm}},
	{customer: 3, kind: product.KindPHYSICAL, quantity: 2, steps: []step{pay, accept, ship, scanDelivered, confirm, refundPart}},
	{customer: 4, kind: product.KindVIRTUAL, quantity: 1, steps: []step{pay, deliverVirtual}},
	{customer: 0, kind: product.KindPHYSICAL, quantity: 1, steps: []step{customerCancel}},
	{customer: 1, kind: product.KindPHYSICAL, quantity: 1, steps: []step{pay, merchantCancel}},
}

// orderRunner runs the demo orders through the services the API runs them through.
type orderRunner struct {
	client  *ent.Client
	orders  *orders.Service
	pay     *payments.Service
	fulfil  *fulfilment.Service
	sandbox *sandbox.Sandbox
	owner   *viewer.Viewer
	buyers  []*viewer.Viewer
}

// placeOrders gives the demo its orders, after the catalogue is committed. Every step is
// the domain function a GraphQL mutation calls, as the viewer who would call it, in a
// transaction of its own; payments go through the sandbox provider, whose signed
// notifications are verified and applied as the notify endpoint does. So timelines, stock
// movements, payments and refunds agree with each other as they do for real orders.
func (s *seeder) placeOrders(ctx context.Context, client *ent.Client, publicURL string) error {
	r, err := newOrderRunner(ctx, client, publicURL, s.logger)
	if err != nil {
		return err
	}
	physical, err := r.variants(ctx, product.KindPHYSICAL)
	if err != nil {
		return err
	}
	virtual, err := r.variants(ctx, product.KindVIRTUAL)
	if err != nil {
		return err
	}
	pick := map[product.Kind][]*ent.ProductVariant{product.KindPHYSICAL: physical, product.KindVIRTUAL: virtual}
	for i, d := range demoOrders {
		vs := pick[d.kind]
		if len(vs) == 0 {
			return fmt.Errorf("merchant %s has no %s variant in stock", OrdersMerchant, d.kind)
		}
		if err := r.run(ctx, i, d, vs[i%len(vs)]); err != nil {
			return fmt.Errorf("demo order %d: %w", i+1, err)
		}
		s.sum.Orders++
	}
	return nil
}

func newOrderRunner(ctx context.Context, client *ent.Client, publicURL string, logger *slog.Logger) (*orderRunner, error) {
	// The sandbox with its public development secret: the demo's payments are the
	// sandbox's, whatever providers the server is later configured with.
	cfg := payment.Config{PublicURL: publicURL, Sandbox: payment.SandboxConfig{
		Enabled: true, Secret: payment.DevelopmentSandboxSecret, Tolerance: 5 * time.Minute}}
	reg, sb, err := providers.New(cfg, nil)
	if err != nil {
		return nil, err
	}
	ord := orders.New(30*time.Minute, 7*24*time.Hour)
	r := &orderRunner{client: client, orders: ord, pay: payments.New(client, reg, sb, cfg, ord, logger),
		fulfil: &fulfilment.Service{Orders: ord}, sandbox: sb}
	owner, err := client.Merchant.Query().Where(merchant.Slug(OrdersMerchant)).QueryOwner().Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("the owner of %s: %w", OrdersMerchant, err)
	}
	r.owner = auth.ViewerOf(owner)
	for _, p := range customers {
		u, err := client.User.Query().Where(user.Email(p.email)).Only(ctx)
		if err != nil {
			return nil, fmt.Errorf("customer %s: %w", p.email, err)
		}
		r.buyers = append(r.buyers, auth.ViewerOf(u))
	}
	return r, nil
}

// variants lists the merchant's ACTIVE variants of kind with plenty of stock, in id order.
func (r *orderRunner) variants(ctx context.Context, kind product.Kind) ([]*ent.ProductVariant, error) {
	return r.client.ProductVariant.Query().Where(
		productvariant.StockGTE(10),
		productvariant.HasProductWith(product.StatusEQ(product.StatusACTIVE), product.KindEQ(kind),
			product.HasMerchantWith(merchant.Slug(OrdersMerchant))),
	).Order(productvariant.ByID()).All(ctx)
}

// as runs fn in a transaction of its own as viewer v, like one GraphQL request.
func (r *orderRunner) as(ctx context.Context, v *viewer.Viewer, fn func(context.Context, *ent.Client) error) error {
	return inTx(viewer.NewContext(ctx, v), r.client, fn)
}

func (r *orderRunner) run(ctx context.Context, i int, d demoOrder, v *ent.ProductVariant) error {
	buyer := r.buyers[d.customer%len(r.buyers)]
	p := customers[d.customer%len(customers)]
	var o *ent.Order
	err := r.as(ctx, buyer, func(ctx context.Context, db *ent.Client) error {
		placed, err := r.orders.Place(ctx, db, orders.PlaceInput{
			Lines: []*orders.LineInput{{VariantID: v.ID, Quantity: d.quantity}},
			ShippingAddress: &cart.AddressInput{RecipientName: p.name, Phone: fmt.Sprintf("1380013%04d", 8000+d.customer),
				Province: "浙江省", City: "杭州市", Street: fmt.Sprintf("西湖区文三路 %d 号", 100+i)},
			IdempotencyKey: fmt.Sprintf("seed-place-%03d", i+1),
		})
		if err == nil {
			o = placed.Orders[0]
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("placing: %w", err)
	}
	var shipment int
	for _, st := range d.steps {
		switch st {
		case pay:
			err = r.payInSandbox(ctx, buyer, o, i)
		case accept:
			err = r.as(ctx, r.owner, func(ctx context.Context, db *ent.Client) error {
				_, err := r.orders.Accept(ctx, db, o.ID)
				return err
			})
		case ship:
			err = r.as(ctx, r.owner, func(ctx context.Context, db *ent.Client) error {
				sh, err := r.fulfil.Ship(ctx, db, o.ID, "顺丰速运 SF Express", fmt.Sprintf("SF%010d", 1400000000+o.ID))
				if err == nil {
					shipment = sh.ID
				}
				return err
			})
		case scanInTransit, scanDelivered:
			scan := fulfilment.Scan{Status: trackingevent.StatusIN_TRANSIT, Location: "杭州转运中心 Hangzhou hub",
				Description: "快件已发出 Left the hub", OccurredAt: time.Now()}
			if st == scanDelivered {
				scan = fulfilment.Scan{Status: trackingevent.StatusDELIVERED, Location: "杭州市西湖区 Xihu, Hangzhou",
					Description: "已签收 Signed for by the recipient", OccurredAt: time.Now()}
			}
			err = r.as(ctx, r.owner, func(ctx context.Context, db *ent.Client) error {
				_, err := r.fulfil.AddTrackingEvent(ctx, db, shipment, scan)
				return err
			})
		case confirm:
			err = r.as(ctx, buyer, func(ctx context.Context, db *ent.Client) error {
				_, err := r.fulfil.ConfirmReceipt(ctx, db, o.ID)
				return err
			})
		case deliverVirtual:
			err = r.as(ctx, r.owner, func(ctx context.Context, db *ent.Client) error {
				_, err := r.fulfil.DeliverVirtualGoods(ctx, db, o.ID, schematype.VirtualContent{Codes: []string{fmt.Sprintf("XD-GIFT-%06d", 731000+o.ID)},
					Message: "礼品卡已发放，凭码兑换 Your gift card code; redeem it in the shop"})
				return err
			})
		case refundPart:
			err = r.as(ctx, r.owner, func(ctx context.Context, db *ent.Client) error {
				amount := "5.00"
				_, err := r.pay.Refund(ctx, db, o.ID, &amount, "一只杯子有磕碰 One cup arrived chipped")
				return err
			})
		case customerCancel:
			err = r.as(ctx, buyer, func(ctx context.Context, db *ent.Client) error {
				_, err := r.orders.Cancel(ctx, db, o.ID, "不想要了 Changed my mind")
				return err
			})
		case merchantCancel:
			err = r.as(ctx, r.owner, func(ctx context.Context, db *ent.Client) error {
				_, err := r.orders.Cancel(ctx, db, o.ID, "缺货 Out of stock at the warehouse")
				return err
			})
		}
		if err != nil {
			return fmt.Errorf("step %d: %w", st, err)
		}
	}
	return nil
}

// payInSandbox starts the payment as the customer (payOrder) and has the sandbox report it
// paid: its signed notification is verified by the sandbox and applied as the notify
// endpoint applies it.
func (r *orderRunner) payInSandbox(ctx context.Context, buyer *viewer.Viewer, o *ent.Order, i int) error {
	var p *ent.Payment
	err := r.as(ctx, buyer, func(ctx context.Context, db *ent.Client) error {
		var err error
		p, err = r.pay.Pay(ctx, db, payments.PayInput{OrderIDs: []int{o.ID}, Method: payment.MethodBankCard,
			IdempotencyKey: fmt.Sprintf("seed-pay-%03d", i+1)})
		return err
	})
	if err != nil {
		return fmt.Errorf("paying: %w", err)
	}
	signed, err := r.sandbox.BuildNotification(sandbox.Event{PaymentRef: p.PaymentRef,
		Amount: money.Money{Minor: p.Amount, Currency: p.Currency}, Outcome: payment.OutcomeSucceeded})
	if err != nil {
		return err
	}
	req, err := signed.Request(ctx, r.pay.Config.NotifyURL(sandbox.Name))
	if err != nil {
		return err
	}
	n, err := r.sandbox.ParseNotification(ctx, req)
	if err != nil {
		return fmt.Errorf("the sandbox's own notification does not verify: %w", err)
	}
	if err := r.pay.Apply(ctx, sandbox.Name, n); err != nil {
		return fmt.Errorf("applying the payment notification: %w", err)
	}
	got, err := r.client.Order.Get(viewer.SystemContext(ctx), o.ID)
	if err == nil && got.Status != order.StatusPAID {
		err = fmt.Errorf("order is %s after its payment, want PAID", got.Status)
	}
	return err
}
