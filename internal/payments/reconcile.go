package payments

import (
	"context"
	"errors"
	"time"

	"github.com/xiadan/xiadan/ent"
	entpayment "github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/internal/payment"
	"github.com/xiadan/xiadan/internal/telemetry"
)

// Reconciliation: a provider's notification can be lost (our endpoint down, a network
// partition, a provider outage). So pending payments are also asked about: a payment
// still PENDING some minutes after it was created is queried at its provider, and what
// the provider says is applied exactly as a notification would be — with the same amount
// check, idempotently, in one transaction. A pending payment past its expiry that the
// provider does not report as paid is CLOSED; money arriving later still succeeds it
// (Apply accepts a success after CLOSED) and a late payment for cancelled orders is
// refunded.

const (
	// reconcileAfter leaves a fresh payment to its notification first.
	reconcileAfter = 2 * time.Minute
	// reconcileWithin is how far back pending payments are queried.
	reconcileWithin = 48 * time.Hour
	// reconcileBatch is the most payments queried per run.
	reconcileBatch = 50
)

// Reconcile queries the providers about pending payments and applies what they report.
// It returns how many payments changed.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	now := s.now()
	sctx := system(ctx)
	pending, err := s.DB.Payment.Query().
		Where(entpayment.StatusEQ(entpayment.StatusPENDING),
			entpayment.CreatedAtLT(now.Add(-reconcileAfter)),
			entpayment.CreatedAtGT(now.Add(-reconcileWithin))).
		Order(entpayment.ByCreatedAt()).Limit(reconcileBatch).All(sctx)
	if err != nil {
		return 0, err
	}
	changed := 0
	var errs []error
	for _, p := range pending {
		ok, err := s.reconcile(ctx, p, now)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			changed++
		}
	}
	return changed, errors.Join(errs...)
}

func (s *Service) reconcile(ctx context.Context, p *ent.Payment, now time.Time) (bool, error) {
	prov, err := s.Registry.Named(p.Provider)
	if err != nil {
		return false, nil // the provider is no longer configured here
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := prov.Query(qctx, p.PaymentRef)
	switch {
	case errors.Is(err, payment.ErrNotFound):
		st = &payment.Status{PaymentRef: p.PaymentRef, Outcome: payment.OutcomeUnknown}
	case err != nil:
		s.Logger.WarnContext(ctx, "payments: reconciliation query failed", "payment_ref", p.PaymentRef, "provider", p.Provider, "err", err)
		return false, nil
	}
	switch st.Outcome {
	case payment.OutcomeSucceeded, payment.OutcomeFailed, payment.OutcomeClosed:
		if st.Amount.Currency == "" || (st.Outcome == payment.OutcomeSucceeded && st.Amount.Minor == 0) {
			s.Logger.WarnContext(ctx, "payments: provider reported no amount; left to its notification", "payment_ref", p.PaymentRef)
			return false, nil
		}
		n := &payment.Notification{Provider: p.Provider, PaymentRef: p.PaymentRef, ProviderRef: st.ProviderRef,
			Amount: st.Amount, Outcome: st.Outcome, PaidAt: st.PaidAt}
		if err := s.Apply(ctx, p.Provider, n); err != nil {
			return false, err
		}
		s.Logger.InfoContext(ctx, "payments: reconciled", "payment_ref", p.PaymentRef, "outcome", st.Outcome)
		return true, nil
	}
	// Still pending (or unknown) at the provider: close it once expired.
	if p.ExpiresAt != nil && p.ExpiresAt.Before(now) {
		n, err := s.DB.Payment.Update().
			Where(entpayment.ID(p.ID), entpayment.StatusEQ(entpayment.StatusPENDING)).
			SetStatus(entpayment.StatusCLOSED).SetFailureReason("expired unpaid").Save(system(ctx))
		return n > 0, err
	}
	return false, nil
}

// RunReconcile reconciles every interval until ctx ends. Every replica may run it: the
// provider is only asked, and Apply and the close are conditional writes.
func (s *Service) RunReconcile(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.Reconcile(ctx)
		telemetry.RecordJob(ctx, "payments_reconcile", err)
		if err != nil && ctx.Err() == nil {
			s.Logger.ErrorContext(ctx, "payments: reconciliation", "err", err)
		} else if n > 0 {
			s.Logger.InfoContext(ctx, "payments: reconciliation changed payments", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}
