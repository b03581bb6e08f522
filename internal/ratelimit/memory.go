package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Memory is a Limiter in this process's memory: each replica counts apart, and a restart
// forgets. Entries that have nothing left to remember (failures past their window, quotas
// past theirs, buckets full again) are swept every sweepEvery operations, so memory is
// bounded by the keys active within the longest window.
type Memory struct {
	mu       sync.Mutex
	failures map[string]*failureEntry
	quotas   map[string]*quotaEntry
	buckets  map[string]*bucketEntry
	now      func() time.Time
	ops      int
}

const sweepEvery = 1024

type failureEntry struct {
	failures     int
	first        time.Time
	window       time.Duration
	blockedUntil time.Time
}

// expired reports whether e has nothing left to remember at now.
func (e *failureEntry) expired(now time.Time) bool {
	return now.Sub(e.first) > e.window && now.After(e.blockedUntil)
}

type quotaEntry struct {
	count  int
	start  time.Time
	window time.Duration
}

type bucketEntry struct {
	available float64
	at        time.Time
	full      time.Time // when it is full again if nothing more is spent
}

// NewMemory returns an empty in-process limiter on the wall clock.
func NewMemory() *Memory {
	return &Memory{failures: map[string]*failureEntry{}, quotas: map[string]*quotaEntry{},
		buckets: map[string]*bucketEntry{}, now: time.Now}
}

// SetNow replaces the clock (nil: the wall clock).
func (m *Memory) SetNow(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	m.now = now
}

// Blocked implements Limiter.
func (m *Memory) Blocked(_ context.Context, key string) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.failures[key]
	if !ok {
		return 0
	}
	return max(e.blockedUntil.Sub(m.now()), 0)
}

// Fail implements Limiter.
func (m *Memory) Fail(_ context.Context, key string, limit int, window time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	e, ok := m.failures[key]
	if !ok || e.expired(now) {
		e = &failureEntry{first: now}
		m.failures[key] = e
	}
	e.window = window
	e.failures++
	if over := e.failures - limit; over >= 0 {
		e.blockedUntil = now.Add(backoff(over))
	}
}

// Reset implements Limiter.
func (m *Memory) Reset(_ context.Context, key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.failures, key)
}

// Take implements Limiter.
func (m *Memory) Take(_ context.Context, key string, limit int, window time.Duration) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	e, ok := m.quotas[key]
	if !ok || now.Sub(e.start) >= e.window {
		e = &quotaEntry{start: now, window: window}
		m.quotas[key] = e
	}
	if e.count >= limit {
		return e.start.Add(e.window).Sub(now)
	}
	e.count++
	return 0
}

// Spend implements Limiter.
func (m *Memory) Spend(_ context.Context, key string, cost float64, b Bucket) Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	e, ok := m.buckets[key]
	if !ok {
		e = &bucketEntry{available: b.Capacity, at: now}
		m.buckets[key] = e
	}
	if now.After(e.at) {
		e.available = min(b.Capacity, e.available+now.Sub(e.at).Seconds()*b.RestoreRate)
		e.at = now
	}
	st := Status{Available: e.available}
	if cost <= e.available {
		e.available -= cost
		st = Status{Allowed: true, Available: e.available}
	} else {
		st.RetryAfter = retryAfter(cost-e.available, b)
	}
	e.full = now.Add(retryAfter(b.Capacity-e.available, b))
	return st
}

// sweep drops what has nothing left to remember, now and then.
func (m *Memory) sweep(now time.Time) {
	m.ops++
	if m.ops%sweepEvery != 0 {
		return
	}
	for k, e := range m.failures {
		if e.expired(now) {
			delete(m.failures, k)
		}
	}
	for k, e := range m.quotas {
		if now.Sub(e.start) >= e.window {
			delete(m.quotas, k)
		}
	}
	for k, e := range m.buckets {
		if !now.Before(e.full) {
			delete(m.buckets, k)
		}
	}
}
