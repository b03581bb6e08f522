package orders

import (
	"context"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
)

// eventType is the timeline event recorded when an order enters a status.
var eventType = map[order.Status]orderevent.Type{
	order.StatusPAID:      orderevent.TypePAID,
	order.StatusACCEPTED:  orderevent.TypeACCEPTED,
	order.StatusSHIPPED:   orderevent.TypeSHIPPED,
	order.StatusDELIVERED: orderevent.TypeDELIVERED,
	order.StatusFULFILLED: orderevent.TypeFULFILLED,
	order.StatusCOMPLETED: orderevent.TypeCOMPLETED,
	order.StatusCANCELLED: orderevent.TypeCANCELLED,
}

// Transition moves order o to status to, checked against the state machine, and records
// the move on the order's timeline, in db's transaction. The write is conditional on the
// status o was read with, so of two concurrent moves from the same status exactly one
// wins — on several replicas too — and the other gets INVALID_STATE naming the status the
// winner left. set, when not nil, adds fields to the same update. It returns the order as
// updated.
func (s *Service) Transition(ctx context.Context, db *ent.Client, o *ent.Order, to order.Status,
	actor Actor, reason string, set func(*ent.OrderUpdateOne)) (*ent.Order, error) {
	if err := CheckMove(Fulfilment(o.Fulfilment), o.Status, to); err != nil {
		return nil, err
	}
	now := stamp(s.now())
	up := db.Order.UpdateOneID(o.ID).Where(order.StatusEQ(o.Status)).SetStatus(to)
	switch to {
	case order.StatusPAID:
		up.SetPaidAt(now).ClearPaymentDeadline()
	case order.StatusACCEPTED:
		up.SetAcceptedAt(now)
	case order.StatusSHIPPED:
		up.SetShippedAt(now)
	case order.StatusDELIVERED:
		up.SetDeliveredAt(now)
	case order.StatusFULFILLED:
		up.SetFulfilledAt(now)
	case order.StatusCOMPLETED:
		up.SetCompletedAt(now)
	case order.StatusCANCELLED:
		up.SetCancelledAt(now).SetCancelReason(reason).ClearPaymentDeadline()
	}
	if set != nil {
		set(up)
	}
	sctx := system(ctx)
	updated, err := up.Save(sctx)
	if ent.IsNotFound(err) {
		// The conditional update matched nothing: someone moved the order first.
		// A locking read: on MySQL a plain one could show the transaction's older snapshot.
		cur, gerr := db.Order.Query().Where(order.ID(o.ID), hooks.LockRows).Only(sctx)
		if gerr != nil {
			return nil, gerr
		}
		return nil, apperror.WrongState(string(cur.Status), "order %s cannot move from %s to %s", cur.Number, cur.Status, to)
	}
	if err != nil {
		return nil, err
	}
	if err := s.Record(ctx, db, updated, eventType[to], o.Status, to, actor, reason); err != nil {
		return nil, err
	}
	return updated, nil
}

// Record appends an event to an order's timeline (and the outbox of real-time events).
// from and to are empty for events that change no status, such as TRACKING_UPDATED.
func (s *Service) Record(ctx context.Context, db *ent.Client, o *ent.Order, typ orderevent.Type,
	from, to order.Status, actor Actor, reason string) error {
	return recordEvent(db, o, typ, from, to, actor, reason, s.now()).Exec(system(ctx))
}

func recordEvent(db *ent.Client, o *ent.Order, typ orderevent.Type, from, to order.Status,
	actor Actor, reason string, at time.Time) *ent.OrderEventCreate {
	c := db.OrderEvent.Create().
		SetOrderID(o.ID).
		SetMerchantID(o.MerchantID).
		SetCustomerID(o.CustomerID).
		SetType(typ).
		SetFromStatus(string(from)).
		SetToStatus(string(to)).
		SetActorRole(actor.Role).
		SetReason(truncate(reason, 500)).
		SetCreatedAt(stamp(at.UTC()))
	if actor.UserID != 0 {
		c.SetActorID(actor.UserID)
	}
	return c
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
