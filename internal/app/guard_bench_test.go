package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/xiadan/xiadan/graph"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/app"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/testdb"
)

// The rejection benchmarks send ~60 KB abusive queries (just under the body cap) to the
// real handler ("with-guard"), and, for comparison, the same bodies to a handler built the
// same way but without the guard ("gqlgen-only"). Each shape comes twice:
//
//   - "max-tokens": as many tokens as 60 KB holds, the natural flood; the token limit
//     refuses it after reading its first 5,000 tokens;
//   - "under-token-limit": long names (or spacing) keep it under the token limit, so the
//     guard parses all 60 KB and the check the benchmark is named after refuses it.
//
// Each iteration ends the query with a different comment, so gqlgen's query cache never
// answers for the validator. Without the guard the floods take up to tens of seconds
// each, so run those once:
//
//	go test -run '^$' -bench '/with-guard' -benchtime 20x ./internal/app
//	go test -run '^$' -bench '/gqlgen-only' -benchtime 1x ./internal/app

// abusiveSize is the length of the abusive queries: with the JSON around them and the
// comment that varies, the body stays under the 64 KB cap.
const abusiveSize = 60_000

// repeatTo builds prefix + unit(0) + unit(1) + … + suffix up to about size bytes.
func repeatTo(size int, prefix string, unit func(i int) string, suffix func(n int) string) string {
	var b strings.Builder
	b.WriteString(prefix)
	n := 0
	for ; b.Len()+len(suffix(n)) < size; n++ {
		b.WriteString(unit(n))
	}
	b.WriteString(suffix(n))
	return b.String()
}

func closing(s string) func(int) string { return func(int) string { return s } }

// long is a name of width characters.
func long(prefix string, i, width int) string {
	return fmt.Sprintf("%s%0*d", prefix, width-len(prefix), i)
}

type abusiveShape struct{ maxTokens, underTokenLimit string }

var abusive = map[string]abusiveShape{
	"Deep": {
		// parent { parent { … } }, 5,452 levels: gqlparser itself stops at 1,000.
		maxTokens: repeatTo(abusiveSize, `{ categoryBySlug(slug: "tea") {`, func(int) string { return " parent {" },
			func(n int) string { return " id" + strings.Repeat(" }", n+1) + " }" }),
		// Aliased levels, 990 of them: under gqlparser's nesting limit and the token limit.
		underTokenLimit: repeatTo(abusiveSize, `{ categoryBySlug(slug: "tea") {`, func(i int) string { return " " + long("p", i, 48) + ": parent {" },
			func(n int) string { return " id" + strings.Repeat(" }", n+1) + " }" }),
	},
	"AliasFlood": {
		// a0: categories { id } a1: …: each alias a database query if executed.
		maxTokens:       repeatTo(abusiveSize, "{", func(i int) string { return fmt.Sprintf(" a%d: categories { id }", i) }, closing(" }")),
		underTokenLimit: repeatTo(abusiveSize, "{", func(i int) string { return fmt.Sprintf(" %s: categories { id }", long("a", i, 56)) }, closing(" }")),
	},
	"FragmentFlood": {
		// Fragments spreading the next one twice: 2^n fields once expanded.
		maxTokens: repeatTo(abusiveSize, "query { ...F0 }\n", func(i int) string {
			return fmt.Sprintf("fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
		}, func(n int) string { return fmt.Sprintf("fragment F%d on Query { me { id } }\n", n) }),
		underTokenLimit: repeatTo(abusiveSize, "query { ..."+long("F", 0, 48)+" }\n", func(i int) string {
			return fmt.Sprintf("fragment %s on Query { ...%s ...%s }\n", long("F", i, 48), long("F", i+1, 48), long("F", i+1, 48))
		}, func(n int) string { return fmt.Sprintf("fragment %s on Query { me { id } }\n", long("F", n, 48)) }),
	},
	"DuplicateFieldFlood": {
		// me { id id id … }: 20,000 times the same field.
		maxTokens: repeatTo(abusiveSize, "{ me {", func(int) string { return " id" }, closing(" } }")),
		// __typename, spaced out: 4,600 times.
		underTokenLimit: repeatTo(abusiveSize, "{", func(int) string { return "   __typename" }, closing(" }")),
	},
	"DirectiveFlood": {
		// id @include(if: true) id @include(if: true) …
		maxTokens: repeatTo(abusiveSize, "{ me {", func(int) string { return " id @include(if: true)" }, closing(" } }")),
		// The same through a variable with a long name.
		underTokenLimit: repeatTo(abusiveSize, "query($"+long("v", 0, 96)+": Boolean = true) { me {", func(int) string {
			return " id @include(if: $" + long("v", 0, 96) + ")"
		}, closing(" } }")),
	},
}

// typicalQuery is a storefront page: categories, a page of merchants, the viewer.
const typicalQuery = `query Storefront {
	categories { id name nameEn children { id name } }
	merchants(first: 20) { totalCount edges { cursor node { id name slug description logoURL } } pageInfo { hasNextPage endCursor } }
	me { id displayName merchant { name } }
}`

func BenchmarkRejectDeepQuery(b *testing.B)     { benchmarkReject(b, abusive["Deep"]) }
func BenchmarkRejectAliasFlood(b *testing.B)    { benchmarkReject(b, abusive["AliasFlood"]) }
func BenchmarkRejectFragmentFlood(b *testing.B) { benchmarkReject(b, abusive["FragmentFlood"]) }
func BenchmarkRejectDuplicateFieldFlood(b *testing.B) {
	benchmarkReject(b, abusive["DuplicateFieldFlood"])
}
func BenchmarkRejectDirectiveFlood(b *testing.B) { benchmarkReject(b, abusive["DirectiveFlood"]) }

func BenchmarkAcceptTypicalQuery(b *testing.B) {
	benchmarkGuard(b, newBenchServer(b), "", typicalQuery, false)
}

func benchmarkReject(b *testing.B, shape abusiveShape) {
	s := newBenchServer(b)
	benchmarkGuard(b, s, "max-tokens-", shape.maxTokens, true)
	benchmarkGuard(b, s, "under-token-limit-", shape.underTokenLimit, true)
}

// benchServer is the real server and the same without the guard, on one database.
type benchServer struct{ guarded, unguarded string }

func newBenchServer(b *testing.B) benchServer {
	s := apitest.New(b, testdb.SQLiteURL(b))
	unguarded := httptest.NewServer(loader.Middleware(s.DB.Client, 0, unguardedHandler(s.App)))
	b.Cleanup(unguarded.Close)
	return benchServer{guarded: s.HTTP.URL + "/graphql", unguarded: unguarded.URL}
}

// benchmarkGuard sends query to the real handler ("with-guard") and to one without the
// guard ("gqlgen-only"), checking once that the guard rejects it (or accepts it).
func benchmarkGuard(b *testing.B, s benchServer, variant, query string, reject bool) {
	for _, target := range []struct {
		name, url string
		guarded   bool
	}{
		{"with-guard", s.guarded, true},
		{"gqlgen-only", s.unguarded, false},
	} {
		b.Run(variant+target.name, func(b *testing.B) {
			body := func(i int) []byte {
				raw, _ := json.Marshal(map[string]any{"query": fmt.Sprintf("%s\n# %d", query, i)})
				if len(raw) > app.MaxBodyBytes {
					b.Fatalf("body of %d bytes is over the cap", len(raw))
				}
				return raw
			}
			status, res := postRaw(b, target.url, body(-1))
			var out struct {
				Errors []struct {
					Message    string         `json:"message"`
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			_ = json.Unmarshal(res, &out)
			if target.guarded {
				rejected := len(out.Errors) == 1 && out.Errors[0].Extensions["reason"] != nil
				if rejected != reject {
					b.Fatalf("guard rejected: %v, want %v: %.500s", rejected, reject, res)
				}
			}
			summary := fmt.Sprintf("status %d, %d errors", status, len(out.Errors))
			if len(out.Errors) > 0 {
				summary += fmt.Sprintf(", first: %v %.100q", out.Errors[0].Extensions["reason"], out.Errors[0].Message)
			}
			b.Logf("%d-byte body: %s", len(body(0)), summary)

			b.SetBytes(int64(len(body(0))))
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				raw := body(i)
				b.StartTimer()
				postRaw(b, target.url, raw)
			}
		})
	}
}

// unguardedHandler is the GraphQL handler as app builds it (POST only) but without
// guard.Install, and so without a parser token limit, shape checks or cost limit.
func unguardedHandler(a *app.App) http.Handler {
	srv := handler.New(graph.NewSchema(&graph.Resolver{Client: a.DB.Client, Auth: a.Auth}))
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	return srv
}

func postRaw(b *testing.B, url string, body []byte) (int, []byte) {
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, raw
}
