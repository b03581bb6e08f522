package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Shared is the Limiter of a deployment with Redis: every replica shares the counters in
// Redis, and while Redis does not answer each replica limits on its own, in memory, as a
// server without Redis does. Failing open (no limit while Redis is down) would let anyone
// who can slow Redis down guess passwords and send SMS without bound; failing closed
// would refuse every sign-in and every query for as long as Redis is down. The fallback
// keeps every limit, at most N times looser over N replicas, and the service up.
//
// After a failed call Shared leaves Redis alone for Cooldown (every call would otherwise
// wait for its own timeout), logs one warning when it starts falling back and one line
// when Redis answers again. What was counted in memory meanwhile is not copied to Redis.
type Shared struct {
	redis   *Redis
	local   *Memory
	logger  *slog.Logger
	timeout time.Duration
	// Cooldown is how long Redis is left alone after a failure.
	Cooldown time.Duration

	mu        sync.Mutex
	downUntil time.Time
	down      bool
}

// DefaultTimeout bounds one call to Redis; DefaultCooldown is Shared.Cooldown's default.
const (
	DefaultTimeout  = time.Second
	DefaultCooldown = 5 * time.Second
)

// NewShared returns the limiter over r with an in-process fallback.
func NewShared(r *Redis, logger *slog.Logger) *Shared {
	if logger == nil {
		logger = slog.Default()
	}
	return &Shared{redis: r, local: NewMemory(), logger: logger, timeout: DefaultTimeout, Cooldown: DefaultCooldown}
}

// SetNow sets the clock of both Redis's scripts and the fallback.
func (s *Shared) SetNow(now func() time.Time) {
	s.redis.SetNow(now)
	s.local.SetNow(now)
}

// FallingBack reports whether Redis is being left alone after a failure.
func (s *Shared) FallingBack() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down && time.Now().Before(s.downUntil)
}

// call runs f on Redis unless Redis is cooling down, and reports whether it answered. The
// request's cancellation does not cut the call short (a client hanging up must not count
// as Redis failing), its own timeout does.
func (s *Shared) call(ctx context.Context, op string, f func(context.Context) error) bool {
	s.mu.Lock()
	cooling := s.down && time.Now().Before(s.downUntil)
	s.mu.Unlock()
	if cooling {
		return false
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	err := f(cctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if !s.down {
			s.logger.WarnContext(ctx, "rate limits: Redis does not answer; limiting in this process until it does",
				"op", op, "err", err, "retry_in", s.Cooldown)
		}
		s.down, s.downUntil = true, time.Now().Add(s.Cooldown)
		return false
	}
	if s.down {
		s.logger.InfoContext(ctx, "rate limits: Redis answers again; limits are shared")
		s.down = false
	}
	return true
}

// Blocked implements Limiter.
func (s *Shared) Blocked(ctx context.Context, key string) time.Duration {
	var d time.Duration
	if s.call(ctx, "blocked", func(ctx context.Context) (err error) { d, err = s.redis.Blocked(ctx, key); return err }) {
		return d
	}
	return s.local.Blocked(ctx, key)
}

// Fail implements Limiter.
func (s *Shared) Fail(ctx context.Context, key string, limit int, window time.Duration) {
	if !s.call(ctx, "fail", func(ctx context.Context) error { return s.redis.Fail(ctx, key, limit, window) }) {
		s.local.Fail(ctx, key, limit, window)
	}
}

// Reset implements Limiter. The fallback's failures of key are forgotten too.
func (s *Shared) Reset(ctx context.Context, key string) {
	s.call(ctx, "reset", func(ctx context.Context) error { return s.redis.Reset(ctx, key) })
	s.local.Reset(ctx, key)
}

// Take implements Limiter.
func (s *Shared) Take(ctx context.Context, key string, limit int, window time.Duration) time.Duration {
	var d time.Duration
	if s.call(ctx, "take", func(ctx context.Context) (err error) { d, err = s.redis.Take(ctx, key, limit, window); return err }) {
		return d
	}
	return s.local.Take(ctx, key, limit, window)
}

// Spend implements Limiter.
func (s *Shared) Spend(ctx context.Context, key string, cost float64, b Bucket) Status {
	var st Status
	if s.call(ctx, "spend", func(ctx context.Context) (err error) { st, err = s.redis.Spend(ctx, key, cost, b); return err }) {
		return st
	}
	return s.local.Spend(ctx, key, cost, b)
}
