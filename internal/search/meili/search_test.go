package meili

import (
	"context"
	"errors"
	"math/rand"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apperror"
)

func ptr[T any](v T) *T { return &v }

// A search with every filter, a sort and facets sends one POST to the locale's index
// and maps the hits, the estimated total and the facet counts back.
func TestSearchFiltersSortFacets(t *testing.T) {
	r := newReplay(t, exchange{
		Method: "POST", Path: "/indexes/products_en/search", Status: 200, Reply: "@search_longjing",
		Body: `{"q":"longjing tea",
			"filter":["listed = true","category_ids = 3","merchant_id = 2","min_price >= 1000","min_price <= 20000","min_price >= 5000","min_price < 10000","in_stock = true"],
			"sort":["min_price:asc"],
			"facets":["category_ids","in_stock","price_band"],
			"limit":20,"offset":40,"attributesToRetrieve":["id"],"locales":["eng"]}`,
	})
	got, err := r.client().Search(context.Background(), Request{
		Query: "  longjing tea ", Locale: "en",
		Filters: Filters{CategoryID: ptr(3), MerchantID: ptr(2), MinPrice: ptr[int64](1000), MaxPrice: ptr[int64](20000),
			PriceBand: "5000-10000", InStock: true},
		Sort: SortPriceAsc, Facets: []Facet{FacetCategory, FacetInStock, FacetPriceBand}, Offset: 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Response{IDs: []int{42, 7}, Total: 2, Facets: map[Facet]map[string]int{
		FacetCategory:  {"3": 2, "12": 1},
		FacetInStock:   {"true": 2},
		FacetPriceBand: {"5000-10000": 1, "10000-50000": 1},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	r.done()
}

// Every order maps to Meilisearch sort rules; relevance sends none, and a facet with no
// matches is an empty count rather than missing.
func TestSearchSortsAndEmptyFacet(t *testing.T) {
	for sort, rule := range map[Sort]string{
		SortRelevance: ``, SortPriceDesc: `"sort":["min_price:desc"],`, SortSales: `"sort":["sales:desc"],`,
		SortNewest: `"sort":["created_at:desc"],`, SortRating: `"sort":["rating:desc","sales:desc"],`,
	} {
		r := newReplay(t, exchange{
			Method: "POST", Path: "/indexes/products_zh-CN/search", Status: 200,
			Body: `{"q":"龙井茶","filter":["listed = true"],` + rule + `"facets":["merchant_id"],"limit":5,"offset":0,
				"attributesToRetrieve":["id"],"locales":["cmn"]}`,
			Reply: `{"hits":[],"query":"龙井茶","processingTimeMs":0,"limit":5,"offset":0,"estimatedTotalHits":0,"facetDistribution":{},"facetStats":{}}`,
		})
		got, err := r.client("zh-CN").Search(context.Background(), Request{Query: "龙井茶", Locale: "zh-CN", Sort: sort,
			Facets: []Facet{FacetMerchant}, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.IDs) != 0 || got.Total != 0 || got.Facets[FacetMerchant] == nil {
			t.Errorf("%s: got %+v", sort, got)
		}
		r.done()
	}
}

func TestSuggest(t *testing.T) {
	r := newReplay(t, exchange{
		Method: "POST", Path: "/indexes/products_en/search", Status: 200, Reply: "@suggest_lon",
		Body: `{"q":"lon","filter":["listed = true"],"limit":5,"offset":0,"attributesToRetrieve":["id","title"],"locales":["eng"]}`,
	})
	c := r.client()
	got, err := c.Suggest(context.Background(), "lon", "en", 5)
	if err != nil {
		t.Fatal(err)
	}
	want := []Suggestion{{42, "West Lake Longjing tea"}, {9, "Longjing gift box"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Nothing typed yet asks nothing.
	if got, err := c.Suggest(context.Background(), "  ", "en", 5); err != nil || len(got) != 0 {
		t.Fatalf("empty prefix: %v, %v", got, err)
	}
	r.done()
}

// Invalid input is BAD_USER_INPUT naming the field, and is refused before any request.
func TestSearchRejectsBadInput(t *testing.T) {
	r := newReplay(t)
	c := r.client("zh-CN", "en")
	for _, tc := range []struct {
		name  string
		req   Request
		field string
	}{
		{"unknown locale", Request{Locale: "fr"}, "locale"},
		{"locale that is an index name trick", Request{Locale: "en/search?x="}, "locale"},
		{"long query", Request{Locale: "en", Query: strings.Repeat("茶", MaxQueryLength+1)}, "query"},
		{"limit over 100", Request{Locale: "en", Limit: 101}, "limit"},
		{"negative limit", Request{Locale: "en", Limit: -1}, "limit"},
		{"negative offset", Request{Locale: "en", Offset: -1}, "offset"},
		{"past max total hits", Request{Locale: "en", Offset: 990, Limit: 20}, "offset"},
		{"unknown sort", Request{Locale: "en", Sort: "price:asc"}, "sort"},
		{"unknown facet", Request{Locale: "en", Facets: []Facet{"listed"}}, "facets"},
		{"negative price", Request{Locale: "en", Filters: Filters{MinPrice: ptr[int64](-1)}}, "filters.minPrice"},
		{"band not configured", Request{Locale: "en", Filters: Filters{PriceBand: `0-5000" OR listed = false`}}, "filters.priceBand"},
	} {
		_, err := c.Search(context.Background(), tc.req)
		var ae *apperror.Error
		if !errors.As(err, &ae) || ae.Code != apperror.BadUserInput || ae.Field != tc.field {
			t.Errorf("%s: err = %v, want BAD_USER_INPUT on %s", tc.name, err, tc.field)
		}
	}
	if _, err := c.Suggest(context.Background(), "a", "en", 21); err == nil {
		t.Error("Suggest(n=21) accepted")
	}
	r.done()
}

// No input can change the meaning of the filter: every condition is an attribute, an
// operator and a number or true, whatever the caller sends.
func TestFilterHasNoRoomForInjection(t *testing.T) {
	c := &Client{cfg: Config{PriceBands: []int64{5000, 10000}}}
	cond := regexp.MustCompile(`^(listed|in_stock) = true$|^(category_ids|merchant_id) = -?[0-9]+$|^min_price (>=|<=|<) [0-9]+$`)
	rnd := rand.New(rand.NewSource(1))
	labels := []string{"", "0-5000", "5000-10000", "10000+"}
	for i := 0; i < 2000; i++ {
		f := Filters{InStock: rnd.Intn(2) == 0, PriceBand: labels[rnd.Intn(len(labels))]}
		if rnd.Intn(2) == 0 {
			f.CategoryID = ptr(rnd.Int() - rnd.Int())
		}
		if rnd.Intn(2) == 0 {
			f.MerchantID = ptr(rnd.Int() - rnd.Int())
		}
		if rnd.Intn(2) == 0 {
			f.MinPrice = ptr(rnd.Int63())
		}
		if rnd.Intn(2) == 0 {
			f.MaxPrice = ptr(rnd.Int63())
		}
		conds, err := c.filter(f)
		if err != nil {
			t.Fatal(err)
		}
		if conds[0] != "listed = true" {
			t.Fatalf("filter %v does not start with listed = true", conds)
		}
		for _, s := range conds {
			if !cond.MatchString(s) {
				t.Fatalf("condition %q is not of the closed form", s)
			}
		}
	}
	// Text reaches Meilisearch only as q, a JSON string it searches for, never parses.
	for _, hostile := range []string{`" OR listed = false`, `' OR 1=1 --`, `listed = false`, "\\\"", "茶 NOT listed"} {
		body, err := c.searchBody(Request{Query: hostile, Locale: "en"})
		if err == nil {
			t.Fatalf("searchBody accepted locale en without it configured: %+v", body)
		}
		c.cfg.Locales = []string{"en"}
		body, err = c.searchBody(Request{Query: hostile, Locale: "en"})
		if err != nil || body.Q != strings.TrimSpace(hostile) || len(body.Filter) != 1 {
			t.Fatalf("query %q: %+v, %v", hostile, body, err)
		}
		c.cfg.Locales = nil
	}
}

// The storefront falls back to the embedded search on ErrUnavailable: a server that is
// down, failing, refusing our key or without the index. A request Meilisearch rejects as
// invalid is our bug and stays an *APIError with its code.
func TestSearchErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		reply       string
		unavailable bool
		code        string
	}{
		{"index not built yet", 404, apiError("index_not_found", "invalid_request", "Index `products_en` not found."), true, "index_not_found"},
		{"wrong key", 403, apiError("invalid_api_key", "auth", "The provided API key is invalid."), true, "invalid_api_key"},
		{"no key", 401, apiError("missing_authorization_header", "auth", "The Authorization header is missing. It must use the bearer authorization method."), true, "missing_authorization_header"},
		{"server error", 500, apiError("internal", "internal", "An internal error has occurred."), true, "internal"},
		{"out of disk", 500, apiError("no_space_left_on_device", "system", "A system error has occurred."), true, "no_space_left_on_device"},
		{"proxy without Meilisearch", 502, `<html>Bad Gateway</html>`, true, "http_502"},
		{"overloaded", 503, apiError("too_many_search_requests", "system", "Too many search requests running at the same time"), true, "too_many_search_requests"},
		{"filter Meilisearch refuses", 400, apiError("invalid_search_filter", "invalid_request",
			"Attribute `listed` is not filterable. Available filterable attributes are: `category_ids`."), false, "invalid_search_filter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReplay(t, exchange{Method: "POST", Path: "/indexes/products_en/search", Status: tc.status, Reply: tc.reply})
			_, err := r.client().Search(context.Background(), Request{Query: "tea", Locale: "en"})
			if errors.Is(err, ErrUnavailable) != tc.unavailable {
				t.Fatalf("err = %v, unavailable want %v", err, tc.unavailable)
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tc.code || apiErr.Status != tc.status {
				t.Fatalf("err = %#v, want code %s", err, tc.code)
			}
			r.done()
		})
	}
}

// A server that is not there (closed port) or hangs past SEARCH_TIMEOUT is ErrUnavailable
// with the request named; a request the caller cancelled is the caller's error.
func TestSearchServerDown(t *testing.T) {
	r := newReplay(t)
	c := r.client()
	r.srv.Close()
	_, err := c.Search(context.Background(), Request{Query: "tea", Locale: "en"})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "POST /indexes/products_en/search") {
		t.Fatalf("err = %v, want ErrUnavailable naming the request", err)
	}
	if err := c.Healthy(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Healthy: %v", err)
	}

	hang := make(chan struct{})
	slow := newReplay(t)
	slow.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { <-hang })
	t.Cleanup(func() { close(hang) })
	c = slow.client()
	c.http.Timeout = c.cfg.Timeout / 20
	if _, err := c.Search(context.Background(), Request{Query: "tea", Locale: "en"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("timeout: err = %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Search(ctx, Request{Query: "tea", Locale: "en"}); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("cancelled: err = %v, want context.Canceled", err)
	}
}

func TestHealthy(t *testing.T) {
	r := newReplay(t, exchange{Method: "GET", Path: "/health", Status: 200, Reply: `{"status":"available"}`})
	if err := r.client().Healthy(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.done()
}
