package loader

import (
	"context"
	"sync"
	"time"

	"github.com/xiadan/xiadan/ent"
)

// ext keeps loaders that other packages define for themselves (internal/promotions), so
// their batch functions live beside their rules and this package needs no import of them.
type ext struct {
	cached bool
	wait   time.Duration
	m      sync.Map
}

// Options are how a request's loaders behave: whether they keep what they read (not on
// websockets) and how long they gather keys (0: the dataloader default).
type Options struct {
	Cached bool
	Wait   time.Duration
}

// Ext returns the request's value under key (an unexported type of the calling package),
// built by build on first use with the request's loader options. Outside a request (no
// middleware) it builds a fresh one on every call, which still answers.
func Ext[T any](ctx context.Context, key any, build func(client *ent.Client, o Options) T) T {
	l := For(ctx)
	if l == nil {
		return build(nil, Options{Cached: false})
	}
	if v, ok := l.ext.m.Load(key); ok {
		return v.(T)
	}
	v, _ := l.ext.m.LoadOrStore(key, build(l.client, Options{Cached: l.ext.cached, Wait: l.ext.wait}))
	return v.(T)
}
