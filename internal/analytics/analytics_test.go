package analytics_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/testdb"
)

// forEachDialect runs fn on a fresh server per database that the sandbox payment
// provider reaches. Its jobs do not run: the test rolls up (catchUp), so it knows when the
// rollups are complete.
func forEachDialect(t *testing.T, fn func(t *testing.T, s *apitest.Server), opts ...func(*config.Config)) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, apitest.NewReachable(t, d.URL(t), opts...))
		})
	}
}

// catchUp numbers every committed order event and rolls them all up.
func catchUp(t testing.TB, s *apitest.Server) {
	t.Helper()
	ctx := context.Background()
	for {
		numbered, _, err := s.App.Relay.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.App.Analytics.RollUp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if numbered == 0 && n == 0 {
			return
		}
	}
}

// shop is a merchant with two products, a hidden one, buyers and an admin.
type shop struct {
	s                *apitest.Server
	m                apitest.Merchant
	tea, cup, hidden int // product ids
	teaVar, cupVar   string
	buyers           []apitest.Session
	admin            string
	seq              atomic.Int64
	addr             map[string]any
}

func newShop(t *testing.T, s *apitest.Server, slug string) *shop {
	t.Helper()
	w := &shop{s: s, m: s.NewMerchant(t, slug, merchant.StatusACTIVE)}
	var tv, cv int
	w.tea, tv = s.NewProduct(t, w.m, "Longjing tea", product.KindPHYSICAL, slug+"-tea", 2550, 1000)
	w.cup, cv = s.NewProduct(t, w.m, "Tea cup", product.KindPHYSICAL, slug+"-cup", 1200, 1000)
	w.teaVar, w.cupVar = strconv.Itoa(tv), strconv.Itoa(cv)
	w.hidden, _ = s.NewProduct(t, w.m, "Secret tea", product.KindPHYSICAL, slug+"-secret", 9900, 10)
	client, ctx := s.Client()
	if err := client.Product.UpdateOneID(w.hidden).SetStatus(product.StatusDRAFT).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		w.buyers = append(w.buyers, s.Register(fmt.Sprintf("%s-buyer%d@example.com", slug, i), "Buyer"))
	}
	w.addr = map[string]any{"recipientName": "王小明", "phone": "13800138000", "province": "上海市",
		"city": "上海市", "district": "浦东新区", "street": "世纪大道 100 号"}
	return w
}

func (w *shop) key() string { return fmt.Sprintf("k-%06d", w.seq.Add(1)) }

func (w *shop) must(t testing.TB, token, q string, vars map[string]any, header map[string]string, out any) {
	t.Helper()
	r := w.s.Do(apitest.Request{Query: q, Variables: vars, Token: token, Header: header})
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s", q, r.Raw)
	}
	if out != nil {
		r.Decode(t, out)
	}
}

// place places an order of qty teas and cups through channel and returns its id and the
// payment's id once paid (outcome SUCCEEDED, FAILED, or "" to leave it unpaid).
func (w *shop) place(t testing.TB, buyer apitest.Session, channel string, teas, cups int, outcome string) (orderID string) {
	t.Helper()
	var lines []map[string]any
	if teas > 0 {
		lines = append(lines, map[string]any{"variantID": w.teaVar, "quantity": teas})
	}
	if cups > 0 {
		lines = append(lines, map[string]any{"variantID": w.cupVar, "quantity": cups})
	}
	var placed struct {
		PlaceOrder struct {
			CheckoutID string
			Orders     []struct{ ID string }
		}
	}
	w.must(t, buyer.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID orders { id } } }`,
		map[string]any{"i": map[string]any{"lines": lines, "shippingAddress": w.addr, "idempotencyKey": w.key()}},
		map[string]string{"X-Xiadan-Channel": channel}, &placed)
	if outcome != "" {
		var pay struct{ PayOrder struct{ ID string } }
		w.must(t, buyer.AccessToken, `mutation($i: PayOrderInput!) { payOrder(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"checkoutID": placed.PlaceOrder.CheckoutID, "method": "BANK_CARD", "idempotencyKey": w.key()}}, nil, &pay)
		w.must(t, buyer.AccessToken, `mutation($id: ID!, $o: PaymentOutcome!) { sandboxCompletePayment(paymentID: $id, outcome: $o) { id } }`,
			map[string]any{"id": pay.PayOrder.ID, "o": outcome}, nil, nil)
	}
	return placed.PlaceOrder.Orders[0].ID
}

const dashboardQuery = `query($m: ID, $from: String!, $to: String!, $g: AnalyticsGranularity) {
  merchantAnalytics(merchantID: $m, from: $from, to: $to, granularity: $g) {
    from to timeZone currency
    series { start orders paidOrders sales { minorUnits } refunds { minorUnits } units }
    totals { orders paidOrders sales { minorUnits currency } averageOrderValue { minorUnits } refunds { minorUnits }
      refundedOrders cancelledOrders units }
    topProducts { productID product { title } paidOrders units sales { minorUnits } }
    funnel { views addsToCart checkouts orders paidOrders }
    buyers repeatBuyers repeatBuyerRate
    channels { channel views orders paidOrders sales { minorUnits } }
    lowStock { sku }
    paymentFailures { count recent { orderNumber reason } }
    freshAsOf
  } }`

type minor struct{ MinorUnits string }

func (m minor) int(t testing.TB) int64 {
	n, err := strconv.ParseInt(m.MinorUnits, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type period struct {
	Start                                  string
	Orders, PaidOrders                     int
	Sales, AverageOrderValue, Refunds      minor
	RefundedOrders, CancelledOrders, Units int
}

type dashboard struct {
	From, To, TimeZone, Currency string
	Series                       []period
	Totals                       period
	TopProducts                  []struct {
		ProductID         string
		Product           *struct{ Title string }
		PaidOrders, Units int
		Sales             minor
	}
	Funnel               struct{ Views, AddsToCart, Checkouts, Orders, PaidOrders int }
	Buyers, RepeatBuyers int
	RepeatBuyerRate      float64
	Channels             []struct {
		Channel                   string
		Views, Orders, PaidOrders int
		Sales                     minor
	}
	LowStock        []struct{ Sku string }
	PaymentFailures struct {
		Count  int
		Recent []struct{ OrderNumber, Reason string }
	}
	FreshAsOf *time.Time
}

func today() string { return time.Now().In(shanghai).Format(time.DateOnly) }

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func (w *shop) dashboard(t testing.TB, token string) dashboard {
	t.Helper()
	var out struct{ MerchantAnalytics dashboard }
	w.must(t, token, dashboardQuery, map[string]any{"from": time.Now().In(shanghai).AddDate(0, 0, -6).Format(time.DateOnly), "to": today()}, nil, &out)
	return out.MerchantAnalytics
}

// expected computes the merchant's figures from its orders, independently of the rollups.
type expected struct {
	orders, paid, cancelled, refundedOrders, units int
	sales, refunds                                 int64
	buyers, repeat                                 int
	byChannel                                      map[string]int
	productUnits                                   map[int]int
}

func expect(t testing.TB, s *apitest.Server, merchantID int) expected {
	t.Helper()
	client, ctx := s.Client()
	os, err := client.Order.Query().Where(order.MerchantID(merchantID)).WithItems().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := expected{byChannel: map[string]int{}, productUnits: map[int]int{}}
	perBuyer := map[int]int{}
	for _, o := range os {
		e.orders++
		e.byChannel[string(o.Channel)]++
		if o.Status == order.StatusCANCELLED {
			e.cancelled++
		}
		if o.RefundedAmount > 0 {
			e.refundedOrders++
			e.refunds += o.RefundedAmount
		}
		if o.PaidAt == nil {
			continue
		}
		e.paid++
		e.sales += o.Total
		for _, it := range o.Edges.Items {
			e.units += it.Quantity
			e.productUnits[*it.ProductID] += it.Quantity
		}
		if o.Status != order.StatusCANCELLED {
			perBuyer[o.CustomerID]++
		}
	}
	for _, n := range perBuyer {
		e.buyers++
		if n >= 2 {
			e.repeat++
		}
	}
	return e
}

func checkAgainst(t testing.TB, d dashboard, e expected) {
	t.Helper()
	got := d.Totals
	if got.Orders != e.orders || got.PaidOrders != e.paid || got.CancelledOrders != e.cancelled ||
		got.RefundedOrders != e.refundedOrders || got.Units != e.units ||
		got.Sales.int(t) != e.sales || got.Refunds.int(t) != e.refunds {
		t.Errorf("totals %+v, computed from the orders %+v", got, e)
	}
	if e.paid > 0 {
		if aov := got.AverageOrderValue.int(t); aov != (e.sales+int64(e.paid)/2)/int64(e.paid) {
			t.Errorf("averageOrderValue %d for sales %d over %d orders", aov, e.sales, e.paid)
		}
	}
	var seriesOrders int
	var seriesSales int64
	for _, p := range d.Series {
		seriesOrders += p.Orders
		seriesSales += p.Sales.int(t)
	}
	if seriesOrders != e.orders || seriesSales != e.sales {
		t.Errorf("series sum to %d orders and %d sales, want %d and %d", seriesOrders, seriesSales, e.orders, e.sales)
	}
	if d.Buyers != e.buyers || d.RepeatBuyers != e.repeat {
		t.Errorf("buyers %d (repeat %d), want %d (%d)", d.Buyers, d.RepeatBuyers, e.buyers, e.repeat)
	}
	for _, c := range d.Channels {
		if c.Orders != e.byChannel[c.Channel] {
			t.Errorf("channel %s: %d orders, want %d", c.Channel, c.Orders, e.byChannel[c.Channel])
		}
	}
	for _, p := range d.TopProducts {
		id, _ := strconv.Atoi(p.ProductID)
		if p.Units != e.productUnits[id] {
			t.Errorf("product %s: %d units, want %d", p.ProductID, p.Units, e.productUnits[id])
		}
	}
	if len(d.TopProducts) != len(e.productUnits) {
		t.Errorf("%d top products, want %d", len(d.TopProducts), len(e.productUnits))
	}
}

func TestDashboardMatchesOrders(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s, "tea-house")
		owner := w.m.Owner.AccessToken
		// Nothing yet: every period and channel at zero.
		catchUp(t, s)
		d := w.dashboard(t, owner)
		if len(d.Series) != 7 || d.Totals.Orders != 0 || len(d.Channels) != 9 || d.TimeZone != "Asia/Shanghai" || d.Currency != "CNY" {
			t.Fatalf("empty dashboard: %+v", d)
		}

		// The tea is in a category, for the platform's per-category view.
		client, cctx := s.Client()
		cat, err := client.Category.Create().SetName("茶叶").SetNameEn("Tea").SetSlug("tea").Save(cctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Product.UpdateOneID(w.tea).SetCategoryID(cat.ID).Exec(cctx); err != nil {
			t.Fatal(err)
		}

		// Placed through three channels; paid, failed, unpaid, cancelled, refunded.
		b := w.buyers
		paid1 := w.place(t, b[0], "WEB", 2, 1, "SUCCEEDED")
		w.place(t, b[0], "WECHAT_MINI", 1, 0, "SUCCEEDED") // b[0] buys twice: a repeat buyer
		w.place(t, b[1], "CREATOR_LINK", 0, 3, "SUCCEEDED")
		w.place(t, b[1], "bogus", 1, 0, "FAILED") // an unknown header is WEB
		unpaid := w.place(t, b[2], "DOUYIN_MINI", 1, 1, "")
		catchUp(t, s)
		checkAgainst(t, w.dashboard(t, owner), expect(t, s, w.m.IntID))

		w.must(t, b[2].AccessToken, `mutation($id: ID!) { cancelOrder(id: $id) { status } }`, map[string]any{"id": unpaid}, nil, nil)
		w.must(t, owner, `mutation($id: ID!) { refundOrder(orderID: $id, amount: "5.00", reason: "broken cup") { id } }`,
			map[string]any{"id": paid1}, nil, nil)
		catchUp(t, s)
		d = w.dashboard(t, owner)
		e := expect(t, s, w.m.IntID)
		checkAgainst(t, d, e)
		if e.cancelled != 1 || e.refundedOrders != 1 || e.refunds != 500 || e.repeat != 1 {
			t.Fatalf("the scenario did not happen as planned: %+v", e)
		}
		if d.PaymentFailures.Count != 1 || len(d.PaymentFailures.Recent) != 1 {
			t.Errorf("payment failures: %+v", d.PaymentFailures)
		}
		if d.FreshAsOf == nil {
			t.Error("freshAsOf is null after a rollup")
		}
		// Staff see the same; the admin names the merchant.
		staff := s.AddStaff(t, w.m, "staff@example.com")
		checkAgainst(t, w.dashboard(t, staff.AccessToken), e)
		admin := s.NewAdmin(t, "admin@example.com").AccessToken
		var out struct{ MerchantAnalytics dashboard }
		w.must(t, admin, dashboardQuery, map[string]any{"m": w.m.ID, "from": today(), "to": today(), "g": "MONTH"}, nil, &out)
		checkAgainst(t, out.MerchantAnalytics, e)
		var plat struct {
			PlatformAnalytics struct{ Totals period }
		}
		w.must(t, admin, `query($d: String!) { platformAnalytics(from: $d, to: $d) { totals { orders paidOrders sales { minorUnits } } } }`,
			map[string]any{"d": today()}, nil, &plat)
		if p := plat.PlatformAnalytics.Totals; p.Orders != e.orders || p.Sales.int(t) != e.sales {
			t.Errorf("platform totals %+v, want %d orders and %d sales", p, e.orders, e.sales)
		}
		// The category's figures are its products' paid lines.
		var byCat struct {
			PlatformAnalytics struct {
				Totals     period
				Categories []struct {
					CategoryID string
					Category   *struct{ Name string }
					Units      int
				}
			}
		}
		w.must(t, admin, `query($d: String!, $c: ID) { platformAnalytics(from: $d, to: $d, categoryID: $c) {
  totals { paidOrders units sales { minorUnits } } categories { categoryID category { name } units } } }`,
			map[string]any{"d": today(), "c": strconv.Itoa(cat.ID)}, nil, &byCat)
		pc := byCat.PlatformAnalytics
		if pc.Totals.Units != e.productUnits[w.tea] || len(pc.Categories) != 1 || pc.Categories[0].Units != e.productUnits[w.tea] ||
			pc.Categories[0].Category == nil || pc.Categories[0].Category.Name != "茶叶" {
			t.Errorf("category view %+v, want %d units of tea", pc, e.productUnits[w.tea])
		}
		// Rolling up again changes nothing.
		if n, err := s.App.Analytics.RollUp(context.Background()); err != nil || n != 0 {
			t.Fatalf("a second rollup handled %d events (%v)", n, err)
		}
		checkAgainst(t, w.dashboard(t, owner), e)
	})
}

const trackMutation = `mutation($i: TrackEventsInput!) { trackEvents(input: $i) { accepted } }`

func TestTrackEvents(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s, "tea-events")
		tea, cup, hidden := strconv.Itoa(w.tea), strconv.Itoa(w.cup), strconv.Itoa(w.hidden)
		ev := func(kind, pid string, extra map[string]any) map[string]any {
			e := map[string]any{"kind": kind}
			if pid != "" {
				e["productID"] = pid
			}
			for k, v := range extra {
				e[k] = v
			}
			return e
		}
		track := func(token, visitor string, events ...map[string]any) *apitest.Response {
			return s.Query(token, trackMutation, map[string]any{"i": map[string]any{"visitorID": visitor, "events": events}})
		}
		accepted := func(r *apitest.Response) int {
			t.Helper()
			var out struct{ TrackEvents struct{ Accepted int } }
			if len(r.Errors) > 0 {
				t.Fatalf("trackEvents: %s", r.Raw)
			}
			r.Decode(t, &out)
			return out.TrackEvents.Accepted
		}
		// Anonymous: three views, two adds, a checkout, a search; the hidden product's view
		// and an unknown product's are dropped silently, like an unknown id.
		long := time.Now().Add(-72 * time.Hour).UTC().Format(time.RFC3339)
		n := accepted(track("", "visitor-1",
			ev("VIEW_PRODUCT", tea, nil), ev("VIEW_PRODUCT", tea, map[string]any{"channel": "WECHAT_MINI", "occurredAt": long}),
			ev("VIEW_PRODUCT", cup, nil), ev("ADD_TO_CART", tea, nil), ev("ADD_TO_CART", cup, nil),
			ev("BEGIN_CHECKOUT", tea, nil), ev("SEARCH", "", map[string]any{"query": "龙井", "resultsCount": 2}),
			ev("VIEW_PRODUCT", hidden, nil), ev("VIEW_PRODUCT", "999999999", nil)))
		if n != 7 {
			t.Fatalf("accepted %d events, want 7", n)
		}
		// Signed in: the user id is recorded beside the visitor id.
		if n := accepted(track(w.buyers[0].AccessToken, "visitor-1", ev("VIEW_PRODUCT", tea, nil))); n != 1 {
			t.Fatalf("accepted %d", n)
		}
		client, ctx := s.Client()
		evs, err := client.AnalyticsEvent.Query().All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var withUser, clamped int
		for _, e := range evs {
			if e.UserID != nil {
				withUser++
			}
			if e.OccurredAt.Before(time.Now().Add(-25 * time.Hour)) {
				clamped++
			}
		}
		if len(evs) != 8 || withUser != 1 || clamped != 0 {
			t.Fatalf("%d events stored, %d with a user, %d older than the window", len(evs), withUser, clamped)
		}
		// The funnel counts them (the back-dated view on yesterday's or today's row).
		var out struct{ MerchantAnalytics dashboard }
		w.must(t, w.m.Owner.AccessToken, dashboardQuery, map[string]any{
			"from": time.Now().In(shanghai).AddDate(0, 0, -2).Format(time.DateOnly), "to": today()}, nil, &out)
		f := out.MerchantAnalytics.Funnel
		if f.Views != 4 || f.AddsToCart != 2 || f.Checkouts != 1 {
			t.Errorf("funnel %+v, want 4 views, 2 adds, 1 checkout", f)
		}
		for _, c := range out.MerchantAnalytics.Channels {
			if c.Channel == "WECHAT_MINI" && c.Views != 1 {
				t.Errorf("WECHAT_MINI views %d, want 1", c.Views)
			}
		}

		tooMany := make([]map[string]any, 51)
		for i := range tooMany {
			tooMany[i] = ev("VIEW_PRODUCT", tea, nil)
		}
		for _, c := range []struct {
			name, visitor string
			events        []map[string]any
			code, field   string
		}{
			{"empty visitor", "", []map[string]any{ev("VIEW_PRODUCT", tea, nil)}, "BAD_USER_INPUT", "input.visitorID"},
			{"visitor too long", strings.Repeat("v", 65), []map[string]any{ev("VIEW_PRODUCT", tea, nil)}, "BAD_USER_INPUT", "input.visitorID"},
			{"no events", "v", []map[string]any{}, "BAD_USER_INPUT", "input.events"},
			{"51 events", "v", tooMany, "BAD_USER_INPUT", "input.events"},
			{"query too long", "v", []map[string]any{ev("SEARCH", "", map[string]any{"query": strings.Repeat("茶", 201)})}, "BAD_USER_INPUT", "input.events.0.query"},
			{"negative results", "v", []map[string]any{ev("SEARCH", "", map[string]any{"resultsCount": -1})}, "BAD_USER_INPUT", "input.events.0.resultsCount"},
			{"query on a view", "v", []map[string]any{ev("VIEW_PRODUCT", tea, map[string]any{"query": "x"})}, "BAD_USER_INPUT", "input.events.0.query"},
			{"view without product", "v", []map[string]any{ev("VIEW_PRODUCT", "", nil)}, "BAD_USER_INPUT", "input.events.0.productID"},
			{"unknown kind", "v", []map[string]any{ev("PURCHASE", tea, nil)}, "BAD_USER_INPUT", ""},
			{"unknown channel", "v", []map[string]any{ev("VIEW_PRODUCT", tea, map[string]any{"channel": "FAX"})}, "BAD_USER_INPUT", ""},
		} {
			r := track("", c.visitor, c.events...)
			if r.Code() != c.code || (c.field != "" && r.Field() != c.field) {
				t.Errorf("%s: got %s %q, want %s %q: %s", c.name, r.Code(), r.Field(), c.code, c.field, r.Raw)
			}
		}
		after, err := client.AnalyticsEvent.Query().Count(ctx)
		if err != nil || after != 8 {
			t.Errorf("%d events stored after refused batches, want 8 (%v)", after, err)
		}

		// Retention: events past ANALYTICS_EVENT_RETENTION go; the rollups stay.
		s.App.Analytics.Now = func() time.Time { return time.Now().Add(s.Config.Analytics.EventRetention + time.Hour) }
		defer func() { s.App.Analytics.Now = nil }()
		if n, err := s.App.Analytics.Prune(context.Background()); err != nil || n != 8 {
			t.Fatalf("pruned %d events (%v), want 8", n, err)
		}
	})
}

func TestTrackEventsRateLimit(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s, "tea-limit")
		vars := func(visitor string) map[string]any {
			return map[string]any{"i": map[string]any{"visitorID": visitor, "events": []map[string]any{
				{"kind": "VIEW_PRODUCT", "productID": strconv.Itoa(w.tea)}}}}
		}
		for i := range 3 {
			if r := s.Query("", trackMutation, vars("busy")); len(r.Errors) > 0 {
				t.Fatalf("batch %d: %s", i, r.Raw)
			}
		}
		if r := s.Query("", trackMutation, vars("busy")); r.Code() != "RATE_LIMITED" {
			t.Fatalf("a fourth batch in a minute: %s", r.Raw)
		}
		// Another visitor from the same address still may (the address allows ten times more).
		if r := s.Query("", trackMutation, vars("calm")); len(r.Errors) > 0 {
			t.Fatalf("another visitor: %s", r.Raw)
		}
	}, func(c *config.Config) { c.Analytics.BatchesPerMinute = 3 })
}

func TestDashboardPrivacyAndRanges(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *apitest.Server) {
		a := newShop(t, s, "shop-a")
		b := s.NewMerchant(t, "shop-b", merchant.StatusACTIVE)
		a.place(t, a.buyers[0], "WEB", 1, 0, "SUCCEEDED")
		catchUp(t, s)
		admin := s.NewAdmin(t, "admin@example.com").AccessToken
		q := func(token string, vars map[string]any) *apitest.Response {
			if _, ok := vars["from"]; !ok {
				vars["from"], vars["to"] = today(), today()
			}
			return s.Query(token, dashboardQuery, vars)
		}
		for _, c := range []struct {
			name, token string
			vars        map[string]any
			code, field string
		}{
			{"another merchant's owner", b.Owner.AccessToken, map[string]any{"m": a.m.ID}, "NOT_FOUND", ""},
			{"a buyer", a.buyers[0].AccessToken, map[string]any{"m": a.m.ID}, "FORBIDDEN", ""},
			{"anonymous", "", map[string]any{"m": a.m.ID}, "UNAUTHENTICATED", ""},
			{"admin, unknown merchant", admin, map[string]any{"m": "999999999"}, "NOT_FOUND", ""},
			{"admin without a merchant", admin, map[string]any{}, "BAD_USER_INPUT", "merchantID"},
			{"from after to", a.m.Owner.AccessToken, map[string]any{"from": "2026-03-02", "to": "2026-03-01"}, "BAD_USER_INPUT", "to"},
			{"bad day", a.m.Owner.AccessToken, map[string]any{"from": "2026-02-30", "to": "2026-03-01"}, "BAD_USER_INPUT", "from"},
			{"401 days", a.m.Owner.AccessToken, map[string]any{"from": "2025-01-01", "to": "2026-02-05"}, "BAD_USER_INPUT", "to"},
			{"1101 days by month", a.m.Owner.AccessToken, map[string]any{"from": "2023-01-01", "to": "2026-01-05", "g": "MONTH"}, "BAD_USER_INPUT", "to"},
		} {
			r := q(c.token, c.vars)
			if r.Code() != c.code || (c.field != "" && r.Field() != c.field) || r.Contains("tea") {
				t.Errorf("%s: got %s %q, want %s %q: %s", c.name, r.Code(), r.Field(), c.code, c.field, r.Raw)
			}
		}
		// B's own dashboard shows none of A's sales.
		r := q(b.Owner.AccessToken, map[string]any{})
		var out struct{ MerchantAnalytics dashboard }
		r.Decode(t, &out)
		if len(r.Errors) > 0 || out.MerchantAnalytics.Totals.Orders != 0 || len(out.MerchantAnalytics.TopProducts) != 0 {
			t.Errorf("shop B's dashboard: %s", r.Raw)
		}
		// A year by week and by month is fine.
		for _, g := range []string{"WEEK", "MONTH"} {
			r := q(a.m.Owner.AccessToken, map[string]any{"from": "2025-12-01", "to": today(), "g": g})
			if len(r.Errors) > 0 {
				t.Errorf("%s: %s", g, r.Raw)
			}
		}
		// The platform dashboard is for admins.
		pq := `query($d: String!) { platformAnalytics(from: $d, to: $d) { totals { orders } } }`
		if r := s.Query(a.m.Owner.AccessToken, pq, map[string]any{"d": today()}); r.Code() != "FORBIDDEN" {
			t.Errorf("a merchant reading the platform: %s", r.Raw)
		}
		if r := s.Query(admin, `query($d: String!) { platformAnalytics(from: $d, to: $d, categoryID: "999999999") { totals { orders } } }`,
			map[string]any{"d": today()}); r.Code() != "NOT_FOUND" {
			t.Errorf("an unknown category: %s", r.Raw)
		}
	})
}
