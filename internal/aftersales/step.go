package aftersales

import (
	"context"
	"fmt"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/aftersalesevent"
	"github.com/xiadan/xiadan/ent/aftersalesrequest"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/orders"
)

// move changes request r from the status it was locked in to status to, with set adding
// fields, by a write conditional on that status whose single affected row is checked.
func (s *Service) move(ctx context.Context, db *ent.Client, r *ent.AfterSalesRequest, to aftersalesrequest.Status,
	set func(*ent.AfterSalesRequestUpdate)) (*ent.AfterSalesRequest, error) {
	up := db.AfterSalesRequest.Update().
		Where(aftersalesrequest.ID(r.ID), aftersalesrequest.StatusEQ(r.Status)).
		SetStatus(to).SetUpdatedAt(s.now())
	if !IsOpen(to) {
		up.ClearDueAt().SetResolvedAt(s.now())
	}
	if set != nil {
		set(up)
	}
	n, err := up.Save(system(ctx))
	if err != nil {
		return nil, err
	}
	if n != 1 {
		// Impossible while the lock holds; never let a write that changed nothing pass.
		return nil, fmt.Errorf("after-sales request %s: the move from %s to %s changed %d rows", r.Number, r.Status, to, n)
	}
	return db.AfterSalesRequest.Get(system(ctx), r.ID)
}

// entry is one step for the request's timeline and, when orderType is set, the order's.
type entry struct {
	typ       aftersalesevent.Type
	orderType orderevent.Type
	message   string
	amount    *int64
	evidence  []int
}

// record appends e to request r's timeline and the order's (the outbox of events and
// webhooks), attributed to the viewer; only r's timeline gets e's message.
func (s *Service) record(ctx context.Context, db *ent.Client, r *ent.AfterSalesRequest, o *ent.Order, e entry) error {
	a := orders.ActorOf(ctx, o)
	c := db.AfterSalesEvent.Create().
		SetRequestID(r.ID).
		SetType(e.typ).
		SetActorRole(aftersalesevent.ActorRole(a.Role)).
		SetMessage(truncate(e.message, 1000)).
		SetCreatedAt(s.now())
	if a.UserID != 0 {
		c.SetActorID(a.UserID)
	}
	if e.amount != nil {
		c.SetAmount(*e.amount)
	}
	if len(e.evidence) > 0 {
		c.SetEvidenceUploadIds(e.evidence)
	}
	if err := c.Exec(system(ctx)); err != nil {
		return err
	}
	if e.orderType == "" {
		return nil
	}
	// The order's timeline is read by partner API clients (orders:read) and webhooks: it
	// names the step, the request and the amount, never the dispute's free text, which
	// stays on the request's own timeline.
	what := fmt.Sprintf("after-sales %s (%s): %s", r.Number, r.Type, e.typ)
	if e.amount != nil {
		what += " " + money.Money{Minor: *e.amount, Currency: r.Currency}.Formatted()
	}
	return s.Orders.Record(ctx, db, o, e.orderType, "", "", a, what)
}

// execute ends request r (locked, with its order o) with a refund of amount, at most what
// remains of the order: the request moves to REFUNDED first (conditional on its status),
// then the payment service refunds under the request's unique key. When nothing remains
// (the merchant refunded the order meanwhile) the request closes instead.
func (s *Service) execute(ctx context.Context, db *ent.Client, r *ent.AfterSalesRequest, o *ent.Order,
	amount int64, note string, typ aftersalesevent.Type) (*ent.AfterSalesRequest, error) {
	amount = min(amount, o.Total-o.RefundedAmount)
	if amount <= 0 {
		return s.finish(ctx, db, r, o, aftersalesrequest.StatusCLOSED, "the order has been refunded in full already", aftersalesevent.TypeCLOSED)
	}
	r2, err := s.move(ctx, db, r, aftersalesrequest.StatusREFUNDED, func(u *ent.AfterSalesRequestUpdate) {
		u.SetRefundedAmount(amount).SetResolution(truncate(note, 500))
	})
	if err != nil {
		return nil, err
	}
	// The refund's reason (on the refund and the order's REFUNDED event) names the request
	// only; the note stays on the request's timeline.
	reason := "after-sales " + r.Number
	if _, err := s.Payments.RefundAfterSales(ctx, db, o, r.ID, r.Number, amount, reason, orders.ActorOf(ctx, o)); err != nil {
		return nil, err
	}
	if typ != "" && typ != aftersalesevent.TypeREFUNDED {
		if err := s.record(ctx, db, r2, o, entry{typ: typ, orderType: stepOrderEvent[typ], message: note, amount: &amount}); err != nil {
			return nil, err
		}
	}
	if err := s.record(ctx, db, r2, o, entry{typ: aftersalesevent.TypeREFUNDED, orderType: orderevent.TypeAFTER_SALES_RESOLVED,
		amount: &amount, message: note}); err != nil {
		return nil, err
	}
	return r2, s.sync(ctx, db, o.ID)
}

// stepOrderEvent is the order event of a step that ends in a refund (the refund itself
// adds REFUNDED and AFTER_SALES_RESOLVED).
var stepOrderEvent = map[aftersalesevent.Type]orderevent.Type{
	aftersalesevent.TypeAPPROVED:          orderevent.TypeAFTER_SALES_APPROVED,
	aftersalesevent.TypePROPOSAL_ACCEPTED: orderevent.TypeAFTER_SALES_APPROVED,
	aftersalesevent.TypeRETURN_RECEIVED:   orderevent.TypeAFTER_SALES_RETURN_RECEIVED,
}

// finish ends request r in a final status other than REFUNDED.
func (s *Service) finish(ctx context.Context, db *ent.Client, r *ent.AfterSalesRequest, o *ent.Order,
	to aftersalesrequest.Status, note string, typ aftersalesevent.Type) (*ent.AfterSalesRequest, error) {
	r2, err := s.move(ctx, db, r, to, func(u *ent.AfterSalesRequestUpdate) { u.SetResolution(truncate(note, 500)) })
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, db, r2, o, entry{typ: typ, orderType: orderevent.TypeAFTER_SALES_RESOLVED, message: note}); err != nil {
		return nil, err
	}
	return r2, s.sync(ctx, db, o.ID)
}

// sync recomputes the after-sales view of order id and of its lines from its requests
// (the order is locked by the caller):
//
//	IN_PROGRESS         a request about it is open
//	REFUNDED            requests refunded all it is worth
//	PARTIALLY_REFUNDED  requests refunded some of it
//	EXCHANGED           it was exchanged
//	CLOSED              requests ended without money or goods
//	NONE                no request was ever made
func (s *Service) sync(ctx context.Context, db *ent.Client, orderID int) error {
	sctx := system(ctx)
	o, err := db.Order.Get(sctx, orderID)
	if err != nil {
		return err
	}
	reqs, err := db.AfterSalesRequest.Query().Where(aftersalesrequest.OrderID(orderID)).All(sctx)
	if err != nil {
		return err
	}
	items, err := db.OrderItem.Query().Where(orderitem.OrderID(orderID)).All(sctx)
	if err != nil {
		return err
	}
	worth := func(r *ent.AfterSalesRequest) int64 { return linesWorth(o, items, r.OrderItemIds) }
	view := func(rs []*ent.AfterSalesRequest, full int64) string {
		if len(rs) == 0 {
			return "NONE"
		}
		var refunded int64
		exchanged, fully := false, false
		for _, r := range rs {
			if IsOpen(r.Status) {
				return "IN_PROGRESS"
			}
			refunded += r.RefundedAmount
			exchanged = exchanged || r.Status == aftersalesrequest.StatusEXCHANGED
			fully = fully || (r.RefundedAmount > 0 && r.RefundedAmount >= worth(r))
		}
		switch {
		case refunded >= full && refunded > 0, fully:
			return "REFUNDED"
		case refunded > 0:
			return "PARTIALLY_REFUNDED"
		case exchanged:
			return "EXCHANGED"
		}
		return "CLOSED"
	}
	st := order.AfterSalesStatus(view(reqs, o.Total))
	if st != o.AfterSalesStatus {
		if err := db.Order.UpdateOneID(orderID).SetAfterSalesStatus(st).Exec(sctx); err != nil {
			return err
		}
	}
	for _, it := range items {
		var about []*ent.AfterSalesRequest
		for _, r := range reqs {
			if covers(r.OrderItemIds, it.ID) {
				about = append(about, r)
			}
		}
		// A line is refunded in full by requests about it alone that returned its worth;
		// a whole-order request counts by its own worth (fully, above).
		st := orderitem.AfterSalesStatus(view(about, orders.NetWorth(it)))
		if st != it.AfterSalesStatus {
			if err := db.OrderItem.UpdateOneID(it.ID).SetAfterSalesStatus(st).Exec(sctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// covers reports whether a request about lines ids (none: the whole order) is about line id.
func covers(ids []int, id int) bool {
	if len(ids) == 0 {
		return true
	}
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// overlaps reports whether requests about lines a and b share a line.
func overlaps(a, b []int) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		if covers(b, x) {
			return true
		}
	}
	return false
}

// linesWorth is what lines ids of order o cost (none: the whole order, shipping included):
// each line net of its share of the order's discounts (orders.NetWorth).
func linesWorth(o *ent.Order, items []*ent.OrderItem, ids []int) int64 {
	if len(ids) == 0 {
		return o.Total
	}
	var sum int64
	for _, it := range items {
		if covers(ids, it.ID) {
			sum += orders.NetWorth(it)
		}
	}
	return min(sum, o.Total)
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
