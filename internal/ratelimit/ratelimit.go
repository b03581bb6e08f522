// Package ratelimit keeps the state of the server's rate limits — sign-in failures,
// registrations, SMS codes, token-endpoint failures and the per-client query-cost budget —
// behind one interface, in this process (Memory) or in Redis shared by every replica
// (Shared), so that N replicas enforce one budget rather than N.
//
// Three kinds of limit cover everything the server limits:
//
//   - failures with back-off (Blocked, Fail, Reset): after limit failures within a window a
//     key waits 1 s, then twice as long after each further failure, up to MaxBackoff;
//   - a fixed-window quota (Take): limit events per window, opened by the key's first event;
//   - a leaky bucket (Spend): a capacity of points refilled at a steady rate, from which
//     each request takes its cost, after Shopify's GraphQL Admin API.
//
// A Limiter never fails: Shared answers from this process's memory while Redis does not
// answer (docs/OPERATIONS.md, "Rate limits", says why).
package ratelimit

import (
	"context"
	"math"
	"time"
)

// MaxBackoff is the longest a key waits after its failures.
const MaxBackoff = 15 * time.Minute

// Limiter is where rate-limit state lives. Keys are chosen by the caller and should say
// what they count ("login:<account>|<address>"); the same key means the same counter on
// every replica sharing the limiter.
type Limiter interface {
	// Blocked reports how long key must still wait after its failures (0: it may try).
	Blocked(ctx context.Context, key string) time.Duration
	// Fail records a failure of key. The first limit failures within window are free;
	// the limit-th and each further one make key wait 1 s, 2 s, 4 s … up to MaxBackoff.
	// Failures are forgotten once window has passed since the first and no wait is left.
	Fail(ctx context.Context, key string, limit int, window time.Duration)
	// Reset forgets key's failures (after a success).
	Reset(ctx context.Context, key string)
	// Take counts one event of key in a window of its own, opened by its first event, and
	// returns 0; once key has had limit events in its window it counts nothing and returns
	// how long until the window ends.
	Take(ctx context.Context, key string, limit int, window time.Duration) time.Duration
	// Spend takes cost points from key's bucket b if it holds that many, and reports what
	// is left either way. A bucket nobody has spent from is full.
	Spend(ctx context.Context, key string, cost float64, b Bucket) Status
	// SetNow replaces the limiter's clock (tests; nil is the wall clock, or Redis's).
	SetNow(now func() time.Time)
}

// Bucket is the shape of a leaky bucket.
type Bucket struct {
	// Capacity is the most points the bucket holds (Shopify's maximumAvailable).
	Capacity float64
	// RestoreRate is the points restored per second.
	RestoreRate float64
}

// Status is a bucket after Spend.
type Status struct {
	// Allowed reports whether the cost was taken.
	Allowed bool
	// Available is what the bucket holds now (after the cost, when it was taken).
	Available float64
	// RetryAfter is how long until the bucket holds the cost refused (0 when allowed).
	RetryAfter time.Duration
}

// backoff is the wait after failures, over of them past the free ones (0: the limit-th).
func backoff(over int) time.Duration {
	return min(time.Second<<min(over, 20), MaxBackoff)
}

// retryAfter is how long bucket b takes to restore missing points.
func retryAfter(missing float64, b Bucket) time.Duration {
	if missing <= 0 {
		return 0
	}
	if b.RestoreRate <= 0 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Ceil(missing / b.RestoreRate * float64(time.Second)))
}

var (
	_ Limiter = (*Memory)(nil)
	_ Limiter = (*Shared)(nil)
)
