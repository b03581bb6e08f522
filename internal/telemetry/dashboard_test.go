package telemetry_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// metricName finds metric names in PromQL: ours, the pool's, the runtime's and the
// process's all start with one of these prefixes, and no function or label does.
var metricName = regexp.MustCompile(`\b(?:xiadan|go|process)_[a-zA-Z0-9_]+\b`)

// TestDashboardQueriesExportedMetrics: docs/grafana-dashboard.json is valid JSON with a
// Prometheus data source variable, and every metric its panels and variables query is
// one the server exports (a histogram by its _bucket, _sum or _count series).
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Query      any    `json:"query"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	var exprs []string
	hasDatasource := false
	for _, v := range dash.Templating.List {
		if v.Type == "datasource" && v.Query == "prometheus" {
			hasDatasource = true
		}
		exprs = append(exprs, v.Definition)
	}
	if !hasDatasource {
		t.Error("no Prometheus datasource variable")
	}
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, "$instance") {
				t.Errorf("panel %q ignores the instance filter: %s", p.Title, tg.Expr)
			}
			exprs = append(exprs, tg.Expr)
		}
	}

	s := apitest.New(t, testdb.SQLiteURL(t), withMetricsToken)
	exported := s.App.Telemetry.MetricNames()
	known := func(name string) bool {
		if slices.Contains(exported, name) {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(exported, base) {
				return true
			}
		}
		return false
	}
	queried := map[string]bool{}
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			queried[name] = true
			if !known(name) {
				t.Errorf("the dashboard queries %s, which the server does not export", name)
			}
		}
	}
	for _, must := range []string{"xiadan_graphql_requests_total", "xiadan_graphql_request_duration_seconds_bucket",
		"xiadan_sql_statement_duration_seconds_sum", "go_sql_in_use_connections", "xiadan_events_relay_lag_seconds",
		"xiadan_webhook_backlog", "xiadan_job_runs_total"} {
		if !queried[must] {
			t.Errorf("the dashboard has no panel on %s", must)
		}
	}
}
