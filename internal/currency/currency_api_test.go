package currency_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
)

// shop is a server with an admin, a customer and an ACTIVE merchant selling one CNY
// product at ¥128.50.
type shop struct {
	s        *apitest.Server
	admin    apitest.Session
	customer apitest.Session
	m        apitest.Merchant
	product  string
	variant  string
}

func newShop(t *testing.T, s *apitest.Server) shop {
	t.Helper()
	m := s.NewMerchant(t, "fx-tea", merchant.StatusACTIVE)
	p, v := s.NewProduct(t, m, "Longjing tea", product.KindPHYSICAL, "FX-1", 12850, 100)
	return shop{s: s, admin: s.NewAdmin(t, "fx-admin@example.com"), customer: s.Register("fx-buyer@example.com", "Buyer"),
		m: m, product: strconv.Itoa(p), variant: strconv.Itoa(v)}
}

const setRate = `mutation($b: String!, $q: String!, $r: String!) {
  setExchangeRate(input: {base: $b, quote: $q, rate: $r}) { id base quote rate source effectiveAt }
}`

func (w shop) set(t *testing.T, base, quote, rate string) {
	t.Helper()
	w.s.MustQuery(w.admin.AccessToken, setRate, map[string]any{"b": base, "q": quote, "r": rate})
}

// converted is Money as the storefront reads it.
type converted struct {
	Amount, Currency     string
	Converted            *indicative
	ConvertedUnavailable *string
}

type indicative struct {
	Amount, Currency, MinorUnits, Formatted, Rate, Source string
	AsOf                                                  time.Time
	Indicative                                            bool
}

const moneyFields = `amount currency convertedUnavailable
  converted { amount currency minorUnits formatted rate asOf source indicative }`

// priceIn reads the product's variant price and price range with @inContext(currency:).
func (w shop) priceIn(t *testing.T, code string) (variant, min converted) {
	t.Helper()
	q := fmt.Sprintf(`query($id: ID!, $c: String) @inContext(currency: $c) { product(id: $id) {
  priceRange { min { %s } }
  variants { price { %s } } } }`, moneyFields, moneyFields)
	r := w.s.MustQuery("", q, map[string]any{"id": w.product, "c": code})
	var out struct {
		Product struct {
			PriceRange struct{ Min converted }
			Variants   []struct{ Price converted }
		}
	}
	r.Decode(t, &out)
	if len(out.Product.Variants) != 1 {
		t.Fatalf("variants: %s", r.Raw)
	}
	return out.Product.Variants[0].Price, out.Product.PriceRange.Min
}

// TestConversionsAreExactAndIndicative converts ¥128.50 at admin-set rates into 2-, 0-
// and 3-decimal currencies, inverted and through the pivot, with the exact strings a
// hand computation gives (half-even, once, in the target's minor unit), and keeps the
// settlement amount untouched.
func TestConversionsAreExactAndIndicative(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		w.set(t, "CNY", "USD", "0.1376")
		w.set(t, "cny", "jpy", "20.770") // codes upper-cased, rate stored canonically
		w.set(t, "CNY", "KWD", "0.04217")
		w.set(t, "GBP", "CNY", "9.1")  // only the inverse is stored
		w.set(t, "USD", "EUR", "0.92") // cross CNY→EUR needs the pivot (USD here)

		cases := []struct {
			code, amount, minor, formatted, rate, source string
		}{
			// 12850 fen × 0.1376 = 1768.16 cents → 1768.
			{"USD", "17.68", "1768", "$17.68", "0.1376", "admin"},
			// 128.50 × 20.77 = 2668.945 yen → 2669 (JPY has no minor unit).
			{"JPY", "2669", "2669", "¥2669", "20.77", "admin"},
			// 128.50 × 0.04217 = 5.418845 KWD → 5.419 (three decimals).
			{"KWD", "5.419", "5419", "5.419 KWD", "0.04217", "admin"},
			// 128.50 / 9.1 = 14.1208… GBP → 14.12; the rate shown to 10 places.
			{"GBP", "14.12", "1412", "£14.12", "0.1098901099", "inverse:admin"},
			// 128.50 × 0.1376 × 0.92 = 16.267072 EUR → 16.27.
			{"EUR", "16.27", "1627", "€16.27", "0.126592", "cross:admin+admin via USD"},
			// The shop's own currency: the same amount, rate 1.
			{"CNY", "128.50", "12850", "¥128.50", "1", "identity"},
		}
		for _, tc := range cases {
			v, min := w.priceIn(t, tc.code)
			for _, m := range []converted{v, min} {
				if m.Amount != "128.50" || m.Currency != "CNY" {
					t.Fatalf("%s: the settlement amount changed: %+v", tc.code, m)
				}
				c := m.Converted
				if c == nil || m.ConvertedUnavailable != nil {
					t.Fatalf("%s: not converted (%v)", tc.code, m.ConvertedUnavailable)
				}
				if c.Amount != tc.amount || c.MinorUnits != tc.minor || c.Formatted != tc.formatted ||
					c.Currency != tc.code || c.Rate != tc.rate || c.Source != tc.source || !c.Indicative || c.AsOf.IsZero() {
					t.Errorf("%s: got %+v, want %s %s %s rate %s from %s", tc.code, *c, tc.amount, tc.minor, tc.formatted, tc.rate, tc.source)
				}
			}
		}

		// No currency chosen: nothing converted, no reason.
		r := s.MustQuery("", `query($id: ID!) { product(id: $id) { variants { price { converted { amount } convertedUnavailable } } } }`,
			map[string]any{"id": w.product})
		if want := `{"product":{"variants":[{"price":{"converted":null,"convertedUnavailable":null}}]}}`; string(r.Data) != want {
			t.Errorf("without @inContext: %s", r.Data)
		}
	}, func(c *config.Config) { c.Currency.Pivot = "USD" })
}

// TestHalfEvenRounding shows the tie rule: 1.25 and 1.35 CNY at 0.1 are 12.5 and 13.5
// cents, which round to the even cent (0.12, 0.14).
func TestHalfEvenRounding(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		w.set(t, "CNY", "USD", "0.1")
		for price, want := range map[int64]string{125: "0.12", 135: "0.14", 145: "0.14"} {
			p, _ := s.NewProduct(t, w.m, "Tie "+strconv.FormatInt(price, 10), product.KindPHYSICAL, "TIE-"+strconv.FormatInt(price, 10), price, 1)
			r := s.MustQuery("", `query($id: ID!) @inContext(currency: "USD") { product(id: $id) { variants { price { converted { amount } } } } }`,
				map[string]any{"id": strconv.Itoa(p)})
			if got := fmt.Sprintf(`{"product":{"variants":[{"price":{"converted":{"amount":"%s"}}}]}}`, want); string(r.Data) != got {
				t.Errorf("%d fen: %s, want %s", price, r.Data, want)
			}
		}
	})
}

// TestMissingAndStaleRates: a currency without a rate, or with one older than
// EXCHANGE_RATE_MAX_AGE, has a null converted with its reason, and the page still
// answers without errors; an unknown code is BAD_USER_INPUT on currency.
func TestMissingAndStaleRates(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		w.set(t, "CNY", "USD", "0.1376")
		client, ctx := s.Client()
		if err := client.ExchangeRate.Create().SetBase("CNY").SetQuote("HKD").SetRate("1.08").SetSource("admin").
			SetEffectiveAt(time.Now().Add(-2 * time.Hour)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for code, want := range map[string]string{"SGD": "NO_RATE", "HKD": "STALE_RATE"} {
			v, min := w.priceIn(t, code)
			for _, m := range []converted{v, min} {
				if m.Converted != nil || m.ConvertedUnavailable == nil || *m.ConvertedUnavailable != want || m.Amount != "128.50" {
					t.Errorf("%s: %+v, want null converted for %s", code, m, want)
				}
			}
		}
		if v, _ := w.priceIn(t, "USD"); v.Converted == nil || v.Converted.Amount != "17.68" {
			t.Errorf("a fresh rate beside a stale one: %+v", v)
		}
		r := s.Query("", `query($id: ID!) @inContext(currency: "XYZ") { product(id: $id) { id } }`, map[string]any{"id": w.product})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "currency" {
			t.Errorf("unknown currency: %s", r.Raw)
		}
	}, func(c *config.Config) { c.Currency.MaxAge = time.Hour })
}

// TestSettlementNeverConverts: with a currency chosen, the cart's totals and lines stay
// in CNY with SETTLEMENT_AMOUNT (only the catalogue price inside is presented); placeOrder
// refuses an expected total written in another currency (BAD_USER_INPUT) or the converted
// figure (CONFLICT), places nothing, and places in CNY for the CNY total; a mutation
// cannot choose a currency at all.
func TestSettlementNeverConverts(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		w.set(t, "CNY", "USD", "0.1376")
		buyer := w.customer.AccessToken
		s.MustQuery(buyer, `mutation($v: ID!) { addToCart(variantID: $v, quantity: 1) { total { amount } } }`, map[string]any{"v": w.variant})
		r := s.MustQuery(buyer, `query @inContext(currency: "USD") { cart { total { amount currency converted { amount } convertedUnavailable }
  merchants { subtotal { currency convertedUnavailable } lines { unitPrice { currency convertedUnavailable } variant { price { converted { amount } } } } } } }`, nil)
		want := `{"cart":{"total":{"amount":"128.50","currency":"CNY","converted":null,"convertedUnavailable":"SETTLEMENT_AMOUNT"},` +
			`"merchants":[{"subtotal":{"currency":"CNY","convertedUnavailable":"SETTLEMENT_AMOUNT"},"lines":[{"unitPrice":{"currency":"CNY","convertedUnavailable":"SETTLEMENT_AMOUNT"},"variant":{"price":{"converted":{"amount":"17.68"}}}}]}]}}`
		if string(r.Data) != want {
			t.Errorf("cart with USD chosen:\n got %s\nwant %s", r.Data, want)
		}

		place := `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { total { amount currency convertedUnavailable } orders { total { amount currency } } } }`
		input := func(expected, key string) map[string]any {
			return map[string]any{"i": map[string]any{
				"lines":           []any{map[string]any{"variantID": w.variant, "quantity": 1}},
				"shippingAddress": map[string]any{"recipientName": "Buyer", "phone": "13900139000", "province": "上海市", "city": "上海市", "street": "汇率路 1 号"},
				"expectedTotal":   expected,
				"idempotencyKey":  key,
			}}
		}
		for _, tc := range []struct{ expected, code, field string }{
			{"17.68 USD", "BAD_USER_INPUT", "expectedTotal"},
			{"$17.68", "BAD_USER_INPUT", "expectedTotal"},
			{"USD 17.68", "BAD_USER_INPUT", "expectedTotal"},
			{"17.68", "CONFLICT", "expectedTotal"}, // the converted figure read as CNY
		} {
			r := s.Query(buyer, place, input(tc.expected, "fx-key-"+strconv.Itoa(len(tc.expected))+tc.code))
			if r.Code() != tc.code || r.Field() != tc.field {
				t.Errorf("expectedTotal %q: %s, want %s on %s", tc.expected, r.Raw, tc.code, tc.field)
			}
			if tc.code == "BAD_USER_INPUT" && !r.Contains("in CNY, the currency the order is charged in") {
				t.Errorf("expectedTotal %q: the error does not name the settlement currency: %s", tc.expected, r.Raw)
			}
		}
		client, ctx := s.Client()
		if n := client.Order.Query().CountX(ctx); n != 0 {
			t.Fatalf("%d orders placed by refused checkouts", n)
		}
		r = s.MustQuery(buyer, place, input("128.50", "fx-key-cny"))
		if want := `{"placeOrder":{"total":{"amount":"128.50","currency":"CNY","convertedUnavailable":null},"orders":[{"total":{"amount":"128.50","currency":"CNY"}}]}}`; string(r.Data) != want {
			t.Errorf("placed: %s", r.Data)
		}
		r = s.Query(buyer, `mutation @inContext(currency: "USD") { clearCart { total { amount } } }`, nil)
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "currency" {
			t.Errorf("a mutation chose a currency: %s", r.Raw)
		}
	})
}

// TestRatePermissionsAndValidation: only admins set and list rates (anonymous:
// UNAUTHENTICATED; customers and merchant staff: FORBIDDEN; node(id:) shows them nothing),
// and each invalid input names its field.
func TestRatePermissionsAndValidation(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		r := s.MustQuery(w.admin.AccessToken, setRate, map[string]any{"b": " cny", "q": "usd ", "r": "0.13760"})
		var set struct {
			SetExchangeRate struct{ ID, Base, Quote, Rate, Source string }
		}
		r.Decode(t, &set)
		if got := set.SetExchangeRate; got.Base != "CNY" || got.Quote != "USD" || got.Rate != "0.1376" || got.Source != "admin" {
			t.Errorf("stored %+v", got)
		}
		vars := map[string]any{"b": "CNY", "q": "USD", "r": "0.2"}
		list := `{ exchangeRates(first: 10) { totalCount edges { node { rate } } } }`
		for _, who := range []struct {
			name, token, code string
		}{{"anonymous", "", "UNAUTHENTICATED"}, {"customer", w.customer.AccessToken, "FORBIDDEN"}, {"merchant owner", w.m.Owner.AccessToken, "FORBIDDEN"}} {
			if r := s.Query(who.token, setRate, vars); r.Code() != who.code {
				t.Errorf("%s setExchangeRate: %s", who.name, r.Raw)
			}
			if r := s.Query(who.token, list, nil); r.Code() != who.code {
				t.Errorf("%s exchangeRates: %s", who.name, r.Raw)
			}
			if who.token != "" {
				r := s.MustQuery(who.token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": set.SetExchangeRate.ID})
				if string(r.Data) != `{"node":null}` {
					t.Errorf("%s node(id:) of a rate: %s", who.name, r.Data)
				}
			}
		}
		for _, tc := range []struct{ base, quote, rate, field string }{
			{"XXX", "USD", "1", "base"},
			{"CN", "USD", "1", "base"},
			{"CNY", "usdollar", "1", "quote"},
			{"CNY", "CNY", "1", "quote"},
			{"CNY", "USD", "0", "rate"},
			{"CNY", "USD", "0.000", "rate"},
			{"CNY", "USD", "-0.1376", "rate"},
			{"CNY", "USD", "1e-3", "rate"},
			{"CNY", "USD", "0.1376000000001", "rate"}, // 13 decimal places
			{"CNY", "USD", "1000000000000", "rate"},   // 13 integer digits
			{"CNY", "USD", "NaN", "rate"},
			{"CNY", "USD", "", "rate"},
			{"CNY", "USD", "1,5", "rate"},
		} {
			r := s.Query(w.admin.AccessToken, setRate, map[string]any{"b": tc.base, "q": tc.quote, "r": tc.rate})
			if r.Code() != "BAD_USER_INPUT" || r.Field() != tc.field {
				t.Errorf("%s/%s %q: %s, want BAD_USER_INPUT on %s", tc.base, tc.quote, tc.rate, r.Raw, tc.field)
			}
		}
		r = s.MustQuery(w.admin.AccessToken, list, nil)
		if want := `{"exchangeRates":{"totalCount":1,"edges":[{"node":{"rate":"0.1376"}}]}}`; string(r.Data) != want {
			t.Errorf("after refused writes: %s", r.Data)
		}
		if r := s.Query(w.admin.AccessToken, `{ exchangeRates(first: 1, base: "nope") { totalCount } }`, nil); r.Code() != "BAD_USER_INPUT" || r.Field() != "base" {
			t.Errorf("list by an unknown base: %s", r.Raw)
		}
	})
}

// TestNewRateIsSeenAtOnceWithHistory: the storefront reads a rate, an admin changes it,
// and the next request converts at the new one (the commit drops the cache, whose TTL
// here is an hour); the history keeps both, currentOnly the new one.
func TestNewRateIsSeenAtOnceWithHistory(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		w.set(t, "CNY", "USD", "0.1376")
		if v, _ := w.priceIn(t, "USD"); v.Converted == nil || v.Converted.Amount != "17.68" {
			t.Fatalf("first rate: %+v", v)
		}
		w.set(t, "CNY", "USD", "0.14")
		if v, _ := w.priceIn(t, "USD"); v.Converted == nil || v.Converted.Amount != "17.99" { // 1799.0
			t.Errorf("after the change: %+v", v.Converted)
		}
		r := s.MustQuery(w.admin.AccessToken, `{ all: exchangeRates(first: 10, base: "CNY", quote: "USD") { edges { node { rate } } }
  current: exchangeRates(first: 10, currentOnly: true) { totalCount edges { node { rate } } } }`, nil)
		if want := `{"all":{"edges":[{"node":{"rate":"0.14"}},{"node":{"rate":"0.1376"}}]},"current":{"totalCount":1,"edges":[{"node":{"rate":"0.14"}}]}}`; string(r.Data) != want {
			t.Errorf("history: %s", r.Data)
		}
	}, func(c *config.Config) { c.Currency.CacheTTL = time.Hour })
}

// TestConcurrentAdminsKeepEveryRow: admins setting one pair at the same moment all
// succeed, every row stays in the history, exactly one is current, and the storefront
// converts at that one.
func TestConcurrentAdminsKeepEveryRow(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			w := newShop(t, s)
			second := s.NewAdmin(t, "fx-admin2@example.com")
			rounds := apitest.RaceRounds(d, 4)
			for round := range rounds {
				outs := apitest.Race(
					s.Request(w.admin.AccessToken, setRate, map[string]any{"b": "CNY", "q": "USD", "r": "0.1376"}),
					s.Request(second.AccessToken, setRate, map[string]any{"b": "CNY", "q": "USD", "r": "0.14"}),
				)
				if n := apitest.Successes(t, "setExchangeRate", outs); n != 2 {
					t.Fatalf("round %d: %d of 2 admins succeeded", round, n)
				}
				r := s.MustQuery(w.admin.AccessToken, `{ all: exchangeRates(first: 100) { totalCount }
  current: exchangeRates(first: 10, currentOnly: true) { edges { node { rate } } } }`, nil)
				var got struct {
					All     struct{ TotalCount int }
					Current struct {
						Edges []struct{ Node struct{ Rate string } }
					}
				}
				r.Decode(t, &got)
				if got.All.TotalCount != 2*(round+1) || len(got.Current.Edges) != 1 {
					t.Fatalf("round %d: %s", round, r.Raw)
				}
				want := map[string]string{"0.1376": "17.68", "0.14": "17.99"}[got.Current.Edges[0].Node.Rate]
				if v, _ := w.priceIn(t, "USD"); v.Converted == nil || v.Converted.Amount != want {
					t.Fatalf("round %d: current %s but converted %+v", round, got.Current.Edges[0].Node.Rate, v.Converted)
				}
			}
		})
	}
}

var _ = json.Marshal
