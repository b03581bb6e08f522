package telemetry

import (
	"context"
	"log/slog"
	"time"
)

// jobsKey keys the telemetry that RecordJob reports to.
type jobsKey struct{}

// WithJobs returns ctx carrying t, for the background jobs started with it to report
// their runs through RecordJob.
func WithJobs(ctx context.Context, t *Telemetry) context.Context {
	if !t.MetricsOn() {
		return ctx
	}
	return context.WithValue(ctx, jobsKey{}, t)
}

// RecordJob counts one run of the background job named job, a failure when err is set.
// A run cut short by the end of ctx (shutdown) is not counted. Without telemetry in ctx
// (WithJobs) it does nothing.
func RecordJob(ctx context.Context, job string, err error) {
	t, ok := ctx.Value(jobsKey{}).(*Telemetry)
	if !ok || ctx.Err() != nil {
		return
	}
	if err != nil {
		t.m.jobRuns.WithLabelValues(job, "failure").Inc()
		return
	}
	t.m.jobRuns.WithLabelValues(job, "success").Inc()
	t.m.jobSuccess.WithLabelValues(job).Set(float64(time.Now().Unix()))
}

// RunJob runs fn at once and then every interval (30s when not positive) until ctx ends:
// each run is counted in xiadan_job_runs_total under job, a failure or a panic is logged
// and the next run goes on, and a run that did something (n > 0) logs done with n.
// Every replica may run a job whose work is claimed in the database.
func RunJob(ctx context.Context, job string, interval time.Duration, logger *slog.Logger, done string, fn func(context.Context) (int, error)) {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		func() {
			defer func() {
				if r := recover(); r != nil {
					logger.ErrorContext(ctx, job+" job panicked", "panic", r)
				}
			}()
			n, err := fn(ctx)
			RecordJob(ctx, job, err)
			if err != nil && ctx.Err() == nil {
				logger.ErrorContext(ctx, job+" job failed", "err", err)
			}
			if n > 0 {
				logger.InfoContext(ctx, done, "count", n)
			}
		}()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
