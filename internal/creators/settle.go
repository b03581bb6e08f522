package creators

import (
	"context"
	"log/slog"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/commission"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/viewer"
)

// JobBatch is how many commissions a run of the settlement job moves at most.
const JobBatch = 500

// SettleOnce makes SETTLABLE the PENDING commissions whose order completed at least
// Config.Hold ago, up to JobBatch, and returns how many it moved. Every replica may run
// it at once: the move is one conditional UPDATE … WHERE status = 'PENDING', so a
// commission moves once whoever gets there first.
func (s *Service) SettleOnce(ctx context.Context, db *ent.Client) (int, error) {
	ctx = viewer.SystemContext(ctx)
	now := s.now()
	ids, err := db.Commission.Query().
		Where(commission.StatusEQ(commission.StatusPENDING),
			commission.HasOrderWith(order.StatusEQ(order.StatusCOMPLETED), order.CompletedAtLTE(now.Add(-s.Config.Hold)))).
		Order(commission.ByID()).Limit(JobBatch).IDs(ctx)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return db.Commission.Update().
		Where(commission.IDIn(ids...), commission.StatusEQ(commission.StatusPENDING)).
		SetStatus(commission.StatusSETTLABLE).SetSettlableAt(now).Save(ctx)
}

// RunJobs runs SettleOnce every interval until ctx ends.
func (s *Service) RunJobs(ctx context.Context, db *ent.Client, interval time.Duration, logger *slog.Logger) {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	telemetry.RunJob(ctx, "creators", interval, logger, "commissions settlable", func(ctx context.Context) (int, error) {
		return s.SettleOnce(ctx, db)
	})
}
