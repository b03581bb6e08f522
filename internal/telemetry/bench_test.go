package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/testdb"
)

// discard is a span exporter that drops everything.
type discard struct{}

func (discard) ExportSpans(context.Context, []trace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                          { return nil }

// BenchmarkRequestOverhead serves one storefront query (a page of products on SQLite)
// through the whole handler, in memory, with telemetry off, with metrics, and with
// metrics and every request traced (spans dropped by the exporter): the difference is
// the per-request cost of the telemetry.
func BenchmarkRequestOverhead(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []telemetry.Option
	}{
		{"off", nil},
		{"metrics", []telemetry.Option{telemetry.WithMetrics()}},
		{"metrics+tracing", []telemetry.Option{telemetry.WithMetrics(), telemetry.WithSpanExporter(discard{})}},
	} {
		b.Run(c.name, func(b *testing.B) {
			tel, err := telemetry.New(telemetry.Config{}, c.opts...)
			if err != nil {
				b.Fatal(err)
			}
			s := apitest.NewWithTelemetry(b, testdb.SQLiteURL(b), tel)
			m := s.NewMerchant(b, "bench", "ACTIVE")
			for i := range 5 {
				s.NewProduct(b, m, "Bench product", "PHYSICAL", "B-"+string(rune('A'+i)), 1000, 5)
			}
			h := s.HTTP.Config.Handler
			body := `{"query":"query Storefront { products(first: 5) { edges { node { id title } } } }"}`
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"errors"`) {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
