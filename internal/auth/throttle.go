package auth

import (
	"net/netip"
	"sync"
	"time"
)

// Throttle slows down repeated sign-in failures per key (an account at a client address,
// a client address, an account). Once a key reaches its failure limit within the window,
// each further attempt must wait twice as long as the last, up to maxBlock. It is per
// process; a shared (Redis) implementation can replace it behind the same methods when
// running replicas.
type Throttle struct {
	mu       sync.Mutex
	entries  map[string]*throttleEntry
	window   time.Duration
	maxBlock time.Duration
	now      func() time.Time
	ops      int
}

type throttleEntry struct {
	failures     int
	first        time.Time
	blockedUntil time.Time
}

// NewThrottle returns a throttle whose failures expire after window.
func NewThrottle(window time.Duration) *Throttle {
	return &Throttle{entries: map[string]*throttleEntry{}, window: window, maxBlock: 15 * time.Minute, now: time.Now}
}

// SetClock replaces the throttle's clock; tests freeze it so that a back-off cannot run
// out while a slow machine is still testing it.
func (t *Throttle) SetClock(now func() time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.now = now
}

// Blocked reports how long the caller must still wait before trying key again.
func (t *Throttle) Blocked(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[key]
	if !ok {
		return 0
	}
	if wait := e.blockedUntil.Sub(t.now()); wait > 0 {
		return wait
	}
	return 0
}

// Fail records a failed attempt for key, which allows limit failures before blocking.
func (t *Throttle) Fail(key string, limit int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.sweep(now)
	e, ok := t.entries[key]
	if !ok || (now.Sub(e.first) > t.window && now.After(e.blockedUntil)) {
		e = &throttleEntry{first: now}
		t.entries[key] = e
	}
	e.failures++
	if over := e.failures - limit; over >= 0 {
		block := time.Second << min(over, 20)
		e.blockedUntil = now.Add(min(block, t.maxBlock))
	}
}

// Reset forgets key's failures, after a successful sign-in.
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, key)
}

// sweep drops expired entries now and then, so memory stays bounded under a flood.
func (t *Throttle) sweep(now time.Time) {
	t.ops++
	if t.ops%1024 != 0 {
		return
	}
	for k, e := range t.entries {
		if now.Sub(e.first) > t.window && now.After(e.blockedUntil) {
			delete(t.entries, k)
		}
	}
}

// Quota allows a number of events per key in a fixed window that the key's first event
// opens (registrations per client address). Unlike Throttle it counts every event, not
// only failures, and refuses the rest of the window rather than backing off. Per process,
// like Throttle.
type Quota struct {
	mu      sync.Mutex
	entries map[string]*quotaEntry
	window  time.Duration
	now     func() time.Time
	ops     int
}

type quotaEntry struct {
	count int
	start time.Time
}

// NewQuota returns a quota counting events per window.
func NewQuota(window time.Duration) *Quota {
	return &Quota{entries: map[string]*quotaEntry{}, window: window, now: time.Now}
}

// Take records one event for key and returns 0; once key has had limit events in its
// window it records nothing and returns how long until the window ends.
func (q *Quota) Take(key string, limit int) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	q.ops++
	if q.ops%1024 == 0 {
		for k, e := range q.entries {
			if now.Sub(e.start) >= q.window {
				delete(q.entries, k)
			}
		}
	}
	e, ok := q.entries[key]
	if !ok || now.Sub(e.start) >= q.window {
		e = &quotaEntry{start: now}
		q.entries[key] = e
	}
	if e.count >= limit {
		return e.start.Add(q.window).Sub(now)
	}
	e.count++
	return 0
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
