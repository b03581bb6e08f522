package bench_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/bench"
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

// keywords occur in the seeded titles (internal/seed/catalog.go): whole Chinese names,
// single characters and two-character words, English words and phrases.
var keywords = []string{"龙井", "茶", "礼品卡", "teapot", "gift card", "蓝牙耳机", "盲盒", "blind box", "三体", "dumpling", "积木", "charger"}

// scenario is one kind of request, measured on its own.
type scenario struct {
	name string
	url  string
	// bodies are cycled through by the load generator.
	bodies [][]byte
	// validate checks one full response, before the load starts.
	validate func(body []byte, i int) error
}

// BenchmarkStorefront serves a large seeded catalogue, on SQLite and on MySQL, and
// measures each storefront request under 16 closed-loop clients. BENCH_PRODUCTS and
// BENCH_DURATION size it; BENCH_SQL=1 prints the statements of one request of each
// scenario. See docs/BENCHMARKS.md. Run it with -benchtime 1x: one iteration is one run
// of BENCH_DURATION.
func BenchmarkStorefront(b *testing.B) {
	settings, err := bench.SettingsFromEnv(os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	var rows []string
	for _, d := range testdb.Dialects() {
		b.Run(d.Name, func(b *testing.B) {
			st := bench.OpenStore(b, d, settings)
			fmt.Printf("seed %s: %d extra products (%d products, %d variants in all) in %s (%.0f products/s), then ANALYZE in %s\n",
				st.Name, settings.Products, st.Seeded.Products, st.Seeded.Variants,
				st.SeedTime.Round(10*time.Millisecond), float64(st.Seeded.Products)/st.SeedTime.Seconds(),
				st.AnalyzeTime.Round(time.Millisecond))
			for _, sc := range scenarios(b, st) {
				b.Run(sc.name, func(b *testing.B) {
					if row, ok := measure(b, st, settings, sc); ok {
						fmt.Println(row)
						rows = append(rows, row)
					}
				})
			}
		})
	}
	if len(rows) > 0 {
		fmt.Printf("\n%d products seeded, %d clients, %s per run\n\n", settings.Products, bench.Clients, settings.Duration)
		fmt.Println("| store | scenario | req/s | p50 | p99 | errors | statements/request |")
		fmt.Println("|---|---|---:|---:|---:|---:|---:|")
		for _, r := range rows {
			fmt.Println(r)
		}
	}
}

// measure validates the scenario's responses, warms up, runs the load b.N times and
// reports; it returns the Markdown table row, or false when the run failed.
func measure(b *testing.B, st *bench.Store, s bench.Settings, sc scenario) (string, bool) {
	counts := map[int]int{} // statements per request → requests
	for i, body := range sc.bodies {
		var rsp []byte
		var err error
		statements := st.Statements.Record(func() { rsp, err = post(sc.url, body) })
		counts[len(statements)]++
		if err == nil {
			err = sc.validate(rsp, i)
		}
		if err != nil {
			b.Fatalf("%s/%s: request %d (%s): %v", st.Name, sc.name, i, body, err)
		}
		if i == 0 && os.Getenv("BENCH_SQL") != "" {
			fmt.Printf("%s/%s: %d statements for %s\n", st.Name, sc.name, len(statements), body)
			for _, q := range statements {
				fmt.Printf("    %s\n", q)
			}
		}
	}
	if os.Getenv("BENCH_SQL") != "" {
		fmt.Printf("%s/%s: statements per request → requests, over the %d distinct requests: %v\n", st.Name, sc.name, len(sc.bodies), counts)
	}
	load := bench.Load{URL: sc.url, Bodies: sc.bodies, Clients: bench.Clients, Duration: s.Warmup, Check: graphQLData}
	if o := load.Run(); o.Errors > 0 {
		b.Fatalf("%s/%s: warm-up: %d of %d requests failed, first: %s", st.Name, sc.name, o.Errors, o.Requests, o.FirstError)
	}

	load.Duration = s.Duration
	var total bench.Outcome
	var statements int64
	b.ResetTimer()
	for range b.N {
		before := st.Statements.Load()
		total = total.Merge(load.Run())
		statements += st.Statements.Load() - before
	}
	b.StopTimer()

	perRequest := float64(statements) / float64(max(total.Requests, 1))
	p50, p99 := total.Percentile(0.50), total.Percentile(0.99)
	b.ReportMetric(0, "ns/op") // one op is a whole run; the metrics below are what counts
	b.ReportMetric(total.Throughput(), "req/s")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(float64(total.Errors), "errors")
	b.ReportMetric(perRequest, "stmts/req")
	if total.Errors > 0 {
		b.Errorf("%s/%s: %d of %d requests failed, first: %s", st.Name, sc.name, total.Errors, total.Requests, total.FirstError)
		return "", false
	}
	return fmt.Sprintf("| %s | %s | %.1f | %.2f ms | %.2f ms | %d | %.3f |",
		st.Name, sc.name, total.Throughput(), ms(p50), ms(p99), total.Errors, perRequest), true
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// scenarios builds the requests of each scenario for the store.
func scenarios(b *testing.B, st *bench.Store) []scenario {
	listBody := request(b, productList, map[string]any{"first": 20})
	var detailBodies [][]byte
	for _, id := range st.ProductIDs {
		detailBodies = append(detailBodies, request(b, productDetail, map[string]any{"id": strconv.Itoa(id)}))
	}
	var searchBodies [][]byte
	for _, kw := range keywords {
		searchBodies = append(searchBodies, request(b, productList, map[string]any{"first": 20, "where": map[string]any{"keyword": kw}}))
	}
	var nestedBodies [][]byte
	for _, slug := range st.TopCategories {
		nestedBodies = append(nestedBodies, request(b, nestedCategories, map[string]any{"slug": slug}))
	}
	// The baseline must answer exactly what the server answers.
	var listPage []byte
	return []scenario{
		{name: "list", url: st.GraphQL, bodies: [][]byte{listBody}, validate: func(body []byte, _ int) error {
			listPage = body
			return checkPage(body, 20, st.Seeded.Products/2)
		}},
		{name: "detail", url: st.GraphQL, bodies: detailBodies, validate: func(body []byte, i int) error {
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
		{name: "search", url: st.GraphQL, bodies: searchBodies, validate: func(body []byte, i int) error {
			if err := checkPage(body, 1, 1); err != nil {
				return fmt.Errorf("keyword %q: %w", keywords[i], err)
			}
			return nil
		}},
		{name: "nested", url: st.GraphQL, bodies: nestedBodies, validate: checkNested},
		{name: "baseline", url: st.Baseline, bodies: [][]byte{listBody}, validate: func(body []byte, _ int) error {
			if err := checkPage(body, 20, st.Seeded.Products/2); err != nil {
				return err
			}
			if listPage == nil {
				return nil // the list scenario was filtered out
			}
			// The data, not the extensions (the guard's cost report).
			var want, got struct{ Data json.RawMessage }
			if err := errors.Join(json.Unmarshal(listPage, &want), json.Unmarshal(body, &got)); err != nil {
				return err
			}
			if !bytes.Equal(want.Data, got.Data) {
				i := firstDifference(want.Data, got.Data)
				return fmt.Errorf("the baseline's page differs from the server's at byte %d:\nserver:   %.300s\nbaseline: %.300s",
					i, want.Data[max(i-150, 0):], got.Data[max(i-150, 0):])
			}
			return nil
		}},
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
