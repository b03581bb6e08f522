package payment

import (
	"fmt"
	"strings"
)

// Registry maps each Method to the Provider that serves it, and provider names to
// providers for routing notifications. It is immutable and safe for concurrent use.
type Registry struct {
	byMethod map[Method]Provider
	byName   map[string]Provider
}

// NewRegistry serves each method of adapters with its provider and every other method —
// BANK_CARD and the methods without a configured adapter — with fallback (the sandbox).
// fallback may be nil, leaving those methods unsupported.
func NewRegistry(fallback Provider, adapters map[Method]Provider) *Registry {
	r := &Registry{byMethod: map[Method]Provider{}, byName: map[string]Provider{}}
	for _, m := range Methods() {
		p := adapters[m]
		if p == nil {
			p = fallback
		}
		if p != nil {
			r.byMethod[m] = p
			r.byName[strings.ToUpper(p.Name())] = p
		}
	}
	if fallback != nil {
		r.byName[strings.ToUpper(fallback.Name())] = fallback
	}
	return r
}

// For returns the provider that serves m, or ErrUnsupported.
func (r *Registry) For(m Method) (Provider, error) {
	if p, ok := r.byMethod[m]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: no payment provider for method %q", ErrUnsupported, m)
}

// Named returns the provider called name (case-insensitive, as in the notify path
// /payments/notify/{name}), or ErrUnsupported.
func (r *Registry) Named(name string) (Provider, error) {
	if p, ok := r.byName[strings.ToUpper(name)]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: no payment provider named %q", ErrUnsupported, name)
}

// Methods lists the methods some provider serves, in the order of Methods().
func (r *Registry) Methods() []Method {
	var out []Method
	for _, m := range Methods() {
		if _, ok := r.byMethod[m]; ok {
			out = append(out, m)
		}
	}
	return out
}
