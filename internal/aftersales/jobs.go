package aftersales

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/aftersalesevent"
	"github.com/xiadan/xiadan/ent/aftersalesrequest"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/viewer"
)

// JobBatch is how many requests each deadline takes on per run.
const JobBatch = 100

// deadlines are what happens when a step's deadline passes, by the status waiting for it.
var deadlines = []struct {
	status aftersalesrequest.Status
	what   string
	run    func(s *Service, ctx context.Context, db *ent.Client, id int) error
}{
	{aftersalesrequest.StatusREQUESTED, "approved", func(s *Service, ctx context.Context, db *ent.Client, id int) error {
		note := "approved automatically: the merchant did not answer in time"
		_, err := s.Approve(ctx, db, id, &note)
		return err
	}},
	{aftersalesrequest.StatusPROPOSED, "accepted", func(s *Service, ctx context.Context, db *ent.Client, id int) error {
		_, err := s.AcceptProposal(ctx, db, id)
		return err
	}},
	{aftersalesrequest.StatusRETURN_SHIPPED, "confirmed", func(s *Service, ctx context.Context, db *ent.Client, id int) error {
		_, err := s.ConfirmReturn(ctx, db, id)
		return err
	}},
	{aftersalesrequest.StatusREJECTED, "closed", func(s *Service, ctx context.Context, db *ent.Client, id int) error {
		return s.expire(ctx, db, id, aftersalesrequest.StatusREJECTED, "closed: the rejection was not escalated in time")
	}},
	{aftersalesrequest.StatusAWAITING_RETURN, "closed", func(s *Service, ctx context.Context, db *ent.Client, id int) error {
		return s.expire(ctx, db, id, aftersalesrequest.StatusAWAITING_RETURN, "closed: the goods were not shipped back in time")
	}},
}

// expire closes request id when it is still in status from.
func (s *Service) expire(ctx context.Context, db *ent.Client, id int, from aftersalesrequest.Status, note string) error {
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return err
	}
	if r.Status != from {
		return wrongState(r, "closed by its deadline")
	}
	_, err = s.finish(ctx, db, r, o, aftersalesrequest.StatusCLOSED, note, aftersalesevent.TypeCLOSED)
	return err
}

// RunJobsOnce takes the default of every step whose deadline has passed, up to JobBatch
// requests per step, each in its own transaction, and returns how many it moved.
//
// Every replica may run it at once: each request is locked and its status re-checked
// before the conditional move, so of two replicas (or a replica and a person) acting on
// one request one wins and the other gets INVALID_STATE, which is skipped here.
func (s *Service) RunJobsOnce(ctx context.Context, db *ent.Client) (int, error) {
	ctx = viewer.SystemContext(ctx)
	now := s.now()
	var errs []error
	moved := 0
	for _, d := range deadlines {
		ids, err := db.AfterSalesRequest.Query().
			Where(aftersalesrequest.StatusEQ(d.status), aftersalesrequest.DueAtLT(now)).
			Order(aftersalesrequest.ByDueAt(), aftersalesrequest.ByID()).
			Limit(JobBatch).IDs(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("finding %s requests past their deadline: %w", d.status, err))
			continue
		}
		for _, id := range ids {
			if ctx.Err() != nil {
				return moved, errors.Join(append(errs, ctx.Err())...)
			}
			done, err := inTx(ctx, db, func(ctx context.Context, tx *ent.Client) error { return d.run(s, ctx, tx, id) })
			if err != nil {
				errs = append(errs, fmt.Errorf("after-sales request %d (%s, %s by its deadline): %w", id, d.status, d.what, err))
			}
			if done {
				moved++
			}
		}
	}
	return moved, errors.Join(errs...)
}

// RunJobs runs RunJobsOnce every interval until ctx ends.
func (s *Service) RunJobs(ctx context.Context, db *ent.Client, interval time.Duration, logger *slog.Logger) {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	telemetry.RunJob(ctx, "aftersales", interval, logger, "after-sales jobs: requests moved", func(ctx context.Context) (int, error) {
		return s.RunJobsOnce(ctx, db)
	})
}

// inTx runs fn in a transaction of its own and reports whether it committed.
// INVALID_STATE means someone moved the request first: rolled back, not an error.
func inTx(ctx context.Context, db *ent.Client, fn func(context.Context, *ent.Client) error) (bool, error) {
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
