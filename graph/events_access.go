package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/partners"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Who may follow which order events. The subscription's events.Filter is decided here,
// once, at subscribe time, and it is exactly what the privacy rules let the caller read:
// one visible order, one merchant the caller works for, or the caller's own orders. The
// stream applies the filter to every event (from the database and live), so nothing
// outside it is ever delivered. (Resolver helpers live here rather than in
// events.resolvers.go, where gqlgen would comment them out on the next generate.)

// scopeOrdersRead is the partner-client scope that reads orders and their events
// (orders:write includes it).
const scopeOrdersRead = partners.ScopeOrdersRead

// readsOrders reports whether a partner client may read its merchants' orders.
func readsOrders(v *viewer.Viewer) bool {
	return v.HasScope(partners.ScopeOrdersRead) || v.HasScope(partners.ScopeOrdersWrite)
}

// maxEventsSince caps orderEventsSince's first.
const maxEventsSince = 500

// reasonSlowSubscriber is extensions.reason of a subscription the hub dropped because it
// did not keep up: the client resumes with after.
const reasonSlowSubscriber = "SLOW_SUBSCRIBER"

// orderFilter selects the events of one order: NOT_FOUND unless the caller may see the
// order (its customer, its merchant's staff, a partner of that merchant, an admin); a
// partner client also needs orders:read.
func (r *Resolver) orderFilter(ctx context.Context, orderID int) (events.Filter, error) {
	o, err := orders.Visible(ctx, r.Client, orderID)
	if err != nil {
		return events.Filter{}, err
	}
	v := viewer.FromContext(ctx)
	if v.Has(viewer.RolePartner) && !readsOrders(v) &&
		!v.IsAdmin() && !v.IsMerchantMember(o.MerchantID) && v.UserID != o.CustomerID {
		return events.Filter{}, apperror.New(apperror.Forbidden, "this needs the %s scope", scopeOrdersRead)
	}
	return events.Filter{OrderID: o.ID, MerchantID: o.MerchantID}, nil
}

// merchantFilter selects a merchant's events: its staff, a partner client acting for it
// with orders:read, or an admin. Anyone else gets FORBIDDEN — merchants are public, so
// refusing says nothing about whether one exists.
func merchantFilter(ctx context.Context, merchantID int, types []orderevent.Type) (events.Filter, error) {
	v := viewer.FromContext(ctx)
	switch {
	case v.IsAdmin(), v.IsMerchantMember(merchantID):
	case v.ActsForMerchant(merchantID) && readsOrders(v):
	case v.ActsForMerchant(merchantID):
		return events.Filter{}, apperror.New(apperror.Forbidden, "this needs the %s scope", scopeOrdersRead)
	default:
		return events.Filter{}, apperror.New(apperror.Forbidden,
			"only the merchant's staff, its partners with %s, and admins may follow its orders", scopeOrdersRead)
	}
	return events.Filter{MerchantID: merchantID, Types: types}, nil
}

// customerFilter selects the signed-in person's own orders. Partner clients are nobody's
// customer: without this check their zero user id would select every order.
func customerFilter(ctx context.Context) (events.Filter, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return events.Filter{}, apperror.New(apperror.Forbidden, "only a signed-in person has orders of their own; pass merchantID")
	}
	return events.Filter{CustomerID: v.UserID}, nil
}

// afterPosition reads an optional resume cursor.
func afterPosition(after *string) (*int64, error) {
	if after == nil || *after == "" {
		return nil, nil
	}
	p, err := events.ParseCursor("after", *after)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// checkCursor refuses a cursor naming no event or one older than the retention, as
// Streamer.Stream does, so a poller never skips events deleted after its cursor.
func (r *Resolver) checkCursor(ctx context.Context, after int64) error {
	if after == 0 {
		return nil
	}
	ev, err := r.Events.DB.OrderEvent.Query().Where(orderevent.Position(after)).
		Only(privacy.DecisionContext(ctx, privacy.Allow))
	expired := ent.IsNotFound(err)
	if err != nil && !expired {
		return err
	}
	if !expired && r.Events.Retention > 0 {
		now := time.Now()
		if r.Events.Now != nil {
			now = r.Events.Now()
		}
		expired = ev.CreatedAt.Before(now.Add(-r.Events.Retention))
	}
	if expired {
		e := apperror.BadInput("after", "after names no event or one older than the event retention (%s); refetch and start again", r.Events.Retention)
		e.Extensions = map[string]any{"reason": events.ReasonCursorExpired}
		return e
	}
	return nil
}

// stream opens the event stream of a subscription and relays it, checking every event
// against the filter once more. When the stream ends while the subscription is still
// wanted, the hub dropped it for being slow: over websockets the subscription then ends
// with an error saying so (reason SLOW_SUBSCRIBER) rather than a plain complete, so the
// client knows to resume with its last cursor.
func (r *Resolver) stream(ctx context.Context, f events.Filter, after *string) (<-chan *ent.OrderEvent, error) {
	pos, err := afterPosition(after)
	if err != nil {
		return nil, err
	}
	in, err := r.Events.Stream(ctx, f, pos)
	if err != nil {
		return nil, err
	}
	out := make(chan *ent.OrderEvent)
	go func() {
		defer close(out)
		for ev := range in {
			if !f.Match(ev) {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
		endWithReason(ctx)
	}()
	return out, nil
}

// endWithReason tells a websocket subscriber dropped for being slow why its subscription
// ended: gqlgen sends what AddSubscriptionError records as the operation's error message
// instead of complete. Only when the subscription is still wanted: once its context has
// ended (the client stopped it, the socket or the token is gone) gqlgen may already be
// reading that record. Only websocket operations have the record (a websocket caller
// always has an init payload); over SSE the stream simply ends.
func endWithReason(ctx context.Context) {
	if ctx.Err() != nil || transport.GetInitPayload(ctx) == nil {
		return
	}
	transport.AddSubscriptionError(ctx, &gqlerror.Error{Message: events.ErrSlow,
		Extensions: map[string]any{"code": string(apperror.RateLimited), "reason": reasonSlowSubscriber}})
}
