package bench_test

import (
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/bench"
	"github.com/xiadan/xiadan/internal/catalog"
)

func TestTargetsOfIssue12(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		kind     string
		products int
		want     string
	}{
		{"list", 100_000, "≥ 1,500 req/s, p99 ≤ 25 ms"},
		{"list", 1_000_000, "p99 ≤ 40 ms"},
		{"search", 100_000, "≥ 800 req/s, p99 ≤ 50 ms"},
		{"search", 1_000_000, "p99 ≤ 80 ms"},
		{"detail", 1_000_000, "≥ 2,500 req/s, p99 ≤ 20 ms"},
		{"nested", 5_000, "≥ 300 req/s, p99 ≤ 60 ms"},
	} {
		got, ok := bench.TargetFor(tc.kind, tc.products)
		if !ok || got.String() != tc.want {
			t.Errorf("TargetFor(%s, %d) = %q, %v; want %q", tc.kind, tc.products, got, ok, tc.want)
		}
	}
	list, _ := bench.TargetFor("list", 100_000)
	for _, tc := range []struct {
		throughput float64
		p99        time.Duration
		want       string
	}{
		{1500, 25 * ms, "met"},
		{1020, 25 * ms, "missed: req/s −32 % (1,020 of ≥ 1,500)"},
		{2000, 37 * ms, "missed: p99 +48 % (37.0 of ≤ 25 ms)"},
	} {
		if got := list.Judge(tc.throughput, tc.p99); got != tc.want {
			t.Errorf("Judge(%v, %v) = %q, want %q", tc.throughput, tc.p99, got, tc.want)
		}
	}
	if got := bench.JudgeRatio(100, 140); got != "1.40× (met ≤ 2×)" {
		t.Errorf("JudgeRatio = %q", got)
	}
	if got := bench.JudgeRatio(100, 250); got != "2.50× (missed ≤ 2×)" {
		t.Errorf("JudgeRatio = %q", got)
	}
	if got := bench.HitRatio(3, 1); got != "75.0 %" {
		t.Errorf("HitRatio = %q", got)
	}
}

func TestSettingsFromEnv(t *testing.T) {
	s, err := bench.SettingsFromEnv(func(string) string { return "" })
	if err != nil || s.Products != bench.DefaultProducts || len(s.Stores) != 1 || s.Stores[0] != "mysql" || !s.Cache {
		t.Fatalf("defaults: %+v %v", s, err)
	}
	env := map[string]string{"BENCH_PRODUCTS": "1000000", "BENCH_STORES": "sqlite,mysql", "BENCH_CACHE": "off"}
	s, err = bench.SettingsFromEnv(func(k string) string { return env[k] })
	if err != nil || s.Products != 1_000_000 || len(s.Stores) != 2 || s.Cache {
		t.Fatalf("%+v %v", s, err)
	}
	env = map[string]string{"BENCH_STORES": "postgres"}
	if _, err := bench.SettingsFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Fatal("BENCH_STORES=postgres accepted")
	}
}

// The baseline counts exactly up to the server's limit, as the server does.
func TestBaselineCountsLikeTheServer(t *testing.T) {
	if bench.ExactCountLimit != catalog.ExactCountLimit {
		t.Fatalf("bench.ExactCountLimit %d, catalog.ExactCountLimit %d", bench.ExactCountLimit, catalog.ExactCountLimit)
	}
}
