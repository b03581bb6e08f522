package e2etest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/testdb"
)

// corsPage is a storefront page on another origin: it calls the API with fetch, by POST
// (JSON, with Apollo's preflight header, so the browser sends a preflight) and by GET,
// and leaves what it saw in window.__result.
const corsPage = `<!doctype html><meta charset="utf-8"><title>storefront</title><script>
const API = %q;
const QUERY = '{ products(first: 3) { edges { node { title slug } } } }';
(async () => {
  const out = {};
  try {
    const r = await fetch(API, {method: 'POST', body: JSON.stringify({query: QUERY}),
      headers: {'Content-Type': 'application/json', 'Accept': 'application/graphql-response+json, application/json', 'Apollo-Require-Preflight': 'true'}});
    out.post = {status: r.status, body: await r.json(), requestId: r.headers.get('X-Request-ID')};
  } catch (e) { out.postError = String(e); }
  try {
    const r = await fetch(API + '?query=' + encodeURIComponent(QUERY));
    out.get = {status: r.status, body: await r.json(), etag: r.headers.get('ETag'), cacheControl: r.headers.get('Cache-Control')};
  } catch (e) { out.getError = String(e); }
  window.__result = out;
})();
</script>`

type corsPageResult struct {
	URL    string `json:"url"`
	Result struct {
		Post *struct {
			Status    int             `json:"status"`
			Body      json.RawMessage `json:"body"`
			RequestID string          `json:"requestId"`
		} `json:"post"`
		PostError string `json:"postError"`
		Get       *struct {
			Status       int             `json:"status"`
			Body         json.RawMessage `json:"body"`
			ETag         string          `json:"etag"`
			CacheControl string          `json:"cacheControl"`
		} `json:"get"`
		GetError string `json:"getError"`
	} `json:"result"`
	ConsoleErrors []string `json:"consoleErrors"`
}

// TestCORSInBrowser: a page served from an allowed origin (another port of 127.0.0.1)
// calls the API from headless Chromium and reads the answers, its ETag included; a page
// on an origin not listed is blocked by the browser. Needs what TestPlaygroundE2E needs
// (bash e2e/setup.sh); skipped without it, except under CI=true.
func TestCORSInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("browser end-to-end test: skipped with -short")
	}
	root := e2eRepoRoot(t)
	node, chromium := e2ePrerequisites(t, root)

	// Two pages on two ports of 127.0.0.1, so two origins; both call the API.
	var api atomic.Pointer[string]
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, corsPage, *api.Load())
	})
	shop, other := httptest.NewServer(pages), httptest.NewServer(pages)
	t.Cleanup(shop.Close)
	t.Cleanup(other.Close)
	s := apitest.New(t, testdb.SQLiteURL(t), func(c *config.Config) { c.CORS.AllowedOrigins = []string{shop.URL} })
	endpoint := s.HTTP.URL + "/graphql"
	api.Store(&endpoint)
	m := s.NewMerchant(t, "cors-shop", merchant.StatusACTIVE)
	s.NewProduct(t, m, "西湖龙井", product.KindPHYSICAL, "CORS-1", 1000, 5)

	browser.Lock()
	defer browser.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "e2e", "cors.mjs"), shop.URL+"/", other.URL+"/")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node e2e/cors.mjs: %v\nstderr:\n%s", err, stderr.String())
	}
	var report struct {
		OK             bool             `json:"ok"`
		BrowserVersion string           `json:"browserVersion"`
		Pages          []corsPageResult `json:"pages"`
		Error          string           `json:"error"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil || !report.OK || len(report.Pages) != 2 {
		t.Fatalf("report: %v %s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("Chromium %s", report.BrowserVersion)

	allowed := report.Pages[0].Result
	if allowed.Post == nil || allowed.Post.Status != http.StatusOK || !strings.Contains(string(allowed.Post.Body), "xi-hu-long-jing") ||
		allowed.Post.RequestID == "" {
		t.Errorf("allowed origin, POST: %+v %s", allowed.Post, allowed.PostError)
	}
	if allowed.Get == nil || allowed.Get.Status != http.StatusOK || !strings.Contains(string(allowed.Get.Body), "西湖龙井") ||
		allowed.Get.ETag == "" || !strings.HasPrefix(allowed.Get.CacheControl, "public") {
		t.Errorf("allowed origin, GET: %+v %s", allowed.Get, allowed.GetError)
	}
	blocked := report.Pages[1]
	if blocked.Result.Post != nil || blocked.Result.Get != nil || !strings.Contains(blocked.Result.PostError, "Failed to fetch") ||
		!strings.Contains(strings.Join(blocked.ConsoleErrors, "\n"), "CORS") {
		t.Errorf("another origin was not blocked: %+v", blocked)
	}
}
