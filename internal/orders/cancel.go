package orders

import (
	"context"
	"strings"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/internal/apperror"
)

// MaxReason is the longest cancellation or refund reason, in characters.
const MaxReason = 500

// Cancel cancels order id for the caller and releases its stock, in db's transaction.
//
//   - The customer may cancel while the order is unpaid (PENDING_PAYMENT).
//   - The merchant's staff and admins may cancel until the order ships or is fulfilled;
//     they must give a reason. A paid order is refunded in full.
func (s *Service) Cancel(ctx context.Context, db *ent.Client, id int, reason string) (*ent.Order, error) {
	reason = strings.TrimSpace(reason)
	if len([]rune(reason)) > MaxReason {
		return nil, apperror.BadInput("reason", "must be at most %d characters", MaxReason)
	}
	o, err := Visible(ctx, db, id)
	if err != nil {
		return nil, err
	}
	// Decide on the order as it is now: a payment that committed since it was read has
	// made it PAID, which a merchant may still cancel (refunding it) and a customer not.
	if o, err = Lock(ctx, db, id); err != nil {
		return nil, err
	}
	actor := ActorOf(ctx, o)
	switch actor.Role {
	case orderevent.ActorRoleCUSTOMER:
		if o.Status != order.StatusPENDING_PAYMENT {
			return nil, apperror.WrongState(string(o.Status),
				"a customer can cancel an order only before paying; ask for a refund with requestAfterSales")
		}
		if reason == "" {
			reason = "cancelled by the customer"
		}
	case orderevent.ActorRoleMERCHANT, orderevent.ActorRoleADMIN:
		if reason == "" {
			return nil, apperror.BadInput("reason", "is required when a merchant or admin cancels an order")
		}
	default:
		return nil, apperror.New(apperror.Forbidden, "only the customer, the merchant or an admin may cancel an order")
	}
	return s.cancel(ctx, db, o, actor, reason)
}

// Expire cancels an unpaid order whose payment deadline has passed, as the system. It
// returns INVALID_STATE when the order was paid or cancelled meanwhile.
func (s *Service) Expire(ctx context.Context, db *ent.Client, o *ent.Order) (*ent.Order, error) {
	if o.Status != order.StatusPENDING_PAYMENT {
		return nil, apperror.WrongState(string(o.Status), "only unpaid orders expire")
	}
	return s.cancel(ctx, db, o, System, "not paid in time")
}

// cancel moves o to CANCELLED, releases its stock and refunds what was paid.
func (s *Service) cancel(ctx context.Context, db *ent.Client, o *ent.Order, actor Actor, reason string) (*ent.Order, error) {
	wasPaid := o.Status != order.StatusPENDING_PAYMENT
	if wasPaid && s.Refunder == nil {
		return nil, apperror.New(apperror.Internal, "refunds are not available")
	}
	updated, err := s.Transition(ctx, db, o, order.StatusCANCELLED, actor, reason, nil)
	if err != nil {
		return nil, err
	}
	if err := releaseStock(ctx, db, []*ent.Order{updated}, actor, "order "+o.Number+" cancelled", s.now()); err != nil {
		return nil, err
	}
	if owed := updated.Total - updated.RefundedAmount; wasPaid && owed > 0 {
		if _, err := s.Refunder.RefundOrder(ctx, db, updated, owed, "order cancelled: "+reason); err != nil {
			return nil, err
		}
		return db.Order.Get(system(ctx), o.ID)
	}
	return updated, nil
}

// Accept is the merchant taking a PAID order on.
func (s *Service) Accept(ctx context.Context, db *ent.Client, id int) (*ent.Order, error) {
	o, err := ForMerchant(ctx, db, id)
	if err != nil {
		return nil, err
	}
	return s.Transition(ctx, db, o, order.StatusACCEPTED, ActorOf(ctx, o), "", nil)
}
