package auth

import (
	"context"
	"net/netip"
	"time"

	"github.com/xiadan/xiadan/internal/ratelimit"
)

// Throttle slows down repeated sign-in failures per key (an account at a client address,
// a client address, an account). Once a key reaches its failure limit within the window,
// each further attempt must wait twice as long as the last, up to ratelimit.MaxBackoff.
// Its state is in its Limiter: this process's memory, or Redis shared by every replica
// when REDIS_URL is set (internal/ratelimit).
type Throttle struct {
	limits ratelimit.Limiter
	window time.Duration
}

// NewThrottle returns a throttle counting in limits whose failures expire after window.
func NewThrottle(limits ratelimit.Limiter, window time.Duration) *Throttle {
	return &Throttle{limits: limits, window: window}
}

// SetClock replaces the clock of the throttle's limiter (shared with the quotas); tests
// freeze it so that a back-off cannot run out while a slow machine is still testing it.
func (t *Throttle) SetClock(now func() time.Time) { t.limits.SetNow(now) }

// Blocked reports how long the caller must still wait before trying key again.
func (t *Throttle) Blocked(ctx context.Context, key string) time.Duration {
	return t.limits.Blocked(ctx, key)
}

// Fail records a failed attempt for key, which allows limit failures before blocking.
func (t *Throttle) Fail(ctx context.Context, key string, limit int) {
	t.limits.Fail(ctx, key, limit, t.window)
}

// Reset forgets key's failures, after a successful sign-in.
func (t *Throttle) Reset(ctx context.Context, key string) { t.limits.Reset(ctx, key) }

// Quota allows a number of events per key in a fixed window that the key's first event
// opens (registrations per client address). Unlike Throttle it counts every event, not
// only failures, and refuses the rest of the window rather than backing off. It counts in
// its Limiter, like Throttle.
type Quota struct {
	limits ratelimit.Limiter
	window time.Duration
}

// NewQuota returns a quota counting events per window in limits.
func NewQuota(limits ratelimit.Limiter, window time.Duration) *Quota {
	return &Quota{limits: limits, window: window}
}

// Take records one event for key and returns 0; once key has had limit events in its
// window it records nothing and returns how long until the window ends.
func (q *Quota) Take(ctx context.Context, key string, limit int) time.Duration {
	return q.limits.Take(ctx, key, limit, q.window)
}

// AddressKey is the throttling key of a client address: an IPv4 address as it is, an IPv6
// address by its /64 prefix, because one subscriber usually holds a whole /64 and could
// otherwise step through 2^64 addresses. Anything unparsable is used as it is.
func AddressKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}
