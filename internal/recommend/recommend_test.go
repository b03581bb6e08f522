package recommend_test

import (
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productpair"
	"github.com/xiadan/xiadan/ent/recommendwatermark"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/recommend"
)

// world is a server with a tea shop selling A, B, C and D (all in one category), a second
// shop selling F, three buyers, and a job runner without a settle lag.
type world struct {
	s           *apitest.Server
	shop, shop2 apitest.Merchant
	cat         int
	p, v        map[string]int // product and variant ids by letter
	buyers      []apitest.Session
	job         *recommend.Service
	seq         atomic.Int64
}

func newWorld(t *testing.T, s *apitest.Server) *world {
	t.Helper()
	w := &world{s: s, p: map[string]int{}, v: map[string]int{}, job: &recommend.Service{}}
	w.shop = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	w.shop2 = s.NewMerchant(t, "cup-house", merchant.StatusACTIVE)
	client, ctx := s.Client()
	w.cat = client.Category.Create().SetName("茶").SetNameEn("Tea").SetSlug("tea").SaveX(ctx).ID
	for i, l := range []string{"A", "B", "C", "D"} {
		w.p[l], w.v[l] = s.NewProduct(t, w.shop, "Tea "+l, product.KindPHYSICAL, "sku-"+l, int64(1000+100*i), 1000)
		client.Product.UpdateOneID(w.p[l]).SetCategoryID(w.cat).ExecX(ctx)
	}
	w.p["F"], w.v["F"] = s.NewProduct(t, w.shop2, "Cup F", product.KindPHYSICAL, "sku-F", 900, 1000)
	for i := range 3 {
		w.buyers = append(w.buyers, s.Register(fmt.Sprintf("buyer%d@example.com", i), fmt.Sprintf("Buyer %d", i)))
	}
	return w
}

func (w *world) id(l string) string { return strconv.Itoa(w.p[l]) }

// buy places and pays one order of the given products (one of each).
func (w *world) buy(t *testing.T, who apitest.Session, letters ...string) {
	t.Helper()
	lines := []map[string]any{}
	for _, l := range letters {
		lines = append(lines, map[string]any{"variantID": strconv.Itoa(w.v[l]), "quantity": 1})
	}
	addr := map[string]any{"recipientName": "Wang", "phone": "13800138000", "province": "Zhejiang", "city": "Hangzhou", "street": "1 Road"}
	var placed struct{ PlaceOrder struct{ CheckoutID string } }
	w.s.MustQuery(who.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID } }`,
		map[string]any{"i": map[string]any{"lines": lines, "shippingAddress": addr,
			"idempotencyKey": fmt.Sprintf("place-%04d", w.seq.Add(1))}}).Decode(t, &placed)
	var pay struct{ PayOrder struct{ ID string } }
	w.s.MustQuery(who.AccessToken, `mutation($i: PayOrderInput!) { payOrder(input: $i) { id } }`,
		map[string]any{"i": map[string]any{"checkoutID": placed.PlaceOrder.CheckoutID, "method": "BANK_CARD",
			"idempotencyKey": fmt.Sprintf("pay-%04d", w.seq.Add(1))}}).Decode(t, &pay)
	w.s.MustQuery(who.AccessToken, `mutation($id: ID!) { sandboxCompletePayment(paymentID: $id, outcome: SUCCEEDED) { id } }`,
		map[string]any{"id": pay.PayOrder.ID})
}

func (w *world) refresh(t *testing.T) int {
	t.Helper()
	client, ctx := w.s.Client()
	n, err := w.job.Refresh(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// names turns a list of products into their letters, in order ("?" for unknown ids).
func (w *world) names(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "?" + id
		for l, p := range w.p {
			if strconv.Itoa(p) == id {
				out[i] = l
			}
		}
	}
	return out
}

type node struct{ ID string }

func ids(ns []node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

func (w *world) productList(t *testing.T, token, field, of string, n int) []string {
	t.Helper()
	var out struct{ Product map[string][]node }
	w.s.MustQuery(token, `query($id: ID!, $n: Int) { product(id: $id) { `+field+`(first: $n) { id title } } }`,
		map[string]any{"id": w.id(of), "n": n}).Decode(t, &out)
	return w.names(ids(out.Product[field]))
}

func (w *world) trending(t *testing.T, token string, cat *int, n int) []string {
	t.Helper()
	vars := map[string]any{"n": n}
	if cat != nil {
		vars["c"] = strconv.Itoa(*cat)
	}
	var out struct{ TrendingProducts []node }
	w.s.MustQuery(token, `query($c: ID, $n: Int) { trendingProducts(categoryID: $c, first: $n) { id } }`, vars).Decode(t, &out)
	return w.names(ids(out.TrendingProducts))
}

func (w *world) forYou(t *testing.T, token string, n int) []string {
	t.Helper()
	var out struct{ RecommendedForYou []node }
	w.s.MustQuery(token, `query($n: Int) { recommendedForYou(first: $n) { id } }`, map[string]any{"n": n}).Decode(t, &out)
	return w.names(ids(out.RecommendedForYou))
}

func want(t *testing.T, what string, got []string, exp ...string) {
	t.Helper()
	if !slices.Equal(got, exp) {
		t.Errorf("%s = %v, want %v", what, got, exp)
	}
}

// TestRecommendationsFollowPaidOrders: after paid orders and the job, each list names the
// expected products in order, tops up from the cold-start fallback, and never shows a
// hidden product (draft, delisted, of a suspended merchant); a second run adds nothing.
func TestRecommendationsFollowPaidOrders(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		b0, b1, b2 := w.buyers[0], w.buyers[1], w.buyers[2]

		// Cold start: nothing sold; the category's newest products on sale, then the
		// storefront's, never the product itself.
		want(t, "cold boughtTogether(A)", w.productList(t, "", "boughtTogether", "A", 4), "D", "C", "B", "F")
		want(t, "cold trending(tea)", w.trending(t, "", &w.cat, 10), "D", "C", "B", "A")
		want(t, "cold for you", w.forYou(t, b0.AccessToken, 2), "F", "D")
		// Similar without orders: same category, closest price first (by ratio: 1200 is
		// nearer 1100 than 1000 is).
		want(t, "cold similar(B)", w.productList(t, "", "similar", "B", 3), "C", "A", "D")

		w.buy(t, b0, "A", "B")
		w.buy(t, b1, "A", "B", "C")
		w.buy(t, b2, "A", "C")
		w.buy(t, b2, "A", "B")
		w.buy(t, b1, "F")
		w.buy(t, b2, "F")
		w.buy(t, b0, "F")
		if n := w.refresh(t); n != 7 {
			t.Fatalf("the job counted %d orders, want 7", n)
		}
		if n := w.refresh(t); n != 0 {
			t.Fatalf("a second run counted %d orders, want 0", n)
		}
		client, ctx := s.Client()
		ab := client.ProductPair.Query().Where(productpair.ProductID(w.p["A"]), productpair.OtherID(w.p["B"])).OnlyX(ctx)
		aa := client.ProductPair.Query().Where(productpair.ProductID(w.p["A"]), productpair.OtherID(w.p["A"])).OnlyX(ctx)
		if ab.Orders != 3 || aa.Orders != 4 {
			t.Errorf("pairs: A-B %d (want 3), A-A %d (want 4)", ab.Orders, aa.Orders)
		}
		if wm := client.RecommendWatermark.Query().Where(recommendwatermark.Name(recommend.WatermarkOrders)).OnlyX(ctx); wm.Orders != 7 {
			t.Errorf("watermark counted %d orders, want 7", wm.Orders)
		}

		want(t, "boughtTogether(A)", w.productList(t, "", "boughtTogether", "A", 2), "B", "C")
		// Topped up by the category's trending products (D sold nothing: newest), then the storefront's.
		want(t, "boughtTogether(A) topped up", w.productList(t, "", "boughtTogether", "A", 4), "B", "C", "D", "F")
		want(t, "boughtTogether(C)", w.productList(t, "", "boughtTogether", "C", 2), "A", "B")
		// A sold 4, B 3, F 3 (another category), C 2.
		want(t, "trending", w.trending(t, "", nil, 4), "A", "B", "F", "C")
		want(t, "trending(tea)", w.trending(t, "", &w.cat, 10), "A", "B", "C", "D")
		// Buyer 0 bought A, B and F: C is bought with both A and B; the rest is trending.
		want(t, "for you (buyer 0)", w.forYou(t, b0.AccessToken, 2), "C", "D")
		want(t, "for you (anonymous)", w.forYou(t, "", 2), "A", "B")
		// Similar to B: A and C are bought with it and share its category.
		want(t, "similar(B)", w.productList(t, "", "similar", "B", 2), "A", "C")

		// Hidden products are never recommended: C delisted, a newer draft E, F's shop suspended.
		client.Product.UpdateOneID(w.p["C"]).SetStatus(product.StatusDELISTED).ExecX(ctx)
		e, _ := s.NewProduct(t, w.shop, "Tea E", product.KindPHYSICAL, "sku-E", 1000, 10)
		client.Product.UpdateOneID(e).SetStatus(product.StatusDRAFT).SetCategoryID(w.cat).ExecX(ctx)
		client.Merchant.UpdateOneID(w.shop2.IntID).SetSuspendedUntil(time.Now().Add(time.Hour)).ExecX(ctx)
		want(t, "boughtTogether(A) without C", w.productList(t, "", "boughtTogether", "A", 4), "B", "D")
		want(t, "trending without C and F", w.trending(t, "", nil, 10), "A", "B", "D")
		want(t, "for you without C", w.forYou(t, b0.AccessToken, 10), "D")
		want(t, "similar(B) without C", w.productList(t, "", "similar", "B", 10), "A", "D")
	})
}

// TestRecommendationInputs: first out of range is BAD_USER_INPUT naming the field; an
// unknown category is NOT_FOUND.
func TestRecommendationInputs(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		for _, q := range []string{
			`{ trendingProducts(first: 0) { id } }`,
			`{ recommendedForYou(first: 51) { id } }`,
			`query($id: ID!) { product(id: $id) { boughtTogether(first: -1) { id } } }`,
			`query($id: ID!) { product(id: $id) { similar(first: 1000) { id } } }`,
		} {
			r := s.Query("", q, map[string]any{"id": w.id("A")})
			if r.Code() != "BAD_USER_INPUT" || r.Field() != "first" {
				t.Errorf("%s: %s", q, r.Raw)
			}
		}
		if r := s.Query("", `{ trendingProducts(categoryID: "999999") { id } }`, nil); r.Code() != "NOT_FOUND" {
			t.Errorf("unknown category: %s", r.Raw)
		}
	})
}

// TestForYouFollowsViewedProducts: a signed-in buyer with no cart nor orders who views a
// product (trackEvents) is recommended its co-bought neighbours, not the cold-start
// trending list; another buyer's views change nothing for them.
func TestForYouFollowsViewedProducts(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		b0, b1, b2 := w.buyers[0], w.buyers[1], w.buyers[2]
		w.buy(t, b0, "D", "B")
		w.buy(t, b2, "A", "C")
		w.buy(t, b2, "A", "C")
		w.buy(t, b2, "A")
		if n := w.refresh(t); n != 4 {
			t.Fatalf("the job counted %d orders, want 4", n)
		}
		// Cold: trending, A sold 3, C 2, then B and D 1 each.
		cold := w.forYou(t, b1.AccessToken, 1)
		want(t, "for you before any view", cold, "A")
		track := func(who apitest.Session, visitor, letter string) {
			t.Helper()
			var out struct{ TrackEvents struct{ Accepted int } }
			s.MustQuery(who.AccessToken, `mutation($i: TrackEventsInput!) { trackEvents(input: $i) { accepted } }`,
				map[string]any{"i": map[string]any{"visitorID": visitor, "events": []any{
					map[string]any{"kind": "VIEW_PRODUCT", "productID": w.id(letter)}}}}).Decode(t, &out)
			if out.TrackEvents.Accepted != 1 {
				t.Fatalf("trackEvents accepted %d, want 1", out.TrackEvents.Accepted)
			}
		}
		track(b0, "visitor-b0", "C")
		want(t, "for you of a buyer who viewed nothing", w.forYou(t, b1.AccessToken, 1), "A")
		track(b1, "visitor-b1", "B")
		// B is bought with D only.
		want(t, "for you after viewing B", w.forYou(t, b1.AccessToken, 1), "D")
	})
}
