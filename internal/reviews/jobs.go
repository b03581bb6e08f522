package reviews

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/viewer"
)

// JobBatch is how many order lines the default-review job takes on per run.
const JobBatch = 100

// RunJobs writes default reviews (RunJobsOnce) every interval until ctx ends; it does
// nothing unless Config.DefaultReviews is on.
func (s *Service) RunJobs(ctx context.Context, db *ent.Client, interval time.Duration, logger *slog.Logger) {
	if !s.Config.DefaultReviews {
		return
	}
	if interval <= 0 {
		interval = 30 * time.Second
	}
	telemetry.RunJob(ctx, "reviews", interval, logger, "review jobs: default reviews written", func(ctx context.Context) (int, error) {
		return s.RunJobsOnce(ctx, db)
	})
}

// RunJobsOnce writes a 5-star default review (isDefault, anonymous, no text) for up to
// JobBatch lines of orders completed more than Window ago that nobody reviewed, and
// returns how many it wrote. Each line is its own transaction; every replica may run the
// job at once: the unique index on order_item_id lets one review per line in, and a
// replica that loses the race rolls its attempt back and skips the line.
func (s *Service) RunJobsOnce(ctx context.Context, db *ent.Client) (int, error) {
	if !s.Config.DefaultReviews {
		return 0, nil
	}
	ctx = viewer.SystemContext(ctx)
	cutoff := s.now().Add(-s.Config.Window)
	items, err := db.OrderItem.Query().
		Where(orderitem.HasOrderWith(order.StatusEQ(order.StatusCOMPLETED), order.CompletedAtLT(cutoff)),
			orderitem.Not(orderitem.HasReview()), orderitem.ProductIDNotNil()).
		Order(orderitem.ByID()).
		Limit(JobBatch).
		WithOrder().
		All(ctx)
	if err != nil {
		return 0, fmt.Errorf("finding lines without a review: %w", err)
	}
	var errs []error
	written := 0
	for _, it := range items {
		if ctx.Err() != nil {
			return written, errors.Join(append(errs, ctx.Err())...)
		}
		name := ""
		if u, err := db.User.Get(ctx, it.Edges.Order.CustomerID); err == nil {
			name = u.DisplayName
		}
		tx, err := db.Tx(ctx)
		if err != nil {
			return written, err
		}
		_, err = s.insert(ent.NewTxContext(ctx, tx), tx.Client(), it.Edges.Order, it, name, CreateInput{Rating: 5, Anonymous: true}, true)
		if err != nil {
			_ = tx.Rollback()
			if apperror.CodeOf(err) != apperror.Conflict {
				errs = append(errs, fmt.Errorf("default review of order line %d: %w", it.ID, err))
			}
			continue
		}
		if err := tx.Commit(); err != nil {
			errs = append(errs, fmt.Errorf("default review of order line %d: %w", it.ID, err))
			continue
		}
		written++
	}
	return written, errors.Join(errs...)
}
