// Package playground serves a GraphQL IDE (GraphiQL) entirely from the binary: the page,
// its JavaScript, stylesheet and fonts are embedded, so it works offline and loads nothing
// from another host. The bundle is built from web/ into dist/, which is committed so that
// `go build` needs no npm. After changing anything in web/, rebuild with
//
//	cd internal/playground/web && npm ci && node build.mjs
//
// (TestDistMatchesSource fails until then).
//
// Layout, relative to wherever the handler is mounted:
//
//	/                          the page (no-store; CSP with a per-response style nonce)
//	/assets/<version>/<file>   dist/<file>, immutable (the version is a hash of dist/)
//
// Mount it on a path that ends in a slash (for example "/" or, under http.StripPrefix,
// "/playground/"): the page refers to its assets by relative URLs.
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

//go:embed dist
var dist embed.FS

// Options configure the IDE.
type Options struct {
	// Title is the page's title. Default "GraphQL playground".
	Title string
	// Endpoint is where queries and mutations are POSTed, usually a path such as
	// /graphql. Default "/graphql".
	Endpoint string
	// SubscriptionEndpoint is where subscriptions connect over websocket with the
	// graphql-transport-ws protocol. A path such as /graphql becomes ws:// or wss:// on
	// the page's own host, following the page's scheme. Default: Endpoint.
	SubscriptionEndpoint string
	// DefaultTabs open in the IDE the first time (GraphiQL keeps the user's tabs in
	// localStorage afterwards).
	DefaultTabs []Tab
}

// Tab is an example operation that the IDE opens as a tab. Variables and Headers are JSON
// texts for the variables and headers editors. Captures fill variables from answers: once
// an answer has a value at the path (names and list indexes joined by dots; "?field" is
// the first element whose field is true), the active tab's variable of that name, when it
// has one, takes the value.
type Tab struct {
	Name      string            `json:"name,omitempty"`
	Query     string            `json:"query"`
	Variables string            `json:"variables,omitempty"`
	Headers   string            `json:"headers,omitempty"`
	Captures  map[string]string `json:"captures,omitempty"`
}

// AssetPrefix is the sub-path, relative to the page, under which the assets are served.
const AssetPrefix = "assets/"

var (
	assetsOnce sync.Once
	assetsVer  string
	assetsMap  map[string]*asset
)

type asset struct {
	name        string
	contentType string
	data        []byte
	etag        string

	gzOnce sync.Once
	gz     []byte // nil when compressing does not pay
}

// contentTypes is explicit so that the answer does not depend on the host's mime tables.
var contentTypes = map[string]string{
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".woff2": "font/woff2",
	".woff":  "font/woff",
	".ttf":   "font/ttf",
	".png":   "image/png",
	".svg":   "image/svg+xml",
	".gif":   "image/gif",
	".json":  "application/json",
	".txt":   "text/plain; charset=utf-8",
}

// compressible lists the types worth gzipping (fonts and images are compressed already).
var compressible = map[string]bool{".js": true, ".css": true, ".svg": true, ".json": true, ".txt": true}

func loadAssets() {
	assetsMap = map[string]*asset{}
	var names []string
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("playground: reading embedded assets: %v", err))
	}
	sort.Strings(names)
	all := sha256.New()
	for _, p := range names {
		data, err := dist.ReadFile(p)
		if err != nil {
			panic(fmt.Sprintf("playground: reading embedded %s: %v", p, err))
		}
		name := strings.TrimPrefix(p, "dist/")
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(data)
		assetsMap[name] = &asset{name: name, contentType: ct, data: data, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		fmt.Fprintf(all, "%s\x00%x\x00", name, sum)
	}
	assetsVer = hex.EncodeToString(all.Sum(nil)[:6])
	for _, need := range []string{"graphiql.js", "graphiql.css", "favicon.svg"} {
		if assetsMap[need] == nil {
			panic("playground: dist/" + need + " is missing; run `cd internal/playground/web && npm ci && node build.mjs`")
		}
	}
}

// Version is the hash of the embedded assets that appears in their URLs.
func Version() string {
	assetsOnce.Do(loadAssets)
	return assetsVer
}

type handler struct {
	title   string
	config  pageConfig
	connect []string // extra connect-src origins for absolute endpoints
}

type pageConfig struct {
	Endpoint             string `json:"endpoint"`
	SubscriptionEndpoint string `json:"subscriptionEndpoint"`
	Tabs                 []Tab  `json:"tabs"`
	StyleNonce           string `json:"styleNonce,omitempty"`
}

// Handler serves the IDE page at its root and the embedded assets under AssetPrefix.
// Any other path is 404, so the handler can be mounted on "/" next to other routes.
func Handler(opts Options) http.Handler {
	assetsOnce.Do(loadAssets)
	h := &handler{title: opts.Title, config: pageConfig{
		Endpoint:             opts.Endpoint,
		SubscriptionEndpoint: opts.SubscriptionEndpoint,
		Tabs:                 append([]Tab(nil), opts.DefaultTabs...),
	}}
	if h.title == "" {
		h.title = "GraphQL playground"
	}
	if h.config.Endpoint == "" {
		h.config.Endpoint = "/graphql"
	}
	if h.config.SubscriptionEndpoint == "" {
		h.config.SubscriptionEndpoint = h.config.Endpoint
	}
	if h.config.Tabs == nil {
		h.config.Tabs = []Tab{}
	}
	// An endpoint configured as an absolute URL (another port or host the operator chose)
	// must be allowed explicitly; paths are covered by 'self'.
	for _, e := range []string{h.config.Endpoint, h.config.SubscriptionEndpoint} {
		if o := absoluteOrigin(e); o != "" {
			h.connect = append(h.connect, o)
		}
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "":
		// Mounted under StripPrefix and asked for without the trailing slash: the relative
		// asset URLs need it.
		base := path.Base(strings.TrimSuffix(requestPath(r), "/"))
		if base == "." || base == "/" || base == "" {
			base = "."
		} else {
			base = url.PathEscape(base)
		}
		// Set by hand: http.Redirect would resolve it against the stripped path.
		w.Header().Set("Location", base+"/")
		w.WriteHeader(http.StatusMovedPermanently)
	case p == "/" || p == "/index.html":
		h.servePage(w, r)
	case strings.HasPrefix(p, "/"+AssetPrefix):
		serveAsset(w, r, strings.TrimPrefix(p, "/"+AssetPrefix))
	default:
		http.NotFound(w, r)
	}
}

func requestPath(r *http.Request) string {
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		return u.Path
	}
	return r.URL.Path
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	nonce, err := newNonce()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	cfg := h.config
	cfg.StyleNonce = nonce
	page, err := renderPage(h.title, Version(), cfg)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", h.csp(r, nonce))
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(page))
}

// hostPattern admits what a Host header may carry: a name, IPv4 or bracketed IPv6, and a port.
var hostPattern = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`)

// csp allows this origin only. Scripts, styles, fonts and images come from 'self'; the one
// exception is a per-response nonce for the <style> elements that the dialogs' scroll lock
// inserts. Websockets to the page's own host are named explicitly, as some browsers do not
// let 'self' cover ws: and wss:.
func (h *handler) csp(r *http.Request, nonce string) string {
	connect := []string{"'self'"}
	if hostPattern.MatchString(r.Host) {
		connect = append(connect, "ws://"+r.Host, "wss://"+r.Host)
	}
	connect = append(connect, h.connect...)
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self' 'nonce-" + nonce + "'",
		"img-src 'self'",
		"font-src 'self'",
		"connect-src " + strings.Join(connect, " "),
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

func absoluteOrigin(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || !hostPattern.MatchString(u.Host) {
		return ""
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
		return u.Scheme + "://" + u.Host
	}
	return ""
}

func newNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// renderPage writes the HTML. The configuration travels as a JSON data block, which CSP
// does not treat as script; encoding/json escapes <, > and & so that no value (a tab's
// query containing "</script>", say) can end the element early.
func renderPage(title, version string, cfg pageConfig) ([]byte, error) {
	conf, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	base := AssetPrefix + version + "/"
	var b bytes.Buffer
	b.WriteString("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	b.WriteString("<meta name=\"referrer\" content=\"no-referrer\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n", html.EscapeString(title))
	fmt.Fprintf(&b, "<link rel=\"icon\" type=\"image/svg+xml\" href=\"%sfavicon.svg\">\n", base)
	fmt.Fprintf(&b, "<link rel=\"stylesheet\" href=\"%sgraphiql.css\">\n", base)
	fmt.Fprintf(&b, "<script type=\"application/json\" id=\"playground-config\">%s</script>\n", conf)
	fmt.Fprintf(&b, "<script defer src=\"%sgraphiql.js\"></script>\n", base)
	b.WriteString("</head>\n<body>\n<div id=\"graphiql\"><noscript>The GraphQL playground needs JavaScript.</noscript></div>\n</body>\n</html>\n")
	return b.Bytes(), nil
}

// serveAsset serves "<version>/<name>". The current version is cached for a year as
// immutable; another version (a page from an older deploy) still gets today's file, but
// uncached, so that no cache keeps today's bytes under yesterday's URL.
func serveAsset(w http.ResponseWriter, r *http.Request, rest string) {
	ver, name, ok := strings.Cut(rest, "/")
	a := assetsMap[name]
	if !ok || ver == "" || a == nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	if ver == assetsVer {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	body := a.data
	if compressible[path.Ext(name)] {
		hd.Add("Vary", "Accept-Encoding")
		if gz := a.gzipped(); gz != nil && acceptsGzip(r) {
			hd.Set("Content-Encoding", "gzip")
			hd.Set("ETag", strings.TrimSuffix(a.etag, `"`)+`-gz"`)
			body = gz
			// A byte range of the compressed stream is of no use to anyone: send it whole.
			if r.Header.Get("Range") != "" {
				r = r.Clone(r.Context())
				r.Header.Del("Range")
			}
		} else {
			hd.Set("ETag", a.etag)
		}
	} else {
		hd.Set("ETag", a.etag)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func (a *asset) gzipped() []byte {
	a.gzOnce.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if _, err := zw.Write(a.data); err != nil {
			return
		}
		if err := zw.Close(); err != nil {
			return
		}
		if b.Len() < len(a.data)*9/10 {
			a.gz = b.Bytes()
		}
	})
	return a.gz
}

func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
