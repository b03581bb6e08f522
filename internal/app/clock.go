package app

import (
	"context"
	"time"
)

// Clock is the time access tokens are issued and verified by, and after which a
// websocket's token expires. The server runs on the wall clock; tests set a manual one
// (SetClock) to expire tokens on cue instead of waiting for them on a loaded machine.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed; stop cancels it and
	// reports whether it did.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// SetClock makes the server go by c for its tokens, rate limits, uploads and after-sales deadlines. Call it before serving.
func (a *App) SetClock(c Clock) {
	a.clock = c
	a.Auth.Now = c.Now
	a.Limits.SetNow(c.Now)
	a.Auth.Tokens.Now = c.Now
	a.Uploads.SetNow(c.Now)
	a.Reviews.Now = c.Now
	a.AfterSales.Now = c.Now
	a.Support.Now = c.Now
	a.Help.Now = c.Now
	a.DataRights.Now = c.Now
	a.Coupons.Now = c.Now
	a.Promotions.Now = c.Now
	a.RedPackets.Now = c.Now
	a.Experiments.Now = c.Now
	a.Creators.Now = c.Now
	a.Reports.Now = c.Now
}

func (a *App) now() time.Time {
	if a.clock != nil {
		return a.clock.Now()
	}
	return time.Now()
}

// untilExpiry returns a context that ends at exp by the server's clock.
func (a *App) untilExpiry(ctx context.Context, exp time.Time) (context.Context, context.CancelFunc) {
	if a.clock == nil {
		return context.WithDeadline(ctx, exp)
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := a.clock.AfterFunc(exp.Sub(a.clock.Now()), cancel)
	context.AfterFunc(ctx, func() { stop() })
	return ctx, cancel
}

// afterFunc calls f once d has passed by the server's clock.
func (a *App) afterFunc(d time.Duration, f func()) (stop func() bool) {
	if a.clock != nil {
		return a.clock.AfterFunc(d, f)
	}
	return time.AfterFunc(d, f).Stop
}
