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

// nestedHasFilter is the review's runaway filter: has…With predicates alternating
// merchant → products → merchant …, levels deep. Ent makes each level a correlated EXISTS
// run for every row of the level above, so the work is the product of the fan-outs: on
// the demo catalogue 3 levels answered in 9 ms, 5 in 0.15 s, 7 in 5 s and 9 in 93 s,
// each request a few hundred bytes and, before the limits, costed at 3.
func nestedHasFilter(levels int) (literal string, variable map[string]any) {
	literal, variable = `{titleContains: "zz"}`, map[string]any{"titleContains": "zz"}
	if levels%2 == 0 { // the innermost filter is on a merchant
		literal, variable = `{nameContains: "zz"}`, map[string]any{"nameContains": "zz"}
	}
	for i := levels - 1; i >= 0; i-- {
		edge := "hasProductsWith"
		if i%2 == 1 {
			edge = "hasMerchantWith"
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
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		tea := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
		s.NewMerchant(t, "noodle-bar", merchant.StatusACTIVE)
		client, ctx := s.Client()
		client.Product.Create().SetMerchantID(tea.IntID).SetTitle("Longjing zz").SetStatus(product.StatusACTIVE).SaveX(ctx)

		const byVariable = `query($w: MerchantWhereInput) { merchants(first: 10, where: $w) { edges { node { slug } } } }`
		for levels := 1; levels <= 5; levels++ {
			literal, variable := nestedHasFilter(levels)
			inline := s.Query("", `{ merchants(first: 10, where: `+literal+`) { edges { node { slug } } } }`, nil)
			vars := s.Query("", byVariable, map[string]any{"w": variable})
			for _, r := range []*apitest.Response{inline, vars} {
				if levels == 1 {
					// One level runs, answers, and is costed by its predicates:
					// 2 + (1 + 10 × 1) for the filter + 10 nodes.
					if len(r.Errors) > 0 || !r.Contains(`"tea-house"`) || r.Contains(`"noodle-bar"`) {
						t.Fatalf("one level: %s", r.Raw)
					}
					if cost := costOf(t, r); cost["requestedQueryCost"] != float64(2+11+10) {
						t.Fatalf("one level's cost: %s", r.Raw)
					}
					continue
				}
				assertRejected(t, r, guard.ReasonFilterTooDeep)
				if r.Field() != "where" || string(r.Data) != "null" {
					t.Fatalf("%d levels: %s", levels, r.Raw)
				}
			}
		}

		// The same through a nested connection's filter and through and / or / not.
		r := s.Query("", `{ categories { products(first: 5, where: {hasMerchantWith: [{hasProductsWith: [{titleContains: "zz"}]}]}) { totalCount } } }`, nil)
		assertRejected(t, r, guard.ReasonFilterTooDeep)
		deep := map[string]any{"slug": "tea-house"}
		for range guard.DefaultMaxFilterDepth {
			deep = map[string]any{"or": []any{deep}}
		}
		assertRejected(t, s.Query("", byVariable, map[string]any{"w": deep}), guard.ReasonFilterTooDeep)
		r = s.MustQuery("", byVariable, map[string]any{"w": deep["or"].([]any)[0]}) // at the limit
		if !r.Contains(`"tea-house"`) || r.Contains(`"noodle-bar"`) {
			t.Fatalf("a filter at the depth limit: %s", r.Raw)
		}
	})
}

// TestNodesAreCostedAndCapped: nodes(ids:) costs a lookup per id and takes at most 100
// ids, as a page takes at most 100 items.
func TestNodesAreCostedAndCapped(t *testing.T) {
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
		if r.Field() != "ids" || string(r.Data) != "null" {
			t.Fatalf("%d ids: %.300s", n, r.Raw)
		}
	}
}
