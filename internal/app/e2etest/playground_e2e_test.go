package e2etest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/testdb"
)

// The browser end-to-end test of the playground. It starts the real server on SQLite with
// the demo seeded and runs e2e/playground.mjs, which drives Debian's Chromium with
// playwright-core: open /, wait for GraphiQL, select the "Browse products" tab, type a
// products query, click the execute button and read the result pane; then sign in with the
// "Sign in" tab, run "Who am I" with the token applied, and the first two steps of "Cart and
// checkout", the second with the id the first answer filled in. The script prints a
// JSON report that this test checks: the titles shown are the demo's, nothing was logged as
// a console error, and no request went to any host but the test server.
//
// It needs node (20+), e2e/node_modules (npm ci --prefix e2e) and /usr/bin/chromium (or
// CHROMIUM=path); `bash e2e/setup.sh` installs all three. Without them it is skipped, except
// under CI=true, where it fails. XIADAN_E2E_SCREENSHOT=<dir or file.png> keeps the screenshot.

// e2eQuery is what the script types into the editor, minus its comment line; the test asks
// the API the same thing directly to know what the result pane must show.
const e2eQuery = `query Browse {
  products(first: 5) {
    totalCount
    edges {
      node {
        title
      }
    }
  }
}`

// e2eReport is the JSON that e2e/playground.mjs prints.
type e2eReport struct {
	OK             bool   `json:"ok"`
	URL            string `json:"url"`
	BrowserVersion string `json:"browserVersion"`
	Steps          []struct {
		Name string `json:"name"`
		AtMs int64  `json:"atMs"`
	} `json:"steps"`
	Tabs              []string `json:"tabs"`
	EditorQuery       string   `json:"editorQuery"`
	ResultText        string   `json:"resultText"`
	VisibleResultText string   `json:"visibleResultText"`
	NetworkResponse   string   `json:"networkResponse"`
	ConsoleErrors     []struct {
		Text     string `json:"text"`
		Location string `json:"location"`
	} `json:"consoleErrors"`
	ConsoleWarnings []struct {
		Text string `json:"text"`
	} `json:"consoleWarnings"`
	PageErrors          []string `json:"pageErrors"`
	ForeignRequests     []string `json:"foreignRequests"`
	FailedRequests      []string `json:"failedRequests"`
	HTTPErrors          []string `json:"httpErrors"`
	Requests            []string `json:"requests"`
	Websockets          []string `json:"websockets"`
	SignInResult        string   `json:"signInResult"`
	SignedInIndicator   string   `json:"signedInIndicator"`
	WhoAmIResult        string   `json:"whoAmIResult"`
	WhoAmIAuthorization string   `json:"whoAmIAuthorization"`
	WhoAmIHeadersEditor string   `json:"whoAmIHeadersEditor"`
	CaptureVariables    string   `json:"captureVariables"`
	AddToCartResult     string   `json:"addToCartResult"`
	Screenshot          string   `json:"screenshot"`
	ElapsedMs           int64    `json:"elapsedMs"`
	Error               string   `json:"error"`
}

type e2eProductsResult struct {
	Data *struct {
		Products *struct {
			TotalCount int `json:"totalCount"`
			Edges      []struct {
				Node struct {
					Title string `json:"title"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"products"`
	} `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (p e2eProductsResult) titles() []string {
	if p.Data == nil || p.Data.Products == nil {
		return nil
	}
	var out []string
	for _, e := range p.Data.Products.Edges {
		out = append(out, e.Node.Title)
	}
	return out
}

func TestPlaygroundE2E(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("browser end-to-end test: skipped with -short")
	}
	began := time.Now()
	root := e2eRepoRoot(t)
	node, chromium := e2ePrerequisites(t, root)

	// The server, on SQLite, with the demo.
	s := apitest.New(t, testdb.SQLiteURL(t))
	client, ctx := s.Client()
	sum, err := seed.Demo(ctx, client, seed.Options{Password: apitest.Password})
	if err != nil {
		t.Fatalf("seeding the demo: %v", err)
	}
	// What the result pane must show, asked of the API directly.
	var want e2eProductsResult
	direct := s.Query("", e2eQuery, nil)
	if err := json.Unmarshal(direct.Raw, &want); err != nil {
		t.Fatalf("products query over plain HTTP: response is not JSON: %s", direct.Raw)
	}
	if len(want.Errors) > 0 || want.Data == nil || want.Data.Products == nil {
		t.Fatalf("the products query itself fails over plain HTTP, before any browser is involved "+
			"(is it mid-change in graph/ or internal/catalog?): %s", direct.Raw)
	}
	ready := time.Since(began)
	t.Logf("server up with the demo (%d products) in %s", sum.Products, ready.Round(time.Millisecond))

	// The browser.
	shot := filepath.Join(t.TempDir(), "playground-e2e.png")
	browser.Lock()
	defer browser.Unlock()
	runCtx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, filepath.Join(root, "e2e", "playground.mjs"), s.HTTP.URL+"/", "--screenshot", shot,
		"--email", demoCustomer, "--password", apitest.Password)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	// SIGTERM first: playwright-core then closes the Chromium it started.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	browserStart := time.Now()
	runErr := cmd.Run()
	browserTook := time.Since(browserStart)

	e2eKeepScreenshot(t, shot)

	var rep e2eReport
	out := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("e2e/playground.mjs (%v, after %s) printed no JSON report: %v\nstdout:\n%s\nstderr:\n%s",
			runErr, browserTook.Round(time.Millisecond), err, stdout.String(), e2eTail(stderr.String(), 4000))
	}
	t.Logf("chromium %s; browser part took %s (script %d ms); whole test so far %s",
		rep.BrowserVersion, browserTook.Round(time.Millisecond), rep.ElapsedMs, time.Since(began).Round(time.Millisecond))
	for _, st := range rep.Steps {
		t.Logf("  %6d ms  %s", st.AtMs, st.Name)
	}
	if !rep.OK || runErr != nil {
		t.Fatalf("the browser run failed (%v): %s\nconsole errors: %v\npage errors: %v\nresult pane: %s\nsign-in answer: %s\nstderr:\n%s",
			runErr, rep.Error, rep.ConsoleErrors, rep.PageErrors, rep.ResultText, rep.SignInResult, e2eTail(stderr.String(), 4000))
	}

	// The page loaded and the example tabs are there.
	if !e2eContains(rep.Tabs, "Browse") {
		t.Errorf("tabs = %q, want the \"Browse products\" example (tab \"Browse\")", rep.Tabs)
	}

	// The result pane.
	var got e2eProductsResult
	if err := json.Unmarshal([]byte(rep.ResultText), &got); err != nil {
		t.Fatalf("the result pane does not hold JSON: %v\n%s", err, rep.ResultText)
	}
	if len(got.Errors) > 0 {
		t.Fatalf("the products query answered errors in the playground (it may be mid-change): %s", rep.ResultText)
	}
	if got.Data == nil || got.Data.Products == nil {
		t.Fatalf("the result pane has no data.products:\n%s", rep.ResultText)
	}
	p := got.Data.Products
	if p.TotalCount <= 0 {
		t.Errorf("totalCount = %d, want > 0", p.TotalCount)
	}
	if p.TotalCount != want.Data.Products.TotalCount {
		t.Errorf("totalCount = %d in the playground, %d over plain HTTP", p.TotalCount, want.Data.Products.TotalCount)
	}
	titles, wantTitles := got.titles(), want.titles()
	if len(titles) != min(5, want.Data.Products.TotalCount) {
		t.Errorf("the result pane shows %d products, want %d: %q", len(titles), min(5, want.Data.Products.TotalCount), titles)
	}
	if strings.Join(titles, "\n") != strings.Join(wantTitles, "\n") {
		t.Errorf("titles in the playground = %q\nover plain HTTP          = %q", titles, wantTitles)
	}
	// They are the demo's (bilingual: Chinese titles).
	for _, ti := range titles {
		if !e2eHasHan(ti) {
			t.Errorf("title %q is not one of the demo's Chinese titles", ti)
		}
	}
	// And they are on screen, not only in the editor's model.
	if !strings.Contains(rep.VisibleResultText, `"totalCount": `+strconv.Itoa(p.TotalCount)) {
		t.Errorf("the rendered result pane does not show totalCount %d:\n%s", p.TotalCount, rep.VisibleResultText)
	}
	for _, ti := range titles {
		if !strings.Contains(rep.VisibleResultText, ti) {
			t.Errorf("the rendered result pane does not show %q:\n%s", ti, rep.VisibleResultText)
		}
	}

	// Signing in with the "Sign in" tab applies the token to the other tabs.
	e2eCheckSession(t, rep)

	// A clean run: nothing logged as an error, nothing failed, nothing left this server.
	for _, e := range rep.ConsoleErrors {
		t.Errorf("console error: %s (%s)", e.Text, e.Location)
	}
	for _, e := range rep.PageErrors {
		t.Errorf("uncaught exception in the page: %s", e)
	}
	for _, u := range rep.ForeignRequests {
		t.Errorf("request to another host than the test server (%s): %s", s.HTTP.URL, u)
	}
	for _, f := range rep.FailedRequests {
		t.Errorf("request failed: %s", f)
	}
	for _, h := range rep.HTTPErrors {
		t.Errorf("HTTP error: %s", h)
	}
	for _, w := range rep.ConsoleWarnings {
		t.Logf("console warning (not a failure): %s", w.Text)
	}
	t.Logf("%d requests, all to %s; result pane: totalCount %d, titles %q", len(rep.Requests), s.HTTP.URL, p.TotalCount, titles)
	t.Logf("whole test took %s", time.Since(began).Round(time.Millisecond))
}

// e2eCheckSession checks the sign-in part of the run: the Sign in tab answered a token, the
// toolbar showed it in use, "Who am I" — whose own headers name no Authorization — sent it
// and was answered as the demo customer, and "Cart and checkout" filled the variant id of
// its first answer into the second step, which then succeeded.
func e2eCheckSession(t *testing.T, rep e2eReport) {
	t.Helper()
	var signIn struct {
		Data struct {
			Login struct {
				AccessToken string `json:"accessToken"`
			} `json:"login"`
		} `json:"data"`
		Errors []any `json:"errors"`
	}
	if err := json.Unmarshal([]byte(rep.SignInResult), &signIn); err != nil || len(signIn.Errors) > 0 || signIn.Data.Login.AccessToken == "" {
		t.Fatalf("the Sign in tab did not sign in (%v): %s", err, rep.SignInResult)
	}
	if rep.SignedInIndicator != "true" {
		t.Errorf("the toolbar does not show the session after signing in")
	}
	if strings.Contains(strings.ToLower(rep.WhoAmIHeadersEditor), "authorization") {
		t.Errorf("the Who am I tab's own headers name Authorization (%q); the test wants the session's token", rep.WhoAmIHeadersEditor)
	}
	if rep.WhoAmIAuthorization != "Bearer "+signIn.Data.Login.AccessToken {
		t.Errorf("Who am I sent Authorization %q, want the Sign in tab's token", rep.WhoAmIAuthorization)
	}
	var who struct {
		Data struct {
			Me *struct {
				Email string `json:"email"`
			} `json:"me"`
		} `json:"data"`
		Errors []any `json:"errors"`
	}
	if err := json.Unmarshal([]byte(rep.WhoAmIResult), &who); err != nil || len(who.Errors) > 0 || who.Data.Me == nil || who.Data.Me.Email != demoCustomer {
		t.Errorf("Who am I answered %s (%v), want the signed-in %s", rep.WhoAmIResult, err, demoCustomer)
	}
	var vars struct {
		VariantID any `json:"variantID"`
	}
	if err := json.Unmarshal([]byte(rep.CaptureVariables), &vars); err != nil || vars.VariantID == nil {
		t.Errorf("Cart and checkout: variantID not filled from the first answer: %s (%v)", rep.CaptureVariables, err)
	}
	var cart struct {
		Data struct {
			AddToCart *struct {
				Quantity int `json:"quantity"`
			} `json:"addToCart"`
		} `json:"data"`
		Errors []any `json:"errors"`
	}
	if err := json.Unmarshal([]byte(rep.AddToCartResult), &cart); err != nil || len(cart.Errors) > 0 || cart.Data.AddToCart == nil || cart.Data.AddToCart.Quantity != 1 {
		t.Errorf("Cart and checkout: AddToCart answered %s (%v), want a cart of 1", rep.AddToCartResult, err)
	}
}

// e2eRepoRoot is the module root (where go.mod is), found upwards from the package folder.
func e2eRepoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// e2ePrerequisites finds node, the pinned playwright-core and Chromium. When one is missing
// the test is skipped loudly, or fails under CI=true, where e2e/setup.sh should have run.
func e2ePrerequisites(t *testing.T, root string) (node, chromium string) {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node is not on PATH (Node 20 or later)")
	} else if v, err := exec.Command(node, "--version").Output(); err != nil {
		missing = append(missing, fmt.Sprintf("node --version: %v", err))
	} else if major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(v)), "v"), ".", 2)[0]); major < 20 {
		missing = append(missing, fmt.Sprintf("node is %s; playwright-core needs 20 or later", strings.TrimSpace(string(v))))
	}

	pinned, installed := "", ""
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
		Version      string            `json:"version"`
	}
	if b, err := os.ReadFile(filepath.Join(root, "e2e", "package.json")); err == nil && json.Unmarshal(b, &pkg) == nil {
		pinned = pkg.Dependencies["playwright-core"]
	}
	pkg.Version = ""
	if b, err := os.ReadFile(filepath.Join(root, "e2e", "node_modules", "playwright-core", "package.json")); err == nil && json.Unmarshal(b, &pkg) == nil {
		installed = pkg.Version
	}
	switch {
	case pinned == "":
		t.Fatalf("e2e/package.json does not pin playwright-core")
	case installed == "":
		missing = append(missing, "e2e/node_modules has no playwright-core (npm ci --prefix e2e)")
	case installed != pinned:
		missing = append(missing, fmt.Sprintf("e2e/node_modules has playwright-core %s, package.json pins %s (npm ci --prefix e2e)", installed, pinned))
	}

	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if fi, err := os.Stat(chromium); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		missing = append(missing, chromium+" is missing (apt-get install chromium, or set CHROMIUM)")
	}

	if len(missing) > 0 {
		msg := "browser end-to-end test of the playground cannot run: " + strings.Join(missing, "; ") +
			". Install everything with: bash e2e/setup.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: " + msg + " (.ci/run must call it before the tests)")
		}
		fmt.Fprintln(os.Stderr, "!!! SKIPPING TestPlaygroundE2E: "+msg)
		t.Skip("!!! SKIPPED: " + msg)
	}
	return node, chromium
}

// e2eKeepScreenshot copies the screenshot to XIADAN_E2E_SCREENSHOT, a file when it ends in .png
// and a folder otherwise.
func e2eKeepScreenshot(t *testing.T, shot string) {
	t.Helper()
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(b))
	dst := os.Getenv("XIADAN_E2E_SCREENSHOT")
	if dst == "" {
		return
	}
	if !strings.HasSuffix(strings.ToLower(dst), ".png") {
		dst = filepath.Join(dst, filepath.Base(shot))
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Errorf("XIADAN_E2E_SCREENSHOT: %v", err)
		return
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Errorf("XIADAN_E2E_SCREENSHOT: %v", err)
		return
	}
	t.Logf("screenshot copied to %s", dst)
}

func e2eHasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4E00 && r <= 0x9FFF {
			return true
		}
	}
	return false
}

func e2eContains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

func e2eTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
