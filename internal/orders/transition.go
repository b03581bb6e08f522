package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
)

// eventType is the timeline event recorded when an order enters a status.
var eventType = map[order.Status]orderevent.Type{
	order.StatusPAID:        orderevent.TypePAID,
	order.StatusRISK_REVIEW: orderevent.TypeRISK_HELD,
	order.StatusACCEPTED:    orderevent.TypeACCEPTED,
	order.StatusSHIPPED:     orderevent.TypeSHIPPED,
	order.StatusDELIVERED:   orderevent.TypeDELIVERED,
	order.StatusFULFILLED:   orderevent.TypeFULFILLED,
	order.StatusCOMPLETED:   orderevent.TypeCOMPLETED,
	order.StatusCANCELLED:   orderevent.TypeCANCELLED,
}

// Transition moves order o to status to, checked against the state machine, and records
// the move on the order's timeline, in db's transaction. set, when not nil, adds fields to
// the same update. It returns the order as updated.
//
// The database decides the winner of concurrent moves, on every replica. The order's row
// is first locked by its primary key (Lock: SELECT … FOR UPDATE, which reads the latest
// committed row), and the move is refused with INVALID_STATE, naming the status found,
// unless the order is still in the status o was read with: the caller decided on that
// status. The write itself is conditional too,
//
//	UPDATE orders SET status = <to>, … WHERE id = ? AND status = <from>
//
// and must report its row (rows affected, which the MySQL connection counts as rows
// matched). Nothing re-reads the row without a lock to decide: on MySQL at REPEATABLE READ
// a plain read inside the transaction still shows the snapshot taken before the winner
// committed (Ent's UpdateOne().Where() does exactly that, and so let every loser through).
// Taking the primary-key lock before the UPDATE also fixes the order in which InnoDB locks
// the row and its (status, …) index entry, so two movers never deadlock on them.
func (s *Service) Transition(ctx context.Context, db *ent.Client, o *ent.Order, to order.Status,
	actor Actor, reason string, set func(*ent.OrderUpdate)) (*ent.Order, error) {
	return s.TransitionAs(ctx, db, o, to, eventType[to], actor, reason, set)
}

// TransitionAs is Transition recording the move as an event of type typ rather than the
// status's own (a risk review released back to PAID is RISK_APPROVED, not PAID).
func (s *Service) TransitionAs(ctx context.Context, db *ent.Client, o *ent.Order, to order.Status, typ orderevent.Type,
	actor Actor, reason string, set func(*ent.OrderUpdate)) (*ent.Order, error) {
	if err := CheckMove(Fulfilment(o.Fulfilment), o.Status, to); err != nil {
		return nil, err
	}
	cur, err := Lock(ctx, db, o.ID)
	if err != nil {
		return nil, err
	}
	if cur.Status != o.Status {
		return nil, apperror.WrongState(string(cur.Status), "order %s cannot move from %s to %s", cur.Number, cur.Status, to)
	}
	now := stamp(s.now())
	up := db.Order.Update().Where(order.ID(o.ID), order.StatusEQ(o.Status)).SetStatus(to).SetUpdatedAt(now)
	switch to {
	case order.StatusPAID:
		if o.Status == order.StatusPENDING_PAYMENT { // not when a risk review releases it
			up.SetPaidAt(now).ClearPaymentDeadline()
		}
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
	n, err := up.Save(sctx)
	if err != nil {
		return nil, err
	}
	if n != 1 {
		// Impossible while the lock holds; never let a write that changed nothing pass.
		return nil, fmt.Errorf("order %s: the move from %s to %s changed %d rows", o.Number, o.Status, to, n)
	}
	// The row is ours until the transaction ends, and a transaction reads its own writes.
	updated, err := db.Order.Get(sctx, o.ID)
	if err != nil {
		return nil, err
	}
	if err := s.Record(ctx, db, updated, typ, o.Status, to, actor, reason); err != nil {
		return nil, err
	}
	return updated, nil
}

// Lock reads order id with a locking read (SELECT … FOR UPDATE on MySQL): the latest
// committed row, held until the transaction ends, so decisions taken on it stay true.
// SQLite needs no lock: its write transactions never interleave. Privacy is bypassed;
// callers check access first.
func Lock(ctx context.Context, db *ent.Client, id int) (*ent.Order, error) {
	return db.Order.Query().Where(order.ID(id), hooks.LockRows).Only(system(ctx))
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
