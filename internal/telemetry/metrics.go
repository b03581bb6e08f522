package telemetry

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets suit API requests and root fields: 2.5 ms to 10 s.
var latencyBuckets = []float64{.0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// sqlBuckets suit single statements: 0.1 ms to 5 s.
var sqlBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5}

// metrics are the instruments the server updates as it works. Scrape-time gauges (pool,
// relay, webhooks) are collectors of their own (probes.go, RegisterDB).
type metrics struct {
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	gqlRequests   *prometheus.CounterVec
	gqlDuration   *prometheus.HistogramVec
	fieldDuration *prometheus.HistogramVec
	sqlDuration   *prometheus.HistogramVec
	sqlErrors     *prometheus.CounterVec
	jobRuns       *prometheus.CounterVec
	jobSuccess    *prometheus.GaugeVec
	probeErrors   *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xiadan_http_requests_total",
			Help: "HTTP requests by route (the mux pattern) and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "xiadan_http_request_duration_seconds", Buckets: latencyBuckets,
			Help: "HTTP request duration by route, until the handler returns (streams: their whole life).",
		}, []string{"route"}),
		gqlRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xiadan_graphql_requests_total",
			Help: "GraphQL operations by operation name, type and outcome (OK or the first error's extensions.code).",
		}, []string{"operation", "type", "code"}),
		gqlDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "xiadan_graphql_request_duration_seconds", Buckets: latencyBuckets,
			Help: "GraphQL operation duration by type, from the request read to the final response (subscriptions: to the first event).",
		}, []string{"type"}),
		fieldDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "xiadan_graphql_field_duration_seconds", Buckets: latencyBuckets,
			Help: "Duration of root fields (Query.x, Mutation.y) with everything beneath them.",
		}, []string{"field"}),
		sqlDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "xiadan_sql_statement_duration_seconds", Buckets: sqlBuckets,
			Help: "SQL statements sent by the server, by kind (SELECT, INSERT, UPDATE, DELETE, BEGIN, COMMIT, ROLLBACK, OTHER).",
		}, []string{"statement"}),
		sqlErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xiadan_sql_errors_total",
			Help: "SQL statements that failed, by kind.",
		}, []string{"statement"}),
		jobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xiadan_job_runs_total",
			Help: "Background job runs by job and outcome (success, failure).",
		}, []string{"job", "outcome"}),
		jobSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xiadan_job_last_success_timestamp_seconds",
			Help: "When each background job last ran without error (Unix time).",
		}, []string{"job"}),
		probeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xiadan_telemetry_probe_errors_total",
			Help: "Scrape-time database probes (relay lag, webhook backlog) that failed.",
		}, []string{"probe"}),
	}
	return m
}

// collectors are the metrics to register.
func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.httpRequests, m.httpDuration, m.gqlRequests, m.gqlDuration, m.fieldDuration,
		m.sqlDuration, m.sqlErrors, m.jobRuns, m.jobSuccess, m.probeErrors}
}

// Operation label values that are not names.
const (
	// OperationAnonymous labels operations without a name.
	OperationAnonymous = "anonymous"
	// OperationOther labels names beyond the first MaxOperations, and overlong ones.
	OperationOther = "other"
	// OperationUnknown labels requests refused before an operation was chosen (a parse
	// error, an unknown persisted query).
	OperationUnknown = "unknown"
)

// maxNameLen bounds one operation label value.
const maxNameLen = 64

// operationNames keeps label cardinality bounded: the first max distinct names are
// labels, the rest fold into "other".
type operationNames struct {
	max  int
	mu   sync.RWMutex
	seen map[string]struct{}
}

func newOperationNames(max int) *operationNames {
	return &operationNames{max: max, seen: map[string]struct{}{}}
}

// label is the label value of operation name.
func (o *operationNames) label(name string) string {
	if name == "" {
		return OperationAnonymous
	}
	if len(name) > maxNameLen {
		return OperationOther
	}
	o.mu.RLock()
	_, ok := o.seen[name]
	o.mu.RUnlock()
	if ok {
		return name
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.seen[name]; ok {
		return name
	}
	if len(o.seen) >= o.max {
		return OperationOther
	}
	// A parsed operation's name is a GraphQL Name ([_A-Za-z][_0-9A-Za-z]*); clone it so
	// the label does not pin the request's query text.
	name = strings.Clone(name)
	o.seen[name] = struct{}{}
	return name
}
