package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/guard"
)

// nestedHasFilter is the review's runaway filter in today's schema: has…With predicates
// alternating product → variants → product …, levels deep (the review's merchant →
// products → merchant … is no longer offered: docs/SEARCH.md). Ent makes each level a
// correlated EXISTS run for every row of the level above, so the work is the product of
// the fan-outs: on the demo catalogue 3 levels answered in 9 ms, 5 in 0.15 s, 7 in 5 s and
// 9 in 93 s, each request a few hundred bytes and, before the limits, costed at 3.
func nestedHasFilter(levels int) (literal string, variable map[string]any) {
	literal, variable = `{skuContains: "zz"}`, map[string]any{"skuContains": "zz"}
	if levels%2 == 0 { // the innermost filter is on a product
		literal, variable = `{titleContains: "zz"}`, map[string]any{"titleContains": "zz"}
	}
	for i := levels - 1; i >= 0; i-- {
		edge := "hasVariantsWith"
		if i%2 == 1 {
			edge = "hasProductWith"
		}
		literal = "{" + edge + ": [" + literal + "]}"
		variable = map[string]any{edge: []any{variable}}
	}
	return literal, variable
}

// TestNestedFiltersAreBounded: a where filter may hold one level of has…With (a subquery
// per row, bounded by the table it reads) and nest and / or / not a few levels; deeper
// filters are refused before anything runs, whether written in the query or passed in
// variables, and every predicate counts in the query cost.
func TestNestedFiltersAreBounded(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		tea := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
		s.NewProduct(t, tea, "Longjing", product.KindPHYSICAL, "LJ-zz", 3800, 5)
		s.NewProduct(t, tea, "Biluochun", product.KindPHYSICAL, "BLC-1", 4200, 5)

		const shop = `merchantBySlug(slug: "tea-house") { products(first: 10, where: %s) { edges { node { title } } } }`
		const byVariable = `query($w: ProductWhereInput) { ` + `merchantBySlug(slug: "tea-house") { products(first: 10, where: $w) { edges { node { title } } } } }`
		for levels := 1; levels <= 5; levels++ {
			literal, variable := nestedHasFilter(levels)
			inline := s.Query("", "{ "+fmt.Sprintf(shop, literal)+" }", nil)
			vars := s.Query("", byVariable, map[string]any{"w": variable})
			for _, r := range []*apitest.Response{inline, vars} {
				if levels == 1 {
					// One level runs, answers, and is costed by its predicates:
					// 1 + 2 + (1 + 10 × 1) for the filter + 10 nodes.
					if len(r.Errors) > 0 || !r.Contains(`"Longjing"`) || r.Contains(`"Biluochun"`) {
						t.Fatalf("one level: %s", r.Raw)
					}
					if cost := costOf(t, r); cost["requestedQueryCost"] != float64(1+2+11+10) {
						t.Fatalf("one level's cost: %s", r.Raw)
					}
					continue
				}
				assertRejected(t, r, guard.ReasonFilterTooDeep)
				if r.Field() != "where" || len(r.Data) != 0 {
					t.Fatalf("%d levels: %s", levels, r.Raw)
				}
			}
		}

		// The same through another nested connection's filter and through and / or / not.
		r := s.Query("", `{ categories { products(first: 5, where: {hasVariantsWith: [{hasProductWith: [{titleContains: "zz"}]}]}) { totalCount } } }`, nil)
		assertRejected(t, r, guard.ReasonFilterTooDeep)
		deep := map[string]any{"title": "Longjing"}
		for range guard.DefaultMaxFilterDepth {
			deep = map[string]any{"or": []any{deep}}
		}
		assertRejected(t, s.Query("", byVariable, map[string]any{"w": deep}), guard.ReasonFilterTooDeep)
		r = s.MustQuery("", byVariable, map[string]any{"w": deep["or"].([]any)[0]}) // at the limit
		if !r.Contains(`"Longjing"`) || r.Contains(`"Biluochun"`) {
			t.Fatalf("a filter at the depth limit: %s", r.Raw)
		}
	})
}

// TestNodesAreCostedAndCapped: nodes(ids:) costs a lookup per id and takes at most 100
// ids, as a page takes at most 100 items.
func TestNodesAreCostedAndCapped(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	m := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	const query = `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Merchant { name } } }`
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprint(m.IntID)
		}
		return out
	}
	r := s.MustQuery("", query, map[string]any{"ids": ids(guard.DefaultMaxIDs)})
	if strings.Count(string(r.Data), `"tea-house"`) != guard.DefaultMaxIDs {
		t.Fatalf("100 ids: %.300s", r.Raw)
	}
	if cost := costOf(t, r); cost["requestedQueryCost"] != float64(1+guard.DefaultMaxIDs) || cost["actualQueryCost"] != float64(1+guard.DefaultMaxIDs) {
		t.Fatalf("cost of 100 ids: %v", cost)
	}
	for _, n := range []int{guard.DefaultMaxIDs + 1, 5000} {
		r := s.Query("", query, map[string]any{"ids": ids(n)})
		assertRejected(t, r, guard.ReasonTooManyIDs)
		if r.Field() != "ids" || len(r.Data) != 0 {
			t.Fatalf("%d ids: %.300s", n, r.Raw)
		}
	}
}
