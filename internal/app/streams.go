package app

import (
	"context"
	"time"

	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Long-lived connections — websockets and GraphQL-over-SSE streams — are counted per
// account (WS_MAX_PER_USER; per client address without a token) and closed as soon as
// their account's rights change: internal/streams' Ent hooks announce every committed
// change of a user, an API client or a merchant's status or staff, this replica closes
// the connections concerned at once, and the bus carries the change to the others.

// closeTooManyConnections is the websocket close code of a connection over the cap
// (graphql-transport-ws clients do not retry 4429).
const closeTooManyConnections = 4429

// trackStream counts a connection of v that cancel closes, until ctx ends; it refuses one
// past the cap.
func (a *App) trackStream(ctx context.Context, v *viewer.Viewer, cancel context.CancelFunc) error {
	release, err := a.Streams.Open(v, auth.ClientFromContext(ctx).IP, cancel)
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, release)
	return nil
}

// accessChanged closes this replica's connections that c concerns, at once, and has the
// other replicas do the same.
func (a *App) accessChanged(ctx context.Context, c events.AccessChange) {
	if n := a.Streams.Close(c); n > 0 {
		a.Logger.InfoContext(ctx, "access changed; closed connections", "connections", n,
			"users", c.UserIDs, "api_clients", c.APIClientIDs, "merchants", c.MerchantIDs)
	}
	ab, ok := a.Bus.(events.AccessBus)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := ab.PublishAccessChange(ctx, c); err != nil {
		// The other replicas still re-check their connections' access every AccessRecheck.
		a.Logger.WarnContext(ctx, "publishing an access change", "err", err)
	}
}

// listenAccessChanges closes this replica's connections concerned by the changes other
// replicas announce, until ctx ends.
func (a *App) listenAccessChanges(ctx context.Context) error {
	ab, ok := a.Bus.(events.AccessBus)
	if !ok {
		return nil
	}
	return ab.SubscribeAccessChanges(ctx, func(c events.AccessChange) {
		if n := a.Streams.Close(c); n > 0 {
			a.Logger.Info("access changed on another replica; closed connections", "connections", n)
		}
	})
}
