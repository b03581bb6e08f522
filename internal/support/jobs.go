package support

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/ticket"
	"github.com/xiadan/xiadan/ent/ticketmessage"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/viewer"
)

// JobBatch is how many overdue tickets one run escalates at most.
const JobBatch = 100

// RunJobs escalates overdue tickets every interval until ctx ends. Every replica may run
// it: each escalation is a write conditional on the ticket being unescalated, unanswered
// and not closed, so of two replicas one escalates and the other skips, and a ticket whose
// first answer is committed first is never escalated.
func (s *Service) RunJobs(ctx context.Context, db *ent.Client, interval time.Duration, logger *slog.Logger) {
	telemetry.RunJob(ctx, "support", interval, logger, "support tickets escalated", func(ctx context.Context) (int, error) {
		return s.EscalateOverdue(ctx, db)
	})
}

// EscalateOverdue escalates up to JobBatch tickets whose first answer is overdue, each in
// its own transaction with a SYSTEM message, and returns how many it escalated.
func (s *Service) EscalateOverdue(ctx context.Context, db *ent.Client) (int, error) {
	ctx = viewer.SystemContext(ctx)
	now := s.now()
	due, err := db.Ticket.Query().
		Where(ticket.Escalated(false), ticket.FirstResponseAtIsNil(), ticket.StatusNEQ(ticket.StatusCLOSED),
			ticket.ResponseDueAtLT(now)).
		Order(ticket.ByResponseDueAt(), ticket.ByID()).Limit(JobBatch).IDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("finding overdue tickets: %w", err)
	}
	var errs []error
	done := 0
	for _, id := range due {
		if ctx.Err() != nil {
			return done, errors.Join(append(errs, ctx.Err())...)
		}
		ok, err := s.escalate(ctx, db, id, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("escalating ticket %d: %w", id, err))
		}
		if ok {
			done++
		}
	}
	return done, errors.Join(errs...)
}

// escalate escalates one ticket if it is still overdue, in a transaction of its own.
func (s *Service) escalate(ctx context.Context, db *ent.Client, id int, now time.Time) (bool, error) {
	tx, err := db.Tx(ctx)
	if err != nil {
		return false, err
	}
	// Lock the row by its primary key first, as Reply's writes do. Left to itself MySQL
	// may find the row through the (escalated, first_response_at, …) index and lock that
	// index entry before the row: against an answer holding the row and then writing
	// first_response_at into the same index entry, that order deadlocks.
	if _, err := tx.Ticket.Query().Where(ticket.ID(id), hooks.LockRows).IDs(ctx); err != nil {
		_ = tx.Rollback()
		return false, err
	}
	n, err := tx.Ticket.Update().
		Where(ticket.ID(id), ticket.Escalated(false), ticket.FirstResponseAtIsNil(),
			ticket.StatusNEQ(ticket.StatusCLOSED), ticket.ResponseDueAtLT(now)).
		SetEscalated(true).SetEscalatedAt(now).SetUpdatedAt(now).Save(ctx)
	if err == nil && n == 1 {
		err = tx.TicketMessage.Create().SetTicketID(id).SetAuthorRole(ticketmessage.AuthorRoleSYSTEM).
			SetBody(fmt.Sprintf("No first answer within %s: escalated to the platform's customer service. / 超过 %s 未首次回复，已升级至平台客服。", s.SLA, s.SLA)).
			SetCreatedAt(now).Exec(ctx)
	}
	if err != nil {
		_ = tx.Rollback()
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return n == 1, nil
}
