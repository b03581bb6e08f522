// Package events delivers committed order events to subscribers, in order, without loss.
//
// The outbox is the order_events table itself: every order change writes its event in
// the same transaction as the change (internal/orders). The Relay then gives committed
// events a global position and a per-merchant sequence — in the order they became
// visible, which is commit order as far as any reader can tell — and publishes them on a
// Bus (in-process, or NATS JetStream across replicas). Each replica's Hub receives them,
// fills any gap from the database, and fans them out to its local subscribers. A
// subscriber that reconnects with the cursor of the last event it saw reads what it
// missed from the database first, then continues live: no gap, no duplicate.
package events

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/apperror"
)

// Bus carries numbered events from the relay to the hub of every replica.
type Bus interface {
	// Publish hands events (in position order) to every replica's hub. It may deliver an
	// event more than once; hubs drop what they have seen.
	Publish(ctx context.Context, evs []*ent.OrderEvent) error
	// Start makes the bus call deliver with published events, in order, until ctx ends.
	Start(ctx context.Context, deliver func([]*ent.OrderEvent)) error
	// Close releases the bus's connections.
	Close() error
}

// Local is the in-process bus of a single server: Publish delivers directly.
type Local struct {
	deliver func([]*ent.OrderEvent)
	access  localAccess
}

// Publish delivers evs to the hub of this process.
func (l *Local) Publish(_ context.Context, evs []*ent.OrderEvent) error {
	if l.deliver != nil {
		l.deliver(evs)
	}
	return nil
}

// Start records where to deliver.
func (l *Local) Start(_ context.Context, deliver func([]*ent.OrderEvent)) error {
	l.deliver = deliver
	return nil
}

// Close does nothing.
func (l *Local) Close() error { return nil }

const cursorPrefix = "pos:"

// Cursor is the opaque resume cursor of a numbered event.
func Cursor(position int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(position, 10)))
}

// ParseCursor reads a cursor made by Cursor; field names the argument for errors.
func ParseCursor(field, cursor string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil && strings.HasPrefix(string(b), cursorPrefix) {
		if p, err := strconv.ParseInt(strings.TrimPrefix(string(b), cursorPrefix), 10, 64); err == nil && p >= 0 {
			return p, nil
		}
	}
	return 0, apperror.BadInput(field, "is not an event cursor")
}
