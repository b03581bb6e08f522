package telemetry

import (
	"context"
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
