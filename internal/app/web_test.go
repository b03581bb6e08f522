package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	apq "github.com/xiadan/xiadan/internal/persisted"
	"github.com/xiadan/xiadan/internal/testdb"
)

// rawDo sends req and returns the answer with its body read.
func rawDo(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// getURL is the GraphQL GET URL of a query (and optional extensions).
func getURL(s *apitest.Server, query string, extensions map[string]any) string {
	v := url.Values{}
	if query != "" {
		v.Set("query", query)
	}
	if extensions != nil {
		b, _ := json.Marshal(extensions)
		v.Set("extensions", string(b))
	}
	return s.HTTP.URL + "/graphql?" + v.Encode()
}

// TestCORS checks the CORS policy through the real handler: preflights of allowed and
// other origins, the headers of actual answers (errors included), and websockets checked
// against the same list.
func TestCORS(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t), func(c *config.Config) {
		c.CORS.AllowedOrigins = []string{"https://shop.example.com", "https://*.example.net"}
		c.CORS.MaxAge = 5 * time.Minute
	})
	preflight := func(origin, headers string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodOptions, s.HTTP.URL+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", headers)
		return rawDo(t, req)
	}

	t.Run("preflight of an allowed origin", func(t *testing.T) {
		for _, origin := range []string{"https://shop.example.com", "https://m.example.net"} {
			res, _ := preflight(origin, "content-type,authorization,apollo-require-preflight,x-graphql-event-stream-token,idempotency-key")
			h := res.Header
			allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
			if res.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != origin ||
				h.Get("Access-Control-Max-Age") != "300" || h.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatalf("%s: %d %v", origin, res.StatusCode, h)
			}
			for _, m := range []string{"GET", "POST", "PUT", "DELETE", "OPTIONS"} {
				if !strings.Contains(h.Get("Access-Control-Allow-Methods"), m) {
					t.Errorf("methods %q lack %s", h.Get("Access-Control-Allow-Methods"), m)
				}
			}
			for _, want := range []string{"content-type", "authorization", "apollo-require-preflight", "x-graphql-event-stream-token", "idempotency-key", "if-none-match"} {
				if !strings.Contains(allowed, want) {
					t.Errorf("allowed headers %q lack %s", allowed, want)
				}
			}
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary %v", h.Values("Vary"))
			}
		}
	})

	t.Run("preflight of a presigned upload", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, s.HTTP.URL+"/uploads/incoming/x?sig=y", nil)
		req.Header.Set("Origin", "https://shop.example.com")
		req.Header.Set("Access-Control-Request-Method", "PUT")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		res, _ := rawDo(t, req)
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
			!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "PUT") {
			t.Fatalf("%d %v", res.StatusCode, res.Header)
		}
		req.Header.Set("Origin", "https://evil.example.com")
		if res, _ := rawDo(t, req); res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("another origin may PUT uploads: %v", res.Header)
		}
	})

	t.Run("preflight of another origin", func(t *testing.T) {
		for _, origin := range []string{"https://evil.example.com", "http://shop.example.com", "https://example.net", "null"} {
			res, _ := preflight(origin, "content-type")
			if res.StatusCode != http.StatusForbidden || res.Header.Get("Access-Control-Allow-Origin") != "" ||
				res.Header.Get("Access-Control-Allow-Methods") != "" {
				t.Errorf("%s: %d %v", origin, res.StatusCode, res.Header)
			}
		}
	})

	t.Run("answers", func(t *testing.T) {
		for _, tc := range []struct {
			origin, token string
			allowed       bool
		}{
			{"https://shop.example.com", "", true},
			{"https://shop.example.com", "not-a-token", true}, // a 401 is readable too
			{"https://evil.example.com", "", false},
		} {
			req, _ := http.NewRequest(http.MethodPost, s.HTTP.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", tc.origin)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			res, _ := rawDo(t, req)
			got := res.Header.Get("Access-Control-Allow-Origin")
			expose := res.Header.Get("Access-Control-Expose-Headers")
			if tc.allowed && (got != tc.origin || !strings.Contains(expose, "ETag") || !strings.Contains(expose, "X-Request-ID")) {
				t.Errorf("%+v: %d %v", tc, res.StatusCode, res.Header)
			}
			if !tc.allowed && (got != "" || expose != "") {
				t.Errorf("%+v: %v", tc, res.Header)
			}
		}
	})

	t.Run("websockets share the list", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for origin, want := range map[string]bool{
			"https://shop.example.com": true, "https://a.b.example.net": true,
			"http://shop.example.com": false, "https://evil.example.com": false,
		} {
			c, err := apitest.DialWS(ctx, s.WSURL(), apitest.WSOptions{Origin: origin})
			if err == nil {
				_ = c.Close()
			}
			if (err == nil) != want {
				t.Errorf("upgrade from %s: %v, want allowed=%v", origin, err, want)
			}
		}
	})
}

// TestCORSConfig: a bad pattern, and "*" with credentials, are configuration errors; the
// old ALLOWED_ORIGINS still works as an alias.
func TestCORSConfig(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"CORS_ALLOWED_ORIGINS": "https://shop.example.com/path"}, "CORS_ALLOWED_ORIGINS"},
		{map[string]string{"CORS_ALLOWED_ORIGINS": "*", "CORS_ALLOW_CREDENTIALS": "true"}, "CORS_ALLOW_CREDENTIALS"},
		{map[string]string{"HTTP_CACHE_MAX_AGE": "-1s"}, "HTTP_CACHE_MAX_AGE"},
		{map[string]string{"REDIS_URL": "localhost:6379"}, "REDIS_URL"},
	} {
		if _, err := config.FromEnv(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v", tc.env, err)
		}
	}
	c, err := config.FromEnv(env(map[string]string{"ALLOWED_ORIGINS": "shop.example.com"}))
	if err != nil || len(c.CORS.AllowedOrigins) != 1 || c.CORS.AllowedOrigins[0] != "shop.example.com" || c.CORS.MaxAge != 10*time.Minute || c.HTTPCacheMaxAge != time.Minute {
		t.Errorf("defaults and alias: %+v %v", c.CORS, err)
	}
}

// TestHTTPCaching checks Cache-Control, ETag and 304 through the real handler.
func TestHTTPCaching(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t), func(c *config.Config) { c.HTTPCacheMaxAge = 90 * time.Second })
	m := s.NewMerchant(t, "cache-shop", merchant.StatusACTIVE)
	s.NewProduct(t, m, "Cached tea", product.KindPHYSICAL, "CT-1", 1000, 5)
	const q = `{ products(first: 5) { edges { node { title slug } } } }`

	req, _ := http.NewRequest(http.MethodGet, getURL(s, q, nil), nil)
	res, body := rawDo(t, req)
	etag := res.Header.Get("ETag")
	vary := strings.Join(res.Header.Values("Vary"), ",")
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "public, max-age=90" || !strings.HasPrefix(etag, `"`) ||
		!strings.Contains(vary, "Authorization") || !strings.Contains(vary, "Accept") || !strings.Contains(vary, "Origin") ||
		!strings.Contains(string(body), "Cached tea") {
		t.Fatalf("anonymous GET: %d %v %s", res.StatusCode, res.Header, body)
	}

	t.Run("304 on a matching If-None-Match", func(t *testing.T) {
		for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
			req, _ := http.NewRequest(http.MethodGet, getURL(s, q, nil), nil)
			req.Header.Set("If-None-Match", inm)
			res, body := rawDo(t, req)
			if res.StatusCode != http.StatusNotModified || len(body) != 0 || res.Header.Get("ETag") != etag ||
				res.Header.Get("Cache-Control") != "public, max-age=90" {
				t.Errorf("If-None-Match %s: %d %v %q", inm, res.StatusCode, res.Header, body)
			}
		}
		req, _ := http.NewRequest(http.MethodGet, getURL(s, q, nil), nil)
		req.Header.Set("If-None-Match", `"stale"`)
		if res, body := rawDo(t, req); res.StatusCode != http.StatusOK || !strings.Contains(string(body), "Cached tea") {
			t.Errorf("stale validator: %d", res.StatusCode)
		}
	})

	t.Run("a token makes it private", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, getURL(s, q, nil), nil)
		req.Header.Set("Authorization", "Bearer "+m.Owner.AccessToken)
		req.Header.Set("If-None-Match", etag)
		res, _ := rawDo(t, req)
		if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "private, no-store" || res.Header.Get("ETag") != "" {
			t.Errorf("with a token: %d %v", res.StatusCode, res.Header)
		}
		// POST with a token too.
		r := s.Do(apitest.Request{Query: q, Token: m.Owner.AccessToken})
		if r.Header.Get("Cache-Control") != "private, no-store" {
			t.Errorf("POST with a token: %v", r.Header)
		}
	})

	t.Run("errors are not stored", func(t *testing.T) {
		for _, u := range []string{
			getURL(s, `{ products(first: 500) { totalCount } }`, nil), // an execution error
			getURL(s, `{ nope }`, nil),                                // a validation error
			getURL(s, `mutation { logout }`, nil),                     // a mutation by GET: 405
		} {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			res, _ := rawDo(t, req)
			if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("ETag") != "" {
				t.Errorf("%s: %d %v", u, res.StatusCode, res.Header)
			}
		}
	})

	t.Run("POST is not cached", func(t *testing.T) {
		r := s.Do(apitest.Request{Query: q})
		if r.Header.Get("ETag") != "" || strings.Contains(r.Header.Get("Cache-Control"), "public") {
			t.Errorf("POST: %v", r.Header)
		}
	})
}

// TestPersistedQueries checks automatic persisted queries through the real handler: an
// unknown hash is PERSISTED_QUERY_NOT_FOUND (and not cached), a registered one runs by
// GET and POST, GET answers are cacheable, and a wrong hash is BAD_USER_INPUT.
func TestPersistedQueries(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	const q = `query Shops { merchants(first: 3) { totalCount } }`
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": apq.Hash(q)}}

	req, _ := http.NewRequest(http.MethodGet, getURL(s, "", ext), nil)
	res, body := rawDo(t, req)
	var out apitest.Response
	_ = json.Unmarshal(body, &out)
	if out.Code() != apq.CodeNotFound || out.Errors[0].Message != "PersistedQueryNotFound" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("unknown hash: %d %v %s", res.StatusCode, res.Header, body)
	}

	// Registered by POST with its text…
	reg := post(t, s, map[string]any{"query": q, "extensions": ext})
	if len(reg.Errors) > 0 {
		t.Fatalf("registering: %s", reg.Raw)
	}
	// …then run by its hash alone, by POST and by a cacheable GET.
	if r := post(t, s, map[string]any{"extensions": ext}); len(r.Errors) > 0 || !strings.Contains(string(r.Raw), "totalCount") {
		t.Fatalf("by hash: %s", r.Raw)
	}
	req, _ = http.NewRequest(http.MethodGet, getURL(s, "", ext), nil)
	res, body = rawDo(t, req)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "totalCount") || !strings.HasPrefix(res.Header.Get("Cache-Control"), "public") || res.Header.Get("ETag") == "" {
		t.Fatalf("GET by hash: %d %v %s", res.StatusCode, res.Header, body)
	}

	bad := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": apq.Hash("{ __typename }")}}
	r := post(t, s, map[string]any{"query": q, "extensions": bad})
	if r.Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != apq.ReasonHashMismatch {
		t.Fatalf("hash mismatch: %s", r.Raw)
	}
}

// redisURL is the Redis server of the shared persisted-query test (REDIS_TEST_URL, by
// default 127.0.0.1:6379), skipping when none answers.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("REDIS_TEST_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", parsed.Host, 2*time.Second)
	if err != nil {
		t.Skipf("no Redis at %s (%v); the shared persisted-query test needs one", parsed.Host, err)
	}
	_ = conn.Close()
	return u
}

// TestPersistedQueriesSharedThroughRedis: with REDIS_URL, a query registered through one
// replica runs by its hash on another.
func TestPersistedQueriesSharedThroughRedis(t *testing.T) {
	t.Parallel()
	u := redisURL(t)
	withRedis := func(c *config.Config) { c.RedisURL = u }
	db := testdb.SQLiteURL(t)
	a := apitest.New(t, db, withRedis)
	b := apitest.New(t, testdb.SQLiteURL(t), withRedis)
	// A query no earlier run has registered: Redis outlives the test.
	q := `query Shared { merchants(first: 2) { totalCount } } # ` + time.Now().Format(time.RFC3339Nano)
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": apq.Hash(q)}}

	if r := post(t, b, map[string]any{"extensions": ext}); r.Code() != apq.CodeNotFound {
		t.Fatalf("before registering: %s", r.Raw)
	}
	if r := post(t, a, map[string]any{"query": q, "extensions": ext}); len(r.Errors) > 0 {
		t.Fatalf("registering on a: %s", r.Raw)
	}
	if r := post(t, b, map[string]any{"extensions": ext}); len(r.Errors) > 0 || !strings.Contains(string(r.Raw), "totalCount") {
		t.Fatalf("by hash on b: %s", r.Raw)
	}
}
