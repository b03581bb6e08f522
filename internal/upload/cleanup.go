package upload

import (
	"context"
	"time"

	entupload "github.com/xiadan/xiadan/ent/upload"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/viewer"
)

// cleanupLease is how long a replica has to remove an upload it claimed before another
// may claim it again (it crashed, or the store was down).
const cleanupLease = 10 * time.Minute

// Cleanup removes, file and row, every upload past its expiry: PENDING or READY ones
// nobody bound within UPLOAD_PENDING_TTL, and EXPIRED ones (released by their use). Each
// is first claimed with a write conditional on the state and expiry it was read with, so
// replicas running Cleanup together never work on the same upload; a claim not finished
// within cleanupLease is taken over. It reports how many uploads it removed.
func (s *Service) Cleanup(ctx context.Context) (int, error) {
	if s.store == nil {
		return 0, nil
	}
	ctx = viewer.SystemContext(ctx)
	db := s.client
	removed := 0
	for {
		now := s.now().UTC()
		due, err := db.Upload.Query().
			Where(entupload.StateIn(entupload.StatePENDING, entupload.StateREADY, entupload.StateEXPIRED),
				entupload.ExpiresAtLTE(now)).
			Limit(100).All(ctx)
		if err != nil || len(due) == 0 {
			return removed, err
		}
		for _, u := range due {
			lease := now.Add(cleanupLease).Truncate(time.Microsecond) // as MySQL keeps it
			n, err := db.Upload.Update().
				Where(entupload.ID(u.ID), entupload.StateEQ(u.State), entupload.ExpiresAt(u.ExpiresAt)).
				SetState(entupload.StateEXPIRED).SetExpiresAt(lease).
				Save(ctx)
			if err != nil {
				return removed, err
			}
			if n == 0 {
				continue // another replica has it
			}
			keys := []string{u.IncomingKey, u.StorageKey}
			for _, t := range u.Thumbnails {
				keys = append(keys, t.Key)
			}
			if err := s.store.Delete(ctx, keys...); err != nil {
				s.logger.WarnContext(ctx, "upload: removing an expired upload's files", "upload_id", u.ID, "err", err)
				continue // the lease runs out and a later pass tries again
			}
			if _, err := db.Upload.Delete().Where(entupload.ID(u.ID), entupload.ExpiresAt(lease)).Exec(ctx); err != nil {
				return removed, err
			}
			removed++
		}
		if len(due) < 100 {
			return removed, nil
		}
	}
}

// RunCleanup runs Cleanup every interval until ctx ends.
func (s *Service) RunCleanup(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.Cleanup(ctx)
		telemetry.RecordJob(ctx, "uploads_cleanup", err)
		if err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "upload: cleaning up expired uploads", "err", err)
		} else if n > 0 {
			s.logger.InfoContext(ctx, "upload: removed expired uploads", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
