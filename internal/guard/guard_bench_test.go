package guard

import (
	"context"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
)

// BenchmarkGuardTypicalQuery is what the guard adds to an accepted storefront query: the
// second parse and shape check before validation (in "first", when the query text is new;
// in "repeated", when its shape was accepted before), and the cost estimate after it.
// internal/app's benchmarks measure whole requests.
func BenchmarkGuardTypicalQuery(b *testing.B) {
	b.Run("first", func(b *testing.B) { benchmarkTypicalQuery(b, true) })
	b.Run("repeated", func(b *testing.B) { benchmarkTypicalQuery(b, false) })
}

func benchmarkTypicalQuery(b *testing.B, fresh bool) {
	g := schemaGuard(b)
	query := `query Storefront {
		categories { id name nameEn children { id name } }
		merchants(first: 20) { totalCount edges { cursor node { id name slug description logoURL } } pageInfo { hasNextPage endCursor } }
		me { id displayName merchant { name } }
	}`
	op := validated(b, g, query)
	ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{})
	b.ReportAllocs()
	for b.Loop() {
		if fresh {
			g.accepted = lru.New[struct{}](acceptedCacheSize)
		}
		if err := g.MutateOperationParameters(ctx, &graphql.RawParams{Query: query}); err != nil {
			b.Fatal(err)
		}
		if cost, err := g.requestedCost(op, nil); err != nil || cost != 11+22+2 {
			b.Fatal(cost)
		}
	}
}

// BenchmarkGuardIntrospectionQuery is the guard's share of GraphiQL's introspection query.
func BenchmarkGuardIntrospectionQuery(b *testing.B) {
	g := schemaGuard(b)
	query := readTestdata(b, "graphiql-introspection.graphql")
	ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{})
	b.ReportAllocs()
	for b.Loop() {
		g.accepted = lru.New[struct{}](acceptedCacheSize)
		if err := g.MutateOperationParameters(ctx, &graphql.RawParams{Query: query}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGuardRejectDuplicateFieldFlood is the guard's share of refusing a 60 KB flood,
// without HTTP and JSON around it.
func BenchmarkGuardRejectDuplicateFieldFlood(b *testing.B) {
	g := New(Options{})
	query := "{ me {" + strings.Repeat(" id", 20_000) + " } }"
	ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{})
	b.SetBytes(int64(len(query)))
	b.ReportAllocs()
	for b.Loop() {
		if err := g.MutateOperationParameters(ctx, &graphql.RawParams{Query: query}); err == nil {
			b.Fatal("accepted")
		}
	}
}
