// Package telemetry makes the server observable: Prometheus metrics (requests by GraphQL
// operation and outcome, latencies, root-field and SQL timings, pool stats, event and
// webhook backlogs, job runs), OpenTelemetry traces (HTTP request → GraphQL operation →
// SQL statement) and trace ids in log lines. Each is off, at near-zero cost, unless
// configured (docs/OPERATIONS.md).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Config is what the environment says about metrics and tracing.
type Config struct {
	// MetricsToken, when set, serves /metrics on the main listener to requests bearing it
	// (METRICS_TOKEN), and is required on the metrics listener too.
	MetricsToken string
	// MetricsAddr, when set, is a separate listener for /metrics and /debug/pprof/
	// (METRICS_ADDR, e.g. 127.0.0.1:9090).
	MetricsAddr string
	// MaxOperations is how many distinct GraphQL operation names get their own label
	// value; later ones are counted as "other" (METRICS_MAX_OPERATIONS, default 200).
	MaxOperations int
	// Tracing exports spans over OTLP/HTTP; set when OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is, unless OTEL_SDK_DISABLED=true or
	// OTEL_TRACES_EXPORTER=none. The exporter reads the other OTEL_* variables itself.
	Tracing bool
}

// Metrics reports whether metrics are collected: only when something can read them.
func (c Config) Metrics() bool { return c.MetricsToken != "" || c.MetricsAddr != "" }

// ConfigFromEnv reads the settings through getenv.
func ConfigFromEnv(getenv func(string) string) Config {
	c := Config{
		MetricsToken:  strings.TrimSpace(getenv("METRICS_TOKEN")),
		MetricsAddr:   strings.TrimSpace(getenv("METRICS_ADDR")),
		MaxOperations: 200,
	}
	endpoint := getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	c.Tracing = endpoint && !strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") &&
		!strings.EqualFold(getenv("OTEL_TRACES_EXPORTER"), "none")
	return c
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		errs = append(errs, errors.New("METRICS_TOKEN must be at least 16 characters"))
	}
	if c.MaxOperations < 1 {
		errs = append(errs, errors.New("METRICS_MAX_OPERATIONS must be at least 1"))
	}
	return errors.Join(errs...)
}

// Option changes how New builds the telemetry.
type Option func(*options)

type options struct {
	exporter sdktrace.SpanExporter
	metrics  bool
}

// WithSpanExporter sends spans to exp synchronously, and turns tracing on: for tests
// (go.opentelemetry.io/otel/sdk/trace/tracetest) and benchmarks.
func WithSpanExporter(exp sdktrace.SpanExporter) Option {
	return func(o *options) { o.exporter = exp }
}

// WithMetrics collects metrics even when nothing is configured to serve them (for
// benchmarks).
func WithMetrics() Option {
	return func(o *options) { o.metrics = true }
}

// Telemetry holds the metrics registry and the tracer of one server.
type Telemetry struct {
	cfg      Config
	registry *prometheus.Registry
	m        *metrics // nil when metrics are off
	tp       *sdktrace.TracerProvider
	tracer   trace.Tracer // nil when tracing is off
	prop     propagation.TextMapPropagator
	ops      *operationNames
	// collectors are those registered, for MetricNames.
	collectors []prometheus.Collector
}

// New builds the telemetry cfg asks for. Call Shutdown at exit to flush spans.
func New(cfg Config, opts ...Option) (*Telemetry, error) {
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	if cfg.MaxOperations < 1 {
		cfg.MaxOperations = 200
	}
	t := &Telemetry{cfg: cfg, registry: prometheus.NewRegistry(), prop: propagation.TraceContext{},
		ops: newOperationNames(cfg.MaxOperations)}
	if cfg.Metrics() || o.metrics {
		t.m = newMetrics()
		t.register(t.m.collectors()...)
		t.register(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if cfg.Tracing || o.exporter != nil {
		res, err := resource.New(context.Background(), resource.WithFromEnv(), resource.WithTelemetrySDK(),
			resource.WithAttributes(attribute.String("service.name", serviceName())))
		if err != nil {
			return nil, fmt.Errorf("telemetry: resource: %w", err)
		}
		tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
		if o.exporter != nil {
			tpOpts = append(tpOpts, sdktrace.WithSyncer(o.exporter))
		} else {
			exp, err := otlptracehttp.New(context.Background())
			if err != nil {
				return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
			}
			tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
		}
		t.tp = sdktrace.NewTracerProvider(tpOpts...)
		t.tracer = t.tp.Tracer("github.com/xiadan/xiadan")
	}
	return t, nil
}

// serviceName is OTEL_SERVICE_NAME, or xiadan; resource.WithFromEnv applies the variable
// again, after, so it wins.
func serviceName() string {
	if n := os.Getenv("OTEL_SERVICE_NAME"); n != "" {
		return n
	}
	return "xiadan"
}

// MetricsOn reports whether metrics are collected.
func (t *Telemetry) MetricsOn() bool { return t != nil && t.m != nil }

// TracingOn reports whether spans are recorded.
func (t *Telemetry) TracingOn() bool { return t != nil && t.tracer != nil }

// Config is the configuration the telemetry was built from.
func (t *Telemetry) Config() Config { return t.cfg }

// Registry is the Prometheus registry /metrics serves, for collectors of other packages.
func (t *Telemetry) Registry() *prometheus.Registry { return t.registry }

// register adds collectors to the registry.
func (t *Telemetry) register(cs ...prometheus.Collector) {
	t.registry.MustRegister(cs...)
	t.collectors = append(t.collectors, cs...)
}

// fqName finds the metric name in a Desc's String().
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// MetricNames lists the names of every metric the registry may export (histograms by
// their base name), whether or not it has samples yet; empty when metrics are off.
func (t *Telemetry) MetricNames() []string {
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range t.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	var names []string
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

// Shutdown flushes the spans not yet exported.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil || t.tp == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}
