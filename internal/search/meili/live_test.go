package meili

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// liveCatalog is a small tea shop in two languages.
type liveCatalog struct {
	*fakeCatalog
	titles map[int][2]string // id → zh-CN, en
}

func (l *liveCatalog) Load(_ context.Context, locale string, ids []int) ([]Document, []int, error) {
	var docs []Document
	var hidden []int
	for _, id := range ids {
		if !l.visible[id] {
			hidden = append(hidden, id)
			continue
		}
		title := l.titles[id][0]
		if locale == "en" {
			title = l.titles[id][1]
		}
		docs = append(docs, Document{ID: id, Title: title, CategoryIDs: []int{1, 10 + id%2}, MerchantID: 2,
			MinPrice: int64(id) * 3000, MaxPrice: int64(id) * 3000, Currency: "CNY", InStock: id%2 == 1,
			Sales: int64(100 - id), CreatedAt: 1765000000 + int64(id)})
	}
	return docs, hidden, nil
}

// TestLiveServer runs the package against a real Meilisearch server when
// MEILI_TEST_URL (and MEILI_TEST_KEY) name one, such as a local
// `meilisearch --master-key=…` on 127.0.0.1:7700. It could not run where the package was
// written; see docs/SEARCH-SERVER.md.
func TestLiveServer(t *testing.T) {
	url := os.Getenv("MEILI_TEST_URL")
	if url == "" {
		t.Skip("MEILI_TEST_URL is not set")
	}
	prefix := fmt.Sprintf("xiadan_test_%d", time.Now().UnixNano())
	c, err := New(Config{URL: url, Key: os.Getenv("MEILI_TEST_KEY"), IndexPrefix: prefix,
		Locales: []string{"zh-CN", "en"}, SyncBatch: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() {
		for _, uid := range []string{c.cfg.Index("zh-CN"), c.cfg.Index("en"), prefix + "_sync"} {
			_ = c.deleteIndex(context.Background(), uid)
		}
	})
	cat := &liveCatalog{fakeCatalog: newCatalog(), titles: map[int][2]string{
		5: {"西湖龙井 明前特级绿茶", "West Lake Longjing green tea"},
		6: {"安溪铁观音 乌龙茶", "Anxi Tieguanyin oolong tea"},
		7: {"草稿：未上架的龙井", "Draft Longjing not listed"},
	}}
	cat.add(Change{1, EntityProduct, 5})
	s := &Syncer{Client: c, Catalog: cat, Cursor: IndexCursor{Client: c},
		Synonyms: func(context.Context) (map[string][]string, error) {
			return MutualSynonyms([][]string{{"T恤", "tshirt", "t-shirt"}}), nil
		}}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	search := func(locale, q string, f Filters) []int {
		t.Helper()
		r, err := c.Search(ctx, Request{Query: q, Locale: locale, Filters: f, Facets: []Facet{FacetCategory, FacetPriceBand}})
		if err != nil {
			t.Fatalf("%s %q: %v", locale, q, err)
		}
		t.Logf("%s %q → %v (total %d, facets %v)", locale, q, r.IDs, r.Total, r.Facets)
		return r.IDs
	}
	for _, tc := range []struct {
		locale, q string
		want      int
	}{
		{"en", "longjing", 5}, {"en", "longjnig", 5}, {"en", "oolong", 6},
		{"zh-CN", "龙井", 5}, {"zh-CN", "龙井茶", 5}, {"zh-CN", "铁观音", 6},
	} {
		if ids := search(tc.locale, tc.q, Filters{}); !slices.Contains(ids, tc.want) || slices.Contains(ids, 7) {
			t.Errorf("%s %q: %v, want %d and never the hidden 7", tc.locale, tc.q, ids, tc.want)
		}
	}
	if ids := search("en", "tea", Filters{CategoryID: ptr(11)}); !slices.Equal(ids, []int{5}) {
		t.Errorf("category 11: %v", ids)
	}
	sug, err := c.Suggest(ctx, "lon", "en", 5)
	if err != nil || len(sug) == 0 || sug[0].ID != 5 {
		t.Errorf("suggest lon: %v %v", sug, err)
	}
	// Hide 5: after one step it is gone from both indexes.
	cat.mu.Lock()
	cat.visible[5] = false
	cat.mu.Unlock()
	cat.add(Change{2, EntityProduct, 5})
	if _, err := s.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := search("en", "longjing", Filters{}); slices.Contains(ids, 5) {
		t.Errorf("hidden 5 still found: %v", ids)
	}
	// A filter Meilisearch refuses is an APIError, not a fallback.
	var body searchBody
	body, _ = c.searchBody(Request{Locale: "en"})
	body.Filter = []string{"nonexistent = 1"}
	err = c.do(ctx, "POST", "/indexes/"+c.cfg.Index("en")+"/search", nil, body, nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "invalid_search_filter" || errors.Is(err, ErrUnavailable) {
		t.Errorf("bad filter: %v", err)
	}
}
