package bench

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/xiadan/xiadan/internal/storecache"
)

// CacheStats reads the storefront caches' counters of hits (answers from the store or
// from a concurrent identical request) and misses (including stale answers) since the
// process started, summed over every cached server OpenStore started, so a run can report
// its hit ratio from their change. While it is nil the cache table prints "not wired".
var CacheStats func() (hits, misses int64)

// caches are the storefront caches of the servers OpenStore started.
var caches struct {
	sync.Mutex
	all []*storecache.Cache
}

func watchCache(c *storecache.Cache) {
	caches.Lock()
	defer caches.Unlock()
	caches.all = append(caches.all, c)
	CacheStats = func() (hits, misses int64) {
		caches.Lock()
		defer caches.Unlock()
		for _, c := range caches.all {
			s := c.Stats()
			hits += s.Hits + s.Coalesced
			misses += s.Misses + s.Stale
		}
		return hits, misses
	}
}

// Target is what issue 12 asks of one scenario: at least MinThroughput requests per
// second (0: no throughput target at that scale) with a p99 of at most MaxP99.
type Target struct {
	MinThroughput float64
	MaxP99        time.Duration
}

// BaselineRatioTarget is how much faster the hand-written handler may be than the GraphQL
// server for the same page (issue 12: "within 2×").
const BaselineRatioTarget = 2.0

// LargeScale is the catalogue size from which the 1M column applies.
const LargeScale = 1_000_000

// TargetFor returns the target for a scenario kind ("list", "search", "detail",
// "nested") at a catalogue of products products: the 100k column below LargeScale, the 1M
// column from it. Below 100k the 100k column is indicative only.
func TargetFor(kind string, products int) (Target, bool) {
	large := products >= LargeScale
	ms := time.Millisecond
	switch kind {
	case "list":
		if large {
			return Target{MaxP99: 40 * ms}, true
		}
		return Target{MinThroughput: 1500, MaxP99: 25 * ms}, true
	case "search":
		if large {
			return Target{MaxP99: 80 * ms}, true
		}
		return Target{MinThroughput: 800, MaxP99: 50 * ms}, true
	case "detail":
		return Target{MinThroughput: 2500, MaxP99: 20 * ms}, true
	case "nested":
		return Target{MinThroughput: 300, MaxP99: 60 * ms}, true
	}
	return Target{}, false
}

// String is the target as the table shows it: "≥ 1,500 req/s, p99 ≤ 25 ms".
func (t Target) String() string {
	var parts []string
	if t.MinThroughput > 0 {
		parts = append(parts, "≥ "+thousands(t.MinThroughput)+" req/s")
	}
	parts = append(parts, fmt.Sprintf("p99 ≤ %s ms", trimFloat(float64(t.MaxP99)/float64(time.Millisecond))))
	return strings.Join(parts, ", ")
}

// Judge says whether a run met the target, and if not by how far it missed each part:
// "met", or "req/s −32 % (1,020 of ≥ 1,500); p99 +48 % (37.1 of ≤ 25 ms)".
func (t Target) Judge(throughput float64, p99 time.Duration) string {
	var misses []string
	if t.MinThroughput > 0 && throughput < t.MinThroughput {
		misses = append(misses, fmt.Sprintf("req/s −%.0f %% (%s of ≥ %s)",
			100*(1-throughput/t.MinThroughput), thousands(throughput), thousands(t.MinThroughput)))
	}
	if t.MaxP99 > 0 && p99 > t.MaxP99 {
		misses = append(misses, fmt.Sprintf("p99 +%.0f %% (%.1f of ≤ %s ms)",
			100*(float64(p99)/float64(t.MaxP99)-1), float64(p99)/float64(time.Millisecond),
			trimFloat(float64(t.MaxP99)/float64(time.Millisecond))))
	}
	if len(misses) == 0 {
		return "met"
	}
	return "missed: " + strings.Join(misses, "; ")
}

// JudgeRatio describes the baseline's throughput over the server's: "1.4× (met ≤ 2×)".
func JudgeRatio(server, baseline float64) string {
	if server <= 0 {
		return "— (no server throughput)"
	}
	r := baseline / server
	verdict := "met"
	if r > BaselineRatioTarget {
		verdict = "missed"
	}
	return fmt.Sprintf("%.2f× (%s ≤ %s×)", r, verdict, trimFloat(BaselineRatioTarget))
}

// HitRatio is hits ÷ (hits + misses) as a percentage, or a note when nothing was counted.
func HitRatio(hits, misses int64) string {
	if hits+misses == 0 {
		return "no lookups counted"
	}
	return fmt.Sprintf("%.1f %%", 100*float64(hits)/float64(hits+misses))
}

// thousands writes n rounded to a whole number with thousands separators: 1,500.
func thousands(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// trimFloat writes f without trailing zeros: 25, 2.5.
func trimFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
}
