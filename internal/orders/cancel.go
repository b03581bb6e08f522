package orders

import (
	"context"
	"strings"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/checkout"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/riskassessment"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
)

// MaxReason is the longest cancellation or refund reason, in characters.
const MaxReason = 500

// Cancel cancels order id for the caller and releases its stock, in db's transaction.
//
//   - The customer may cancel while the order is unpaid (PENDING_PAYMENT), or paid and
//     held for a risk review (RISK_REVIEW), which refunds it in full.
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
	if err := lockCheckout(ctx, db, o.CheckoutID); err != nil {
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
		if o.Status != order.StatusPENDING_PAYMENT && o.Status != order.StatusRISK_REVIEW {
			return nil, apperror.WrongState(string(o.Status),
				"a customer can cancel an order only before paying or while it is under review; ask for a refund with requestAfterSales")
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
	return s.cancel(ctx, db, o, actor, reason, orderevent.TypeCANCELLED)
}

// EndRiskReview ends the risk hold of order id (internal/risk), in db's transaction:
// approved, the order goes back to PAID (event RISK_APPROVED) for its merchant to accept;
// rejected, it is CANCELLED (event RISK_REJECTED), its stock released and its payment
// refunded in full, as any cancellation. reason goes on the order's timeline, which the
// customer and the merchant read.
//
// The checkout and then the order are locked, as Cancel does, so a decision and a
// cancellation (or two decisions) take turns; decide runs with the order locked and still
// in RISK_REVIEW, before the move, and whoever comes second finds another status and gets
// INVALID_STATE. Privacy is the caller's: risk decisions are for admins.
func (s *Service) EndRiskReview(ctx context.Context, db *ent.Client, id int, approve bool, actor Actor, reason string,
	decide func(o *ent.Order) error) (*ent.Order, error) {
	o, err := db.Order.Get(system(ctx), id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("order %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	if err := lockCheckout(ctx, db, o.CheckoutID); err != nil {
		return nil, err
	}
	if o, err = Lock(ctx, db, id); err != nil {
		return nil, err
	}
	if o.Status != order.StatusRISK_REVIEW {
		return nil, apperror.WrongState(string(o.Status), "order %s is not under risk review", o.Number)
	}
	if err := decide(o); err != nil {
		return nil, err
	}
	if approve {
		return s.TransitionAs(ctx, db, o, order.StatusPAID, orderevent.TypeRISK_APPROVED, actor, reason, nil)
	}
	return s.cancel(ctx, db, o, actor, reason, orderevent.TypeRISK_REJECTED)
}

// Expire cancels an unpaid order whose payment deadline has passed, as the system. It
// returns INVALID_STATE when the order was paid or cancelled meanwhile.
func (s *Service) Expire(ctx context.Context, db *ent.Client, o *ent.Order) (*ent.Order, error) {
	if o.Status != order.StatusPENDING_PAYMENT {
		return nil, apperror.WrongState(string(o.Status), "only unpaid orders expire")
	}
	if err := lockCheckout(ctx, db, o.CheckoutID); err != nil {
		return nil, err
	}
	return s.cancel(ctx, db, o, System, "not paid in time", orderevent.TypeCANCELLED)
}

// cancel moves o to CANCELLED (recorded as typ), releases its stock and refunds what was
// paid. A risk review still open on it ends WITHDRAWN.
func (s *Service) cancel(ctx context.Context, db *ent.Client, o *ent.Order, actor Actor, reason string, typ orderevent.Type) (*ent.Order, error) {
	wasPaid := o.Status != order.StatusPENDING_PAYMENT
	if wasPaid && s.Refunder == nil {
		return nil, apperror.New(apperror.Internal, "refunds are not available")
	}
	held := o.Status == order.StatusRISK_REVIEW
	updated, err := s.TransitionAs(ctx, db, o, order.StatusCANCELLED, typ, actor, reason, nil)
	if err != nil {
		return nil, err
	}
	if held {
		// A rejection has already marked its review REJECTED; this changes nothing then.
		if err := db.RiskAssessment.Update().
			Where(riskassessment.OrderID(o.ID), riskassessment.StatusEQ(riskassessment.StatusHELD)).
			SetStatus(riskassessment.StatusWITHDRAWN).SetDecidedAt(stamp(s.now())).
			Exec(system(ctx)); err != nil {
			return nil, err
		}
	}
	if err := releaseStock(ctx, db, []*ent.Order{updated}, actor, "order "+o.Number+" cancelled", s.now()); err != nil {
		return nil, err
	}
	if err := s.releasePromotions(ctx, db, updated); err != nil {
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

// lockCheckout takes the row lock of the checkout an order belongs to, before the order's
// own. Cancellations of one checkout's orders then take turns, so what they give back
// together (a platform coupon spread over several orders comes back when the last of them
// is cancelled) is decided on what the others committed, not on a stale snapshot.
func lockCheckout(ctx context.Context, db *ent.Client, token string) error {
	_, err := db.Checkout.Query().Where(checkout.Token(token), hooks.LockRows).IDs(system(ctx))
	return err
}
