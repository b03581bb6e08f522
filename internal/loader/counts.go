package loader

import (
	"sync"
	"time"
)

// CountCache remembers large row counts for a short while, shared by every request the
// middleware serves (a process-wide cache, not a per-request one): counting 100,000 rows
// for every page of a list costs more than the page. Keys must name everything the count
// depends on, the viewer's visibility included (internal/catalog builds them).
type CountCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]countEntry
}

type countEntry struct {
	n        int
	at       time.Time
	counting bool // a request is counting it again
}

// maxCountKeys bounds the cache; past it, it starts again empty.
const maxCountKeys = 10_000

// CountTTL is how long the middleware's cache uses a count.
const CountTTL = 10 * time.Second

// NewCountCache returns a cache whose counts are used for ttl.
func NewCountCache(ttl time.Duration) *CountCache {
	return &CountCache{ttl: ttl, now: time.Now, m: map[string]countEntry{}}
}

// Get returns the count of key and whether one was taken within the TTL. When the count is
// older but another request is already counting it again, the old count is returned as
// fresh, so a popular key is counted by one request at a time.
func (c *CountCache) Get(key string) (int, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return 0, false
	}
	if c.now().Sub(e.at) < c.ttl {
		return e.n, true
	}
	if e.counting && c.now().Sub(e.at) < 3*c.ttl { // a recount that failed gives way
		return e.n, true
	}
	e.counting = true
	c.m[key] = e
	return 0, false
}

// Put records the count of key taken now.
func (c *CountCache) Put(key string, n int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCountKeys {
		c.m = map[string]countEntry{}
	}
	c.m[key] = countEntry{n: n, at: c.now()}
}

// Forget drops key (a count that turned small is counted exactly again).
func (c *CountCache) Forget(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// Counts is the process-wide count cache of the request's loaders (nil without loaders).
func (l *Loaders) Counts() *CountCache {
	if l == nil {
		return nil
	}
	return l.counts
}
