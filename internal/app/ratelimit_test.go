package app_test

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/ratelimit"
	"github.com/xiadan/xiadan/internal/testdb"
)

// page100 costs 2 + 100 × 1 = 102 points: nine fit in a budget of 1,000, with 82 left.
const page100 = `{ merchants(first: 100) { edges { node { id } } } }`

// withBudget turns the query-cost budget on (apitest servers have it off) at the defaults.
func withBudget(c *config.Config) {
	c.RateLimit.QueryCostBudget, c.RateLimit.QueryCostRestoreRate = 1000, 50
}

// sharedRedis points a server's limits at the test Redis under a prefix of the test's own,
// so that the servers given it share their limits and no other test sees them.
func sharedRedis(t *testing.T) func(*config.Config) {
	u := redisURL(t)
	prefix := "xiadan:test:rl:" + rand.Text()[:10] + ":"
	t.Cleanup(func() {
		opts, err := redis.ParseURL(u)
		if err != nil {
			return
		}
		c := redis.NewClient(opts)
		defer c.Close()
		ctx := t.Context()
		if keys, _ := c.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return func(c *config.Config) { c.RedisURL, c.RateLimit.RedisPrefix = u, prefix }
}

// fromAddr is a request from client address ip (the servers trust X-Forwarded-For).
func fromAddr(ip, token, query string) apitest.Request {
	return apitest.Request{Query: query, Token: token, Header: map[string]string{"X-Forwarded-For": ip}}
}

// throttleOf returns extensions.cost.throttleStatus, or nil.
func throttleOf(t *testing.T, r *apitest.Response) map[string]any {
	t.Helper()
	ts, _ := costOf(t, r)["throttleStatus"].(map[string]any)
	return ts
}

// wantThrottled checks that r is the budget's refusal, with available points left and a
// retryAfter of retry seconds, and that nothing ran.
func wantThrottled(t *testing.T, r *apitest.Response, available, retry float64) {
	t.Helper()
	if r.Status != 200 || r.Code() != "RATE_LIMITED" || r.Errors[0].Extensions["reason"] != "THROTTLED" ||
		r.Errors[0].Extensions["retryAfter"] != retry || (len(r.Data) > 0 && string(r.Data) != "null") {
		t.Fatalf("want THROTTLED with retryAfter %v: %d %s", retry, r.Status, r.Raw)
	}
	if ts := throttleOf(t, r); ts == nil || ts["currentlyAvailable"] != available {
		t.Fatalf("want %v points left reported: %s", available, r.Raw)
	}
}

// TestQueryCostBudget: each signed-in user has a bucket of 1,000 points restored at 50 a
// second; every operation takes its requested cost (at least 1) before it runs and
// reports what is left; one the bucket cannot pay for is refused until enough is
// restored. Anonymous callers have a bucket per address, reported only when it refuses.
func TestQueryCostBudget(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := apitest.NewClock(time.Now())
			s := apitest.NewWithClock(t, d.URL(t), clock, withBudget, trustProxy)
			ann := s.Register("ann@example.com", "Ann").AccessToken

			for i := 1; i <= 9; i++ {
				r := s.MustQuery(ann, page100, nil)
				cost := costOf(t, r)
				ts := throttleOf(t, r)
				if cost["requestedQueryCost"] != float64(102) || ts == nil || ts["maximumAvailable"] != float64(1000) ||
					ts["restoreRate"] != float64(50) || ts["currentlyAvailable"] != float64(1000-102*i) {
					t.Fatalf("query %d: extensions.cost %v", i, cost)
				}
			}
			// 82 left: a page of 100 waits (20 more points take 0.4 s, said as 1 s) ...
			wantThrottled(t, s.Query(ann, page100, nil), 82, 1)
			// ... while a cheap query still runs, and the refusal cost nothing.
			if ts := throttleOf(t, s.MustQuery(ann, `{ me { id } }`, nil)); ts["currentlyAvailable"] != float64(81) {
				t.Fatalf("cheap query after a refusal: %v", ts)
			}
			wantThrottled(t, s.Query(ann, page100, nil), 81, 1)
			clock.Advance(time.Second) // 81 + 50
			if ts := throttleOf(t, s.MustQuery(ann, page100, nil)); ts["currentlyAvailable"] != float64(131-102) {
				t.Fatalf("after a second: %v", ts)
			}
			clock.Advance(30 * time.Second) // restored to the capacity, no further (tokens live 15 min)
			if ts := throttleOf(t, s.MustQuery(ann, page100, nil)); ts["currentlyAvailable"] != float64(898) {
				t.Fatalf("after 30 s: %v", ts)
			}
			// A free query (the estimate is 0) still takes a point.
			if r := s.MustQuery(ann, `{ __typename }`, nil); costOf(t, r)["requestedQueryCost"] != float64(0) ||
				throttleOf(t, r)["currentlyAvailable"] != float64(897) {
				t.Fatalf("__typename: %s", r.Raw)
			}
			// Another user has a bucket of their own.
			bea := s.Register("bea@example.com", "Bea").AccessToken
			if ts := throttleOf(t, s.MustQuery(bea, page100, nil)); ts["currentlyAvailable"] != float64(898) {
				t.Fatalf("second user: %v", ts)
			}

			// Anonymous: per address; answers that caches may share carry no budget.
			for i := range 9 {
				r := s.Do(fromAddr("203.0.113.7", "", page100))
				if len(r.Errors) > 0 || throttleOf(t, r) != nil || costOf(t, r)["requestedQueryCost"] != float64(102) {
					t.Fatalf("anonymous query %d: %s", i+1, r.Raw)
				}
			}
			wantThrottled(t, s.Do(fromAddr("203.0.113.7", "", page100)), 82, 1)
			if r := s.Do(fromAddr("203.0.113.8", "", page100)); len(r.Errors) > 0 {
				t.Fatalf("another address refused: %s", r.Raw)
			}
		})
	}
}

// TestRateLimitsSharedThroughRedis: with REDIS_URL, replicas count in one place. Ten wrong
// passwords sent alternately to two servers trip the sign-in limit at the same attempt as
// on one server (without Redis each server counts its own five); a query budget is spent
// through both to the same point.
func TestRateLimitsSharedThroughRedis(t *testing.T) {
	t.Parallel()
	login := `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`
	// firstRefusal sends wrong passwords to the servers in turn and returns the attempt
	// that was RATE_LIMITED first.
	firstRefusal := func(t *testing.T, servers ...*apitest.Server) int {
		for i := range 30 {
			r := servers[i%len(servers)].Query("", login, map[string]any{"i": map[string]any{
				"email": "nobody@example.com", "password": fmt.Sprint("wrong ", i)}})
			switch r.Code() {
			case "UNAUTHENTICATED":
			case "RATE_LIMITED":
				return i + 1
			default:
				t.Fatalf("attempt %d: %s", i+1, r.Raw)
			}
		}
		t.Fatal("never limited")
		return 0
	}
	clock := apitest.NewClock(time.Now())
	server := func(opts ...func(*config.Config)) *apitest.Server {
		return apitest.NewWithClock(t, testdb.SQLiteURL(t), clock, append(opts, withBudget, trustProxy)...)
	}
	shared := sharedRedis(t)
	one := server()
	a, b := server(shared), server(shared)
	apart1, apart2 := server(), server()
	limit := one.Config.LoginMaxFailures

	if n := firstRefusal(t, one); n != limit+1 {
		t.Fatalf("one server: refused at attempt %d, want %d", n, limit+1)
	}
	if n := firstRefusal(t, a, b); n != limit+1 {
		t.Fatalf("two servers sharing Redis: refused at attempt %d, want %d", n, limit+1)
	}
	if n := firstRefusal(t, apart1, apart2); n != 2*limit+1 {
		t.Fatalf("two servers counting apart: refused at attempt %d, want %d", n, 2*limit+1)
	}

	// The query budget of one address, spent through both servers.
	for i := range 9 {
		srv := []*apitest.Server{a, b}[i%2]
		if r := srv.Do(fromAddr("198.51.100.1", "", page100)); len(r.Errors) > 0 {
			t.Fatalf("query %d: %s", i+1, r.Raw)
		}
	}
	wantThrottled(t, a.Do(fromAddr("198.51.100.1", "", page100)), 82, 1)
	wantThrottled(t, b.Do(fromAddr("198.51.100.1", "", page100)), 82, 1)
	clock.Advance(time.Second)
	if r := b.Do(fromAddr("198.51.100.1", "", page100)); len(r.Errors) > 0 {
		t.Fatalf("after a second: %s", r.Raw)
	}
}

// TestQueryBudgetNeverOverspends sends bursts of parallel queries from one address, with
// the clock stopped: exactly as many run as the bucket pays for (9 of 102 points), on one
// server in memory and on two servers sharing Redis.
func TestQueryBudgetNeverOverspends(t *testing.T) {
	t.Parallel()
	clock := apitest.NewClock(time.Now())
	server := func(opts ...func(*config.Config)) *apitest.Server {
		return apitest.NewWithClock(t, testdb.SQLiteURL(t), clock, append(opts, withBudget, trustProxy)...)
	}
	shared := sharedRedis(t)
	a := server(shared)
	cases := []struct {
		name    string
		servers []*apitest.Server
	}{
		{"in process", []*apitest.Server{server()}},
		{"two servers, Redis", []*apitest.Server{a, server(shared)}},
	}
	rounds := apitest.RaceRounds(testdb.Dialect{Name: "mysql"}, 4)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for round := range rounds {
				ip := fmt.Sprintf("192.0.2.%d", round+1) // a fresh bucket each round
				var racers []apitest.Racer
				for i := range 30 {
					s := tc.servers[i%len(tc.servers)]
					racers = append(racers, func() (*apitest.Response, error) { return s.Try(fromAddr(ip, "", page100)) })
				}
				if n := apitest.Successes(t, "queries", apitest.Race(racers...), "RATE_LIMITED"); n != 9 {
					t.Fatalf("round %d: %d of 30 queries ran on a budget for 9", round, n)
				}
			}
		})
	}
}

// TestRateLimitsWithRedisDown points REDIS_URL at a closed port: the server keeps
// limiting, in its own memory, and says so once in its log.
func TestRateLimitsWithRedisDown(t *testing.T) {
	t.Parallel()
	clock := apitest.NewClock(time.Now())
	s := apitest.NewWithClock(t, testdb.SQLiteURL(t), clock, withBudget, trustProxy,
		func(c *config.Config) { c.RedisURL = "redis://127.0.0.1:1/0" })
	login := `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`
	for i := range s.Config.LoginMaxFailures {
		r := s.Query("", login, map[string]any{"i": map[string]any{"email": "nobody@example.com", "password": fmt.Sprint("wrong ", i)}})
		if r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("attempt %d: %s", i+1, r.Raw)
		}
	}
	if r := s.Query("", login, map[string]any{"i": map[string]any{"email": "nobody@example.com", "password": "again"}}); r.Code() != "RATE_LIMITED" {
		t.Fatalf("sign-in not limited with Redis down: %s", r.Raw)
	}
	for i := range 9 {
		if r := s.Do(fromAddr("198.51.100.2", "", page100)); len(r.Errors) > 0 {
			t.Fatalf("query %d: %s", i+1, r.Raw)
		}
	}
	wantThrottled(t, s.Do(fromAddr("198.51.100.2", "", page100)), 82, 1)
	if sh, ok := s.App.Limits.(*ratelimit.Shared); !ok || !sh.FallingBack() {
		t.Fatalf("limits %T not falling back", s.App.Limits)
	}
}
