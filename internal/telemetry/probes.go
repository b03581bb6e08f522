package telemetry

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// probeTimeout bounds the database reads of one scrape.
const probeTimeout = 2 * time.Second

// RegisterDB exports the pool statistics of db (go_sql_* with db_name=name).
func (t *Telemetry) RegisterDB(db *sql.DB, name string) {
	if !t.MetricsOn() {
		return
	}
	t.register(collectors.NewDBStatsCollector(db, name))
}

// RelayBacklog is what the event relay has still to do.
type RelayBacklog struct {
	// Unnumbered events are committed and wait for a position; Unpublished ones have
	// one and wait to be published.
	Unnumbered, Unpublished int64
	// Oldest is when the oldest of them was committed; zero when there are none.
	Oldest time.Time
}

// WebhookBacklog is what the webhook worker has still to send.
type WebhookBacklog struct {
	// Due deliveries may be sent now; Retrying ones failed and wait for their next
	// attempt.
	Due, Retrying int64
	// OldestDue is when the longest-waiting due delivery became due; zero when none is.
	OldestDue time.Time
}

// Probes read, at scrape time, what the database knows of the server's queues.
type Probes struct {
	Relay    func(context.Context) (RelayBacklog, error)
	Webhooks func(context.Context) (WebhookBacklog, error)
	// Now is the clock the ages are measured by (time.Now when nil).
	Now func() time.Time
}

// RegisterProbes exports the relay lag and webhook backlog, read from the database at
// each scrape.
func (t *Telemetry) RegisterProbes(p Probes) {
	if !t.MetricsOn() {
		return
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	t.register(&probeCollector{p: p, errs: t.m.probeErrors})
}

var (
	relayPendingDesc = prometheus.NewDesc("xiadan_events_relay_pending",
		"Order events the relay has yet to number (stage=unnumbered) or publish (stage=unpublished).", []string{"stage"}, nil)
	relayLagDesc = prometheus.NewDesc("xiadan_events_relay_lag_seconds",
		"Age of the oldest committed order event not yet published (0 when none waits).", nil, nil)
	webhookBacklogDesc = prometheus.NewDesc("xiadan_webhook_backlog",
		"Webhook deliveries due now (state=due) or waiting to retry after a failure (state=retrying).", []string{"state"}, nil)
	webhookAgeDesc = prometheus.NewDesc("xiadan_webhook_oldest_due_seconds",
		"How long the longest-waiting due webhook delivery has been due (0 when none is).", nil, nil)
)

// probeCollector runs the probes at each scrape.
type probeCollector struct {
	p    Probes
	errs *prometheus.CounterVec
}

func (c *probeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- relayPendingDesc
	ch <- relayLagDesc
	ch <- webhookBacklogDesc
	ch <- webhookAgeDesc
}

func (c *probeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	now := c.p.Now()
	if c.p.Relay != nil {
		if b, err := c.p.Relay(ctx); err != nil {
			c.errs.WithLabelValues("relay").Inc()
		} else {
			ch <- prometheus.MustNewConstMetric(relayPendingDesc, prometheus.GaugeValue, float64(b.Unnumbered), "unnumbered")
			ch <- prometheus.MustNewConstMetric(relayPendingDesc, prometheus.GaugeValue, float64(b.Unpublished), "unpublished")
			ch <- prometheus.MustNewConstMetric(relayLagDesc, prometheus.GaugeValue, age(now, b.Oldest))
		}
	}
	if c.p.Webhooks != nil {
		if b, err := c.p.Webhooks(ctx); err != nil {
			c.errs.WithLabelValues("webhooks").Inc()
		} else {
			ch <- prometheus.MustNewConstMetric(webhookBacklogDesc, prometheus.GaugeValue, float64(b.Due), "due")
			ch <- prometheus.MustNewConstMetric(webhookBacklogDesc, prometheus.GaugeValue, float64(b.Retrying), "retrying")
			ch <- prometheus.MustNewConstMetric(webhookAgeDesc, prometheus.GaugeValue, age(now, b.OldestDue))
		}
	}
}

// age is now-since in seconds, never negative; 0 for a zero since.
func age(now, since time.Time) float64 {
	if since.IsZero() || !now.After(since) {
		return 0
	}
	return now.Sub(since).Seconds()
}
