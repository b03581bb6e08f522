package currency_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/currency"
)

// frankfurter serves testdata/frankfurter-latest-CNY.json (a response in the API's
// documented format; written by hand, there being no internet here) at /latest?from=CNY.
func frankfurter(t *testing.T) *httptest.Server {
	body, err := os.ReadFile("testdata/frankfurter-latest-CNY.json")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/latest" || r.URL.Query().Get("from") != "CNY" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(hs.Close)
	return hs
}

// TestFrankfurterRefresh records the provider's rates for known currencies (exactly as
// published: numbers read as text, an exponent written out, a zero and an unknown code
// skipped), writes nothing when refreshed again with the same rates, and the storefront
// converts at them with the provider as source.
func TestFrankfurterRefresh(t *testing.T) {
	t.Parallel()
	hs := frankfurter(t)
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		p := currency.Frankfurter{URL: hs.URL}
		n, err := s.App.Currency.Refresh(context.Background(), p, nil)
		if err != nil || n != 9 { // 12 rates, less XAU (a metal), ZZZ (no currency) and THB's 0
			t.Fatalf("refresh: %d, %v", n, err)
		}
		if n, err := s.App.Currency.Refresh(context.Background(), p, nil); err != nil || n != 0 {
			t.Fatalf("second refresh of the same rates: %d, %v", n, err)
		}
		r := s.MustQuery(w.admin.AccessToken, `{ exchangeRates(first: 20, quote: "IDR") { edges { node { base rate source effectiveAt } } } }`, nil)
		if want := `{"exchangeRates":{"edges":[{"node":{"base":"CNY","rate":"2229.1","source":"frankfurter","effectiveAt":"2026-12-04T00:00:00Z"}}]}}`; string(r.Data) != want {
			t.Errorf("IDR (published as 2.2291E3): %s", r.Data)
		}
		v, _ := w.priceIn(t, "JPY")
		if c := v.Converted; c == nil || c.Amount != "2669" || c.Source != "frankfurter" || c.Rate != "20.77" {
			t.Errorf("JPY from the provider: %+v", c)
		}
	})
}
