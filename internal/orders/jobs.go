package orders

import (
	"context"
	"log/slog"
	"time"

	"github.com/xiadan/xiadan/ent"
)

// RunJobs runs the background jobs every interval until ctx ends: it cancels unpaid
// orders past their payment deadline and completes orders delivered or fulfilled longer
// than AutoCompleteAfter ago.
func (s *Service) RunJobs(ctx context.Context, db *ent.Client, interval time.Duration, logger *slog.Logger) {
	// TODO(jobs): implement.
	<-ctx.Done()
}
