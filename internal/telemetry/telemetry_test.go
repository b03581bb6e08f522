package telemetry_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/testdb"
)

// metricsToken is the METRICS_TOKEN of the test servers.
const metricsToken = "test-metrics-token-0123456789"

func withMetricsToken(c *config.Config) { c.Telemetry.MetricsToken = metricsToken }

// scrape reads /metrics with token ("" for none) and returns the status and the parsed
// families (nil unless 200).
func scrape(t *testing.T, s *apitest.Server, token string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.HTTP.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return res.StatusCode, fams
}

// value sums the samples of family name whose labels include want (counters, gauges;
// histograms give their sample count).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	var sum float64
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// TestMetricsCountOperationsOutcomesAndStatements: after a few GraphQL requests /metrics
// shows each operation under its name (anonymous ones folded) with OK or the error's
// extensions.code, the operation-type latency, the root-field timings, SQL statements by
// kind, pool stats and the relay and webhook probes; without the token it is refused.
func TestMetricsCountOperationsOutcomesAndStatements(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t), withMetricsToken)
			for range 3 {
				s.MustQuery("", `query Storefront { products(first: 5) { edges { node { id } } } }`, nil)
			}
			s.MustQuery("", `{ products(first: 1) { totalCount } }`, nil)
			if r := s.Query("", `query TooBig { products(first: 1000) { edges { node { id } } } }`, nil); r.Code() != "BAD_USER_INPUT" {
				t.Fatalf("want BAD_USER_INPUT, got %s", r.Raw)
			}
			if r := s.Query("", `query Broken {`, nil); len(r.Errors) == 0 {
				t.Fatalf("want a parse error, got %s", r.Raw)
			}
			s.Register("metrics@example.com", "Metrics") // a mutation: BEGIN, INSERT, COMMIT

			for _, tok := range []string{"", "wrong-token-0123456789", strings.ToUpper(metricsToken)} {
				if status, _ := scrape(t, s, tok); status != http.StatusUnauthorized {
					t.Errorf("token %q: want 401, got %d", tok, status)
				}
			}
			status, fams := scrape(t, s, metricsToken)
			if status != http.StatusOK {
				t.Fatalf("want 200, got %d", status)
			}
			gql := "xiadan_graphql_requests_total"
			for _, c := range []struct {
				labels map[string]string
				want   float64
			}{
				{map[string]string{"operation": "Storefront", "type": "query", "code": "OK"}, 3},
				{map[string]string{"operation": "anonymous", "type": "query", "code": "OK"}, 1},
				{map[string]string{"operation": "TooBig", "type": "query", "code": "BAD_USER_INPUT"}, 1},
				{map[string]string{"operation": "unknown", "type": "unknown", "code": "BAD_USER_INPUT"}, 1}, // a parse error
				{map[string]string{"type": "mutation", "code": "OK"}, 1},
			} {
				if got := value(fams, gql, c.labels); got != c.want {
					t.Errorf("%s%v = %v, want %v; have %v", gql, c.labels, got, c.want, fams[gql])
				}
			}
			if got := value(fams, "xiadan_graphql_request_duration_seconds", map[string]string{"type": "query"}); got < 5 {
				t.Errorf("query latency observations = %v, want at least 5", got)
			}
			if got := value(fams, "xiadan_graphql_field_duration_seconds", map[string]string{"field": "Query.products"}); got < 4 {
				t.Errorf("Query.products timings = %v, want at least 4", got)
			}
			for _, kind := range []string{"SELECT", "INSERT", "BEGIN", "COMMIT"} {
				if got := value(fams, "xiadan_sql_statement_duration_seconds", map[string]string{"statement": kind}); got < 1 {
					t.Errorf("no %s statement counted", kind)
				}
			}
			if got := value(fams, "go_sql_max_open_connections", map[string]string{"db_name": s.DB.Dialect}); got < 1 {
				t.Errorf("pool stats missing for db_name=%s", s.DB.Dialect)
			}
			for _, name := range []string{"xiadan_events_relay_lag_seconds", "xiadan_webhook_oldest_due_seconds", "go_goroutines", "process_cpu_seconds_total"} {
				if fams[name] == nil {
					t.Errorf("%s not exported", name)
				}
			}
			if fams["xiadan_telemetry_probe_errors_total"] != nil {
				t.Errorf("a probe failed: %v", fams["xiadan_telemetry_probe_errors_total"])
			}
			// The HTTP counters are written after the response is sent: scrape until the
			// requests above show.
			for deadline := time.Now().Add(30 * time.Second); ; {
				if value(fams, "xiadan_http_requests_total", map[string]string{"route": "/graphql", "code": "200"}) >= 5 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("HTTP requests to /graphql not counted: %v", fams["xiadan_http_requests_total"])
				}
				_, fams = scrape(t, s, metricsToken)
			}
		})
	}
}

// TestMetricsOffByDefault: without METRICS_TOKEN the main listener serves no metrics.
func TestMetricsOffByDefault(t *testing.T) {
	s := apitest.New(t, testdb.SQLiteURL(t), func(c *config.Config) { c.Playground = false })
	if status, _ := scrape(t, s, ""); status != http.StatusNotFound {
		t.Errorf("want 404, got %d", status)
	}
	if s.App.Telemetry.MetricsOn() || s.App.Telemetry.TracingOn() {
		t.Error("metrics or tracing on without configuration")
	}
}

// TestNamesAreBounded: past METRICS_MAX_OPERATIONS distinct names, operations count as
// "other".
func TestNamesAreBounded(t *testing.T) {
	s := apitest.New(t, testdb.SQLiteURL(t), withMetricsToken, func(c *config.Config) { c.Telemetry.MaxOperations = 2 })
	for _, name := range []string{"One", "Two", "Three", "Four", "One"} {
		s.MustQuery("", "query "+name+" { __typename }", nil)
	}
	_, fams := scrape(t, s, metricsToken)
	for op, want := range map[string]float64{"One": 2, "Two": 1, "other": 2, "Three": 0} {
		if got := value(fams, "xiadan_graphql_requests_total", map[string]string{"operation": op}); got != want {
			t.Errorf("operation %s: %v, want %v", op, got, want)
		}
	}
}

// TestJobRunsAreCounted: RecordJob under WithJobs counts successes and failures; a run
// ended by shutdown is not counted.
func TestJobRunsAreCounted(t *testing.T) {
	s := apitest.New(t, testdb.SQLiteURL(t), withMetricsToken)
	ctx := telemetry.WithJobs(context.Background(), s.App.Telemetry)
	telemetry.RecordJob(ctx, "orders", nil)
	telemetry.RecordJob(ctx, "orders", io.ErrUnexpectedEOF)
	done, cancel := context.WithCancel(ctx)
	cancel()
	telemetry.RecordJob(done, "orders", context.Canceled)
	_, fams := scrape(t, s, metricsToken)
	for outcome, want := range map[string]float64{"success": 1, "failure": 1} {
		if got := value(fams, "xiadan_job_runs_total", map[string]string{"job": "orders", "outcome": outcome}); got != want {
			t.Errorf("orders %s: %v, want %v", outcome, got, want)
		}
	}
}

// spans is an in-memory exporter that signals each export, so a test waits for the span
// it expects rather than for a while.
type spans struct {
	*tracetest.InMemoryExporter
	mu      sync.Mutex
	changed chan struct{}
}

func newSpans() *spans {
	return &spans{InMemoryExporter: tracetest.NewInMemoryExporter(), changed: make(chan struct{})}
}

func (s *spans) ExportSpans(ctx context.Context, ss []trace.ReadOnlySpan) error {
	err := s.InMemoryExporter.ExportSpans(ctx, ss)
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return err
}

// await returns the spans once one satisfies ok.
func (s *spans) await(t *testing.T, ok func(tracetest.SpanStub) bool) tracetest.SpanStubs {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		all := s.GetSpans()
		for _, sp := range all {
			if ok(sp) {
				return all
			}
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("span not exported; have %d spans", len(all))
		}
	}
}

// TestTraceSpansHTTPOperationSQL: a query continuing the caller's traceparent yields an
// HTTP server span under the caller's span, the operation's span under it and a span per
// SQL statement under that, with the statement's text and never its arguments; a log
// line written during a request carries the trace id.
func TestTraceSpansHTTPOperationSQL(t *testing.T) {
	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID = "00f067aa0ba902b7"
		secret   = "no-such-category-7731"
	)
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			exp := newSpans()
			tel, err := telemetry.New(telemetry.Config{}, telemetry.WithSpanExporter(exp))
			if err != nil {
				t.Fatal(err)
			}
			s := apitest.NewWithTelemetry(t, d.URL(t), tel)
			r := s.Do(apitest.Request{Query: `query Cat($s: String!) { categoryBySlug(slug: $s) { id } }`,
				Variables: map[string]any{"s": secret},
				Header:    map[string]string{"traceparent": "00-" + traceID + "-" + parentID + "-01"}})
			if len(r.Errors) > 0 {
				t.Fatalf("query failed: %s", r.Raw)
			}
			all := exp.await(t, func(sp tracetest.SpanStub) bool { return sp.Name == "POST /graphql" })
			var httpSpan, opSpan *tracetest.SpanStub
			for i, sp := range all {
				switch sp.Name {
				case "POST /graphql":
					httpSpan = &all[i]
				case "query Cat":
					opSpan = &all[i]
				}
			}
			if httpSpan == nil || opSpan == nil {
				t.Fatalf("want HTTP and operation spans, got %v", names(all))
			}
			if httpSpan.SpanContext.TraceID().String() != traceID || httpSpan.Parent.SpanID().String() != parentID {
				t.Errorf("HTTP span does not continue the traceparent: trace %s parent %s",
					httpSpan.SpanContext.TraceID(), httpSpan.Parent.SpanID())
			}
			if opSpan.Parent.SpanID() != httpSpan.SpanContext.SpanID() {
				t.Errorf("operation span's parent is %s, not the HTTP span", opSpan.Parent.SpanID())
			}
			selects := 0
			for _, sp := range all {
				for _, a := range sp.Attributes {
					if strings.Contains(a.Value.Emit(), secret) {
						t.Errorf("span %s records the argument: %s=%s", sp.Name, a.Key, a.Value.Emit())
					}
				}
				if sp.Name != "SELECT" {
					continue
				}
				if sp.SpanContext.TraceID().String() != traceID {
					t.Errorf("SELECT span in another trace: %s", sp.SpanContext.TraceID())
				}
				// Middleware may read before the operation (the search dictionaries, once).
				if sp.Parent.SpanID() != opSpan.SpanContext.SpanID() {
					continue
				}
				for _, a := range sp.Attributes {
					if a.Key == "db.query.text" && strings.Contains(a.Value.AsString(), "?") && strings.Contains(a.Value.AsString(), "categor") {
						selects++
					}
				}
			}
			if selects == 0 {
				t.Errorf("no SELECT span under the operation with the category statement's text: %v", names(all))
			}

			// A refused request logs one line; it carries the trace id.
			req, err := http.NewRequest(http.MethodPost, s.HTTP.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			logs := s.Logs(res.Header.Get("X-Request-ID"))
			if len(logs) != 1 || logs[0]["trace_id"] != traceID || logs[0]["span_id"] == "" || logs[0]["span_id"] == nil {
				t.Errorf("want one log line with trace_id %s, got %v", traceID, logs)
			}
		})
	}
}

func names(ss tracetest.SpanStubs) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}
