package auth

import (
	"sync"
	"time"
)

// Throttle slows down repeated sign-in failures per key (an account's email, a client
// address). Once a key reaches its failure limit within the window, each further attempt
// must wait twice as long as the last, up to maxBlock. It is per process; a shared
// (Redis) implementation can replace it behind the same methods when running replicas.
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
