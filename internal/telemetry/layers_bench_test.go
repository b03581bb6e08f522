package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/internal/telemetry"
)

// nopDriver answers every statement at once, so a benchmark sees only what wraps it.
type nopDriver struct{}

func (nopDriver) Exec(context.Context, string, any, any) error  { return nil }
func (nopDriver) Query(context.Context, string, any, any) error { return nil }
func (nopDriver) Tx(context.Context) (dialect.Tx, error)        { return nil, nil }
func (nopDriver) Close() error                                  { return nil }
func (nopDriver) Dialect() string                               { return dialect.SQLite }

// layerConfigs are the telemetry settings the layer benchmarks compare.
var layerConfigs = []struct {
	name string
	opts []telemetry.Option
}{
	{"off", nil},
	{"metrics", []telemetry.Option{telemetry.WithMetrics()}},
	{"metrics+tracing", []telemetry.Option{telemetry.WithMetrics(), telemetry.WithSpanExporter(discard{})}},
}

// BenchmarkLayerHTTP is the HTTP middleware alone around a handler that does nothing:
// the request's span and counters.
func BenchmarkLayerHTTP(b *testing.B) {
	for _, c := range layerConfigs {
		b.Run(c.name, func(b *testing.B) {
			tel, err := telemetry.New(telemetry.Config{}, c.opts...)
			if err != nil {
				b.Fatal(err)
			}
			h := tel.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
				func(*http.Request) string { return "/graphql" })
			req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkLayerSQL is the driver wrapper alone around a driver that does nothing, in
// a traced request (a recording span in the context) when tracing is on.
func BenchmarkLayerSQL(b *testing.B) {
	for _, c := range layerConfigs {
		b.Run(c.name, func(b *testing.B) {
			tel, err := telemetry.New(telemetry.Config{}, c.opts...)
			if err != nil {
				b.Fatal(err)
			}
			drv := tel.WrapDriver(nopDriver{})
			const q = "SELECT `products`.`id` FROM `products` WHERE `products`.`merchant_id` = ? LIMIT 6"
			args := []any{1}
			// The loop runs inside a request, where its span is live.
			inner := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				ctx := r.Context()
				b.ReportAllocs()
				for b.Loop() {
					if err := drv.Query(ctx, q, args, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
			tel.Middleware(inner, func(*http.Request) string { return "/graphql" }).
				ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		})
	}
}
