package loader_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/viewer"
)

// slowCount is a count that runs until the test lets it finish.
type slowCount struct {
	started chan struct{}
	release chan struct{}
	n       int
	err     error
	calls   int
	viewer  *viewer.Viewer
}

func newSlowCount(n int) *slowCount {
	return &slowCount{started: make(chan struct{}, 8), release: make(chan struct{}), n: n}
}

func (s *slowCount) count(ctx context.Context) (int, error) {
	s.calls++
	s.viewer = viewer.FromContext(ctx)
	s.started <- struct{}{}
	<-s.release
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return s.n, s.err
}

// TestCountCacheCountsInTheBackground: a count that takes longer than the request waits
// goes on after it, once per key, with the request's values and not its lifetime; its
// result is kept for the requests after.
func TestCountCacheCountsInTheBackground(t *testing.T) {
	t.Parallel()
	c := loader.NewCountCache(time.Hour)
	sc := newSlowCount(1_234_567)
	reqCtx, endRequest := context.WithCancel(viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 7}))
	run, started := c.Start(reqCtx, "k", sc.count)
	if !started {
		t.Fatal("the first count was not started")
	}
	<-sc.started
	if _, done := run.Wait(reqCtx, time.Millisecond); done {
		t.Fatal("a count still running reported done")
	}
	if _, _, ok := c.Cached("k"); ok {
		t.Fatal("a count still running is cached")
	}
	endRequest() // the request is answered and gone: the count goes on
	if again, started := c.Start(context.Background(), "k", sc.count); again != run || started {
		t.Fatal("a second request for the same key started a second count")
	}
	close(sc.release)
	n, done := run.Wait(context.Background(), time.Minute)
	if !done || n != 1_234_567 {
		t.Fatalf("the count: %d %v", n, done)
	}
	if got, fresh, ok := c.Cached("k"); !ok || !fresh || got != 1_234_567 {
		t.Fatalf("cached: %d fresh=%v ok=%v", got, fresh, ok)
	}
	if sc.calls != 1 || sc.viewer == nil || sc.viewer.UserID != 7 {
		t.Fatalf("%d counts, viewer %+v", sc.calls, sc.viewer)
	}
}

// TestCountCacheBoundsTheCountsRunning: past CountSlots counts at once, a request starts
// none (and answers with what it knows).
func TestCountCacheBoundsTheCountsRunning(t *testing.T) {
	t.Parallel()
	c := loader.NewCountCache(time.Hour)
	var counts []*slowCount
	var runs []*loader.CountRun
	for i := range loader.CountSlots {
		sc := newSlowCount(i)
		counts = append(counts, sc)
		run, _ := c.Start(context.Background(), "busy"+string(rune('a'+i)), sc.count)
		if run == nil {
			t.Fatalf("count %d was not started", i)
		}
		runs = append(runs, run)
		<-sc.started
	}
	if run, _ := c.Start(context.Background(), "one more", newSlowCount(0).count); run != nil {
		t.Fatal("a count was started with every slot busy")
	}
	if _, done := (*loader.CountRun)(nil).Wait(context.Background(), time.Millisecond); done {
		t.Fatal("no run reported a count")
	}
	close(counts[0].release)
	if _, done := runs[0].Wait(context.Background(), time.Minute); !done {
		t.Fatal("the first count did not finish")
	}
	// Its slot is free as soon as it is done.
	if run, started := c.Start(context.Background(), "one more", func(context.Context) (int, error) { return 1, nil }); run == nil || !started {
		t.Fatal("the slot of a finished count was not freed")
	}
	for _, sc := range counts[1:] {
		close(sc.release)
	}
}

// TestCountCacheKeepsTheLastGoodCount: a failed or panicking count keeps the count
// before it, and a panic does not take the process down.
func TestCountCacheKeepsTheLastGoodCount(t *testing.T) {
	t.Parallel()
	c := loader.NewCountCache(0) // every count is stale at once
	if n, ok := start(c, func(context.Context) (int, error) { return 5000, nil }).Wait(context.Background(), time.Minute); !ok || n != 5000 {
		t.Fatalf("first count: %d %v", n, ok)
	}
	if _, ok := start(c, func(context.Context) (int, error) { return 0, errors.New("lost") }).Wait(context.Background(), time.Minute); ok {
		t.Fatal("a failed count reported done")
	}
	if _, ok := start(c, func(context.Context) (int, error) { panic("boom") }).Wait(context.Background(), time.Minute); ok {
		t.Fatal("a panicking count reported done")
	}
	if n, fresh, ok := c.Cached("k"); !ok || fresh || n != 5000 {
		t.Fatalf("after failures: %d fresh=%v ok=%v, want the stale 5000", n, fresh, ok)
	}
	c.Forget("k")
	if _, _, ok := c.Cached("k"); ok {
		t.Fatal("a forgotten key is still cached")
	}
}

// start starts a count of key "k".
func start(c *loader.CountCache, count func(context.Context) (int, error)) *loader.CountRun {
	run, _ := c.Start(context.Background(), "k", count)
	return run
}
