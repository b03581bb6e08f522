package meili

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// BenchmarkSearch measures the client's own cost per search (building the request,
// HTTP on loopback, decoding hits and facets) against a server that answers at once with
// the recorded search answer: what the adapter adds to Meilisearch's own time.
func BenchmarkSearch(b *testing.B) {
	answer, err := os.ReadFile("testdata/search_longjing.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	}))
	defer srv.Close()
	c, err := New(Config{URL: srv.URL, Key: "k", Locales: []string{"en"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Query: "longjing tea", Locale: "en", Filters: Filters{CategoryID: ptr(3), InStock: true},
		Sort: SortSales, Facets: []Facet{FacetCategory, FacetInStock, FacetPriceBand}}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Search(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
