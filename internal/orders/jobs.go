package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/viewer"
)

// JobBatch is how many orders each job takes on per run.
const JobBatch = 100

// RunJobs runs the background jobs every interval until ctx ends: it cancels unpaid
// orders past their payment deadline and completes orders delivered or fulfilled longer
// than AutoCompleteAfter ago.
//
// Every replica may run the jobs at once. Nothing is claimed in memory: each order is
// handled in its own transaction whose status change is conditional on the status it was
// found in (Transition), so of two replicas picking the same order one moves it and the
// other gets INVALID_STATE and skips it. Errors are logged and retried on the next run.
func (s *Service) RunJobs(ctx context.Context, db *ent.Client, interval time.Duration, logger *slog.Logger) {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.runLogged(ctx, db, logger)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runLogged is one run of the jobs that logs what happened and survives a panic.
func (s *Service) runLogged(ctx context.Context, db *ent.Client, logger *slog.Logger) {
	defer func() {
		if r := recover(); r != nil {
			logger.ErrorContext(ctx, "order jobs panicked", "panic", r)
		}
	}()
	expired, completed, err := s.RunJobsOnce(ctx, db)
	telemetry.RecordJob(ctx, "orders", err)
	if err != nil && ctx.Err() == nil {
		logger.ErrorContext(ctx, "order jobs failed", "err", err)
	}
	if expired > 0 || completed > 0 {
		logger.InfoContext(ctx, "order jobs", "expired", expired, "completed", completed)
	}
}

// RunJobsOnce runs each job once: it cancels up to JobBatch unpaid orders past their
// deadline (releasing their stock) and completes up to JobBatch delivered and JobBatch
// fulfilled orders older than AutoCompleteAfter. It returns how many orders it expired and
// completed; orders another process moved meanwhile are skipped, and an error on one order
// does not stop the others (the errors are returned together).
func (s *Service) RunJobsOnce(ctx context.Context, db *ent.Client) (expired, completed int, err error) {
	ctx = viewer.SystemContext(ctx)
	now := stamp(s.now())
	var errs []error

	due, err := db.Order.Query().
		Where(order.StatusEQ(order.StatusPENDING_PAYMENT), order.PaymentDeadlineLT(now)).
		Order(order.ByPaymentDeadline(), order.ByID()).
		Limit(JobBatch).
		All(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("finding unpaid orders past their deadline: %w", err))
	}
	for _, o := range due {
		if ctx.Err() != nil {
			return expired, completed, errors.Join(append(errs, ctx.Err())...)
		}
		done, err := s.inTx(ctx, db, func(ctx context.Context, tx *ent.Client) error {
			_, err := s.Expire(ctx, tx, o)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("expiring order %s: %w", o.Number, err))
		}
		if done {
			expired++
		}
	}

	if s.AutoCompleteAfter > 0 {
		cutoff := now.Add(-s.AutoCompleteAfter)
		for _, job := range []struct {
			status order.Status
			since  func(time.Time) predicate.Order
			by     func(...sql.OrderTermOption) order.OrderOption
			after  string
		}{
			{order.StatusDELIVERED, order.DeliveredAtLT, order.ByDeliveredAt, "delivery"},
			{order.StatusFULFILLED, order.FulfilledAtLT, order.ByFulfilledAt, "fulfilment"},
		} {
			found, err := db.Order.Query().
				Where(order.StatusEQ(job.status), job.since(cutoff), order.AfterSalesStatusNEQ(order.AfterSalesStatusIN_PROGRESS)).
				Order(job.by(), order.ByID()).
				Limit(JobBatch).
				All(ctx)
			if err != nil {
				errs = append(errs, fmt.Errorf("finding %s orders: %w", job.status, err))
				continue
			}
			reason := fmt.Sprintf("completed automatically %s after %s", s.AutoCompleteAfter, job.after)
			for _, o := range found {
				if ctx.Err() != nil {
					return expired, completed, errors.Join(append(errs, ctx.Err())...)
				}
				done, err := s.inTx(ctx, db, func(ctx context.Context, tx *ent.Client) error {
					// Completion waits while an after-sales request is open (internal/
					// aftersales keeps after_sales_status under the order's lock).
					if cur, err := Lock(ctx, tx, o.ID); err != nil {
						return err
					} else if cur.AfterSalesStatus == order.AfterSalesStatusIN_PROGRESS {
						return apperror.WrongState(string(cur.Status), "order %s has an open after-sales request", cur.Number)
					}
					_, err := s.Transition(ctx, tx, o, order.StatusCOMPLETED, System, reason, nil)
					return err
				})
				if err != nil {
					errs = append(errs, fmt.Errorf("completing order %s: %w", o.Number, err))
				}
				if done {
					completed++
				}
			}
		}
	}
	return expired, completed, errors.Join(errs...)
}

// inTx runs fn in a transaction of its own and reports whether it committed. INVALID_STATE
// means another process moved the order first: it is rolled back and is not an error.
func (s *Service) inTx(ctx context.Context, db *ent.Client, fn func(context.Context, *ent.Client) error) (bool, error) {
	tx, err := db.Tx(ctx)
	if err != nil {
		return false, err
	}
	if err := fn(ent.NewTxContext(ctx, tx), tx.Client()); err != nil {
		_ = tx.Rollback()
		if apperror.CodeOf(err) == apperror.InvalidState {
			return false, nil
		}
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return true, nil
}
