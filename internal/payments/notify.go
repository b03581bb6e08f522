package payments

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/orderitem"
	entpayment "github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payment"
)

// maxNotifyBody bounds what the notify endpoint reads; every provider's notifications are
// far smaller.
const maxNotifyBody = 64 << 10

// Reasons a genuine notification is refused. They wrap payment.ErrMismatch, so the
// provider is answered 400: the notification is not about a payment of ours as we know it.
var (
	errUnknownPayment = fmt.Errorf("%w: no such payment", payment.ErrMismatch)
	errWrongProvider  = fmt.Errorf("%w: the payment belongs to another provider", payment.ErrMismatch)
	errWrongAmount    = fmt.Errorf("%w: the amount differs from the payment's", payment.ErrMismatch)
)

// handleNotify receives a provider's asynchronous notification: it verifies it, applies it
// in one transaction, logs it in its own transaction whatever happened, and answers the
// provider the way it expects.
func (s *Service) handleNotify(w http.ResponseWriter, r *http.Request) {
	p, err := s.Registry.Named(r.PathValue("provider"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxNotifyBody+1))
	if err != nil {
		p.Acknowledge(w, nil, fmt.Errorf("%w: reading body: %v", payment.ErrMalformed, err))
		return
	}
	sum := sha256.Sum256(body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	ctx := r.Context()

	var n *payment.Notification
	if len(body) > maxNotifyBody {
		err = fmt.Errorf("%w: body too large", payment.ErrMalformed)
	} else {
		n, err = p.ParseNotification(ctx, r)
	}
	verified := err == nil
	if verified {
		err = s.Apply(ctx, p.Name(), n)
	}
	s.logNotification(ctx, p.Name(), n, verified, err, hex.EncodeToString(sum[:]))
	if err != nil {
		level := s.Logger.WarnContext
		if status, _ := payment.Rejection(err); status >= 500 {
			level = s.Logger.ErrorContext
		}
		level(ctx, "payment notification refused", "provider", p.Name(), "verified", verified, "err", err)
	}
	p.Acknowledge(w, n, err)
}

// logNotification records a notification in the operators' log, in its own transaction so
// that it survives a failure to apply it. A failure to log is only logged.
func (s *Service) logNotification(ctx context.Context, provider string, n *payment.Notification, verified bool, err error, bodyHash string) {
	c := s.DB.PaymentNotification.Create().
		SetProvider(provider).
		SetVerified(verified).
		SetBodyHash(bodyHash).
		SetReceivedAt(time.Now().UTC().Truncate(time.Microsecond))
	if n != nil {
		c.SetPaymentRef(truncate(n.PaymentRef, 64)).
			SetProviderRef(truncate(n.ProviderRef, 128)).
			SetOutcome(truncate(string(n.Outcome), 16)).
			SetAmount(n.Amount.Minor)
	}
	if err != nil {
		c.SetError(truncate(err.Error(), 500))
	}
	// The request may be gone (the provider hung up); the log must still be written.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if lerr := c.Exec(system(lctx)); lerr != nil {
		s.Logger.ErrorContext(ctx, "logging a payment notification", "provider", provider, "err", lerr)
	}
}

// Apply records what a verified notification says about one of our payments, in one
// transaction. It is idempotent, as providers redeliver: a payment succeeds once, and its
// orders become PAID once. A payment that succeeds for orders no longer waiting for it —
// cancelled while the customer paid, or already paid by another payment — is refunded for
// those orders at once. A failure after success, and the informational outcomes, change
// nothing.
func (s *Service) Apply(ctx context.Context, provider string, n *payment.Notification) error {
	sctx := system(context.WithoutCancel(ctx))
	return s.inTx(sctx, func(db *ent.Client) error {
		p, err := db.Payment.Query().Where(entpayment.PaymentRef(n.PaymentRef)).Only(sctx)
		if ent.IsNotFound(err) {
			return errUnknownPayment
		}
		if err != nil {
			return err
		}
		// The orders before their payment, always (refunds and cancellations lock in that
		// order too, and read every payment of an order with locks): locking the payment
		// first deadlocked a second payment's notification with a refund of its order.
		// A payment's orders are fixed when it is created.
		ids, err := p.QueryOrders().Order(order.ByID()).IDs(sctx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := orders.Lock(sctx, db, id); err != nil {
				return err
			}
		}
		if p, err = db.Payment.Query().Where(entpayment.ID(p.ID), lockRows).Only(sctx); err != nil {
			return err
		}
		switch {
		case p.Provider != provider:
			return errWrongProvider
		case n.Amount.Minor != p.Amount || n.Amount.Currency != p.Currency:
			return fmt.Errorf("%w: notified %s, expected %s", errWrongAmount,
				n.Amount.Formatted(), (moneyOf(p.Amount, p.Currency)).Formatted())
		}
		switch n.Outcome {
		case payment.OutcomeSucceeded:
			return s.succeed(sctx, db, p, n)
		case payment.OutcomeFailed:
			return s.fail(sctx, db, p, "the payment provider reported the payment as failed")
		case payment.OutcomeClosed:
			if p.Status == entpayment.StatusPENDING {
				return db.Payment.UpdateOne(p).Where(entpayment.StatusEQ(entpayment.StatusPENDING)).
					SetStatus(entpayment.StatusCLOSED).Exec(sctx)
			}
		}
		// PENDING, REFUNDED and UNKNOWN are information for reconciliation.
		return nil
	})
}

// succeed records a successful payment and pays its orders.
func (s *Service) succeed(ctx context.Context, db *ent.Client, p *ent.Payment, n *payment.Notification) error {
	switch p.Status {
	case entpayment.StatusSUCCEEDED, entpayment.StatusPARTIALLY_REFUNDED, entpayment.StatusREFUNDED:
		return nil // a redelivery
	}
	paidAt := n.PaidAt
	if y := paidAt.UTC().Year(); y < 1000 || y > 9999 {
		// Absent, or a time no database column holds (a provider's bug): the payment did
		// succeed, and refusing the notification would only have it redelivered forever.
		paidAt = time.Now()
	}
	up := db.Payment.UpdateOne(p).
		Where(entpayment.StatusIn(entpayment.StatusPENDING, entpayment.StatusFAILED, entpayment.StatusCLOSED)).
		SetStatus(entpayment.StatusSUCCEEDED).
		SetSucceededAt(paidAt.UTC().Truncate(time.Microsecond)).
		SetFailureReason("")
	if n.ProviderRef != "" {
		up.SetProviderRef(truncate(n.ProviderRef, 128))
	}
	p, err := up.Save(ctx)
	if err != nil {
		return err
	}
	covered, err := p.QueryOrders().Where(lockRows).Order(order.ByID()).All(ctx) // locked above: current rows
	if err != nil {
		return err
	}
	var paid []int
	for _, o := range covered {
		reason := ""
		if o.Status == order.StatusPENDING_PAYMENT {
			up, err := s.Orders.Transition(ctx, db, o, order.StatusPAID, orders.System, "paid by payment "+p.PaymentRef, nil)
			if err == nil {
				paid = append(paid, o.ID)
				if s.Risk != nil {
					if err := s.Risk.Paid(ctx, db, up); err != nil {
						return err
					}
				}
				continue
			}
			if apperror.CodeOf(err) != apperror.InvalidState {
				return err
			}
			// Moved by someone else meanwhile: read what it is now.
			if o, err = db.Order.Query().Where(order.ID(o.ID), lockRows).Only(ctx); err != nil {
				return err
			}
		}
		switch o.Status {
		case order.StatusCANCELLED:
			reason = fmt.Sprintf("order %s was cancelled before the payment arrived", o.Number)
		default:
			reason = fmt.Sprintf("order %s was already paid by another payment", o.Number)
		}
		if _, err := s.refundUnapplied(ctx, db, p, o, reason); err != nil {
			return err
		}
	}
	return addSales(ctx, db, paid)
}

// fail records a failed attempt; its orders stay payable. A failure after success (out of
// order or late) and a repeated failure change nothing.
func (s *Service) fail(ctx context.Context, db *ent.Client, p *ent.Payment, reason string) error {
	if p.Status != entpayment.StatusPENDING {
		return nil
	}
	err := db.Payment.UpdateOne(p).Where(entpayment.StatusEQ(entpayment.StatusPENDING)).
		SetStatus(entpayment.StatusFAILED).SetFailureReason(reason).Exec(ctx)
	if err != nil {
		return err
	}
	covered, err := p.QueryOrders().Where(order.StatusEQ(order.StatusPENDING_PAYMENT)).Order(order.ByID()).All(ctx)
	if err != nil {
		return err
	}
	for _, o := range covered {
		if err := s.Orders.Record(ctx, db, o, orderevent.TypePAYMENT_FAILED, "", "", orders.System,
			"payment "+p.PaymentRef+" failed; the order can be paid again"); err != nil {
			return err
		}
	}
	return nil
}

// addSales counts the items of newly paid orders in their products' sales.
func addSales(ctx context.Context, db *ent.Client, orderIDs []int) error {
	if len(orderIDs) == 0 {
		return nil
	}
	items, err := db.OrderItem.Query().
		Where(orderitem.OrderIDIn(orderIDs...), orderitem.ProductIDNotNil()).
		All(ctx)
	if err != nil {
		return err
	}
	sold := map[int]int{}
	for _, it := range items {
		sold[*it.ProductID] += it.Quantity
	}
	// In id order, so concurrent transactions lock product rows in the same order.
	for _, id := range slices.Sorted(maps.Keys(sold)) {
		if err := db.Product.Update().Where(product.ID(id)).AddSalesCount(sold[id]).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
