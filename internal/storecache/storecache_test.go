package storecache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/storecache"
	"github.com/xiadan/xiadan/internal/testdb"
)

// listQuery is the storefront's product list.
const listQuery = `query List($first: Int!) { products(first: $first) { totalCount edges { node { id title merchant { name } } } } }`

var listVars = map[string]any{"first": 20}

// memoryCache turns the in-process cache on, whatever the environment says.
func memoryCache(c *config.Config) {
	c.RedisURL = ""
	c.StorefrontCache.Mode = storecache.ModeMemory
}

// redisCache shares the cache through the local Redis server, under a prefix of the
// test's own; the test is skipped when Redis is down.
func redisCache(t *testing.T) func(*config.Config) {
	t.Helper()
	url := "redis://127.0.0.1:6379/0"
	opts, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Skipf("Redis is not running at %s: %v", url, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "xiadan:test:sc:" + hex.EncodeToString(b) + ":"
	return func(c *config.Config) {
		c.RedisURL = url
		c.StorefrontCache.Mode = storecache.ModeRedis
		c.StorefrontCache.RedisPrefix = prefix
	}
}

// backends runs fn with the in-process cache and, when Redis is up, the Redis one.
func backends(t *testing.T, fn func(t *testing.T, opt func(*config.Config))) {
	t.Run("memory", func(t *testing.T) { fn(t, memoryCache) })
	t.Run("redis", func(t *testing.T) { fn(t, redisCache(t)) })
}

// shop gives s an active merchant with two products.
func shop(t *testing.T, s *apitest.Server, slug string) apitest.Merchant {
	t.Helper()
	m := s.NewMerchant(t, slug, merchant.StatusACTIVE)
	s.NewProduct(t, m, slug+" green tea", product.KindPHYSICAL, slug+"-1", 3800, 10)
	s.NewProduct(t, m, slug+" teapot", product.KindPHYSICAL, slug+"-2", 12800, 3)
	return m
}

// list asks for the product list anonymously and returns the response.
func list(t *testing.T, s *apitest.Server, header map[string]string) *apitest.Response {
	t.Helper()
	r := s.Do(apitest.Request{Query: listQuery, Variables: listVars, OperationName: "List", Header: header})
	if len(r.Errors) > 0 {
		t.Fatalf("list: %s", r.Raw)
	}
	return r
}

// eventually polls cond until it holds or the deadline passes (the feed announces every
// commit, so this is the time of one poll, not a fixed wait).
func eventually(t *testing.T, what string, deadline time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > deadline {
			t.Fatalf("%s: not within %s", what, deadline)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// ready makes the server's feed read every change committed so far (the fixture's), so
// the generation stays put for the requests that follow.
func ready(t *testing.T, s *apitest.Server) {
	t.Helper()
	if _, err := s.App.CatalogFeed.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// steady polls the feed until two polls in a row leave its generation where it was.
func steady(t *testing.T, s *apitest.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		before := s.App.CatalogFeed.Generation()
		ready(t, s)
		ready(t, s)
		if g := s.App.CatalogFeed.Generation(); g != "" && g == before {
			return
		}
	}
	t.Fatal("the catalog feed's generation kept moving")
}

func TestAnonymousListIsCachedByteForByte(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			backends(t, func(t *testing.T, opt func(*config.Config)) {
				s := apitest.New(t, d.URL(t), opt)
				shop(t, s, "tea")
				ready(t, s)
				first := list(t, s, nil)
				second := list(t, s, nil)
				if got := first.Header.Get(storecache.Header); got != "MISS" {
					t.Errorf("first request: X-Cache %q, want MISS", got)
				}
				if got := second.Header.Get(storecache.Header); got != "HIT" {
					t.Errorf("second request: X-Cache %q, want HIT", got)
				}
				if !bytes.Equal(first.Raw, second.Raw) {
					t.Errorf("cached body differs:\n%s\n%s", first.Raw, second.Raw)
				}
				if first.Header.Get("Content-Type") != second.Header.Get("Content-Type") {
					t.Errorf("content type %q then %q", first.Header.Get("Content-Type"), second.Header.Get("Content-Type"))
				}
				// Another language, other variables: other entries.
				if got := list(t, s, map[string]string{"Accept-Language": "en"}).Header.Get(storecache.Header); got != "MISS" {
					t.Errorf("other Accept-Language: X-Cache %q, want MISS", got)
				}
				st := s.App.StoreCache.Stats()
				if st.Hits != 1 || st.Fills != 2 {
					t.Errorf("stats %+v: want 1 hit and 2 fills", st)
				}
			})
		})
	}
}

func TestSignedInRequestsBypassTheCache(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		m := shop(t, s, "tea")
		ready(t, s)
		list(t, s, nil) // cached for anonymous visitors
		before := s.App.StoreCache.Stats()
		for range 2 {
			r := s.Do(apitest.Request{Query: listQuery, Variables: listVars, OperationName: "List", Token: m.Owner.AccessToken})
			if len(r.Errors) > 0 {
				t.Fatalf("signed in: %s", r.Raw)
			}
			if got := r.Header.Get(storecache.Header); got != "BYPASS" {
				t.Errorf("signed-in request: X-Cache %q, want BYPASS", got)
			}
		}
		after := s.App.StoreCache.Stats()
		if after.Hits != before.Hits || after.Fills != before.Fills {
			t.Errorf("a signed-in request touched the cache: %+v then %+v", before, after)
		}
		// Mutations and operations outside the storefront are never cached either.
		r := s.Query("", `query { me { id } }`, nil)
		if got := r.Header.Get(storecache.Header); got != "BYPASS" {
			t.Errorf("me: X-Cache %q, want BYPASS", got)
		}
	}, memoryCache)
}

func TestErrorsAreNotCached(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		ready(t, s)
		for i := range 2 {
			r := s.Query("", `query { products(first: 500) { edges { node { id } } } }`, nil)
			if r.Code() != "BAD_USER_INPUT" {
				t.Fatalf("products(first: 500): %s", r.Raw)
			}
			if got := r.Header.Get(storecache.Header); got != "MISS" {
				t.Errorf("request %d: X-Cache %q, want MISS (errors are never kept)", i+1, got)
			}
		}
		if st := s.App.StoreCache.Stats(); st.Fills != 0 {
			t.Errorf("an error was kept: %+v", st)
		}
	}, memoryCache)
}

func TestProductUpdateIsVisibleToTheNextAnonymousRequest(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			backends(t, func(t *testing.T, opt func(*config.Config)) {
				s := apitest.New(t, d.URL(t), opt)
				m := shop(t, s, "tea")
				ready(t, s)
				var out struct {
					Products struct {
						Edges []struct{ Node struct{ ID, Title string } }
					}
				}
				list(t, s, nil).Decode(t, &out)
				if got := list(t, s, nil).Header.Get(storecache.Header); got != "HIT" {
					t.Fatalf("second list: X-Cache %q, want HIT", got)
				}
				id := out.Products.Edges[0].Node.ID
				s.MustQuery(m.Owner.AccessToken, `mutation($id: ID!) { updateProduct(id: $id, input: {title: "Renamed tea"}) { id } }`,
					map[string]any{"id": id})
				took := eventually(t, "the new title", 5*time.Second, func() bool { return list(t, s, nil).Contains("Renamed tea") })
				t.Logf("visible after %s", took)
			})
		})
	}
}

func TestChangeThroughOneInstanceIsSeenByAnother(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			backends(t, func(t *testing.T, opt func(*config.Config)) {
				url := d.URL(t)
				a := apitest.New(t, url, opt)
				b := apitest.New(t, url, opt) // same database (and Redis), another process's worth of state
				m := shop(t, a, "tea")
				ready(t, a)
				ready(t, b)
				var out struct {
					Products struct {
						Edges []struct{ Node struct{ ID, Title string } }
					}
				}
				list(t, b, nil).Decode(t, &out)
				if got := list(t, b, nil).Header.Get(storecache.Header); got != "HIT" {
					t.Fatalf("b's second list: X-Cache %q, want HIT", got)
				}
				a.MustQuery(m.Owner.AccessToken, `mutation($id: ID!) { updateProduct(id: $id, input: {title: "Renamed on A"}) { id } }`,
					map[string]any{"id": out.Products.Edges[0].Node.ID})
				// Polling alone gets there within a poll interval (200 ms); Redis announces at once.
				took := eventually(t, "a's change on b", 5*time.Second, func() bool { return list(t, b, nil).Contains("Renamed on A") })
				t.Logf("seen on b after %s", took)
				if took > time.Second {
					t.Errorf("seen on b after %s; the bound is 1s", took)
				}
			})
		})
	}
}

func TestConcurrentMissesRunTheQueryOnce(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			backends(t, func(t *testing.T, opt func(*config.Config)) {
				s := apitest.New(t, d.URL(t), opt)
				shop(t, s, "tea")
				// The burst must meet one generation: wait until polling no longer moves it
				// (a CI run saw two executions when the generation moved mid-burst).
				steady(t, s)
				const n = 16
				start := make(chan struct{})
				bodies := make([][]byte, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						<-start
						r, err := s.Try(apitest.Request{Query: listQuery, Variables: listVars, OperationName: "List"})
						if err != nil {
							t.Error(err)
							return
						}
						bodies[i] = r.Raw
					})
				}
				close(start)
				wg.Wait()
				for i := range bodies {
					if !bytes.Equal(bodies[i], bodies[0]) {
						t.Fatalf("answers differ:\n%s\n%s", bodies[0], bodies[i])
					}
				}
				if st := s.App.StoreCache.Stats(); st.Executions != 1 || st.Fills != 1 {
					t.Errorf("%d concurrent identical requests: %+v; want one execution and one fill", n, st)
				}
			})
		})
	}
}

func TestSuspendedMerchantLeavesTheCachedList(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			backends(t, func(t *testing.T, opt func(*config.Config)) {
				s := apitest.New(t, d.URL(t), opt)
				shop(t, s, "tea")
				bad := shop(t, s, "fake")
				admin := s.NewAdmin(t, "admin@example.com")
				ready(t, s)
				if !list(t, s, nil).Contains("fake teapot") {
					t.Fatal("the list does not show the merchant's products to begin with")
				}
				if got := list(t, s, nil).Header.Get(storecache.Header); got != "HIT" {
					t.Fatalf("second list: X-Cache %q, want HIT", got)
				}
				s.MustQuery(admin.AccessToken, `mutation($id: ID!) { setMerchantStatus(id: $id, status: SUSPENDED, reason: "counterfeits") { id } }`,
					map[string]any{"id": bad.ID})
				eventually(t, "the suspended merchant's products to leave the list", 5*time.Second, func() bool {
					r := list(t, s, nil)
					return !r.Contains("fake") && strings.Contains(string(r.Raw), "tea teapot")
				})
				// And a product query by id for a hidden product is not served from the cache.
				for range 2 {
					r := list(t, s, nil)
					if r.Contains("fake") {
						t.Fatalf("hidden products served: %s", r.Raw)
					}
				}
			})
		})
	}
}

func TestPersistedQueryByHashIsCached(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		shop(t, s, "tea")
		ready(t, s)
		sum := sha256.Sum256([]byte(listQuery))
		ext := `{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(sum[:]) + `"}}`
		// Register with the text, then send the hash alone: one entry for both.
		registered := get(t, s, url.Values{"query": {listQuery}, "variables": {`{"first":20}`}, "extensions": {ext}})
		byHash := get(t, s, url.Values{"variables": {`{"first":20}`}, "extensions": {ext}})
		if got := byHash.Header.Get(storecache.Header); got != "HIT" {
			t.Errorf("the hash alone after the text: X-Cache %q, want HIT", got)
		}
		if !bytes.Equal(registered.body, byHash.body) {
			t.Errorf("bodies differ:\n%s\n%s", registered.body, byHash.body)
		}
		// The ETag of the HTTP cache layer is computed on the cached answer as on a fresh one.
		if e1, e2 := registered.Header.Get("ETag"), byHash.Header.Get("ETag"); e1 == "" || e1 != e2 {
			t.Errorf("ETag %q then %q", e1, e2)
		}
	}, memoryCache)
}

type getResponse struct {
	*http.Response
	body []byte
}

// get sends a GraphQL GET request with params, anonymously.
func get(t *testing.T, s *apitest.Server, params url.Values) getResponse {
	t.Helper()
	res, err := http.Get(s.HTTP.URL + "/graphql?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"errors"`)) {
		t.Fatalf("GET: %d %s", res.StatusCode, body)
	}
	return getResponse{res, body}
}

// TestConcurrentMissesOnTwoReplicasRunTheQueryOnce: with Redis, the replica that misses
// first takes the key's lock and the other waits for its answer.
func TestConcurrentMissesOnTwoReplicasRunTheQueryOnce(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			opt := redisCache(t)
			url := d.URL(t)
			a := apitest.New(t, url, opt)
			b := apitest.New(t, url, opt)
			shop(t, a, "tea")
			ready(t, a)
			ready(t, b)
			if ga, gb := a.App.CatalogFeed.Generation(), b.App.CatalogFeed.Generation(); ga != gb {
				t.Skipf("the replicas' generations differ (%q, %q): they share no keys until a gap closes", ga, gb)
			}
			const n = 16
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				s := a
				if i%2 == 1 {
					s = b
				}
				wg.Go(func() {
					<-start
					if _, err := s.Try(apitest.Request{Query: listQuery, Variables: listVars, OperationName: "List"}); err != nil {
						t.Error(err)
					}
				})
			}
			close(start)
			wg.Wait()
			sa, sb := a.App.StoreCache.Stats(), b.App.StoreCache.Stats()
			if sa.Executions+sb.Executions != 1 {
				t.Errorf("%d identical requests over two replicas ran the query %d times:\n%+v\n%+v", n, sa.Executions+sb.Executions, sa, sb)
			}
		})
	}
}

// TestRedisDownAnswersWithoutTheCache: a Redis that cannot be reached costs the cache,
// never an answer.
func TestRedisDownAnswersWithoutTheCache(t *testing.T) {
	s := apitest.New(t, testdb.SQLiteURL(t), func(c *config.Config) {
		c.RedisURL = "redis://127.0.0.1:1/0" // nothing listens on port 1
		c.StorefrontCache.Mode = storecache.ModeRedis
	})
	shop(t, s, "tea")
	ready(t, s)
	first, second := list(t, s, nil), list(t, s, nil)
	if !bytes.Equal(first.Raw, second.Raw) || !first.Contains("tea teapot") {
		t.Fatalf("answers without Redis:\n%s\n%s", first.Raw, second.Raw)
	}
	if st := s.App.StoreCache.Stats(); st.Errors == 0 || st.Hits != 0 {
		t.Errorf("stats %+v: want store errors and no hits", st)
	}
}
