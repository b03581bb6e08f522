package loader

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// CountCache remembers large row counts, shared by every request the middleware serves (a
// process-wide cache, not a per-request one), and takes them in the background: counting
// a million rows takes a minute on MySQL, longer than any request may wait, so a request
// starts the count (or joins the one running), waits for it a short while, and otherwise
// answers with what it knows. Keys must name everything the count depends on, the
// viewer's visibility included (internal/catalog builds them).
type CountCache struct {
	ttl time.Duration
	now func() time.Time
	// slots bounds the counts running at once; a request that finds none free starts none.
	slots   chan struct{}
	timeout time.Duration
	budget  time.Duration
	mu      sync.Mutex
	m       map[string]countEntry
}

type countEntry struct {
	n   int
	at  time.Time // zero: never counted
	run *CountRun // the count running now, if any
}

// CountRun is a count running in the background.
type CountRun struct {
	done chan struct{}
	n    int
	err  error
}

// Wait waits up to budget (or until ctx ends) for the count and returns it, or false.
func (r *CountRun) Wait(ctx context.Context, budget time.Duration) (int, bool) {
	if r == nil {
		return 0, false
	}
	t := time.NewTimer(budget)
	defer t.Stop()
	select {
	case <-r.done:
		return r.n, r.err == nil
	case <-t.C:
	case <-ctx.Done():
	}
	return 0, false
}

// maxCountKeys bounds the cache; past it, it starts again empty.
const maxCountKeys = 10_000

// CountTTL is how long a count is served as current; CountSlots counts run at once in a
// process, each for at most CountTimeout.
const (
	CountTTL     = 10 * time.Second
	CountSlots   = 2
	CountTimeout = 5 * time.Minute
)

// NewCountCache returns a cache whose counts are current for ttl.
func NewCountCache(ttl time.Duration) *CountCache {
	return &CountCache{ttl: ttl, now: time.Now, m: map[string]countEntry{},
		slots: make(chan struct{}, CountSlots), timeout: CountTimeout, budget: DefaultCountBudget}
}

// DefaultCountBudget is the budget of a cache that was given none.
const DefaultCountBudget = 300 * time.Millisecond

// WithBudget sets how long a request waits for a background count (config.CountBudget).
func (c *CountCache) WithBudget(d time.Duration) *CountCache {
	c.budget = d
	return c
}

// Budget is how long a request waits for a background count before answering without it.
func (c *CountCache) Budget() time.Duration {
	if c == nil {
		return DefaultCountBudget
	}
	return c.budget
}

// Cached returns the latest count of key, whether it was taken within the TTL, and
// whether there is one at all.
func (c *CountCache) Cached(key string) (n int, fresh, ok bool) {
	if c == nil {
		return 0, false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.m[key]
	if !found || e.at.IsZero() {
		return 0, false, false
	}
	return e.n, c.now().Sub(e.at) < c.ttl, true
}

// Start counts key in the background with count, or joins the count of key already
// running. ctx gives the count its values (the viewer, for privacy), not its lifetime: it
// runs to the end, for at most CountTimeout, and keeps its result for the requests after.
// nil when every slot is busy; started says whether this call started it.
func (c *CountCache) Start(ctx context.Context, key string, count func(context.Context) (int, error)) (run *CountRun, started bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	if e.run != nil {
		return e.run, false
	}
	select {
	case c.slots <- struct{}{}:
	default:
		return nil, false
	}
	if len(c.m) >= maxCountKeys {
		c.m = map[string]countEntry{}
	}
	run = &CountRun{done: make(chan struct{})}
	e.run = run
	c.m[key] = e
	go func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		run.n, run.err = safeCount(cctx, count)
		cancel()
		<-c.slots // free before done: whoever waited may start the next count at once
		c.mu.Lock()
		e := c.m[key]
		if e.run == run {
			e.run = nil
			if run.err == nil {
				e.n, e.at = run.n, c.now()
			}
			c.m[key] = e
		}
		c.mu.Unlock()
		close(run.done)
	}()
	return run, true
}

// safeCount runs count, turning a panic into an error: the count runs outside any
// request, where nothing else would recover it.
func safeCount(ctx context.Context, count func(context.Context) (int, error)) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("counting: panic: %v", r)
		}
	}()
	return count(ctx)
}

// Forget drops key (a count that turned small is counted exactly again).
func (c *CountCache) Forget(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && e.run == nil {
		delete(c.m, key)
	}
}

// Counts is the process-wide count cache of the request's loaders (nil without loaders).
func (l *Loaders) Counts() *CountCache {
	if l == nil {
		return nil
	}
	return l.counts
}
