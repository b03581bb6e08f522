package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

func testOptions() Options {
	return Options{
		Title:                "Xiadan <GraphQL> & playground",
		Endpoint:             "/graphql",
		SubscriptionEndpoint: "/graphql",
		DefaultTabs:          DefaultExamples(),
	}
}

func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var (
	refPattern = regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*"([^"]*)"`)
	urlPattern = regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	cdnPattern = regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]*(?:unpkg\.com|jsdelivr\.net|cdnjs\.cloudflare\.com|googleapis\.com|gstatic\.com|esm\.sh|skypack\.dev|jspm\.io|cdn\.)`)
	cssURL     = regexp.MustCompile(`url\(\s*["']?([^"')]+)["']?\s*\)`)
)

func TestPageServed(t *testing.T) {
	h := Handler(testOptions())
	rec := get(t, h, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type = %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store (the page carries a per-response nonce)", cc)
	}
	body := rec.Body.String()
	if !strings.Contains(body, "<title>Xiadan &lt;GraphQL&gt; &amp; playground</title>") {
		t.Errorf("title not escaped into the page:\n%s", body)
	}
	if m := urlPattern.FindAllString(body, -1); len(m) > 0 {
		t.Errorf("page refers to another host: %v", m)
	}
	if !strings.Contains(body, `id="graphiql"`) {
		t.Error("page lacks the mount point")
	}
	// No executable inline script: every <script> either has src or is a JSON data block.
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(tag, "src=") && !strings.Contains(tag, `type="application/json"`) {
			t.Errorf("inline executable script %s", tag)
		}
	}

	head := httptest.NewRequest(http.MethodHead, "/", nil)
	hrec := httptest.NewRecorder()
	h.ServeHTTP(hrec, head)
	if hrec.Code != http.StatusOK || hrec.Body.Len() != 0 {
		t.Errorf("HEAD / = %d with %d bytes", hrec.Code, hrec.Body.Len())
	}
}

func TestCSP(t *testing.T) {
	h := Handler(testOptions())
	rec := get(t, h, "/")
	csp := rec.Header().Get("Content-Security-Policy")
	if csp == "" {
		t.Fatal("no Content-Security-Policy")
	}
	directives := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		directives[f[0]] = f[1:]
	}
	if got := directives["default-src"]; len(got) != 1 || got[0] != "'none'" {
		t.Errorf("default-src = %v, want 'none'", got)
	}
	for _, need := range []string{"script-src", "style-src", "font-src", "img-src", "connect-src", "base-uri", "frame-ancestors"} {
		if _, ok := directives[need]; !ok {
			t.Errorf("CSP lacks %s: %s", need, csp)
		}
	}
	host := "example.com" // httptest.NewRequest's Host
	for name, sources := range directives {
		for _, s := range sources {
			switch {
			case s == "'self'", s == "'none'":
			case strings.HasPrefix(s, "'nonce-") && name == "style-src":
			case name == "connect-src" && (s == "ws://"+host || s == "wss://"+host):
			default:
				t.Errorf("%s allows %s", name, s)
			}
		}
	}
	if strings.Contains(csp, "unsafe-") || strings.Contains(csp, "*") || strings.Contains(csp, "data:") {
		t.Errorf("CSP too lax: %s", csp)
	}
	// The nonce in the policy is the one handed to the page, and it changes every response.
	nonce := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)
	if nonce == nil {
		t.Fatal("no style nonce")
	}
	cfg := pageConfigOf(t, rec.Body.String())
	if cfg.StyleNonce != nonce[1] {
		t.Errorf("page nonce %q, policy nonce %q", cfg.StyleNonce, nonce[1])
	}
	if again := get(t, h, "/").Header().Get("Content-Security-Policy"); again == csp {
		t.Error("nonce reused across responses")
	}

	// A forged Host header cannot inject policy.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Host = "evil.test; script-src *"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("Content-Security-Policy"); strings.Contains(got, "evil") {
		t.Errorf("Host reflected into CSP: %s", got)
	}
}

func pageConfigOf(t *testing.T, body string) pageConfig {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="playground-config">(.*?)</script>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no config block in page:\n%s", body)
	}
	var cfg pageConfig
	if err := json.Unmarshal([]byte(m[1]), &cfg); err != nil {
		t.Fatalf("config block is not JSON: %v\n%s", err, m[1])
	}
	return cfg
}

func TestAssetsReferencedAreServed(t *testing.T) {
	h := Handler(testOptions())
	body := get(t, h, "/").Body.String()
	refs := refPattern.FindAllStringSubmatch(body, -1)
	want := map[string]string{".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
	seen := map[string]bool{}
	for _, m := range refs {
		ref := m[1]
		if strings.Contains(ref, "//") || strings.HasPrefix(ref, "/") {
			t.Errorf("asset %q is not a relative same-origin URL", ref)
			continue
		}
		if !strings.HasPrefix(ref, AssetPrefix+Version()+"/") {
			t.Errorf("asset %q is not under the versioned prefix", ref)
		}
		rec := get(t, h, "/"+ref)
		ext := filepath.Ext(ref)
		seen[ext] = true
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d", ref, rec.Code)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, want[ext]) || want[ext] == "" {
			t.Errorf("GET %s Content-Type = %q", ref, ct)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("GET %s Cache-Control = %q", ref, cc)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s lacks nosniff", ref)
		}
		text := rec.Body.String()
		if m := cdnPattern.FindAllString(text, -1); len(m) > 0 {
			t.Errorf("%s refers to a CDN: %v", ref, m)
		}
		if ext == ".css" {
			checkStylesheetURLs(t, h, ref, text)
		}
	}
	if !seen[".js"] || !seen[".css"] || !seen[".svg"] {
		t.Errorf("page references %v, want the script, the stylesheet and the icon", refs)
	}
}

// checkStylesheetURLs fetches every url(...) of the stylesheet, resolved against it.
func checkStylesheetURLs(t *testing.T, h http.Handler, cssRef, css string) {
	t.Helper()
	dir := cssRef[:strings.LastIndex(cssRef, "/")+1]
	types := map[string]string{".woff2": "font/woff2", ".woff": "font/woff", ".png": "image/png", ".svg": "image/svg+xml"}
	n := 0
	for _, m := range cssURL.FindAllStringSubmatch(css, -1) {
		u := m[1]
		if strings.HasPrefix(u, "#") {
			continue
		}
		if strings.Contains(u, ":") || strings.HasPrefix(u, "/") {
			t.Errorf("stylesheet loads %q, not a relative same-origin URL", u)
			continue
		}
		n++
		rec := get(t, h, "/"+dir+u)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s%s = %d", dir, u, rec.Code)
			continue
		}
		if want := types[filepath.Ext(u)]; want == "" || rec.Header().Get("Content-Type") != want {
			t.Errorf("GET %s%s Content-Type = %q", dir, u, rec.Header().Get("Content-Type"))
		}
	}
	if n == 0 {
		t.Error("stylesheet has no fonts; expected GraphiQL's fonts as files")
	}
}

func TestEmbeddedFilesHaveNoCDN(t *testing.T) {
	Version()
	if len(assetsMap) < 3 {
		t.Fatalf("only %d embedded assets", len(assetsMap))
	}
	for name, a := range assetsMap {
		if m := cdnPattern.FindAll(a.data, -1); len(m) > 0 {
			t.Errorf("%s refers to a CDN: %q", name, m)
		}
		if a.contentType == "application/octet-stream" {
			t.Errorf("%s has no known content type", name)
		}
	}
	if a := assetsMap["graphiql.css"]; bytes.Contains(a.data, []byte("data:")) {
		t.Error("graphiql.css still inlines data: URLs, which the CSP blocks")
	}
}

func TestAssetServing(t *testing.T) {
	h := Handler(Options{})
	js := "/" + AssetPrefix + Version() + "/graphiql.js"

	rec := get(t, h, js, "Accept-Encoding", "gzip, br")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip GET = %d, encoding %q", rec.Code, rec.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, assetsMap["graphiql.js"].data) {
		t.Fatalf("gzip body does not decode to the asset (err %v)", err)
	}
	if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
		t.Error("no Vary: Accept-Encoding")
	}

	rec = get(t, h, js)
	if rec.Header().Get("Content-Encoding") != "" || !bytes.Equal(rec.Body.Bytes(), assetsMap["graphiql.js"].data) {
		t.Error("identity GET did not return the asset as is")
	}
	etag := rec.Header().Get("ETag")
	if rec = get(t, h, js, "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match = %d, want 304", rec.Code)
	}

	// A page from another deploy still gets a working file, but not cached as immutable.
	rec = get(t, h, "/"+AssetPrefix+"0ld/graphiql.css")
	if rec.Code != http.StatusOK || strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("old version: %d %q", rec.Code, rec.Header().Get("Cache-Control"))
	}

	for _, p := range []string{"/favicon.ico", "/graphql", "/" + AssetPrefix + Version() + "/nope.js", "/" + AssetPrefix + "graphiql.js", "/" + AssetPrefix + Version() + "/../playground.go"} {
		if rec := get(t, h, p); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rec.Code)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
	prec := httptest.NewRecorder()
	h.ServeHTTP(prec, req)
	if prec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d", prec.Code)
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/playground/", http.StripPrefix("/playground", Handler(Options{})))
	mux.Handle("/playground", http.StripPrefix("/playground", Handler(Options{})))
	rec := get(t, mux, "/playground")
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "playground/" {
		t.Fatalf("GET /playground = %d → %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = get(t, mux, "/playground/")
	ref := refPattern.FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || ref == nil {
		t.Fatalf("GET /playground/ = %d", rec.Code)
	}
	if rec := get(t, mux, "/playground/"+ref[1]); rec.Code != http.StatusOK {
		t.Errorf("GET /playground/%s = %d", ref[1], rec.Code)
	}
}

func TestDefaultTabsEmbedded(t *testing.T) {
	tricky := Tab{
		Name:      `</script><script>alert(1)</script>`,
		Query:     "query X { a } # </script><!-- <script> \u2028 & ' \"",
		Variables: `{"s": "</SCRIPT>"}`,
		Headers:   `{"Authorization": "Bearer t"}`,
	}
	opts := testOptions()
	opts.DefaultTabs = append(opts.DefaultTabs, tricky)
	body := get(t, Handler(opts), "/").Body.String()

	if n := strings.Count(strings.ToLower(body), "</script>"); n != 2 {
		t.Errorf("page has %d </script> tags, want 2 (config block and bundle)", n)
	}
	if strings.Contains(body, "<!--") || strings.Contains(body, "alert(1)</") {
		t.Error("tab text leaked into the page as markup")
	}
	cfg := pageConfigOf(t, body)
	if cfg.Endpoint != "/graphql" || cfg.SubscriptionEndpoint != "/graphql" {
		t.Errorf("endpoints = %q, %q", cfg.Endpoint, cfg.SubscriptionEndpoint)
	}
	if len(cfg.Tabs) != len(opts.DefaultTabs) {
		t.Fatalf("%d tabs, want %d", len(cfg.Tabs), len(opts.DefaultTabs))
	}
	for i, tab := range opts.DefaultTabs {
		if !reflect.DeepEqual(cfg.Tabs[i], tab) {
			t.Errorf("tab %d round-trips as %+v, want %+v", i, cfg.Tabs[i], tab)
		}
	}
}

func TestDefaults(t *testing.T) {
	body := get(t, Handler(Options{}), "/").Body.String()
	cfg := pageConfigOf(t, body)
	if cfg.Endpoint != "/graphql" || cfg.SubscriptionEndpoint != "/graphql" || cfg.Tabs == nil {
		t.Errorf("defaults: %+v", cfg)
	}
	if !strings.Contains(body, "<title>GraphQL playground</title>") {
		t.Error("default title missing")
	}
	cfg = pageConfigOf(t, get(t, Handler(Options{Endpoint: "/api"}), "/").Body.String())
	if cfg.SubscriptionEndpoint != "/api" {
		t.Errorf("subscription endpoint defaults to %q, want the endpoint", cfg.SubscriptionEndpoint)
	}
}

// TestExamplesValidate checks every example against the API's schema, so that a schema
// change that breaks one is noticed here rather than by the first person to open the IDE.
func TestExamplesValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "schema", "*.graphqls"))
	if err != nil || len(files) == 0 {
		t.Skipf("schema files not found (%v)", err)
	}
	var sources []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, &ast.Source{Name: f, Input: string(b)})
	}
	schema, gerr := gqlparser.LoadSchema(sources...)
	if gerr != nil {
		t.Fatalf("loading schema: %v", gerr)
	}
	for _, tab := range DefaultExamples() {
		t.Run(tab.Name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, tab.Query)
			if len(errs) > 0 {
				t.Fatalf("invalid against the schema: %v", errs)
			}
			if len(doc.Operations) == 0 {
				t.Fatal("no operation")
			}
			vars := map[string]any{}
			if tab.Variables != "" {
				if err := json.Unmarshal([]byte(tab.Variables), &vars); err != nil {
					t.Fatalf("variables are not JSON: %v", err)
				}
			}
			used := map[string]bool{}
			for _, op := range doc.Operations {
				if op.Name == "" {
					t.Errorf("an operation has no name; the run button offers them by name")
				}
				// Every variable an operation needs is in the editor, so running it asks
				// nothing of the reader but the steps before (captures fill the nulls).
				for _, v := range op.VariableDefinitions {
					used[v.Variable] = true
					if _, ok := vars[v.Variable]; !ok && v.Type.NonNull && v.DefaultValue == nil {
						t.Errorf("%s needs $%s, which the variables do not have", op.Name, v.Variable)
					}
				}
				given := map[string]any{}
				for _, v := range op.VariableDefinitions {
					if x, ok := vars[v.Variable]; ok && x != nil {
						given[v.Variable] = x
					}
				}
				if _, err := validator.VariableValues(schema, op, given); err != nil && len(given) == len(op.VariableDefinitions) {
					t.Errorf("%s: variables: %v", op.Name, err)
				}
			}
			for name, path := range tab.Captures {
				if _, ok := vars[name]; !ok || !used[name] {
					t.Errorf("capture %s (from %s) fills no variable of the tab", name, path)
				}
			}
			if tab.Headers != "" {
				var h map[string]string
				if err := json.Unmarshal([]byte(tab.Headers), &h); err != nil {
					t.Fatalf("headers are not a JSON object of strings: %v", err)
				}
			}
		})
	}
}

// TestREADMENamesTheExampleTabs keeps the README's table of tabs (its "Try it in the
// playground" section) in step with DefaultExamples: the same names, in the same order,
// each with the title GraphiQL shows (its first operation's name).
func TestREADMENamesTheExampleTabs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Skipf("README.md not found: %v", err)
	}
	row := regexp.MustCompile("^\\| \\*\\*(.+?)\\*\\* \\| `(\\w+)` \\|")
	var names, titles []string
	for _, line := range strings.Split(string(b), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			names, titles = append(names, m[1]), append(titles, m[2])
		}
	}
	var wantNames, wantTitles []string
	for _, tab := range DefaultExamples() {
		wantNames = append(wantNames, tab.Name)
		doc, err := parser.ParseQuery(&ast.Source{Input: tab.Query})
		if err != nil || len(doc.Operations) == 0 {
			t.Fatalf("tab %s: %v", tab.Name, err)
		}
		wantTitles = append(wantTitles, doc.Operations[0].Name)
	}
	if !reflect.DeepEqual(names, wantNames) || !reflect.DeepEqual(titles, wantTitles) {
		t.Errorf("README's tabs table:\n  names  %q\n  titles %q\nDefaultExamples:\n  names  %q\n  titles %q",
			names, titles, wantNames, wantTitles)
	}
}

// TestDistMatchesSource fails when web/ changed without a rebuild, or dist/ was edited by
// hand: dist/.build.json records the hash of the bundle's inputs and of every output.
func TestDistMatchesSource(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("dist", ".build.json"))
	if err != nil {
		t.Fatalf("dist/.build.json: %v (run `cd internal/playground/web && npm ci && node build.mjs`)", err)
	}
	var stamp struct {
		Inputs   string            `json:"inputs"`
		Versions map[string]string `json:"versions"`
		Outputs  map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(raw, &stamp); err != nil {
		t.Fatal(err)
	}
	if got := inputsHash(t); got != stamp.Inputs {
		t.Errorf("web/ changed since dist/ was built (inputs %s, built from %s): run `cd internal/playground/web && npm ci && node build.mjs`", got, stamp.Inputs)
	}
	Version()
	for name, a := range assetsMap {
		sum := sha256.Sum256(a.data)
		if want, ok := stamp.Outputs[name]; !ok || want != hex.EncodeToString(sum[:]) {
			t.Errorf("dist/%s differs from what the build wrote", name)
		}
	}
	if len(stamp.Outputs) != len(assetsMap) {
		t.Errorf("the build wrote %d files, %d are embedded", len(stamp.Outputs), len(assetsMap))
	}
	// package.json pins exact versions, and they are the ones the build used.
	var pkg struct {
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	b, err := os.ReadFile(filepath.Join("web", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	exact := regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	for _, deps := range []map[string]string{pkg.Dependencies, pkg.DevDependencies} {
		for name, v := range deps {
			if !exact.MatchString(v) {
				t.Errorf("web/package.json: %s %q is not an exact version", name, v)
			}
			if stamp.Versions[name] != v {
				t.Errorf("web/package.json pins %s %s, the build used %s", name, v, stamp.Versions[name])
			}
		}
	}
}

// inputsHash must agree with inputsHash in web/build.mjs.
func inputsHash(t *testing.T) string {
	t.Helper()
	files := []string{"build.mjs", "package.json", "package-lock.json"}
	for _, d := range []string{"src", "public"} {
		err := filepath.WalkDir(filepath.Join("web", d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(e.Name(), ".") {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !e.IsDir() {
				rel, _ := filepath.Rel("web", p)
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(files)
	var text strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("web", filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(&text, "%s\n%x\n", f, sum)
	}
	sum := sha256.Sum256([]byte(text.String()))
	return hex.EncodeToString(sum[:])
}
