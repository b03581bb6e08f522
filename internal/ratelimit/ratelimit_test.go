package ratelimit

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisURL is the Redis server of these tests (REDIS_TEST_URL, by default the local one);
// they skip when it does not answer.
func redisURL(t testing.TB) string {
	u := os.Getenv("REDIS_TEST_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Skipf("redis unreachable at %s: %v", u, err)
	}
	return u
}

// newRedisClient returns a client of url and a key prefix of the test's own, whose keys
// are dropped at the end.
func newRedisClient(t testing.TB, url string) (*redis.Client, string) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	prefix := "xiadan:test:rl:" + rand.Text()[:10] + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		_ = c.Close()
	})
	return c, prefix
}

// limiters are the implementations every behaviour test runs on.
func limiters(t *testing.T) map[string]func(t *testing.T) Limiter {
	return map[string]func(t *testing.T) Limiter{
		"memory": func(*testing.T) Limiter { return NewMemory() },
		"redis": func(t *testing.T) Limiter {
			c, prefix := newRedisClient(t, redisURL(t))
			return NewShared(NewRedis(c, prefix), slog.New(slog.DiscardHandler))
		},
	}
}

func TestFailuresBackOffAndReset(t *testing.T) {
	t.Parallel()
	for name, mk := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Unix(1_700_000_000, 0)
			l := mk(t)
			l.SetNow(func() time.Time { return now })
			for i := range 4 {
				l.Fail(ctx, "k", 5, 15*time.Minute)
				if l.Blocked(ctx, "k") != 0 {
					t.Fatalf("blocked after %d failures", i+1)
				}
			}
			l.Fail(ctx, "k", 5, 15*time.Minute)
			if got := l.Blocked(ctx, "k"); got != time.Second {
				t.Fatalf("after 5 failures blocked %v, want 1s", got)
			}
			now = now.Add(time.Second)
			l.Fail(ctx, "k", 5, 15*time.Minute)
			if got := l.Blocked(ctx, "k"); got != 2*time.Second {
				t.Fatalf("after 6 failures blocked %v, want 2s", got)
			}
			for range 30 {
				l.Fail(ctx, "k", 5, 15*time.Minute)
			}
			if got := l.Blocked(ctx, "k"); got != MaxBackoff {
				t.Fatalf("back-off not capped: %v", got)
			}
			if l.Blocked(ctx, "other") != 0 {
				t.Fatal("unrelated key blocked")
			}
			l.Reset(ctx, "k")
			if l.Blocked(ctx, "k") != 0 {
				t.Fatal("reset did not unblock")
			}
			// Failures are forgotten after their window.
			for range 4 {
				l.Fail(ctx, "w", 5, time.Minute)
			}
			now = now.Add(time.Minute + time.Millisecond)
			l.Fail(ctx, "w", 5, time.Minute)
			if l.Blocked(ctx, "w") != 0 {
				t.Fatal("failures of an earlier window counted")
			}
		})
	}
}

func TestQuotaCountsPerWindow(t *testing.T) {
	t.Parallel()
	for name, mk := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Unix(1_700_000_000, 0)
			l := mk(t)
			l.SetNow(func() time.Time { return now })
			for i := range 3 {
				if wait := l.Take(ctx, "a", 3, time.Hour); wait != 0 {
					t.Fatalf("event %d refused: %v", i, wait)
				}
			}
			now = now.Add(10 * time.Minute)
			if wait := l.Take(ctx, "a", 3, time.Hour); wait != 50*time.Minute {
				t.Fatalf("fourth event: wait %v, want the rest of the window", wait)
			}
			if l.Take(ctx, "b", 3, time.Hour) != 0 {
				t.Fatal("another key refused")
			}
			now = now.Add(50 * time.Minute)
			if l.Take(ctx, "a", 3, time.Hour) != 0 {
				t.Fatal("refused in a new window")
			}
		})
	}
}

func TestBucketSpendsAndRestores(t *testing.T) {
	t.Parallel()
	b := Bucket{Capacity: 100, RestoreRate: 10}
	for name, mk := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Unix(1_700_000_000, 0)
			l := mk(t)
			l.SetNow(func() time.Time { return now })
			if st := l.Spend(ctx, "c", 30, b); !st.Allowed || st.Available != 70 {
				t.Fatalf("first spend: %+v", st)
			}
			if st := l.Spend(ctx, "c", 70, b); !st.Allowed || st.Available != 0 {
				t.Fatalf("second spend: %+v", st)
			}
			st := l.Spend(ctx, "c", 25, b)
			if st.Allowed || st.Available != 0 || st.RetryAfter != 2500*time.Millisecond {
				t.Fatalf("spend of an empty bucket: %+v", st)
			}
			now = now.Add(2500 * time.Millisecond)
			if st := l.Spend(ctx, "c", 25, b); !st.Allowed || st.Available != 0 {
				t.Fatalf("after the restore: %+v", st)
			}
			now = now.Add(time.Hour)
			if st := l.Spend(ctx, "c", 1, b); !st.Allowed || st.Available != 99 {
				t.Fatalf("a bucket restores to its capacity only: %+v", st)
			}
			if st := l.Spend(ctx, "c", 101, b); st.Allowed {
				t.Fatalf("more than the capacity taken: %+v", st)
			}
			if st := l.Spend(ctx, "d", 0.5, b); !st.Allowed || st.Available != 99.5 {
				t.Fatalf("fractions: %+v", st)
			}
		})
	}
}

// TestBucketNeverOverspends spends from one bucket in parallel through several limiters
// (replicas, for Redis) with the clock stopped: exactly capacity/cost spends succeed.
func TestBucketNeverOverspends(t *testing.T) {
	t.Parallel()
	b := Bucket{Capacity: 1000, RestoreRate: 50}
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	cases := map[string]func(t *testing.T) []Limiter{
		"memory": func(*testing.T) []Limiter { m := NewMemory(); m.SetNow(clock); return []Limiter{m} },
		"redis, three replicas": func(t *testing.T) []Limiter {
			u := redisURL(t)
			c, prefix := newRedisClient(t, u)
			var ls []Limiter
			for range 3 {
				opts, _ := redis.ParseURL(u)
				rc := redis.NewClient(opts)
				t.Cleanup(func() { _ = rc.Close() })
				s := NewShared(NewRedis(rc, prefix), slog.New(slog.DiscardHandler))
				s.SetNow(clock)
				ls = append(ls, s)
			}
			_ = c
			return ls
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ls := mk(t)
			var ok atomic.Int64
			var wg sync.WaitGroup
			for i := range 200 {
				wg.Go(func() {
					if ls[i%len(ls)].Spend(context.Background(), "shared", 7, b).Allowed {
						ok.Add(1)
					}
				})
			}
			wg.Wait()
			if got := ok.Load(); got != 1000/7 {
				t.Fatalf("%d spends of 7 from a bucket of 1000, want %d", got, 1000/7)
			}
		})
	}
}

// TestSharedFallsBackToMemory points the limiter at a closed port: every limit still
// holds, counted in this process, and one warning is logged.
func TestSharedFallsBackToMemory(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	var logged logCounter
	s := NewShared(NewRedis(c, "x:"), slog.New(&logged))
	ctx := context.Background()
	for range 5 {
		s.Fail(ctx, "k", 5, time.Minute)
	}
	if s.Blocked(ctx, "k") == 0 {
		t.Fatal("failures not counted while Redis is down")
	}
	if !s.FallingBack() {
		t.Fatal("not falling back")
	}
	if st := s.Spend(ctx, "c", 10, Bucket{Capacity: 15, RestoreRate: 1}); !st.Allowed {
		t.Fatalf("first spend: %+v", st)
	}
	if st := s.Spend(ctx, "c", 10, Bucket{Capacity: 15, RestoreRate: 1}); st.Allowed {
		t.Fatalf("bucket not kept while Redis is down: %+v", st)
	}
	if n := logged.warnings.Load(); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
}

type logCounter struct{ warnings atomic.Int64 }

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		l.warnings.Add(1)
	}
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }
