package telemetry

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// routeUnmatched labels requests no route took.
const routeUnmatched = "unmatched"

// Middleware counts and times the requests next serves, labelled by route (the pattern
// the mux chooses for them, asked of route), and opens each request's span, continuing a
// W3C traceparent the caller sent. With metrics and tracing off it returns next itself.
func (t *Telemetry) Middleware(next http.Handler, route func(*http.Request) string) http.Handler {
	if !t.MetricsOn() && !t.TracingOn() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		pattern := route(r)
		if pattern == "" {
			pattern = routeUnmatched
		}
		ctx := r.Context()
		var span trace.Span
		if t.tracer != nil {
			ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
			ctx, span = t.tracer.Start(ctx, r.Method+" "+routeName(pattern), trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", r.Method),
					attribute.String("url.path", r.URL.Path), attribute.String("http.route", pattern)))
			r = r.WithContext(ctx)
		}
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if t.m != nil {
				t.m.httpRequests.WithLabelValues(pattern, strconv.Itoa(rec.status)).Inc()
				t.m.httpDuration.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
			}
			if span != nil {
				span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
				if rec.status >= 500 {
					span.SetStatus(codes.Error, http.StatusText(rec.status))
				}
				span.End()
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// routeName is a pattern without its method ("GET /healthz" → "/healthz"), as the span
// name carries the method already.
func routeName(pattern string) string {
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (websocket hijacking).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush lets streaming transports flush through the writer.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// MetricsHandler serves the metrics in the Prometheus exposition format, to requests
// bearing METRICS_TOKEN when one is set.
func (t *Telemetry) MetricsHandler() http.Handler {
	return t.requireToken(promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{}))
}

// requireToken refuses requests without "Authorization: Bearer METRICS_TOKEN" when a
// token is set.
func (t *Telemetry) requireToken(next http.Handler) http.Handler {
	if t.cfg.MetricsToken == "" {
		return next
	}
	want := []byte("Bearer " + t.cfg.MetricsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need Authorization: Bearer <METRICS_TOKEN>", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// DebugHandler is what the metrics listener (METRICS_ADDR) serves: /metrics and
// net/http/pprof under /debug/pprof/, behind METRICS_TOKEN when one is set.
func (t *Telemetry) DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return t.requireToken(mux)
}

// ServeDebug serves DebugHandler on ln until ctx ends.
func (t *Telemetry) ServeDebug(ctx context.Context, ln net.Listener, logger *slog.Logger) error {
	srv := &http.Server{Handler: t.DebugHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	logger.Info("metrics and pprof are serving", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
