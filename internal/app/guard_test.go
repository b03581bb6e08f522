package app_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/guard"
	"github.com/xiadan/xiadan/internal/seed"
)

// Abusive documents, each small enough for the body cap and breaking one limit.
var (
	// 13 fields from categories down to id.
	deepQuery = "{ categories { " + strings.Repeat("children { ", 11) + "id" + strings.Repeat(" }", 12) + " }"

	aliasFlood = func() string {
		var b strings.Builder
		b.WriteString("{")
		for i := range 60 {
			fmt.Fprintf(&b, " m%d: me { id }", i)
		}
		return b.String() + " }"
	}()

	// 40 fragments each spreading the next twice: 2^40 fields once expanded.
	fragmentFlood = func() string {
		var b strings.Builder
		b.WriteString("query { ...F0 }\n")
		for i := range 40 {
			fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
		}
		b.WriteString("fragment F40 on Query { me { id } }\n")
		return b.String()
	}()

	manyFragments = func() string {
		var b strings.Builder
		b.WriteString("query { ...F0 }\n")
		for i := range 120 {
			fmt.Fprintf(&b, "fragment F%d on Query { ...F%d }\n", i, i+1)
		}
		b.WriteString("fragment F120 on Query { __typename }\n")
		return b.String()
	}()

	duplicateFieldFlood = "{ me { " + strings.Repeat("id ", 2000) + "} }"

	directiveFlood = "{ me { " + strings.Repeat("id @include(if: true) ", 60) + "} }"

	repeatedDirective = "{ me " + strings.Repeat("@include(if: true) ", 3) + "{ id } }"

	tokenFlood = "{" + strings.Repeat(" id", guard.DefaultTokenLimit) + " }"

	manyOperations = func() string {
		var b strings.Builder
		for i := range 25 {
			fmt.Fprintf(&b, "query Q%d { __typename }\n", i)
		}
		return b.String()
	}()

	// 100 products, each with its variants and its merchant's first 100 products.
	tooComplex = `{ products(first: 100) { edges { node { title variants { sku price { amount } }
		merchant { name products(first: 100) { edges { node { id title } } } } } } } }`
)

func TestGuardRejectsAbusiveQueries(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	for _, tc := range []struct {
		name, query, operation, reason string
	}{
		{"deep nesting", deepQuery, "", guard.ReasonQueryTooDeep},
		{"alias flood", aliasFlood, "", guard.ReasonTooManyAliases},
		{"fragment flood", fragmentFlood, "", guard.ReasonTooManySelections},
		{"many fragments", manyFragments, "", guard.ReasonTooManyFragments},
		{"fragment cycle", "{ ...A } fragment A on Query { me { ...B } } fragment B on User { merchant { ...C } } fragment C on Merchant { ...A }", "", guard.ReasonFragmentCycle},
		{"duplicate field flood", duplicateFieldFlood, "", guard.ReasonTooManySelections},
		{"repeated field", "{ me { " + strings.Repeat("id ", 30) + "} }", "", guard.ReasonRepeatedField},
		{"directive flood", directiveFlood, "", guard.ReasonTooManyDirectives},
		{"repeated directive", repeatedDirective, "", guard.ReasonDuplicateDirective},
		{"token limit", tokenFlood, "", guard.ReasonTokenLimit},
		{"too many operations", manyOperations, "Q0", guard.ReasonTooManyOperations},
		{"too deep introspection", `{ __type(name: "Product") { fields { type { ` + strings.Repeat("ofType { ", 20) + "name" + strings.Repeat(" }", 24), "", guard.ReasonQueryTooDeep},
		{"over the cost limit", tooComplex, "", guard.ReasonQueryTooComplex},
		{"huge first over the cost limit", `{ merchants(first: 100000) { edges { node { id } } } }`, "", guard.ReasonQueryTooComplex},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, s, map[string]any{"query": tc.query, "operationName": tc.operation})
			assertRejected(t, r, tc.reason)
			if r.Data != nil && string(r.Data) != "null" {
				t.Fatalf("a rejected operation ran: %s", r.Raw)
			}
		})
	}
}

// TestGuardHugeFirst keeps the page-size rule of connections: a cheap query with first
// over 100 passes the cost limit and is refused by the connection middleware.
func TestGuardHugeFirst(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	r := s.Query("", `{ merchants(first: 100000) { totalCount } }`, nil)
	if r.Code() != "BAD_USER_INPUT" || r.Field() != "first" {
		t.Fatalf("first: 100000: %s", r.Raw)
	}
}

// TestCostLimitError checks what a caller is told about an operation over the cost limit.
func TestCostLimitError(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	r := s.Query("", tooComplex, nil)
	assertRejected(t, r, guard.ReasonQueryTooComplex)
	ext := r.Errors[0].Extensions
	// 2 + 100 × (node + variants (their prices are free value objects) + merchant with its page of products)
	want := float64(2 + 100*(1+1+(1+2+100)))
	if ext["cost"] != want || ext["maxCost"] != float64(guard.DefaultMaxCost) {
		t.Fatalf("error extensions: %s", r.Raw)
	}
	cost := costOf(t, r)
	if cost["requestedQueryCost"] != want || cost["actualQueryCost"] != float64(0) {
		t.Fatalf("extensions.cost: %s", r.Raw)
	}
}

// TestGuardOnEveryTransport checks that GET requests and persisted queries are guarded
// like POSTed ones.
func TestGuardOnEveryTransport(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))

	t.Run("GET", func(t *testing.T) {
		assertRejected(t, get(t, s, deepQuery), guard.ReasonQueryTooDeep)
		assertRejected(t, get(t, s, aliasFlood), guard.ReasonTooManyAliases)
		assertRejected(t, get(t, s, tooComplex), guard.ReasonQueryTooComplex)
		// The body cap does not cover URLs.
		long := "{ __typename }" + strings.Repeat(" ", guard.DefaultMaxQueryBytes)
		assertRejected(t, get(t, s, long), guard.ReasonQueryTooLarge)
		r := get(t, s, `{ merchants(first: 5) { edges { node { id } } } }`)
		if len(r.Errors) > 0 || costOf(t, r)["requestedQueryCost"] != float64(7) {
			t.Fatalf("GET: %s", r.Raw)
		}
	})

	t.Run("persisted query", func(t *testing.T) {
		for _, tc := range []struct{ query, reason string }{
			{deepQuery, guard.ReasonQueryTooDeep},
			{duplicateFieldFlood, guard.ReasonTooManySelections},
			{tooComplex, guard.ReasonQueryTooComplex},
		} {
			ext := persisted(tc.query)
			// The first request registers the query along with its hash…
			assertRejected(t, post(t, s, map[string]any{"query": tc.query, "extensions": ext}), tc.reason)
			// …and later ones sending only the hash are checked the same.
			assertRejected(t, post(t, s, map[string]any{"extensions": ext}), tc.reason)
		}
		ok := `{ merchants(first: 5) { totalCount } }`
		post(t, s, map[string]any{"query": ok, "extensions": persisted(ok)})
		r := post(t, s, map[string]any{"extensions": persisted(ok)})
		if len(r.Errors) > 0 || costOf(t, r)["requestedQueryCost"] != float64(2) {
			t.Fatalf("persisted query: %s", r.Raw)
		}
	})
}

// TestGuardAcceptsLegitimateQueries runs storefront queries and GraphiQL's introspection
// query through the guards and checks the cost they report.
func TestGuardAcceptsLegitimateQueries(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	owner := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE).Owner
	s.NewMerchant(t, "noodle-bar", merchant.StatusACTIVE)
	client, ctx := s.Client()
	food := client.Category.Create().SetName("食品").SetNameEn("Food").SetSlug("food").SaveX(ctx)
	client.Category.Create().SetName("茶叶").SetNameEn("Tea").SetSlug("tea").SetParent(food).SaveX(ctx)

	storefront := `query Storefront($n: Int!) {
		categories { id name nameEn children { id name } }
		merchants(first: $n) { totalCount edges { cursor node { id name slug } } pageInfo { hasNextPage endCursor } }
		me { id merchant { name } }
	}`
	for _, tc := range []struct {
		name              string
		token             string
		requested, actual float64
	}{
		// categories 1 + 10×1 (children); merchants 2 + 10 nodes; me 1 + merchant 1.
		{"anonymous", "", 11 + 12 + 2, 2 + (2 + 2)},
		{"merchant owner", owner.AccessToken, 11 + 12 + 2, 2 + (2 + 2) + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.MustQuery(tc.token, storefront, map[string]any{"n": 10})
			if !r.Contains(`"Tea"`) && !r.Contains(`"茶叶"`) || !r.Contains(`"tea-house"`) {
				t.Fatalf("data: %s", r.Raw)
			}
			cost := costOf(t, r)
			if cost["requestedQueryCost"] != tc.requested || cost["actualQueryCost"] != tc.actual || cost["maxCost"] != float64(guard.DefaultMaxCost) {
				t.Fatalf("extensions.cost: %v", cost)
			}
		})
	}

	t.Run("nodes by id", func(t *testing.T) {
		r := s.MustQuery("", `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Category { name parent { name } } } }`,
			map[string]any{"ids": []string{fmt.Sprint(food.ID)}})
		// nodes 1, the id looked up 1, its parent 1; the parent was null.
		if cost := costOf(t, r); cost["requestedQueryCost"] != float64(1+1+1) || cost["actualQueryCost"] != float64(1+1) {
			t.Fatalf("extensions.cost: %s", r.Raw)
		}
	})

	for _, name := range []string{"graphiql-introspection.graphql", "graphiql-introspection-full.graphql"} {
		t.Run(name, func(t *testing.T) {
			query, err := os.ReadFile("../guard/testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			r := post(t, s, map[string]any{"query": string(query), "operationName": "IntrospectionQuery"})
			if len(r.Errors) > 0 || !r.Contains(`"__schema":{`) || !r.Contains(`"name":"ProductConnection"`) {
				t.Fatalf("introspection: %.2000s", r.Raw)
			}
			if cost := costOf(t, r); cost["requestedQueryCost"] != float64(0) || cost["actualQueryCost"] != float64(0) {
				t.Fatalf("introspection cost: %v", cost)
			}
		})
	}
}

func assertRejected(t *testing.T, r *apitest.Response, reason string) {
	t.Helper()
	if len(r.Errors) != 1 || r.Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != reason {
		t.Fatalf("want BAD_USER_INPUT %s, got (%d) %.1000s", reason, r.Status, r.Raw)
	}
	if r.Status >= 500 {
		t.Fatalf("status %d", r.Status)
	}
}

func costOf(t *testing.T, r *apitest.Response) map[string]any {
	t.Helper()
	cost, ok := r.Extensions["cost"].(map[string]any)
	if !ok {
		t.Fatalf("no extensions.cost: %.1000s", r.Raw)
	}
	return cost
}

// persisted returns the APQ extension of query.
func persisted(query string) map[string]any {
	h := sha256.Sum256([]byte(query))
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(h[:])}}
}

// post sends body as a GraphQL POST request.
func post(t *testing.T, s *apitest.Server, body map[string]any) *apitest.Response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.HTTP.URL+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return send(t, req)
}

// get sends query as a GraphQL GET request.
func get(t *testing.T, s *apitest.Server, query string) *apitest.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.HTTP.URL+"/graphql?"+url.Values{"query": {query}}.Encode(), nil)
	return send(t, req)
}

func send(t *testing.T, req *http.Request) *apitest.Response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &apitest.Response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", res.StatusCode, raw)
	}
	return out
}

// TestValueObjectsAreFreeInBothCosts checks that Money, price ranges and images, which are
// computed from their parent row, cost nothing in the estimate and in the actual count alike.
func TestValueObjectsAreFreeInBothCosts(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	client, ctx := s.Client()
	if _, err := seed.Demo(ctx, client, seed.Options{Password: apitest.Password}); err != nil {
		t.Fatal(err)
	}
	r := s.MustQuery("", `{ products(first: 1) { edges { node {
		priceRange { min { amount } max { formatted } } featuredImage { url } variants { price { amount } } } } } }`, nil)
	cost := costOf(t, r)
	// connection 2 + one node 1 + its variants list 1; the value objects add nothing.
	if cost["requestedQueryCost"] != float64(4) || cost["actualQueryCost"] != float64(4) {
		t.Fatalf("cost: %s", r.Raw)
	}
}
