package currency_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// counting counts the statements sent through an Ent driver outside transactions (a
// storefront query opens none), but not those of the server's background work
// (apitest.BackgroundStatement).
type counting struct {
	dialect.Driver
	n *atomic.Int64
}

func (d counting) Exec(ctx context.Context, query string, args, v any) error {
	if !apitest.BackgroundStatement(query) {
		d.n.Add(1)
	}
	return d.Driver.Exec(ctx, query, args, v)
}

func (d counting) Query(ctx context.Context, query string, args, v any) error {
	if !apitest.BackgroundStatement(query) {
		d.n.Add(1)
	}
	return d.Driver.Query(ctx, query, args, v)
}

// TestConvertedPagesCostOneStatementAtMost: a page of 20 products with their variants
// and price ranges converted sends at most one statement more than the same page
// unconverted (the rates, read once per request), and none more while the process cache
// is fresh.
func TestConvertedPagesCostOneStatementAtMost(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			s := apitest.NewWithDriver(t, d.URL(t), func(drv dialect.Driver) dialect.Driver { return counting{drv, &n} })
			w := newShop(t, s)
			for i := range 20 {
				s.NewProduct(t, w.m, fmt.Sprintf("Tea %d", i), product.KindPHYSICAL, fmt.Sprintf("ST-%d", i), int64(1000+i), 5)
			}
			w.set(t, "CNY", "USD", "0.1376")
			page := func(directive string) int64 {
				q := `query ` + directive + ` { products(first: 20) { edges { node {
  priceRange { min { amount converted { amount } convertedUnavailable } max { converted { amount } } }
  variants { price { converted { amount rate } } } } } } }`
				before := n.Load()
				r := s.MustQuery("", q, nil)
				if directive != "" && !r.Contains(`"converted":{"amount":"1.38"`) { // ¥10.00 × 0.1376
					t.Fatalf("not converted: %s", r.Raw)
				}
				return n.Load() - before
			}
			plain := page("")
			s.App.Currency.Invalidate()
			cold := page(`@inContext(currency: "USD")`)
			warm := page(`@inContext(currency: "USD")`)
			again := page("")
			t.Logf("statements: plain %d, converted cold %d, warm %d", plain, cold, warm)
			if cold > max(plain, again)+1 || warm > max(plain, again) {
				t.Errorf("statements: plain %d/%d, converted with a cold cache %d, warm %d", plain, again, cold, warm)
			}
		})
	}
}
