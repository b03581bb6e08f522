package loader

import (
	"context"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/ent/refund"
)

// PaymentShare is the part of a payment the viewer may see: the totals of the payment's
// orders and the refunds the viewer may see, in the payment's currency. For a merchant of
// a multi-merchant checkout that is its own orders only (the privacy rules decide).
type PaymentShare struct {
	// Orders sums the totals of the visible orders the payment covers.
	Orders int64
	// Refunded sums the visible refunds of the payment that were not refused.
	Refunded int64
}

// PaymentShare returns the share of payment p the viewer may see; the payments of one
// request are read with two queries.
func (l *Loaders) PaymentShare(ctx context.Context, p *ent.Payment) (PaymentShare, error) {
	if l == nil {
		var s PaymentShare
		orders, err := p.QueryOrders().Select(order.FieldTotal).All(ctx)
		if err != nil {
			return s, err
		}
		for _, o := range orders {
			s.Orders += o.Total
		}
		refunds, err := p.QueryRefunds().Where(refund.StatusNEQ(refund.StatusFAILED)).Select(refund.FieldAmount).All(ctx)
		for _, r := range refunds {
			s.Refunded += r.Amount
		}
		return s, err
	}
	return l.paymentShare.Load(ctx, p.ID)()
}

func (l *Loaders) loadPaymentShares(ctx context.Context, ids []int) []*dataloader.Result[PaymentShare] {
	share := make(map[int]PaymentShare, len(ids))
	err := func() error {
		db := l.db(ctx)
		// Read as the viewer: the orders eager-loaded are those it may see.
		ps, err := db.Payment.Query().
			Where(payment.IDIn(ids...)).
			Select(payment.FieldID).
			WithOrders(func(q *ent.OrderQuery) { q.Select(order.FieldID, order.FieldTotal) }).
			All(ctx)
		if err != nil {
			return err
		}
		for _, p := range ps {
			s := share[p.ID]
			for _, o := range p.Edges.Orders {
				s.Orders += o.Total
			}
			share[p.ID] = s
		}
		// And the refunds it may see: for a merchant, those of its own orders.
		var rows []struct {
			PaymentID int   `sql:"payment_id"`
			Sum       int64 `sql:"sum"`
		}
		err = db.Refund.Query().
			Where(refund.PaymentIDIn(ids...), refund.StatusNEQ(refund.StatusFAILED)).
			GroupBy(refund.FieldPaymentID).
			Aggregate(ent.Sum(refund.FieldAmount)).
			Scan(ctx, &rows)
		if err != nil {
			return err
		}
		for _, r := range rows {
			s := share[r.PaymentID]
			s.Refunded = r.Sum
			share[r.PaymentID] = s
		}
		return nil
	}()
	out := make([]*dataloader.Result[PaymentShare], len(ids))
	for i, id := range ids {
		out[i] = &dataloader.Result[PaymentShare]{Data: share[id], Error: err}
	}
	return out
}
