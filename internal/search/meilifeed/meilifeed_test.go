package meilifeed_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/search/meili"
	"github.com/xiadan/xiadan/internal/search/meilifeed"
	"github.com/xiadan/xiadan/internal/testdb"
)

// withSearchServer points the server at a search server at url; sync runs its syncer.
func withSearchServer(url string, sync bool) func(*config.Config) {
	return func(c *config.Config) {
		c.SearchServer = meili.Config{URL: url, Sync: sync, SyncInterval: 50 * time.Millisecond, Timeout: 10 * time.Second}
	}
}

// forEachDialect runs fn on SQLite and MySQL, in parallel.
func forEachDialect(t *testing.T, fn func(t *testing.T, url string)) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, d.URL(t))
		})
	}
}

// closedPort returns the URL of a port nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

const listQuery = `query($k: String!, $n: Int, $after: Cursor) {
  products(where: {keyword: $k}, first: $n, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id title } }
  }
}`

type listResult struct {
	Products struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage bool
			EndCursor   *string
		}
		Edges []struct {
			Cursor string
			Node   struct{ ID, Title string }
		}
	}
}

func (r listResult) ids() []string {
	var out []string
	for _, e := range r.Products.Edges {
		out = append(out, e.Node.ID)
	}
	return out
}

const searchQuery = `query($q: String!, $n: Int) {
  productSearch(query: $q, first: $n) {
    totalCount
    edges { node { id title } }
    facets {
      categories { category { id } count }
      merchants { merchant { slug } count }
      priceBands { min max count }
      inStock
    }
  }
}`

type searchResult struct {
	ProductSearch struct {
		TotalCount int
		Edges      []struct{ Node struct{ ID, Title string } }
		Facets     struct {
			Categories []struct {
				Category struct{ ID string }
				Count    int
			}
			Merchants []struct {
				Merchant struct{ Slug string }
				Count    int
			}
			PriceBands []struct {
				Min   string
				Max   *string
				Count int
			}
			InStock int
		}
	}
}

const suggestQuery = `query($p: String!) { searchSuggestions(prefix: $p, first: 6) { text kind product { id } } }`

type suggestResult struct {
	SearchSuggestions []struct {
		Text, Kind string
		Product    *struct{ ID string }
	}
}

func (r suggestResult) productIDs() []string {
	var out []string
	for _, s := range r.SearchSuggestions {
		if s.Product != nil {
			out = append(out, s.Product.ID)
		}
	}
	return out
}

func id(n int) string { return strconv.Itoa(n) }

// With SEARCH_URL on a port nothing listens on, every storefront search answers from the
// embedded search, with the right products and no error, and counts its fallbacks.
func TestSearchServerDownFallsBack(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, url string) {
		s := apitest.New(t, url, withSearchServer(closedPort(t), true))
		shop := s.NewMerchant(t, "down-tea", merchant.StatusACTIVE)
		longjing, _ := s.NewProduct(t, shop, "西湖龙井 Longjing green tea", product.KindPHYSICAL, "LJ-1", 5800, 10)
		s.NewProduct(t, shop, "云南普洱 Pu'er", product.KindPHYSICAL, "PE-1", 9800, 10)

		var list listResult
		s.MustQuery("", listQuery, map[string]any{"k": "龙井", "n": 10}).Decode(t, &list)
		if got := list.ids(); !slices.Equal(got, []string{id(longjing)}) || list.Products.TotalCount != 1 {
			t.Fatalf("products(keyword 龙井) = %v (total %d), want [%d]", got, list.Products.TotalCount, longjing)
		}
		var search searchResult
		s.MustQuery("", searchQuery, map[string]any{"q": "longjing", "n": 10}).Decode(t, &search)
		if len(search.ProductSearch.Edges) != 1 || search.ProductSearch.Edges[0].Node.ID != id(longjing) ||
			search.ProductSearch.TotalCount != 1 || len(search.ProductSearch.Facets.Merchants) != 1 {
			t.Fatalf("productSearch(longjing) = %+v", search.ProductSearch)
		}
		var sugg suggestResult
		s.MustQuery("", suggestQuery, map[string]any{"p": "longj"}).Decode(t, &sugg)
		if !slices.Contains(sugg.productIDs(), id(longjing)) {
			t.Fatalf("searchSuggestions(longj) = %+v, want the Longjing", sugg.SearchSuggestions)
		}
		if n := s.App.SearchServer.Fallbacks(); n < 3 {
			t.Fatalf("fallbacks = %d, want at least 3", n)
		}
	})
}

// The syncer follows the catalog as GraphQL mutations change it: a draft is never
// written (its id is deleted), publishing writes the product to every locale's index,
// an edit rewrites it, delisting deletes it, and a merchant suspended takes its products
// out.
func TestSyncerFollowsCatalogMutations(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, url string) {
		fake := newFakeMeili(t)
		s := apitest.New(t, url, withSearchServer(fake.URL(), true))
		fake.waitFor(t, "the syncer's first cursor", (*fakeMeili).hasCursor)
		shop := s.NewMerchant(t, "sync-tea", merchant.StatusACTIVE)
		owner := shop.Owner.AccessToken

		var created struct{ CreateProduct struct{ ID string } }
		s.MustQuery(owner, `mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"title": "西湖龙井", "description": "明前 green tea",
				"attributes": []any{map[string]any{"name": "产地", "value": "杭州"}},
				"variants":   []any{map[string]any{"sku": "LJ-50", "price": "58.00", "stock": 5}}}}).Decode(t, &created)
		pid, _ := strconv.Atoi(created.CreateProduct.ID)

		// A draft is hidden: its id is deleted from the indexes, never written.
		fake.waitFor(t, "the draft's delete", func(f *fakeMeili) bool {
			for _, w := range f.writes {
				if w.Index == "products_zh-CN" && slices.Contains(w.Deleted, pid) {
					return true
				}
			}
			return false
		})
		fake.mu.Lock()
		draftWritten := fake.written(pid)
		fake.mu.Unlock()
		if draftWritten {
			t.Fatal("a draft product was written to the index")
		}

		s.MustQuery(owner, `mutation($id: ID!) { publishProduct(id: $id) { id status } }`, map[string]any{"id": created.CreateProduct.ID})
		var doc, docEn map[string]any
		fake.waitFor(t, "the published product's documents", func(f *fakeMeili) bool {
			doc, docEn = f.doc("products_zh-CN", pid), f.doc("products_en", pid)
			return doc != nil && docEn != nil
		})
		if doc["title"] != "西湖龙井" || doc["merchant_id"] != float64(shop.IntID) || doc["min_price"] != float64(5800) ||
			doc["in_stock"] != true || doc["listed"] != true || doc["price_band"] != "5000-10000" || doc["merchant_name"] != "sync-tea" ||
			doc["description"] != "明前 green tea" {
			t.Fatalf("document = %v", doc)
		}
		if attrs, _ := doc["attributes"].(map[string]any); attrs["产地"] != "杭州" {
			t.Fatalf("document attributes = %v", doc["attributes"])
		}

		s.MustQuery(owner, `mutation($id: ID!) { updateProduct(id: $id, input: {title: "西湖龙井 特级"}) { id } }`, map[string]any{"id": created.CreateProduct.ID})
		fake.waitFor(t, "the edited title", func(f *fakeMeili) bool {
			d := f.doc("products_zh-CN", pid)
			return d != nil && d["title"] == "西湖龙井 特级"
		})

		// A translation reaches its locale's index only; the other fields fall back to
		// the product's own text.
		s.MustQuery(owner, `mutation($id: ID!, $t: [TranslationInput!]!) { setTranslations(id: $id, locale: "en", translations: $t) { field } }`,
			map[string]any{"id": created.CreateProduct.ID, "t": []any{
				map[string]any{"field": "title", "value": "West Lake Longjing"},
				map[string]any{"field": "attributes.0.name", "value": "Origin"},
				map[string]any{"field": "attributes.0.value", "value": "Hangzhou"}}})
		fake.waitFor(t, "the English title", func(f *fakeMeili) bool {
			d := f.doc("products_en", pid)
			return d != nil && d["title"] == "West Lake Longjing"
		})
		fake.mu.Lock()
		doc, docEn = fake.doc("products_zh-CN", pid), fake.doc("products_en", pid)
		fake.mu.Unlock()
		if attrs, _ := docEn["attributes"].(map[string]any); attrs["Origin"] != "Hangzhou" || docEn["description"] != "明前 green tea" || doc["title"] != "西湖龙井 特级" {
			t.Fatalf("translated document = %v; zh-CN %v", docEn, doc)
		}

		s.MustQuery(owner, `mutation($id: ID!) { delistProduct(id: $id) { id } }`, map[string]any{"id": created.CreateProduct.ID})
		fake.waitFor(t, "the delisted product's deletion", func(f *fakeMeili) bool {
			return f.doc("products_zh-CN", pid) == nil && f.doc("products_en", pid) == nil
		})

		// A merchant change reaches every product of the merchant.
		other, _ := s.NewProduct(t, shop, "安吉白茶", product.KindPHYSICAL, "AJ-1", 12000, 3)
		fake.waitFor(t, "the second product's document", func(f *fakeMeili) bool { return f.doc("products_zh-CN", other) != nil })
		client, ctx := s.Client()
		if err := client.Merchant.UpdateOneID(shop.IntID).SetStatus(merchant.StatusSUSPENDED).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		fake.waitFor(t, "the suspended merchant's products' deletion", func(f *fakeMeili) bool {
			return f.doc("products_zh-CN", other) == nil && f.doc("products_en", other) == nil
		})
	})
}

// Admins' synonym groups reach the server's settings at start and after each change.
func TestSyncerPushesSynonyms(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, url string) {
		fake := newFakeMeili(t)
		s := apitest.New(t, url, withSearchServer(fake.URL(), true))
		fake.waitFor(t, "the syncer's first cursor", (*fakeMeili).hasCursor)
		admin := s.NewAdmin(t, "syn-admin@example.com")
		s.MustQuery(admin.AccessToken, `mutation($t: [String!]!) { createSearchSynonym(terms: $t) { id } }`,
			map[string]any{"t": []string{"T恤", "tshirt"}})
		fake.waitFor(t, "the synonyms in the settings", func(f *fakeMeili) bool {
			syn, _ := f.settings["products_en"]["synonyms"].(map[string]any)
			got, _ := syn["tshirt"].([]any)
			return len(got) == 1 && got[0] == "t恤" // Meilisearch compares synonyms lower-cased
		})
	})
}

// A search the server answers shows the products of its ids in its order, drops an id
// the public may not see (a stale index) from the page and from the total, pages with
// the server's positions, and maps the facets; suggestions likewise. A request the
// server refuses as malformed is INTERNAL; a server error falls back.
func TestSearchAnsweredByServer(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, url string) {
		fake := newFakeMeili(t)
		fake.indexes["products_zh-CN"] = map[string]json.RawMessage{}
		fake.indexes["products_en"] = map[string]json.RawMessage{}
		s := apitest.New(t, url, withSearchServer(fake.URL(), false))
		shop := s.NewMerchant(t, "served-tea", merchant.StatusACTIVE)
		p1, _ := s.NewProduct(t, shop, "Green tea one", product.KindPHYSICAL, "G-1", 1000, 1)
		p2, _ := s.NewProduct(t, shop, "Green tea two", product.KindPHYSICAL, "G-2", 2000, 0)
		p3, _ := s.NewProduct(t, shop, "Green tea three", product.KindPHYSICAL, "G-3", 3000, 1)
		client, ctx := s.Client()
		hidden := client.Product.Create().SetMerchantID(shop.IntID).SetTitle("Green tea draft").
			SetKind(product.KindPHYSICAL).SetStatus(product.StatusDRAFT).SaveX(ctx).ID

		order := []int{p3, hidden, p1, p2}
		fake.mu.Lock()
		fake.answer = func(uid string, q map[string]any) any {
			offset, limit := int(q["offset"].(float64)), int(q["limit"].(float64))
			hits := []any{}
			for i := offset; i < min(offset+limit, len(order)); i++ {
				hits = append(hits, map[string]any{"id": order[i], "title": "Green tea " + id(order[i])})
			}
			return map[string]any{"hits": hits, "query": q["q"], "processingTimeMs": 1, "limit": limit, "offset": offset,
				"estimatedTotalHits": len(order),
				"facetDistribution": map[string]any{
					"category_ids": map[string]any{},
					"merchant_id":  map[string]any{id(shop.IntID): 4},
					"price_band":   map[string]any{"0-5000": 4},
					"in_stock":     map[string]any{"true": 3, "false": 1},
				}}
		}
		fake.mu.Unlock()

		var page1 listResult
		s.MustQuery("", listQuery, map[string]any{"k": "green", "n": 2}).Decode(t, &page1)
		if got := page1.ids(); !slices.Equal(got, []string{id(p3)}) || page1.Products.TotalCount != 3 || !page1.Products.PageInfo.HasNextPage {
			t.Fatalf("page 1 = %v (total %d, next %v), want [%d], total 3 (the hidden id not counted), a next page",
				got, page1.Products.TotalCount, page1.Products.PageInfo.HasNextPage, p3)
		}
		var page2 listResult
		s.MustQuery("", listQuery, map[string]any{"k": "green", "n": 2, "after": *page1.Products.PageInfo.EndCursor}).Decode(t, &page2)
		if got := page2.ids(); !slices.Equal(got, []string{id(p1), id(p2)}) || page2.Products.PageInfo.HasNextPage {
			t.Fatalf("page 2 = %v (next %v), want [%d %d] and no next page", got, page2.Products.PageInfo.HasNextPage, p1, p2)
		}

		var search searchResult
		s.MustQuery("", searchQuery, map[string]any{"q": "green", "n": 10}).Decode(t, &search)
		var got []string
		for _, e := range search.ProductSearch.Edges {
			got = append(got, e.Node.ID)
		}
		f := search.ProductSearch.Facets
		if !slices.Equal(got, []string{id(p3), id(p1), id(p2)}) || search.ProductSearch.TotalCount != 3 {
			t.Fatalf("productSearch = %v (total %d), want [%d %d %d], total 3", got, search.ProductSearch.TotalCount, p3, p1, p2)
		}
		if len(f.Merchants) != 1 || f.Merchants[0].Merchant.Slug != "served-tea" || f.InStock != 3 ||
			len(f.PriceBands) != 1 || f.PriceBands[0].Min != "0.00" || f.PriceBands[0].Max == nil || *f.PriceBands[0].Max != "49.99" {
			t.Fatalf("facets = %+v", f)
		}

		var sugg suggestResult
		s.MustQuery("", suggestQuery, map[string]any{"p": "gree"}).Decode(t, &sugg)
		if got := sugg.productIDs(); !slices.Equal(got, []string{id(p3), id(p1), id(p2)}[:len(got)]) || len(got) == 0 || slices.Contains(got, id(hidden)) {
			t.Fatalf("suggestions = %+v", sugg.SearchSuggestions)
		}

		fake.mu.Lock()
		last := fake.searches[len(fake.searches)-1]
		first := fake.searches[0]
		fake.mu.Unlock()
		if last["q"] != "gree" || first["q"] != "green" || !slices.Contains(first["filter"].([]any), any("listed = true")) {
			t.Fatalf("searches sent: first %v, last %v", first, last)
		}

		// English shoppers are answered from the English index; admins (who may see more
		// than the index holds) by the embedded search.
		r := s.Do(apitest.Request{Query: listQuery, Variables: map[string]any{"k": "green", "n": 2}, Header: map[string]string{"Accept-Language": "en"}})
		if len(r.Errors) > 0 {
			t.Fatalf("English search: %s", r.Raw)
		}
		admin := s.NewAdmin(t, "served-admin@example.com")
		fake.mu.Lock()
		before := len(fake.searched)
		lastIndex := fake.searched[before-1]
		fake.mu.Unlock()
		if lastIndex != "products_en" {
			t.Fatalf("an English search went to %s", lastIndex)
		}
		var byAdmin listResult
		s.MustQuery(admin.AccessToken, listQuery, map[string]any{"k": "green", "n": 10}).Decode(t, &byAdmin)
		fake.mu.Lock()
		after := len(fake.searched)
		fake.mu.Unlock()
		if after != before || len(byAdmin.ids()) != 3 {
			t.Fatalf("an admin's search: %d server searches, products %v; want none and the 3 on sale", after-before, byAdmin.ids())
		}

		// The server refuses a request as malformed (our bug): INTERNAL, not a fallback.
		fake.mu.Lock()
		fake.answer = nil
		fake.mu.Unlock()
		fake.failSearch(400, "invalid_search_filter", "invalid_request")
		if r := s.Query("", listQuery, map[string]any{"k": "green", "n": 2}); r.Code() != "INTERNAL" {
			t.Fatalf("a refused search: code %q (%s), want INTERNAL", r.Code(), r.Raw)
		}
		// The server fails (5xx): the embedded search answers, without the hidden draft.
		fake.failSearch(503, "internal", "internal")
		var fallback listResult
		s.MustQuery("", listQuery, map[string]any{"k": "green", "n": 10}).Decode(t, &fallback)
		if got := fallback.ids(); len(got) != 3 || slices.Contains(got, id(hidden)) {
			t.Fatalf("fallback page = %v, want the 3 visible products", got)
		}
	})
}

// A rebuild (what `xiadan search reindex` runs) writes every visible product, in each
// locale, into a fresh index swapped with the live one, and leaves the drafts out.
func TestReindex(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, url string) {
		fake := newFakeMeili(t)
		s := apitest.New(t, url, withSearchServer(fake.URL(), false))
		shop := s.NewMerchant(t, "rebuilt-tea", merchant.StatusACTIVE)
		var visible []int
		for i := range 3 {
			p, _ := s.NewProduct(t, shop, "Rebuilt tea "+id(i), product.KindPHYSICAL, "RB-"+id(i), 1000, 1)
			visible = append(visible, p)
		}
		client, ctx := s.Client()
		draft := client.Product.Create().SetMerchantID(shop.IntID).SetTitle("Rebuilt draft").
			SetKind(product.KindPHYSICAL).SetStatus(product.StatusDRAFT).SaveX(ctx).ID
		sc, err := meili.New(s.Config.SearchServer, nil)
		if err != nil {
			t.Fatal(err)
		}
		syncer := meilifeed.NewSyncer(sc, s.DB.Client, s.DB.Dialect, s.App.Languages.Locales, slog.New(slog.DiscardHandler))
		if err := syncer.Reindex(context.Background()); err != nil {
			t.Fatal(err)
		}
		fake.mu.Lock()
		defer fake.mu.Unlock()
		for _, uid := range []string{"products_zh-CN", "products_en"} {
			if n := len(fake.indexes[uid]); n != len(visible) {
				t.Errorf("%s holds %d documents, want %d", uid, n, len(visible))
			}
			for _, p := range visible {
				if fake.doc(uid, p) == nil {
					t.Errorf("%s misses product %d", uid, p)
				}
			}
			if fake.doc(uid, draft) != nil || fake.written(draft) {
				t.Errorf("%s: the draft was written", uid)
			}
			if _, left := fake.indexes[uid+"_reindex"]; left {
				t.Errorf("%s_reindex was left behind", uid)
			}
		}
		if !fake.hasCursor() {
			t.Error("no cursor saved after the rebuild")
		}
	})
}

// The feed's change ids start at 1 on both dialects (MySQL's first id is its range's
// start, SQLite's the start+1), and every call numbers them alike: the first call once
// numbered them from the range's start-1 and the later ones from its start, so a cursor
// of 0 read as expired and the syncer rebuilt every index instead of applying the
// changes (a draft's id then was never deleted: it was simply not in the new index).
func TestChangeIDsStartAtOneAndStayStable(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, url string) {
		s := apitest.New(t, url)
		shop := s.NewMerchant(t, "ids-tea", merchant.StatusACTIVE)
		s.NewProduct(t, shop, "龙井", product.KindPHYSICAL, "IDS-1", 5800, 3)
		client, ctx := s.Client()
		c := &meilifeed.Catalog{DB: client, Dialect: s.DB.Dialect}
		first, err := c.Changes(ctx, 0, 100)
		if err != nil {
			t.Fatalf("Changes(0) on a feed that was never pruned: %v", err)
		}
		if len(first) < 2 || first[0].ID != 1 {
			t.Fatalf("Changes(0) = %v, want ids from 1", first)
		}
		for i, ch := range first {
			if ch.ID != int64(i+1) {
				t.Fatalf("Changes(0) = %v, want consecutive ids from 1", first)
			}
		}
		again, err := c.Changes(ctx, 0, 100)
		if err != nil || !slices.Equal(again, first) {
			t.Fatalf("Changes(0) again = %v, %v; first %v", again, err, first)
		}
		head, err := c.Head(ctx)
		if err != nil || head != first[len(first)-1].ID {
			t.Fatalf("Head = %d, %v; want %d", head, err, first[len(first)-1].ID)
		}
		rest, err := c.Changes(ctx, 1, 100)
		if err != nil || !slices.Equal(rest, first[1:]) {
			t.Fatalf("Changes(1) = %v, %v; want %v", rest, err, first[1:])
		}
	})
}
