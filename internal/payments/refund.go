package payments

import (
	"context"
	"errors"
	"strings"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	entpayment "github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/ent/refund"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payment"
)

// unappliedPrefix starts the reason of a refund that returns a payment's share for an
// order it did not pay (cancelled meanwhile, or paid by another payment). It is how
// payingPayment tells such a payment from the one that paid the order.
const unappliedPrefix = "payment not applied: "

// refundable are the order statuses in which money may be held for the order.
var refundable = []order.Status{
	order.StatusPAID, order.StatusRISK_REVIEW, order.StatusACCEPTED, order.StatusSHIPPED, order.StatusDELIVERED,
	order.StatusFULFILLED, order.StatusCOMPLETED, order.StatusCANCELLED,
}

// Refund returns amount (a decimal string such as "12.50"; nil for all that remains) of
// order id to its customer, through the provider of the payment that paid it, in db's
// transaction. The order's merchant staff and admins may refund; the customer gets
// FORBIDDEN and others NOT_FOUND.
func (s *Service) Refund(ctx context.Context, db *ent.Client, id int, amount *string, reason string) (*ent.Refund, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return nil, apperror.BadInput("reason", "is required")
	case len([]rune(reason)) > orders.MaxReason:
		return nil, apperror.BadInput("reason", "must be at most %d characters", orders.MaxReason)
	}
	o, err := orders.ForMerchant(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if !paidStatus(o) {
		return nil, apperror.WrongState(string(o.Status), "order %s was not paid, so there is nothing to refund", o.Number)
	}
	sctx := system(ctx)
	p, err := payingPayment(sctx, db, o)
	if err != nil {
		return nil, err
	}
	// The amount is checked against what remains once the order is locked (refund); nil
	// means all that remains then.
	var minor int64
	if amount != nil {
		minor, err = money.ParseAmount(*amount, o.Currency)
		switch {
		case err != nil:
			return nil, apperror.BadInput("amount", "must be a decimal amount such as 12.50")
		case minor <= 0:
			return nil, apperror.BadInput("amount", "must be positive")
		}
	}
	return s.refund(ctx, db, refundSpec{payment: p, order: o, amount: minor, reason: reason, actor: orders.ActorOf(ctx, o), onOrder: true})
}

// RefundOrder refunds amount of the order's successful payment (orders.Refunder), in
// db's transaction: the order service calls it when a paid order is cancelled.
func (s *Service) RefundOrder(ctx context.Context, db *ent.Client, o *ent.Order, amount int64, reason string) (*ent.Refund, error) {
	p, err := payingPayment(system(ctx), db, o)
	if err != nil {
		return nil, err
	}
	return s.refund(ctx, db, refundSpec{payment: p, order: o, amount: amount, reason: reason, actor: orders.ActorOf(ctx, o), onOrder: true})
}

// RefundAfterSales refunds amount (minor units) of order o for after-sales request
// requestID (numbered number), through the provider of the payment that paid it, in db's
// transaction. The refund row carries the request's id under a unique key, so a request is
// refunded at most once however its callers race; the amount is checked against what
// remains of the order and of its payment once both are locked, like every refund.
//
// The provider's refund ref is derived from the request's number (AfterSalesRefundRef),
// not new on each attempt: when the transaction rolls back after the provider refunded (a
// sibling field of the mutation failed, the commit failed, the deadline job crashed), the
// next attempt repeats the same refund ref, which providers deduplicate (WeChat
// out_refund_no, Alipay out_request_no), so the customer is refunded once.
func (s *Service) RefundAfterSales(ctx context.Context, db *ent.Client, o *ent.Order, requestID int, number string, amount int64, reason string, actor orders.Actor) (*ent.Refund, error) {
	p, err := payingPayment(system(ctx), db, o)
	if err != nil {
		return nil, err
	}
	return s.refund(ctx, db, refundSpec{payment: p, order: o, amount: amount, reason: reason, actor: actor, onOrder: true,
		afterSales: requestID, ref: AfterSalesRefundRef(number)})
}

// AfterSalesRefundRef is the provider refund ref of the after-sales request numbered
// number: the same on every attempt, so providers deduplicate a repeated refund.
func AfterSalesRefundRef(number string) string { return "R" + number }

// refundUnapplied returns the share of payment p for order o, which p did not pay. A
// provider that declines leaves a FAILED refund and the money with us, for an operator;
// the notification is still acknowledged, as redelivering it would not help.
func (s *Service) refundUnapplied(ctx context.Context, db *ent.Client, p *ent.Payment, o *ent.Order, reason string) (*ent.Refund, error) {
	r, err := s.refund(ctx, db, refundSpec{payment: p, order: o, amount: o.Total,
		reason: unappliedPrefix + reason, actor: orders.System})
	if err != nil && errors.Is(err, payment.ErrDeclined) {
		s.Logger.ErrorContext(ctx, "automatic refund declined; refund it by hand", "payment_ref", p.PaymentRef, "order", o.Number, "err", err)
		return r, nil
	}
	return r, err
}

// paidStatus reports whether money may be held for o.
func paidStatus(o *ent.Order) bool {
	for _, st := range refundable {
		if o.Status == st {
			return o.Status != order.StatusCANCELLED || o.PaidAt != nil
		}
	}
	return false
}

// payingPayment returns the payment that paid order o. It reads with locks (MySQL), so it
// sees a payment that succeeded after this transaction's snapshot was taken; callers hold
// the order's lock first (the order before its payments, always).
func payingPayment(ctx context.Context, db *ent.Client, o *ent.Order) (*ent.Payment, error) {
	ps, err := db.Payment.Query().
		Where(entpayment.HasOrdersWith(order.ID(o.ID)),
			entpayment.StatusIn(entpayment.StatusSUCCEEDED, entpayment.StatusPARTIALLY_REFUNDED, entpayment.StatusREFUNDED),
			lockRows).
		WithRefunds(func(q *ent.RefundQuery) { q.Where(refund.OrderID(o.ID), lockRows) }).
		Order(entpayment.ByID()).
		All(ctx)
	if err != nil {
		return nil, err
	}
next:
	for _, p := range ps {
		for _, r := range p.Edges.Refunds {
			if strings.HasPrefix(r.Reason, unappliedPrefix) {
				continue next
			}
		}
		return p, nil
	}
	return nil, apperror.WrongState(string(o.Status), "order %s has no successful payment to refund", o.Number)
}

type refundSpec struct {
	payment *ent.Payment
	order   *ent.Order
	// amount is what to refund; 0 for all that remains of the order (onOrder) once locked.
	amount int64
	reason string
	actor  orders.Actor
	// onOrder counts the refund in the order's refunded amount: the payment paid the order.
	onOrder bool
	// afterSales, when not 0, is the after-sales request the refund executes.
	afterSales int
	// ref, when set, is the refund ref to send the provider (stable across attempts);
	// otherwise a new one is made.
	ref string
}

// refund returns sp.amount of a payment through its provider and records it: a Refund,
// the payment's refunded amount and status, the order's refunded amount (onOrder), and a
// REFUNDED event on the order's timeline. It locks the order, then the payment (MySQL),
// and checks the amount against the current rows. A refund the provider declines is
// recorded as FAILED and returned with an error wrapping payment.ErrDeclined; other
// provider failures return an error only, for the caller's transaction to roll back (the
// refund ref is new on each attempt unless sp.ref makes it stable, and the provider
// refuses more than was paid).
func (s *Service) refund(ctx context.Context, db *ent.Client, sp refundSpec) (*ent.Refund, error) {
	sctx := system(ctx)
	o, err := db.Order.Query().Where(order.ID(sp.order.ID), lockRows).Only(sctx)
	if err != nil {
		return nil, err
	}
	p, err := db.Payment.Query().Where(entpayment.ID(sp.payment.ID), lockRows).Only(sctx)
	if err != nil {
		return nil, err
	}
	prov, err := s.Registry.Named(p.Provider)
	if err != nil {
		return nil, apperror.New(apperror.Internal, "the payment provider %s is not configured, so payment %s cannot be refunded", p.Provider, p.PaymentRef)
	}
	left := p.Amount - p.RefundedAmount
	if sp.onOrder {
		left = min(left, o.Total-o.RefundedAmount)
	}
	if sp.amount == 0 && sp.onOrder {
		sp.amount = left
	}
	switch {
	case sp.onOrder && left <= 0:
		return nil, apperror.WrongState(string(o.Status), "order %s has been refunded in full", o.Number)
	case p.Status != entpayment.StatusSUCCEEDED && p.Status != entpayment.StatusPARTIALLY_REFUNDED:
		return nil, apperror.WrongState(string(p.Status), "payment %s holds no money to refund", p.PaymentRef)
	case sp.amount <= 0:
		return nil, apperror.BadInput("amount", "must be positive")
	case sp.amount > left:
		return nil, apperror.BadInput("amount", "exceeds what can still be refunded (%s)", moneyOf(max(left, 0), p.Currency).Formatted())
	}

	ref := sp.ref
	if ref == "" {
		ref = newRef("R")
	}
	rc := db.Refund.Create().
		SetPaymentID(p.ID).
		SetOrderID(o.ID).
		SetRefundRef(ref).
		SetAmount(sp.amount).
		SetCurrency(p.Currency).
		SetReason(truncate(sp.reason, 500))
	if sp.afterSales != 0 {
		rc.SetAfterSalesRequestID(sp.afterSales)
	}
	r, err := rc.Save(sctx)
	if err != nil {
		return nil, err
	}
	res, perr := prov.Refund(ctx, payment.RefundRequest{
		PaymentRef: p.PaymentRef,
		RefundRef:  r.RefundRef,
		Amount:     moneyOf(sp.amount, p.Currency),
		Total:      moneyOf(p.Amount, p.Currency),
		Reason:     truncate(sp.reason, 80),
	})
	if perr != nil {
		if !errors.Is(perr, payment.ErrDeclined) {
			return nil, s.providerError(ctx, p.Provider, "refunding", perr)
		}
		r, err = r.Update().SetStatus(refund.StatusFAILED).Save(sctx)
		if err != nil {
			return nil, err
		}
		return r, &apperror.Error{Code: apperror.InvalidState, Err: perr,
			Message: "the payment provider declined the refund; the money was not returned"}
	}
	st := refund.StatusSUCCEEDED
	if res.Outcome != payment.OutcomeSucceeded {
		st = refund.StatusPENDING // the provider moves the money later
	}
	if r, err = r.Update().SetStatus(st).SetProviderRef(truncate(res.ProviderRefundRef, 128)).Save(sctx); err != nil {
		return nil, err
	}

	pst := entpayment.StatusPARTIALLY_REFUNDED
	if p.RefundedAmount+sp.amount >= p.Amount {
		pst = entpayment.StatusREFUNDED
	}
	if err := db.Payment.UpdateOne(p).AddRefundedAmount(sp.amount).SetStatus(pst).Exec(sctx); err != nil {
		return nil, err
	}
	if sp.onOrder {
		before := o.RefundedAmount
		if o, err = db.Order.UpdateOne(o).AddRefundedAmount(sp.amount).Save(sctx); err != nil {
			return nil, err
		}
		// Promotions that follow refunds (a creator's commission) hear of the goods part:
		// refunds count against the goods first, shipping last.
		if goods := min(sp.amount, max(o.Subtotal-o.Discount-before, 0)); goods > 0 {
			if err := s.Orders.Refunded(ctx, db, o, goods); err != nil {
				return nil, err
			}
		}
	}
	what := "refunded " + moneyOf(sp.amount, p.Currency).Formatted() + " of payment " + p.PaymentRef + ": " + sp.reason
	if err := s.Orders.Record(ctx, db, o, orderevent.TypeREFUNDED, "", "", sp.actor, what); err != nil {
		return nil, err
	}
	return r, nil
}

func moneyOf(minor int64, currency string) money.Money {
	return money.Money{Minor: minor, Currency: currency}
}
