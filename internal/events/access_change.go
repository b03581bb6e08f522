package events

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/nats-io/nats.go"
)

// AccessChange names whose rights changed — a user disabled or moved off a merchant's
// staff, an API client revoked, rotated or re-scoped, a merchant restricted — so that every
// replica closes the long-lived connections (websockets, event streams) opened on the old
// rights. Subscriptions are authorised when they start; this is how they end when the
// rights they were granted on go away. It travels on the bus beside the order events.
type AccessChange struct {
	UserIDs      []int `json:"userIds,omitempty"`
	APIClientIDs []int `json:"apiClientIds,omitempty"`
	// MerchantIDs concern every member of these merchants and every partner client acting
	// for them.
	MerchantIDs []int `json:"merchantIds,omitempty"`
}

// Empty reports whether the change concerns no one.
func (c AccessChange) Empty() bool {
	return len(c.UserIDs) == 0 && len(c.APIClientIDs) == 0 && len(c.MerchantIDs) == 0
}

// Merge adds what d concerns to c.
func (c *AccessChange) Merge(d AccessChange) {
	add := func(to *[]int, ids []int) {
		for _, id := range ids {
			if !slices.Contains(*to, id) {
				*to = append(*to, id)
			}
		}
	}
	add(&c.UserIDs, d.UserIDs)
	add(&c.APIClientIDs, d.APIClientIDs)
	add(&c.MerchantIDs, d.MerchantIDs)
}

// AccessBus carries access changes to every replica, the publisher's included. Delivery
// is at most once: a replica that misses one (disconnected from NATS at that moment) still
// re-checks its connections' access periodically (internal/app).
type AccessBus interface {
	// PublishAccessChange hands c to every replica.
	PublishAccessChange(ctx context.Context, c AccessChange) error
	// SubscribeAccessChanges calls fn with every change published from now until ctx ends.
	SubscribeAccessChanges(ctx context.Context, fn func(AccessChange)) error
}

var (
	_ AccessBus = (*Local)(nil)
	_ AccessBus = (*NATS)(nil)
)

// localAccess holds the in-process bus's subscribers to access changes.
type localAccess struct {
	mu   sync.Mutex
	subs []*func(AccessChange)
}

// PublishAccessChange calls this process's subscribers.
func (l *Local) PublishAccessChange(_ context.Context, c AccessChange) error {
	l.access.mu.Lock()
	subs := slices.Clone(l.access.subs)
	l.access.mu.Unlock()
	for _, fn := range subs {
		(*fn)(c)
	}
	return nil
}

// SubscribeAccessChanges registers fn until ctx ends.
func (l *Local) SubscribeAccessChanges(ctx context.Context, fn func(AccessChange)) error {
	l.access.mu.Lock()
	defer l.access.mu.Unlock()
	p := &fn
	l.access.subs = append(l.access.subs, p)
	context.AfterFunc(ctx, func() {
		l.access.mu.Lock()
		defer l.access.mu.Unlock()
		l.access.subs = slices.DeleteFunc(l.access.subs, func(q *func(AccessChange)) bool { return q == p })
	})
	return nil
}

// accessSubject is where access changes travel: plain NATS publish-subscribe, outside the
// stream's subjects (<subject>.>), since a change matters only to the replicas connected
// now and is never replayed.
func (n *NATS) accessSubject() string { return n.subject + "_access" }

// PublishAccessChange sends c to every replica connected to NATS.
func (n *NATS) PublishAccessChange(_ context.Context, c AccessChange) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := n.nc.Publish(n.accessSubject(), data); err != nil {
		return fmt.Errorf("events: publishing an access change: %w", err)
	}
	return nil
}

// SubscribeAccessChanges calls fn with every access change published on NATS until ctx
// ends.
func (n *NATS) SubscribeAccessChanges(ctx context.Context, fn func(AccessChange)) error {
	sub, err := n.nc.Subscribe(n.accessSubject(), func(m *nats.Msg) {
		var c AccessChange
		if err := json.Unmarshal(m.Data, &c); err != nil {
			n.logger.Error("events: undecodable access change", "err", err)
			return
		}
		fn(c)
	})
	if err != nil {
		return fmt.Errorf("events: subscribing to access changes: %w", err)
	}
	context.AfterFunc(ctx, func() { _ = sub.Unsubscribe() })
	return nil
}
