// Package streams keeps account of the long-lived connections — websockets and
// GraphQL-over-SSE event streams — that each account holds open on this replica: it caps
// them per account, and closes an account's connections as soon as its access changes
// (events.AccessChange, sent by the Ent hooks of this package to every replica).
package streams

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Registry is the open connections of one replica.
type Registry struct {
	max   int
	mu    sync.Mutex
	open  map[*stream]struct{}
	count map[string]int // connections per owner
}

// stream is one open connection.
type stream struct {
	owner string
	v     *viewer.Viewer
	close context.CancelFunc
}

// New returns a registry allowing each owner max connections at once.
func New(max int) *Registry {
	return &Registry{max: max, open: map[*stream]struct{}{}, count: map[string]int{}}
}

// TooManyError refuses a connection past the cap.
type TooManyError struct{ Max int }

func (e *TooManyError) Error() string {
	return fmt.Sprintf("too many open connections: at most %d per account (or per address without a token)", e.Max)
}

// owner is whom a connection counts against: the signed-in person, the API client, or
// without a token the client's address.
func owner(v *viewer.Viewer, addr string) string {
	switch {
	case v != nil && v.UserID != 0:
		return "user:" + strconv.Itoa(v.UserID)
	case v != nil && v.APIClientID != 0:
		return "client:" + strconv.Itoa(v.APIClientID)
	}
	return "addr:" + addr
}

// Open registers a connection of v (coming from addr) that closeFn ends, or refuses it
// with a *TooManyError when its owner already holds the most. Call release when the
// connection ends, however it ends.
func (r *Registry) Open(v *viewer.Viewer, addr string, closeFn context.CancelFunc) (release func(), err error) {
	s := &stream{owner: owner(v, addr), v: v, close: closeFn}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count[s.owner] >= r.max {
		return nil, &TooManyError{Max: r.max}
	}
	r.count[s.owner]++
	r.open[s] = struct{}{}
	var once sync.Once
	return func() { once.Do(func() { r.remove(s) }) }, nil
}

func (r *Registry) remove(s *stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.open[s]; !ok {
		return
	}
	delete(r.open, s)
	if r.count[s.owner]--; r.count[s.owner] <= 0 {
		delete(r.count, s.owner)
	}
}

// Len is how many connections are open.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.open)
}

// Close ends every open connection whose viewer c concerns, and returns how many. The
// connections leave the registry when their transport releases them.
func (r *Registry) Close(c events.AccessChange) int {
	r.mu.Lock()
	var hit []*stream
	for s := range r.open {
		if concerns(c, s.v) {
			hit = append(hit, s)
		}
	}
	r.mu.Unlock()
	for _, s := range hit {
		s.close()
	}
	return len(hit)
}

// concerns reports whether the change touches v's rights.
func concerns(c events.AccessChange, v *viewer.Viewer) bool {
	if v == nil {
		return false
	}
	if v.UserID != 0 && slices.Contains(c.UserIDs, v.UserID) ||
		v.APIClientID != 0 && slices.Contains(c.APIClientIDs, v.APIClientID) ||
		v.MerchantID != 0 && slices.Contains(c.MerchantIDs, v.MerchantID) {
		return true
	}
	for _, m := range v.PartnerMerchantIDs {
		if slices.Contains(c.MerchantIDs, m) {
			return true
		}
	}
	return false
}
