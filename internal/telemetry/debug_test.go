package telemetry_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xiadan/xiadan/internal/telemetry"
)

// TestDebugListener: the METRICS_ADDR listener serves /metrics and pprof, behind
// METRICS_TOKEN when one is set.
func TestDebugListener(t *testing.T) {
	for _, c := range []struct {
		name, token string
	}{{"no token", ""}, {"token", metricsToken}} {
		t.Run(c.name, func(t *testing.T) {
			tel, err := telemetry.New(telemetry.Config{MetricsAddr: "127.0.0.1:0", MetricsToken: c.token})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(tel.DebugHandler())
			defer srv.Close()
			for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/goroutine?debug=1"} {
				for _, auth := range []string{"", "Bearer " + metricsToken} {
					req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
					if auth != "" {
						req.Header.Set("Authorization", auth)
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					res.Body.Close()
					want := http.StatusOK
					if c.token != "" && auth == "" {
						want = http.StatusUnauthorized
					}
					if res.StatusCode != want {
						t.Errorf("%s with %q: %d, want %d", path, auth, res.StatusCode, want)
					}
				}
			}
		})
	}
}
