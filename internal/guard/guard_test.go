package guard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/xiadan/xiadan/graph"
)

// schemaGuard is a guard that has learnt the real schema.
func schemaGuard(t testing.TB) *Guard {
	t.Helper()
	g := New(Options{})
	if err := g.Validate(graph.NewSchema(&graph.Resolver{})); err != nil {
		t.Fatal(err)
	}
	return g
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// nested returns open, n times, then inner, then n closing braces.
func nested(open string, n int, inner string) string {
	return strings.Repeat(open+" { ", n) + inner + strings.Repeat(" }", n)
}

// chainedFragments is a document of n fragments each spreading the next one twice: 2^n
// fields once expanded.
func chainedFragments(n int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range n {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", n)
	return b.String()
}

// TestGuardShape pins which limit each shape of abusive document breaks, on the parsed
// document alone (the app tests drive the same shapes through the HTTP handler).
func TestGuardShape(t *testing.T) {
	g := New(Options{})
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " a%d: __typename", i)
		}
		return b.String() + " }"
	}
	for _, tc := range []struct {
		name, query, reason string
	}{
		{"depth at the limit", "{ " + nested("categories", 11, "id") + " }", ""},
		{"depth over the limit", "{ " + nested("categories", 12, "id") + " }", ReasonQueryTooDeep},
		{"depth through fragments", "{ a { ...A } } fragment A on T { b { ...B } } fragment B on T { " + nested("c", 11, "id") + " }", ReasonQueryTooDeep},
		{"depth through inline fragments", "{ " + strings.Repeat("a { ... on T { ", 13) + "id" + strings.Repeat(" } }", 13) + " }", ReasonQueryTooDeep},
		{"depth in an unused fragment", "{ a } fragment X on T { " + nested("b", 13, "id") + " }", ReasonQueryTooDeep},
		{"introspection deeper than data may go", "{ __type(name: \"T\") { " + nested("ofType", DefaultMaxIntrospectionDepth-2, "name") + " } }", ""},
		{"introspection too deep", "{ __type(name: \"T\") { " + nested("ofType", DefaultMaxIntrospectionDepth-1, "name") + " } }", ReasonQueryTooDeep},
		{"introspection fragment too deep", "{ __schema { types { ...T } } } fragment T on __Type { " + nested("ofType", DefaultMaxIntrospectionDepth, "name") + " }", ReasonQueryTooDeep},
		{"unused introspection fragment too deep", "{ a } fragment T on __Type { " + nested("ofType", DefaultMaxIntrospectionDepth, "name") + " }", ReasonQueryTooDeep},
		{"data below introspection depth", "{ me { __type(name: \"T\") { name } } }", ""},
		{"aliases at the limit", aliases(50), ""},
		{"alias flood", aliases(51), ReasonTooManyAliases},
		{"aliases multiplied by a fragment", "{ ...A ...A ...A } fragment A on Query { " + aliases(20)[1:], ReasonTooManyAliases},
		{"duplicate field flood", "{ me { " + strings.Repeat("id ", 600) + "} }", ReasonTooManySelections},
		{"fragment flood", chainedFragments(40), ReasonTooManySelections},
		{"a chain of fragments within the limits", chainedFragments(4), ""},
		{"a chain of fragments repeating a field", chainedFragments(7), ReasonRepeatedField},
		{"a field repeated at the limit", "{ me { " + strings.Repeat("id ", 20) + "} }", ""},
		{"a field repeated too often", "{ me { " + strings.Repeat("id ", 21) + "} }", ReasonRepeatedField},
		{"repeats through fragments", "{ me { ...A ... on User { ...A } } } fragment A on User { " + strings.Repeat("id ", 11) + "}", ReasonRepeatedField},
		{"repeats in an unused fragment", "{ me { id } } fragment A on User { " + strings.Repeat("id ", 21) + "}", ReasonRepeatedField},
		{"aliases are response names", "{ " + strings.Repeat("a: me { id } ", 21) + "}", ReasonRepeatedField},
		{"too many fragments", strings.Repeat("fragment X on Query { __typename } ", 101) + "{ __typename }", ReasonTooManyFragments},
		{"fragment cycle", "{ ...A } fragment A on Query { ...B } fragment B on Query { me { ...A } }", ReasonFragmentCycle},
		{"fragment spreading itself", "{ ...A } fragment A on Query { ...A }", ReasonFragmentCycle},
		{"unknown fragment is for validation", "{ ...Missing }", ""},
		{"directive flood", "{ me { " + strings.Repeat("id @include(if: true) ", 51) + "} }", ReasonTooManyDirectives},
		{"directive repeated on a field", "{ me @include(if: true) @include(if: true) { id } }", ReasonDuplicateDirective},
		{"directive flood on one field", "{ me " + strings.Repeat("@skip(if: false) ", 500) + "{ id } }", ReasonTooManyDirectives},
		{"directives on operations and variables count", "query Q($a: Int @x @y) @z " + "{ me { " + strings.Repeat("id @include(if: true) ", 48) + "} }", ReasonTooManyDirectives},
		{"different directives on a field", "{ me @include(if: true) @skip(if: false) { id } }", ""},
		{"operations at the limit", strings.Repeat("query { __typename } ", 20), ""},
		{"too many operations", strings.Repeat("query { __typename } ", 21), ReasonTooManyOperations},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, perr := g.parseQuery(tc.query)
			if perr != nil || doc == nil {
				t.Fatalf("parse: %v", perr)
			}
			err := g.checkShape(doc)
			got := ""
			if err != nil {
				got = err.Extensions["reason"].(string)
				if err.Extensions["code"] != "BAD_USER_INPUT" {
					t.Fatalf("code: %v", err.Extensions)
				}
			}
			if got != tc.reason {
				t.Fatalf("reason %q, want %q (%v)", got, tc.reason, err)
			}
		})
	}
}

// TestGuardTokenLimit pins gqlparser's messages for an exceeded token limit and nesting
// depth, which is how the guard tells them from syntax errors.
func TestGuardTokenLimit(t *testing.T) {
	g := New(Options{})
	query := "{" + strings.Repeat(" a", DefaultTokenLimit) + " }"
	if _, err := g.parseQuery(query); err == nil || err.Extensions["reason"] != ReasonTokenLimit {
		t.Fatalf("over the token limit: %v", err)
	}
	if doc, err := New(Options{TokenLimit: DefaultTokenLimit + 2}).parseQuery(query); err != nil || doc == nil {
		t.Fatalf("at the token limit: %v", err)
	}
	if doc, err := g.parseQuery("{ a("); err != nil || doc != nil {
		t.Fatalf("a syntax error is left to gqlgen: %v %v", doc, err)
	}
	// gqlparser refuses to nest more than 1,000 levels, before the token limit here.
	if _, err := g.parseQuery(strings.Repeat("{ a ", 1001)); err == nil || err.Extensions["reason"] != ReasonQueryTooDeep {
		t.Fatalf("deep braces: %v", err)
	}
	if _, err := g.parseQuery(strings.Repeat("{ a b c d e ", 1001)); err == nil || err.Extensions["reason"] != ReasonTokenLimit {
		t.Fatalf("deep braces over the token limit: %v", err)
	}
}

// TestGuardIntrospectionQuery checks that GraphiQL's introspection query, with and without
// its optional fields, fits every limit: it nests 15 levels (9 of them ofType).
func TestGuardIntrospectionQuery(t *testing.T) {
	g := schemaGuard(t)
	for _, name := range []string{"graphiql-introspection.graphql", "graphiql-introspection-full.graphql"} {
		query := readTestdata(t, name)
		doc, err := g.parseQuery(query)
		if err != nil || doc == nil {
			t.Fatalf("%s: parse: %v", name, err)
		}
		if err := g.checkShape(doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w := &shapeWalker{maxDirectives: 50, fragments: map[string]*ast.FragmentDefinition{}, memo: map[string]shape{}, visiting: map[string]bool{}}
		for _, f := range doc.Fragments {
			w.fragments[f.Name] = f
		}
		s := w.set(doc.Operations[0].SelectionSet)
		if s.introspectionDepth != 15 || s.depth != 0 {
			t.Fatalf("%s: %+v", name, s)
		}
		op := validated(t, g, query)
		if cost, err := g.requestedCost(op, nil); err != nil || cost != 0 {
			t.Fatalf("%s: introspection costs %d", name, cost)
		}
	}
}

// validated parses and validates query against the real schema, as gqlgen does before the
// cost is estimated.
func validated(t testing.TB, g *Guard, query string) *ast.OperationDefinition {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if errs := validator.Validate(g.schema, doc); len(errs) > 0 {
		t.Fatalf("validate: %v", errs)
	}
	return doc.Operations[0]
}

// TestCostEstimate pins the cost formula on real queries of the schema.
func TestCostEstimate(t *testing.T) {
	g := schemaGuard(t)
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		want  int64
	}{
		{"scalars are free", `{ me { id email } }`, nil, 1},
		{"objects cost one", `{ me { id merchant { name } } }`, nil, 2},
		{"__typename is free", `{ __typename me { __typename } }`, nil, 1},
		{"a connection costs 2 plus a node per item", `{ merchants(first: 10) { totalCount edges { cursor node { id name } } pageInfo { hasNextPage } } }`, nil, 12},
		{"last counts like first", `{ merchants(last: 7) { edges { node { id } } } }`, nil, 9},
		{"first from a variable", `query($n: Int) { merchants(first: $n) { edges { node { id } } } }`, map[string]any{"n": int64(30)}, 32},
		{"no first nor last assumes a full page", `{ merchants { edges { node { id } } } }`, nil, 102},
		{"a connection without nodes", `{ merchants(first: 100) { totalCount } }`, nil, 2},
		{"lists of objects count ten items", `{ categories { name children { name } } }`, nil, 11},
		{"a three-level category menu", `{ categories { name children { name children { name } } } }`, nil, 111},
		{"every id is a lookup", `{ nodes(ids: ["1", "2", "3"]) { id ... on Merchant { name } } }`, nil, 1 + 3},
		{"ids from a variable", `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Product { merchant { name } } } }`, map[string]any{"ids": []any{"1", "2", "3"}}, 1 + 3*2},
		{"the most ids", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": manyIDs(100)}, 1 + 100},
		{"a where filter counts its predicates", `{ merchants(first: 10, where: {status: ACTIVE, nameContains: "茶"}) { edges { node { id } } } }`, nil, 2 + 2 + 10},
		{"and, or and not add what they hold", `{ merchants(first: 1, where: {or: [{nameContains: "a"}, {and: [{slug: "b"}, {not: {nameContains: "c"}}]}]}) { totalCount } }`, nil, 2 + 3},
		{"has…With is a subquery over the related rows", `{ merchantBySlug(slug: "a") { products(first: 10, where: {hasVariantsWith: [{skuContains: "茶", positionGT: 0}]}) { edges { node { id } } } } }`, nil, 1 + 2 + (1 + 10*2) + 10},
		{"a where filter from a variable", `query($w: ProductWhereInput) { merchantBySlug(slug: "a") { products(first: 10, where: $w) { edges { node { id } } } } }`,
			map[string]any{"w": map[string]any{"hasVariantsWith": []any{map[string]any{"skuContains": "茶"}}, "status": "ACTIVE"}}, 1 + 2 + 1 + 11 + 10},
		{"a nested connection's filter runs for each parent", `{ merchants(first: 10) { edges { node { products(first: 2, where: {titleContains: "茶"}) { totalCount } } } } }`, nil, 2 + 10*(1+2+1)},
		{"fragments on different types cost the dearest",
			`{ node(id: "1") { ... on Product { merchant { name } category { name } } ... on User { m: merchant { name } } } }`, nil, 3},
		{"fragments on an interface always apply",
			`{ node(id: "1") { ... on Node { id } ... on Product { merchant { name } } } }`, nil, 2},
		{"skip and include", `query($no: Boolean!) { me @skip(if: true) { id } a: me @include(if: $no) { id } b: me { merchant @include(if: false) { id } } }`, map[string]any{"no": false}, 1},
		{"nested connections multiply",
			`{ merchants(first: 10) { edges { node { products(first: 5) { edges { node { title variants { sku price { amount } } } } } } } } }`, nil,
			2 + 10*(1+2+5*(1+1))}, // variants of scalars and Money (a free value object) cost 1
		{"the playground's Browse products",
			`query Browse { products(first: 10, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount edges { node { id title kind merchant { name } variants { sku price { amount currency formatted } stock available } } } pageInfo { hasNextPage endCursor } } }`, nil,
			2 + 10*(1+1+1)},
		{"a grid of fifty products",
			`{ products(first: 50) { edges { node { title featuredImage { url } priceRange { min { formatted } max { formatted } } merchant { name } variants { sku price { formatted } } } } } }`, nil,
			2 + 50*(1+1+1)}, // image, price range and prices are free value objects
		{"nested full pages",
			`{ products(first: 100) { edges { node { variants { sku } merchant { products(first: 100) { edges { node { id } } } } } } } }`, nil,
			2 + 100*(1+1+1+(2+100))},
		{"absurd first saturates", `{ products(first: 2000000000) { edges { node { merchant { products(first: 2000000000) { edges { node { merchant { products(first: 2000000000) { edges { node { id } } } } } } } } } } } }`, nil, costCap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := validated(t, g, tc.query)
			if got, err := g.requestedCost(op, tc.vars); err != nil || got != tc.want {
				t.Fatalf("cost %d, want %d (%v)", got, tc.want, err)
			}
		})
	}
}

func manyIDs(n int) []any {
	ids := make([]any, n)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	return ids
}

// nestedHas is a products filter of n has…With levels, alternating product → variants and
// variant → product: the shape of the review's runaway filter (merchant → products →
// merchant …, which ran for minutes before the depth limits).
func nestedHas(n int) map[string]any {
	inner := map[string]any{"skuContains": "zz"}
	if n%2 == 0 { // the innermost filter is on a product
		inner = map[string]any{"titleContains": "zz"}
	}
	for i := n - 1; i >= 0; i-- {
		if i%2 == 0 {
			inner = map[string]any{"hasVariantsWith": []any{inner}}
		} else {
			inner = map[string]any{"hasProductWith": []any{inner}}
		}
	}
	return inner
}

// TestFilterLimits pins what the cost estimate refuses outright, whatever the cost: a
// where filter nesting too deep, with has…With inside has…With, or too many ids.
func TestFilterLimits(t *testing.T) {
	g := schemaGuard(t)
	deepOr := map[string]any{"titleContains": "x"}
	for range DefaultMaxFilterDepth {
		deepOr = map[string]any{"or": []any{deepOr}}
	}
	atDepth := map[string]any{"titleContains": "x"}
	for range DefaultMaxFilterDepth - 1 {
		atDepth = map[string]any{"not": atDepth}
	}
	const merchants = `query($w: ProductWhereInput) { merchantBySlug(slug: "a") { products(first: 1, where: $w) { totalCount } } }`
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		reason      string
	}{
		{"one has…With level", merchants, map[string]any{"w": nestedHas(1)}, ""},
		{"has…With inside has…With", merchants, map[string]any{"w": nestedHas(2)}, ReasonFilterTooDeep},
		{"four has…With levels", merchants, map[string]any{"w": nestedHas(4)}, ReasonFilterTooDeep},
		{"has…With inside has…With, written inline",
			`{ merchantBySlug(slug: "a") { products(first: 1, where: {hasVariantsWith: [{hasProductWith: [{titleContains: "x"}]}]}) { totalCount } } }`, nil, ReasonFilterTooDeep},
		{"has…With inside a nested connection's filter",
			`{ categoryBySlug(slug: "tea") { children { products(first: 5, where: {hasVariantsWith: [{hasProductWith: [{titleContains: "x"}]}]}) { totalCount } } } }`, nil, ReasonFilterTooDeep},
		{"and, or, not at the depth limit", merchants, map[string]any{"w": atDepth}, ""},
		{"or nested past the depth limit", merchants, map[string]any{"w": deepOr}, ReasonFilterTooDeep},
		{"has…With under or, within the depth", merchants, map[string]any{"w": map[string]any{"or": []any{nestedHas(1), map[string]any{"titleContains": "a"}}}}, ""},
		{"ids at the limit", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": manyIDs(DefaultMaxIDs)}, ""},
		{"too many ids", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": manyIDs(5000)}, ReasonTooManyIDs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.requestedCost(validated(t, g, tc.query), tc.vars)
			got := ""
			if err != nil {
				got, _ = err.Extensions["reason"].(string)
				if err.Extensions["code"] != "BAD_USER_INPUT" || err.Extensions["field"] == nil || err.Extensions["limit"] == nil {
					t.Fatalf("extensions: %v", err.Extensions)
				}
			}
			if got != tc.reason {
				t.Fatalf("reason %q, want %q (%v)", got, tc.reason, err)
			}
		})
	}
}

// TestGuardInstalledBeforePersistedQueries checks the fallback for a handler that looks
// persisted queries up after the guard ran, with a cache filled elsewhere (a cache shared
// by servers, say): the shape is then checked after validation, still before anything is
// resolved.
func TestGuardInstalledBeforePersistedQueries(t *testing.T) {
	cache := lru.New[string](10)
	srv := handler.New(graph.NewSchema(&graph.Resolver{}))
	srv.AddTransport(transport.POST{})
	Install(srv, Options{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: cache})

	query := "{ me { " + strings.Repeat("id ", 600) + "} }"
	sum := sha256.Sum256([]byte(query))
	hash := hex.EncodeToString(sum[:])
	cache.Add(t.Context(), hash, query)
	raw, _ := json.Marshal(map[string]any{
		"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}},
	})
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var res struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || len(res.Errors) != 1 ||
		res.Errors[0].Extensions["reason"] != ReasonTooManySelections {
		t.Fatalf("%.500s", rec.Body)
	}
}
