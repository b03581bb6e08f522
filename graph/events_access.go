package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/transportws"
)

// Subscription plumbing (who may follow what is decided in internal/events, access.go).
// These helpers live here rather than in events.resolvers.go, where gqlgen would comment
// them out on the next generate.

// reasonSlowSubscriber is extensions.reason of a subscription the hub dropped because it
// did not keep up: the client resumes with after.
const reasonSlowSubscriber = "SLOW_SUBSCRIBER"

// stream opens the event stream of a subscription and relays it, checking every event
// against the filter once more. When the stream ends while the subscription is still
// wanted, the hub dropped it for being slow: over websockets the subscription then ends
// with an error saying so (reason SLOW_SUBSCRIBER) rather than a plain complete, so the
// client knows to resume with its last cursor.
func (r *Resolver) stream(ctx context.Context, f events.Filter, after *string) (<-chan *ent.OrderEvent, error) {
	pos, err := events.ParseAfter(after)
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
// always has an init payload, and graphql-transport-ws operations their own record); over
// SSE the stream simply ends.
func endWithReason(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	err := &gqlerror.Error{Message: events.ErrSlow,
		Extensions: map[string]any{"code": string(apperror.RateLimited), "reason": reasonSlowSubscriber}}
	// graphql-transport-ws (our transport), else gqlgen's legacy websocket transport.
	if !transportws.AddError(ctx, err) && transport.GetInitPayload(ctx) != nil {
		transport.AddSubscriptionError(ctx, err)
	}
}
