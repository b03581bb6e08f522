package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// guardReasons are the reasons a pre-validation refusal may give.
var guardReasons = map[string]bool{
	ReasonQueryTooLarge: true, ReasonTokenLimit: true, ReasonTooManyOperations: true, ReasonTooManyFragments: true,
	ReasonTooManyDirectives: true, ReasonDuplicateDirective: true, ReasonFragmentCycle: true, ReasonQueryTooDeep: true,
	ReasonTooManyAliases: true, ReasonTooManySelections: true, ReasonRepeatedField: true, ReasonFilterTooDeep: true, ReasonTooManyIDs: true,
}

// FuzzGuard sends arbitrary documents and variables through both of the guard's checks as
// gqlgen would call them. A refusal is BAD_USER_INPUT with a known reason; an acceptance is
// repeatable (the accepted-query cache answers the same) and really within the limits that
// can be counted on the parsed document; and for a document that then validates against
// the real schema, the post-validation shape check agrees and the cost estimate, with any
// coerced variables, is never negative (it saturates rather than overflows).
func FuzzGuard(f *testing.F) {
	g := schemaGuard(f)
	for _, q := range []string{
		readTestdata(f, "graphiql-introspection.graphql"),
		`{ me { id displayName merchant { name } } }`,
		`query($n: Int) { products(first: $n) { edges { node { id title variants { sku price { amount } } } } } }`,
		`query($n: Int) { merchants(last: $n) { totalCount edges { node { products(first: 100) { edges { node { id } } } } } } }`,
		`query Q($ids: [ID!]!) { nodes(ids: $ids) { id ... on Product { title } ... on Merchant { name } } }`,
		`{ categories { ...C children { ...C children { ...C } } } } fragment C on Category { id name }`,
		"{ " + nested("categories", 12, "id") + " }",
		chainedFragments(8),
		`query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }`,
		`{ me @include(if: true) @include(if: false) { id } }`,
		`{ a: me { id } b: me { id } c: me { id } }`,
		`mutation { logout(refreshToken: "x") }`,
		`subscription { myOrderEvents { cursor } }`,
		`{ __type(name: "Product") { fields { name type { ofType { ofType { name } } } } } }`,
		`{ products(first: 1) { ... on ProductConnection { totalCount } } }`,
		`query A { __typename } query B { __typename }`,
		`{`, `}`, `{ a(b: "\u0000") }`, `# only a comment`, ``,
	} {
		f.Add(q, []byte(`{"n": 10, "ids": ["1", "2"]}`))
	}
	f.Add(`query($n: Int) { products(first: $n) { totalCount } }`, []byte(`{"n": 2147483647}`))
	f.Add(`query($n: Int) { products(last: $n) { edges { node { id } } } }`, []byte(`{"n": -5}`))

	f.Fuzz(func(t *testing.T, query string, varsJSON []byte) {
		first := g.MutateOperationParameters(opContext(), &graphql.RawParams{Query: query})
		if first != nil {
			checkRefusal(t, query, first)
			return
		}
		if again := g.MutateOperationParameters(opContext(), &graphql.RawParams{Query: query}); again != nil {
			t.Fatalf("accepted %q once, then refused it: %v", query, again)
		}
		if query == "" {
			return
		}
		doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, g.opts.TokenLimit)
		if err != nil {
			return // a syntax error, left to gqlgen to report
		}
		if len(query) > g.opts.MaxQueryBytes || len(doc.Operations) > g.opts.MaxOperations || len(doc.Fragments) > g.opts.MaxFragments {
			t.Fatalf("accepted %q: %d bytes, %d operations, %d fragments", query, len(query), len(doc.Operations), len(doc.Fragments))
		}
		if errs := validator.Validate(g.schema, doc); len(errs) > 0 {
			return
		}
		if err := g.checkShape(doc); err != nil {
			t.Fatalf("accepted %q before validation, refused after: %v", query, err)
		}
		var raw map[string]any
		dec := json.NewDecoder(bytes.NewReader(varsJSON))
		dec.UseNumber()
		if dec.Decode(&raw) != nil {
			raw = nil
		}
		for _, op := range doc.Operations {
			vars, err := validator.VariableValues(g.schema, op, raw)
			if err != nil {
				continue // refused by gqlgen before the cost is estimated
			}
			cost, refusal := g.requestedCost(op, vars)
			if refusal != nil {
				checkRefusal(t, query, refusal)
			} else if cost < 0 {
				t.Fatalf("%q with %s costs %d", query, varsJSON, cost)
			}
			oc := &graphql.OperationContext{Doc: doc, Operation: op, Variables: vars,
				ResolverMiddleware: func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) }}
			if err := g.MutateOperationContext(context.Background(), oc); err != nil {
				checkRefusal(t, query, err)
			}
		}
	})
}

func opContext() context.Context {
	return graphql.WithOperationContext(context.Background(), &graphql.OperationContext{})
}

// checkRefusal checks that err is the guard's refusal, not some other failure.
func checkRefusal(t *testing.T, query string, err *gqlerror.Error) {
	t.Helper()
	reason, _ := err.Extensions["reason"].(string)
	if err.Extensions["code"] != badUserInput || !(guardReasons[reason] || reason == ReasonQueryTooComplex) ||
		strings.TrimSpace(err.Message) == "" {
		t.Fatalf("refused %q with %+v", query, err)
	}
}
