package cors

import (
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    Config
		want string // "" for valid
	}{
		{"exact and wildcard", Config{AllowedOrigins: []string{"https://shop.example.com", "https://*.example.com", "http://localhost:3000"}, MaxAge: time.Minute}, ""},
		{"deprecated host pattern", Config{AllowedOrigins: []string{"shop.example.com", "*.example.com"}}, ""},
		{"star", Config{AllowedOrigins: []string{"*"}}, ""},
		{"star with credentials", Config{AllowedOrigins: []string{"*"}, AllowCredentials: true}, "CORS_ALLOW_CREDENTIALS"},
		{"path", Config{AllowedOrigins: []string{"https://shop.example.com/app"}}, "no path"},
		{"inner wildcard", Config{AllowedOrigins: []string{"https://shop.*.com"}}, "no path, no other wildcard"},
		{"scheme", Config{AllowedOrigins: []string{"ftp://shop.example.com"}}, "http:// or https://"},
		{"port", Config{AllowedOrigins: []string{"https://shop.example.com:99999"}}, "bad port"},
		{"max age", Config{MaxAge: 48 * time.Hour}, "CORS_MAX_AGE"},
		{"header", Config{ExtraHeaders: []string{"X-Ok", "Bad Header"}}, "CORS_ALLOWED_HEADERS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.c.Validate()
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("unexpected errors: %v", errs)
			case tc.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want)):
				t.Fatalf("errors %v, want one mentioning %q", errs, tc.want)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	p, err := New(Config{AllowedOrigins: []string{"https://shop.example.com", "https://*.example.net", "http://localhost:3000", "legacy.example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	ws := Config{AllowedOrigins: []string{"https://shop.example.com", "https://*.example.net", "http://localhost:3000", "legacy.example.org"}}.WebsocketPatterns()
	for origin, want := range map[string]bool{
		"https://shop.example.com":          true,
		"HTTPS://SHOP.EXAMPLE.COM":          true,
		"http://shop.example.com":           false, // another scheme is another origin
		"https://shop.example.com:444":      false,
		"https://evil.com":                  false,
		"https://shop.example.com.evil.com": false,
		"https://a.example.net":             true,
		"https://a.b.example.net":           true,
		"https://example.net":               false, // the wildcard needs a subdomain
		"https://aexample.net":              false,
		"http://a.example.net":              false,
		"http://localhost:3000":             true,
		"http://localhost:3001":             false,
		"http://legacy.example.org":         true, // host patterns take either scheme
		"https://legacy.example.org":        true,
		"null":                              false,
		"":                                  false,
		"https://shop.example.com/x":        false,
	} {
		if got := p.Allowed(origin); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", origin, got, want)
		}
		// The websocket check agrees (coder/websocket matches these patterns with
		// path.Match against scheme://host, or the host for patterns without a scheme).
		if origin == "" || origin == "null" || strings.Count(origin, "/") > 2 {
			continue
		}
		scheme, host, _ := strings.Cut(strings.ToLower(origin), "://")
		wsOK := false
		for _, pat := range ws {
			target := host
			if strings.Contains(pat, "://") {
				target = scheme + "://" + host
			}
			if m, _ := path.Match(pat, target); m {
				wsOK = true
			}
		}
		if wsOK != want {
			t.Errorf("websocket pattern for %q = %v, want %v (%v)", origin, wsOK, want, ws)
		}
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	p, err := New(Config{AllowedOrigins: []string{"https://shop.example.com"}, MaxAge: 10 * time.Minute, ExtraHeaders: []string{"X-Shop"}})
	if err != nil {
		t.Fatal(err)
	}
	reached := 0
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		w.WriteHeader(http.StatusTeapot)
	}))
	do := func(method, origin string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/graphql", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	t.Run("preflight allowed", func(t *testing.T) {
		w := do(http.MethodOptions, "https://shop.example.com", map[string]string{
			"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, authorization"})
		h := w.Header()
		if w.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-Shop") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-Xiadan-Channel") ||
			h.Get("Access-Control-Max-Age") != "600" || h.Get("Access-Control-Allow-Credentials") != "" ||
			!strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Fatalf("%d %v", w.Code, h)
		}
	})
	t.Run("preflight refused", func(t *testing.T) {
		w := do(http.MethodOptions, "https://evil.com", map[string]string{"Access-Control-Request-Method": "POST"})
		if w.Code != http.StatusForbidden || w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Access-Control-Allow-Methods") != "" {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
	})
	t.Run("request allowed", func(t *testing.T) {
		w := do(http.MethodPost, "https://shop.example.com", nil)
		if w.Code != http.StatusTeapot || w.Header().Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
			!strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "ETag") {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
	})
	t.Run("request of another origin", func(t *testing.T) {
		w := do(http.MethodPost, "https://evil.com", nil)
		if w.Code != http.StatusTeapot || w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Vary") != "Origin" {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
	})
	t.Run("plain OPTIONS goes through", func(t *testing.T) {
		before := reached
		if w := do(http.MethodOptions, "", nil); w.Code != http.StatusTeapot || reached != before+1 {
			t.Fatalf("%d", w.Code)
		}
	})
}

func TestStarAndCredentials(t *testing.T) {
	t.Parallel()
	star, _ := New(Config{AllowedOrigins: []string{"*"}})
	creds, _ := New(Config{AllowedOrigins: []string{"https://shop.example.com"}, AllowCredentials: true})
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		p                 *Policy
		wantOrigin, creds string
	}{{star, "*", ""}, {creds, "https://shop.example.com", "true"}} {
		r := httptest.NewRequest(http.MethodGet, "/graphql", nil)
		r.Header.Set("Origin", "https://shop.example.com")
		w := httptest.NewRecorder()
		tc.p.Handler(ok).ServeHTTP(w, r)
		if w.Header().Get("Access-Control-Allow-Origin") != tc.wantOrigin || w.Header().Get("Access-Control-Allow-Credentials") != tc.creds {
			t.Errorf("%v", w.Header())
		}
	}
}
