package bench_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/bench"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/testdb"
)

// The storefront's requests. productList serves both the list page and keyword search,
// so the two differ only in the filter.
const (
	productList = `query ProductList($first: Int!, $where: ProductFilter) {
  products(first: $first, where: $where) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id
        title
        merchant { name }
        featuredImage { url alt }
        priceRange { min { amount currency } max { amount currency } }
        variants { sku price { amount currency } stock available }
      }
    }
  }
}`

	productDetail = `query ProductDetail($id: ID!) {
  product(id: $id) {
    id
    title
    description
    kind
    images { url alt }
    attributes { name value }
    priceRange { min { amount currency formatted } max { amount currency formatted } }
    available
    merchant { id name slug }
    category { id name nameEn parent { id name } }
    variants { id sku options { name value } price { amount currency formatted } stock available }
  }
}`

	// Five levels of fields that each load rows: a top-level category → its children →
	// their products → each product's merchant → the merchant's products. (Starting from
	// the list of all categories instead costs 6,711 by the query guard's estimate, over
	// its limit of 1,000.)
	nestedCategories = `query NestedCategories($slug: String!) {
  categoryBySlug(slug: $slug) {
    id
    name
    children {
      id
      name
      products(first: 5) {
        edges {
          node {
            id
            title
            merchant {
              id
              name
              products(first: 3) {
                edges { node { id title priceRange { min { amount currency } } } }
              }
            }
          }
        }
      }
    }
  }
}`
)

// The search keywords, in Chinese and in English: words of the seeded titles
// (internal/seed/catalog.go) — whole names, single characters and two-character words,
// English words and phrases. A keyword that finds nothing (the seed restricts the toy
// club, so its blind boxes are not listed) is left out with a note; fewer than three
// left stops the benchmark.
var (
	keywordsZH = []string{"龙井", "茶", "礼品卡", "蓝牙耳机", "三体", "积木", "饺子", "充电器", "T恤"}
	keywordsEN = []string{"teapot", "gift card", "dumpling", "charger", "headphones", "clay teapot"}
)

// matchingKeywords returns the keywords that find at least one product on the server.
func matchingKeywords(b *testing.B, st *bench.Store, keywords []string) []string {
	var out []string
	for _, kw := range keywords {
		rsp, err := post(st.GraphQL, request(b, productList, map[string]any{"first": 1, "where": map[string]any{"keyword": kw}}))
		if err == nil {
			err = checkPage(rsp, 1, 1)
		}
		if err != nil {
			fmt.Printf("%s: keyword %q left out: %v\n", st.Name, kw, err)
			continue
		}
		out = append(out, kw)
	}
	if len(out) < 3 {
		b.Fatalf("%s: only %d of the keywords %q find products", st.Name, len(out), keywords)
	}
	return out
}

// scenario is one kind of request, measured on its own against the GraphQL server and
// against the hand-written baseline of the same page.
type scenario struct {
	name string
	// kind names the target (bench.TargetFor).
	kind string
	// bodies are cycled through by the load generator.
	bodies [][]byte
	// baselinePath is the baseline's page for the same bodies.
	baselinePath string
	// validate checks one full response of the server, before the load starts.
	validate func(body []byte, i int) error
	// cached scenarios also run with the storefront cache on.
	cached bool
}

// result is one scenario's measurements in one store.
type result struct {
	store, scenario, kind  string
	server, baseline       bench.Outcome
	serverStmts, baseStmts float64
	baselineDiffers        string // why the baseline's pages are not the server's, if they are not
}

// cacheResult is one scenario run with the cache on.
type cacheResult struct {
	store, scenario, mode string
	off, on               bench.Outcome
	onStmts               float64
	hits, misses          int64
	wired                 bool
}

// pageSizeResult is the statements of one request of a page at several page sizes.
type pageSizeResult struct {
	store, page string
	server      []int
	baseline    []int
}

// pageSizes are the page sizes whose statement counts must be equal.
var pageSizes = []int{5, 20, 50}

// BenchmarkStorefront serves a large seeded catalogue and measures each storefront request
// of issue 12 under 16 closed-loop clients, against the targets and against a
// hand-written database/sql handler for the same page, then again with the storefront
// cache on. BENCH_PRODUCTS, BENCH_DURATION, BENCH_STORES (default mysql), BENCH_CACHE=off
// and BENCH_REDIS_URL tune it; BENCH_SQL=1 prints the statements of one request of each
// scenario. See docs/BENCHMARKS.md. Run it with -benchtime 1x: one iteration is one run
// of BENCH_DURATION.
func BenchmarkStorefront(b *testing.B) {
	settings, err := bench.SettingsFromEnv(os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	var (
		results   []result
		caches    []cacheResult
		sizes     []pageSizeResult
		seedLines []string
	)
	for _, d := range testdb.Dialects() {
		if !slices.Contains(settings.Stores, d.Name) {
			continue
		}
		b.Run(d.Name, func(b *testing.B) {
			st := bench.OpenStore(b, d, settings)
			line := fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s |", st.Name, thousandsInt(settings.Products),
				thousandsInt(st.Seeded.Products), st.SeedTime.Round(10*time.Millisecond),
				st.Seeded.ScaleTime.Round(10*time.Millisecond),
				thousandsInt(int(float64(settings.Products)/max(st.Seeded.ScaleTime.Seconds(), 1e-3))),
				st.AnalyzeTime.Round(time.Millisecond))
			switch {
			case st.Reused != nil && st.Reused.IsZero():
				line = fmt.Sprintf("| %s | %s | %s | not recorded: reused database, seeded outside the benchmark | | | |",
					st.Name, thousandsInt(settings.Products), thousandsInt(st.Seeded.Products))
			case st.Reused != nil:
				line = fmt.Sprintf("| %s | %s | %s | %s (recorded by the run that seeded this reused database, %s) | %s | %s | %s |",
					st.Name, thousandsInt(settings.Products), thousandsInt(st.Seeded.Products),
					st.SeedTime.Round(10*time.Millisecond), st.Reused.Format(time.RFC3339),
					st.Seeded.ScaleTime.Round(10*time.Millisecond),
					thousandsInt(int(float64(settings.Products)/max(st.Seeded.ScaleTime.Seconds(), 1e-3))),
					st.AnalyzeTime.Round(time.Millisecond))
			}
			fmt.Println("seed:", line)
			seedLines = append(seedLines, line)
			scs := scenarios(b, st)
			sizes = append(sizes, statementsByPageSize(b, st)...)
			for _, sc := range scs {
				b.Run(sc.name, func(b *testing.B) {
					r := result{store: st.Name, scenario: sc.name, kind: sc.kind}
					b.Run("graphql", func(b *testing.B) {
						r.server, r.serverStmts = measure(b, st, settings, st.GraphQL, sc.bodies, sc.validate)
					})
					r.baselineDiffers = compareBaseline(st, sc)
					if r.baselineDiffers != "" {
						fmt.Printf("%s/%s: %s\n", st.Name, sc.name, r.baselineDiffers)
					}
					b.Run("baseline", func(b *testing.B) {
						r.baseline, r.baseStmts = measure(b, st, settings, st.Baseline+sc.baselinePath, sc.bodies, nil)
					})
					results = append(results, r)
					if !sc.cached {
						return
					}
					for _, mode := range []string{config.StorefrontCacheMemory, config.StorefrontCacheRedis} {
						url, ok := st.Cached[mode]
						if !ok {
							continue
						}
						b.Run("cache-"+mode, func(b *testing.B) {
							c := cacheResult{store: st.Name, scenario: sc.name, mode: mode, off: r.server, wired: bench.CacheStats != nil}
							var h0, m0 int64
							if c.wired {
								h0, m0 = bench.CacheStats()
							}
							c.on, c.onStmts = measure(b, st, settings, url, sc.bodies, sc.validate)
							if c.wired {
								h1, m1 := bench.CacheStats()
								c.hits, c.misses = h1-h0, m1-m0
							}
							// A cached answer must be the server's answer.
							for i, body := range sc.bodies {
								if diff := sameData(st.GraphQL, url, body); diff != "" {
									b.Errorf("%s/%s with the %s cache: request %d answers differently: %s", st.Name, sc.name, mode, i, diff)
									break
								}
							}
							caches = append(caches, c)
						})
					}
				})
			}
		})
	}
	printReport(settings, seedLines, results, sizes, caches)
}

// measure validates the responses of url (with validate, when given), warms up and runs
// the load once; it returns the outcome and the statements per request.
func measure(b *testing.B, st *bench.Store, s bench.Settings, url string, bodies [][]byte, validate func([]byte, int) error) (bench.Outcome, float64) {
	counts := map[int]int{} // statements per request → requests
	for i, body := range bodies {
		var rsp []byte
		var err error
		statements := st.Statements.Record(func() { rsp, err = post(url, body) })
		counts[len(statements)]++
		if err == nil && validate != nil {
			err = validate(rsp, i)
		}
		if err != nil {
			b.Fatalf("%s: request %d (%s): %v", b.Name(), i, body, err)
		}
		if i == 0 && os.Getenv("BENCH_SQL") != "" {
			fmt.Printf("%s: %d statements for %s\n", b.Name(), len(statements), body)
			for _, q := range statements {
				fmt.Printf("    %s\n", q)
			}
		}
	}
	if os.Getenv("BENCH_SQL") != "" {
		fmt.Printf("%s: statements per request → requests, over the %d distinct requests: %v\n", b.Name(), len(bodies), counts)
	}
	load := bench.Load{URL: url, Bodies: bodies, Clients: bench.Clients, Duration: s.Warmup, Check: graphQLData}
	if o := load.Run(); o.Errors > 0 {
		b.Fatalf("%s: warm-up: %d of %d requests failed, first: %s", b.Name(), o.Errors, o.Requests, o.FirstError)
	}
	load.Duration = s.Duration
	before := st.Statements.Load()
	b.ResetTimer()
	total := load.Run()
	b.StopTimer()
	perRequest := float64(st.Statements.Load()-before) / float64(max(total.Requests, 1))
	p50, p99 := total.Percentile(0.50), total.Percentile(0.99)
	b.ReportMetric(0, "ns/op") // one op is a whole run; the metrics below are what counts
	b.ReportMetric(total.Throughput(), "req/s")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(float64(total.Errors), "errors")
	b.ReportMetric(perRequest, "stmts/req")
	if total.Errors > 0 {
		b.Errorf("%s: %d of %d requests failed, first: %s", b.Name(), total.Errors, total.Requests, total.FirstError)
	}
	fmt.Printf("%s: %.1f req/s, p50 %.2f ms, p99 %.2f ms, %d errors, %.3f statements/request\n",
		b.Name(), total.Throughput(), ms(p50), ms(p99), total.Errors, perRequest)
	return total, perRequest
}

// compareBaseline sends every request of sc to the server and the baseline and returns
// how their data first differ, or "" when every page is the same (as JSON values: key
// order and string escaping aside).
func compareBaseline(st *bench.Store, sc scenario) string {
	for i, body := range sc.bodies {
		if diff := sameData(st.GraphQL, st.Baseline+sc.baselinePath, body); diff != "" {
			return fmt.Sprintf("the baseline's page differs from the server's for request %d (%s): %s", i, body, diff)
		}
	}
	return ""
}

// sameData posts body to both URLs and describes the first difference of their data.
func sameData(wantURL, gotURL string, body []byte) string {
	var want, got struct{ Data any }
	w, err := post(wantURL, body)
	if err == nil {
		err = json.Unmarshal(w, &want)
	}
	if err != nil {
		return fmt.Sprintf("%s: %v", wantURL, err)
	}
	g, err := post(gotURL, body)
	if err == nil {
		err = json.Unmarshal(g, &got)
	}
	if err != nil {
		return fmt.Sprintf("%s: %v", gotURL, err)
	}
	// Past bench.ExactCountLimit a totalCount is counted in the background (the server's
	// is a bound or a recent count, docs/STOREFRONT-SPEED.md): only its side of the limit
	// must agree.
	want.Data, got.Data = pastLimit(want.Data), pastLimit(got.Data)
	if reflect.DeepEqual(want.Data, got.Data) {
		return ""
	}
	wd, _ := json.Marshal(want.Data)
	gd, _ := json.Marshal(got.Data)
	i := firstDifference(wd, gd)
	return fmt.Sprintf("at byte %d:\n  want: …%.300s\n  got:  …%.300s", i, wd[max(i-150, 0):], gd[max(i-150, 0):])
}

// pastLimit replaces every totalCount above bench.ExactCountLimit in v with a marker, and
// drops totalCountPrecision.
func pastLimit(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch n, isNumber := e.(float64); {
			case k == "totalCountPrecision":
				delete(x, k)
			case k == "totalCount" && isNumber && n > bench.ExactCountLimit:
				x[k] = "more than the exact-count limit"
			default:
				x[k] = pastLimit(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = pastLimit(e)
		}
	}
	return v
}

// firstDifference returns the index of the first byte where a and b differ.
func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// statementsByPageSize sends the list and a search of each language with first 5, 20 and
// 50 to the server and the baseline, one request at a time, and counts their statements:
// the issue asks for a count that does not grow with the page.
func statementsByPageSize(b *testing.B, st *bench.Store) []pageSizeResult {
	pages := []struct {
		name, path string
		where      map[string]any
	}{
		{"list", bench.BaselineListPath, nil},
		{"search-zh (" + keywordsZH[0] + ")", bench.BaselineSearchPath, map[string]any{"keyword": keywordsZH[0]}},
		{"search-en (" + keywordsEN[0] + ")", bench.BaselineSearchPath, map[string]any{"keyword": keywordsEN[0]}},
	}
	var out []pageSizeResult
	for _, p := range pages {
		r := pageSizeResult{store: st.Name, page: p.name}
		for _, n := range pageSizes {
			vars := map[string]any{"first": n}
			if p.where != nil {
				vars["where"] = p.where
			}
			body := request(b, productList, vars)
			for _, target := range []struct {
				url   string
				count *[]int
			}{{st.GraphQL, &r.server}, {st.Baseline + p.path, &r.baseline}} {
				var err error
				stmts := st.Statements.Record(func() { _, err = post(target.url, body) })
				if err != nil {
					b.Fatalf("%s, first %d: %v", p.name, n, err)
				}
				*target.count = append(*target.count, len(stmts))
			}
		}
		out = append(out, r)
	}
	return out
}

// printReport prints the table and the others, in Markdown.
func printReport(s bench.Settings, seeds []string, results []result, sizes []pageSizeResult, caches []cacheResult) {
	if len(results) == 0 {
		return
	}
	column := "100k"
	if s.Products >= bench.LargeScale {
		column = "1M"
	}
	fmt.Printf("\n## Storefront at scale (issue 12): %s products seeded, %d clients, %s per run, targets of the %s column\n\n",
		thousandsInt(s.Products), bench.Clients, s.Duration, column)
	fmt.Println("| store | scale products | products in all | whole seed (demo included) | scale products | scale products/s | ANALYZE |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, l := range seeds {
		fmt.Println(l)
	}
	fmt.Println()
	fmt.Println("| store | scenario | req/s | p50 | p99 | errors | statements/request | target | met / distance | baseline req/s | baseline p99 | baseline statements | baseline ÷ server |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---|")
	for _, r := range results {
		target, _ := bench.TargetFor(r.kind, s.Products)
		ratio := bench.JudgeRatio(r.server.Throughput(), r.baseline.Throughput())
		if r.baselineDiffers != "" {
			ratio = "not comparable: the baseline's page differs (see the log)"
		}
		judged := target.Judge(r.server.Throughput(), r.server.Percentile(0.99))
		if r.server.Requests == 0 {
			judged = "not measured: the server's run failed (see the log)"
		}
		fmt.Printf("| %s | %s | %.1f | %.2f ms | %.2f ms | %d | %.3f | %s | %s | %.1f | %.2f ms | %.3f | %s |\n",
			r.store, r.scenario, r.server.Throughput(), ms(r.server.Percentile(0.5)), ms(r.server.Percentile(0.99)),
			r.server.Errors, r.serverStmts, target, judged,
			r.baseline.Throughput(), ms(r.baseline.Percentile(0.99)), r.baseStmts, ratio)
	}
	if len(sizes) > 0 {
		fmt.Println()
		fmt.Println("Statements of one request by page size (first: 5 / 20 / 50):")
		fmt.Println()
		fmt.Println("| store | page | server | constant | baseline | constant |")
		fmt.Println("|---|---|---|---|---|---|")
		for _, r := range sizes {
			fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", r.store, r.page, joinInts(r.server), yesNo(constant(r.server)),
				joinInts(r.baseline), yesNo(constant(r.baseline)))
		}
	}
	if len(caches) > 0 {
		fmt.Println()
		fmt.Println("Storefront cache (STOREFRONT_CACHE), same requests:")
		fmt.Println()
		fmt.Println("| store | scenario | cache | req/s off | req/s on | gain | p50 on | p99 on | statements/request on | hit ratio |")
		fmt.Println("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
		for _, c := range caches {
			hit := "not wired (bench.CacheStats is nil)"
			if c.wired {
				hit = bench.HitRatio(c.hits, c.misses) + fmt.Sprintf(" (%d hits, %d misses)", c.hits, c.misses)
			}
			gain := "—"
			if c.off.Throughput() > 0 {
				gain = fmt.Sprintf("%.2f×", c.on.Throughput()/c.off.Throughput())
			}
			fmt.Printf("| %s | %s | %s | %.1f | %.1f | %s | %.2f ms | %.2f ms | %.3f | %s |\n", c.store, c.scenario, c.mode,
				c.off.Throughput(), c.on.Throughput(), gain, ms(c.on.Percentile(0.5)), ms(c.on.Percentile(0.99)), c.onStmts, hit)
		}
	}
	fmt.Println()
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, " / ")
}

func constant(ns []int) bool {
	for _, n := range ns {
		if n != ns[0] {
			return false
		}
	}
	return true
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// thousandsInt writes n with thousands separators: 100,000.
func thousandsInt(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// scenarios builds the requests of each scenario for the store.
func scenarios(b *testing.B, st *bench.Store) []scenario {
	listBody := request(b, productList, map[string]any{"first": 20})
	var detailBodies [][]byte
	for _, id := range st.ProductIDs {
		detailBodies = append(detailBodies, request(b, productDetail, map[string]any{"id": strconv.Itoa(id)}))
	}
	searchBodies := func(keywords []string) [][]byte {
		var out [][]byte
		for _, kw := range keywords {
			out = append(out, request(b, productList, map[string]any{"first": 20, "where": map[string]any{"keyword": kw}}))
		}
		return out
	}
	searchCheck := func(keywords []string) func([]byte, int) error {
		return func(body []byte, i int) error {
			if err := checkPage(body, 1, 1); err != nil {
				return fmt.Errorf("keyword %q: %w", keywords[i], err)
			}
			return nil
		}
	}
	zh, en := matchingKeywords(b, st, keywordsZH), matchingKeywords(b, st, keywordsEN)
	var nestedBodies [][]byte
	for _, slug := range st.TopCategories {
		nestedBodies = append(nestedBodies, request(b, nestedCategories, map[string]any{"slug": slug}))
	}
	return []scenario{
		{name: "list", kind: "list", bodies: [][]byte{listBody}, baselinePath: bench.BaselineListPath, cached: true,
			validate: func(body []byte, _ int) error { return checkPage(body, 20, st.Seeded.Products/2) }},
		{name: "search-zh", kind: "search", bodies: searchBodies(zh), baselinePath: bench.BaselineSearchPath,
			validate: searchCheck(zh)},
		{name: "search-en", kind: "search", bodies: searchBodies(en), baselinePath: bench.BaselineSearchPath,
			validate: searchCheck(en)},
		{name: "detail", kind: "detail", bodies: detailBodies, baselinePath: bench.BaselineDetailPath, cached: true,
			validate: func(body []byte, i int) error {
				var out struct {
					Data struct {
						Product *struct {
							ID       string
							Variants []struct{ SKU string }
						}
					}
				}
				if err := decode(body, &out); err != nil {
					return err
				}
				if p := out.Data.Product; p == nil || p.ID != strconv.Itoa(st.ProductIDs[i]) || len(p.Variants) == 0 {
					return fmt.Errorf("want product %d with variants, got %.300s", st.ProductIDs[i], body)
				}
				return nil
			}},
		{name: "nested", kind: "nested", bodies: nestedBodies, baselinePath: bench.BaselineCategoryPath, cached: true,
			validate: checkNested},
	}
}

// request encodes a GraphQL POST body.
func request(b *testing.B, query string, vars map[string]any) []byte {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

func post(url string, body []byte) ([]byte, error) {
	rsp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer rsp.Body.Close()
	out, err := io.ReadAll(rsp.Body)
	if err != nil {
		return nil, err
	}
	if rsp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.300s", rsp.StatusCode, out)
	}
	return out, graphQLData(out)
}

// graphQLData is the check of every response under load: data and no errors. gqlgen
// writes "errors" before "data", and a quote inside a string value is escaped, so the
// two byte tests cannot be fooled by product text.
func graphQLData(body []byte) error {
	if !bytes.HasPrefix(body, []byte(`{"data":`)) || bytes.Contains(body, []byte(`"errors":`)) {
		return fmt.Errorf("GraphQL errors or no data: %.300s", body)
	}
	return nil
}

// decode unmarshals a GraphQL response.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decoding %.300s: %w", body, err)
	}
	return nil
}

// checkPage checks a product page: at least minEdges products, each with a merchant
// and variants, out of at least minTotal.
func checkPage(body []byte, minEdges, minTotal int) error {
	var out struct {
		Data struct {
			Products struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						ID, Title string
						Merchant  struct{ Name string }
						Variants  []struct{ SKU string }
					}
				}
			}
		}
	}
	if err := decode(body, &out); err != nil {
		return err
	}
	p := out.Data.Products
	// Past the exact-count limit the first answers say "at least 1,001" while the count
	// runs in the background.
	minTotal = min(minTotal, bench.ExactCountLimit+1)
	if len(p.Edges) < minEdges || p.TotalCount < minTotal {
		return fmt.Errorf("want at least %d products of %d, got %d of %d", minEdges, minTotal, len(p.Edges), p.TotalCount)
	}
	for _, e := range p.Edges {
		if e.Node.Merchant.Name == "" || len(e.Node.Variants) == 0 {
			return fmt.Errorf("product %s %q lacks its merchant or variants", e.Node.ID, e.Node.Title)
		}
	}
	return nil
}

// checkNested checks that every level of the nested query returned rows.
func checkNested(body []byte, _ int) error {
	type page struct {
		Edges []struct {
			Node struct {
				ID       string
				Merchant struct {
					Name     string
					Products struct {
						Edges []struct{ Node struct{ ID string } }
					}
				}
			}
		}
	}
	var out struct {
		Data struct {
			CategoryBySlug *struct {
				Children []struct{ Products page }
			}
		}
	}
	if err := decode(body, &out); err != nil {
		return err
	}
	c := out.Data.CategoryBySlug
	if c == nil {
		return fmt.Errorf("no category: %.300s", body)
	}
	var products, merchantProducts int
	for _, ch := range c.Children {
		for _, e := range ch.Products.Edges {
			products++
			merchantProducts += len(e.Node.Merchant.Products.Edges)
		}
	}
	if len(c.Children) == 0 || products == 0 || merchantProducts == 0 {
		return fmt.Errorf("empty level: %d children, %d products, %d merchant products: %.300s",
			len(c.Children), products, merchantProducts, body)
	}
	if !strings.Contains(string(body), `"merchant":{`) {
		return errors.New("no merchant in the nested response")
	}
	return nil
}
