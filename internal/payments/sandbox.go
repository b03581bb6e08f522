package payments

import (
	"context"
	"errors"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/payment"
	"github.com/xiadan/xiadan/internal/payment/sandbox"
	"github.com/xiadan/xiadan/internal/viewer"
)

// CompleteSandbox plays the customer at the sandbox provider: the sandbox sends its signed
// notification that payment id reached outcome to our notify endpoint, exactly as when the
// customer presses Pay or Fail on its pay page. Only the payer and admins may, and only
// while the sandbox is enabled.
//
// The notification is handled in its own transaction. When ctx carries an open request
// transaction (ent.TxFromContext), the notification is sent when that transaction
// commits — on SQLite it holds the database lock the handler needs — and the payment is
// returned as it was; otherwise it is sent at once and the payment returned as the
// notification left it.
func (s *Service) CompleteSandbox(ctx context.Context, id int, outcome payment.Outcome) (*ent.Payment, error) {
	if s.Sandbox == nil {
		return nil, apperror.New(apperror.Forbidden, "the sandbox payment provider is disabled on this server")
	}
	if outcome != payment.OutcomeSucceeded && outcome != payment.OutcomeFailed {
		return nil, apperror.BadInput("outcome", "must be SUCCEEDED or FAILED")
	}
	sctx := system(ctx)
	p, err := s.DB.Payment.Get(sctx, id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("payment %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	if v := viewer.FromContext(ctx); v == nil || (v.UserID != p.CustomerID && !v.IsAdmin()) {
		return nil, apperror.NotFoundf("payment %d not found", id)
	}
	if p.Provider != sandbox.Name {
		return nil, apperror.WrongState(string(p.Status), "payment %d is collected by %s, not the sandbox", id, p.Provider)
	}
	notify := func(ctx context.Context) error {
		return s.Sandbox.Notify(ctx, p.PaymentRef, moneyOf(p.Amount, p.Currency), outcome, s.Config.NotifyURL(sandbox.Name))
	}
	if tx := ent.TxFromContext(ctx); tx != nil {
		tx.OnCommit(func(next ent.Committer) ent.Committer {
			return ent.CommitFunc(func(cctx context.Context, tx *ent.Tx) error {
				if err := next.Commit(cctx, tx); err != nil {
					return err
				}
				if err := notify(context.WithoutCancel(ctx)); err != nil {
					s.Logger.ErrorContext(ctx, "sandbox notification after commit", "payment_ref", p.PaymentRef, "err", err)
				}
				return nil
			})
		})
		return p, nil
	}
	if err := notify(ctx); err != nil {
		if errors.Is(err, payment.ErrProvider) {
			// The caller is told INTERNAL; the log says where the notification went (a
			// PAYMENT_PUBLIC_URL that is not this server is the usual cause).
			s.Logger.ErrorContext(ctx, "sandbox notification failed", "payment_ref", p.PaymentRef,
				"notify_url", s.Config.NotifyURL(sandbox.Name), "err", err)
			return nil, &apperror.Error{Code: apperror.Internal, Err: err,
				Message: "the notification endpoint did not accept the sandbox notification; see the payment notification log"}
		}
		return nil, err
	}
	return s.DB.Payment.Get(sctx, id)
}
