// Package cors lets pages on other origins call the API from a browser: it answers CORS
// preflights and marks the responses of allowed origins, from one list of origin patterns
// that the websocket Origin check shares (internal/app).
package cors

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the CORS policy (CORS_* settings).
type Config struct {
	// AllowedOrigins are exact origins ("https://shop.example.com", "http://localhost:3000"),
	// origins with a wildcard for the subdomains ("https://*.example.com": any depth, not
	// the bare domain), "*" for every origin (only without credentials), or, as the
	// deprecated ALLOWED_ORIGINS had them, host patterns without a scheme
	// ("shop.example.com", "*.example.com"), which match http and https alike.
	AllowedOrigins []string
	// AllowCredentials lets pages send cookies and read responses to credentialed
	// requests. Xiadan's tokens travel in the Authorization header, which needs no
	// credentials mode, so it is off unless a deployment puts something in cookies.
	AllowCredentials bool
	// MaxAge is how long a browser may reuse a preflight answer.
	MaxAge time.Duration
	// ExtraHeaders are request headers to allow besides AllowedHeaders.
	ExtraHeaders []string
}

// AllowedMethods are the methods the GraphQL endpoint's transports take: GET and POST,
// and PUT and DELETE for graphql-sse's single-connection mode.
var AllowedMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions}

// AllowedHeaders are the request headers mainstream clients send: the GraphQL-over-HTTP
// ones, Apollo Client's (its CSRF-prevention and client-awareness headers), graphql-sse's
// stream token, Xiadan's idempotency key, request id and sales channel (internal/analytics),
// and tracing headers.
var AllowedHeaders = []string{
	"Accept", "Authorization", "Content-Type", "If-None-Match", "Idempotency-Key", "X-Request-ID", "X-Device-Id", "X-Xiadan-Channel",
	"Apollo-Require-Preflight", "X-Apollo-Operation-Name", "Apollographql-Client-Name", "Apollographql-Client-Version",
	"X-GraphQL-Event-Stream-Token", "Last-Event-ID", "Traceparent", "Tracestate",
}

// ExposedHeaders are the response headers a page may read: the cache validator, the
// request id to quote in a support request, and the back-off of a refused request.
var ExposedHeaders = []string{"ETag", "X-Request-ID", "Retry-After"}

// Validate reports every invalid setting.
func (c Config) Validate() []error {
	var errs []error
	for _, o := range c.AllowedOrigins {
		if _, err := parsePattern(o); err != nil {
			errs = append(errs, fmt.Errorf("CORS_ALLOWED_ORIGINS: %w", err))
		}
	}
	if c.AllowCredentials && slices.Contains(c.AllowedOrigins, "*") {
		errs = append(errs, errors.New(`CORS_ALLOWED_ORIGINS: "*" cannot be combined with CORS_ALLOW_CREDENTIALS=true (browsers refuse it); list the origins`))
	}
	if c.MaxAge < 0 || c.MaxAge > 24*time.Hour {
		errs = append(errs, errors.New("CORS_MAX_AGE: must be between 0s and 24h"))
	}
	for _, h := range c.ExtraHeaders {
		if !token(h) {
			errs = append(errs, fmt.Errorf("CORS_ALLOWED_HEADERS: %q is not a header name", h))
		}
	}
	return errs
}

// pattern is one parsed entry of AllowedOrigins.
type pattern struct {
	any    bool   // "*"
	scheme string // "" matches http and https (a deprecated host pattern)
	host   string // host[:port], lower case, without the wildcard
	suffix bool   // "*." before host: any subdomain of it
}

func parsePattern(s string) (pattern, error) {
	if s == "*" {
		return pattern{any: true}, nil
	}
	var p pattern
	rest := strings.ToLower(s)
	if scheme, after, ok := strings.Cut(rest, "://"); ok {
		if scheme != "http" && scheme != "https" {
			return p, fmt.Errorf("%q: an origin is http:// or https:// and a host, such as https://shop.example.com", s)
		}
		p.scheme, rest = scheme, after
	}
	if after, ok := strings.CutPrefix(rest, "*."); ok {
		p.suffix, rest = true, after
	}
	u, err := url.Parse("http://" + rest)
	if err != nil || rest == "" || u.Host != rest || u.User != nil || strings.ContainsAny(rest, "*?[]/\\ ") {
		return p, fmt.Errorf("%q: want an origin such as https://shop.example.com or https://*.example.com (no path, no other wildcard)", s)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return p, fmt.Errorf("%q: bad port", s)
		}
	}
	p.host = rest
	return p, nil
}

// match reports whether the origin (scheme://host[:port], lower case) fits the pattern.
func (p pattern) match(scheme, host string) bool {
	switch {
	case p.any:
		return true
	case p.scheme != "" && p.scheme != scheme:
		return false
	case p.scheme == "" && scheme != "http" && scheme != "https":
		return false
	case p.suffix:
		return strings.HasSuffix(host, "."+p.host)
	}
	return host == p.host
}

// Policy is a validated Config, ready to check origins and wrap handlers.
type Policy struct {
	patterns    []pattern
	credentials bool
	anyOrigin   bool
	methods     string
	headers     string
	exposed     string
	maxAge      string
}

// New builds the policy of a valid Config.
func New(c Config) (*Policy, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p := &Policy{credentials: c.AllowCredentials,
		methods: strings.Join(AllowedMethods, ", "),
		headers: strings.Join(append(slices.Clone(AllowedHeaders), c.ExtraHeaders...), ", "),
		exposed: strings.Join(ExposedHeaders, ", "),
		maxAge:  strconv.Itoa(int(c.MaxAge / time.Second)),
	}
	for _, o := range c.AllowedOrigins {
		pt, _ := parsePattern(o)
		p.patterns = append(p.patterns, pt)
		p.anyOrigin = p.anyOrigin || pt.any
	}
	return p, nil
}

// Allowed reports whether a page of origin (an Origin header's value) may call the API.
// "null" (sandboxed frames, file: pages) is never allowed.
func (p *Policy) Allowed(origin string) bool {
	scheme, host, ok := strings.Cut(strings.ToLower(origin), "://")
	if !ok || host == "" || strings.ContainsAny(host, "/?#@ ") {
		return false
	}
	for _, pt := range p.patterns {
		if pt.match(scheme, host) {
			return true
		}
	}
	return false
}

// Handler wraps next with the policy. A preflight (OPTIONS with
// Access-Control-Request-Method) is answered here: 204 with the allowed methods and
// headers for an allowed origin, 403 without any CORS header otherwise. Other requests go
// on to next; those of allowed origins carry Access-Control-Allow-Origin (and the exposed
// headers), the rest nothing, so the browser keeps their answers from the page. Every
// response varies by Origin, so a shared cache never hands one origin's answer to another.
func (p *Policy) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if origin == "" || !p.Allowed(origin) {
			if preflight {
				// No CORS headers: the browser refuses the real request.
				http.Error(w, "CORS: origin not allowed", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if p.anyOrigin && !p.credentials {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if p.credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", p.methods)
			h.Set("Access-Control-Allow-Headers", p.headers)
			h.Set("Access-Control-Max-Age", p.maxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", p.exposed)
		next.ServeHTTP(w, r)
	})
}

// WebsocketPatterns are the policy's origins as github.com/coder/websocket's
// AcceptOptions.OriginPatterns (path.Match patterns, against scheme://host when they
// have a scheme, the host otherwise), so a websocket upgrade is allowed from the same
// pages as a fetch. A same-host Origin is always allowed there too.
func (c Config) WebsocketPatterns() []string {
	out := make([]string, 0, len(c.AllowedOrigins)*2)
	for _, o := range c.AllowedOrigins {
		pt, err := parsePattern(o)
		if err != nil {
			continue
		}
		prefix := ""
		if pt.scheme != "" {
			prefix = pt.scheme + "://"
		}
		switch {
		case pt.any:
			out = append(out, "*")
		case pt.suffix:
			// path.Match's * stops at nothing but '/', so "*.example.com" takes any depth of
			// subdomain, as Allowed does.
			out = append(out, prefix+"*."+pt.host)
		default:
			out = append(out, prefix+pt.host)
		}
	}
	return out
}

// token reports whether s is an HTTP header name.
func token(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 126 || r <= 32 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}
