package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/catalog"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/testdb"
)

// TestLargeCountsPerKeyword: past catalog.ExactCountLimit a shopper's totalCount of the
// list and of a keyword search is a shared count keyed by the filter and the analysed
// keyword; two keywords never share one, each count is exact when taken, and staff see
// a change at once.
func TestLargeCountsPerKeyword(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			if _, err := seed.Demo(context.Background(), client, seed.Options{Scale: catalog.ExactCountLimit + 300, Password: "count-test-password"}); err != nil {
				t.Fatal(err)
			}
			admin := s.NewAdmin(t, "counts@example.com")
			precision := map[string]string{} // of the last count of a token and keyword
			count := func(token string, keyword any) int {
				t.Helper()
				where := map[string]any{}
				if keyword != nil {
					where["keyword"] = keyword
				}
				r := s.MustQuery(token, `query($w: ProductFilter) { products(first: 1, where: $w) { totalCount totalCountPrecision } }`, map[string]any{"w": where})
				var out struct {
					Products struct {
						TotalCount          int
						TotalCountPrecision string
					}
				}
				if err := json.Unmarshal(r.Data, &out); err != nil {
					t.Fatal(err)
				}
				n, p := out.Products.TotalCount, out.Products.TotalCountPrecision
				// Exact up to the limit; past it counted now (the test server waits for its
				// counts) or, for a shopper, a shared count taken seconds ago.
				switch {
				case n <= catalog.ExactCountLimit && p != "EXACT",
					n > catalog.ExactCountLimit && p != "EXACT" && (token != "" || p != "ESTIMATE"):
					t.Fatalf("%d products (keyword %v) counted with precision %s", n, keyword, p)
				}
				precision[fmt.Sprint(token, keyword)] = p
				return n
			}
			// Words of the scale seed that match more than the exact limit (from the shipping
			// notes of most descriptions), and one that matches fewer.
			var large []string
			small := ""
			for _, kw := range []string{"小时", "支持", "发货", "茶"} {
				switch n := count(admin.AccessToken, kw); {
				case n > catalog.ExactCountLimit:
					large = append(large, kw)
				case n > 0 && small == "":
					small = kw
				}
			}
			if len(large) < 2 || small == "" {
				t.Fatalf("the seed no longer has two keywords past %d matches and one under (large %q, small %q)", catalog.ExactCountLimit, large, small)
			}
			// The admin sees drafts and the products of merchants not on sale too, so a
			// shopper's counts are at most the admin's.
			all, public := count(admin.AccessToken, nil), count("", nil)
			if public > all || public <= catalog.ExactCountLimit {
				t.Fatalf("the list's count: shopper %d, admin %d", public, all)
			}
			// Each keyword's shared count is its own (the seed's large keywords match
			// different numbers of products), and the same when read again from the cache.
			seen := map[int]string{public: "the list"}
			want := map[string]int{}
			for _, kw := range append(large, small) {
				want[kw] = count("", kw)
				if other, dup := seen[want[kw]]; dup {
					t.Fatalf("%q counts %d, as %s does: a shared count", kw, want[kw], other)
				}
				seen[want[kw]] = kw
				if admins := count(admin.AccessToken, kw); want[kw] > admins || want[kw] == 0 {
					t.Fatalf("%q: shopper counts %d, admin %d", kw, want[kw], admins)
				}
			}
			for _, kw := range append(large, small) {
				if got := count("", kw); got != want[kw] {
					t.Fatalf("%q the second time: shopper counts %d, want %d", kw, got, want[kw])
				}
				if p := precision[fmt.Sprint("", kw)]; want[kw] > catalog.ExactCountLimit && p != "ESTIMATE" && p != "EXACT" {
					t.Fatalf("%q the second time: precision %s", kw, p)
				}
			}
			// Staff see a hidden product leave the count at once.
			p := client.Product.Query().Where(product.OnSale(true)).FirstX(ctx)
			client.Product.UpdateOne(p).SetStatus(product.StatusDRAFT).ExecX(ctx)
			if got := count(admin.AccessToken, nil); got != all-1 {
				t.Fatalf("admin's count after a product was hidden: %d, want %d", got, all-1)
			}
			// A shopper's count is the shared one, taken at most loader.CountTTL ago.
			if got := count("", nil); got != public && got != public-1 {
				t.Fatalf("shopper's count after a product was hidden: %d, want %d or %d", got, public, public-1)
			}
		})
	}
}
