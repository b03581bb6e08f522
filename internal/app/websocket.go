package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/transportws"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Websocket connections: who they are (the token in connection_init), how long they live
// (that token's expiry, which the client may push back in-band with a refresh ping), and
// when they end early (their account's access changed). docs/EVENTS.md#websocket-protocol
// tells clients the codes.

// Reasons (extensions.reason) of the errors sent to every running operation before the
// server closes a graphql-transport-ws connection with 4403.
const (
	reasonTokenExpired  = "TOKEN_EXPIRED"
	reasonAccessChanged = "ACCESS_CHANGED"
)

// closeInternal is graphql-transport-ws's close code of a server failure.
const closeInternal = transportws.CloseInternalServerError

var (
	// errTokenExpired ends a connection whose access token expired without a refresh.
	errTokenExpired = &transportws.CloseError{Code: transportws.CloseForbidden, Reason: "Forbidden: access token expired",
		Errors: gqlerror.List{{Message: "the access token expired: refresh it in-band before it expires, or reconnect with a fresh one and resume with after",
			Extensions: map[string]any{"code": string(apperror.Unauthenticated), "reason": reasonTokenExpired}}}}
	// errAccessChanged ends a connection whose account's rights changed since it opened.
	errAccessChanged = &transportws.CloseError{Code: transportws.CloseForbidden, Reason: "Forbidden: access changed",
		Errors: gqlerror.List{{Message: "the account's access changed: reconnect to be authorised afresh",
			Extensions: map[string]any{"code": string(apperror.Unauthenticated), "reason": reasonAccessChanged}}}}
)

// transportWS is the graphql-transport-ws transport of the GraphQL handler.
func (a *App) transportWS() *transportws.Server {
	return &transportws.Server{
		// Cross-site upgrades are refused unless the Origin is one CORS_ALLOWED_ORIGINS
		// allows (a same-host Origin, and clients that send none, are accepted).
		Accept:      coderws.AcceptOptions{OriginPatterns: a.Config.CORS.WebsocketPatterns()},
		InitTimeout: a.Config.WSInitTimeout,
		// A ping every 15 s; a client that answers none for ~35 s (a dead peer, or one that
		// stopped reading) is cut off, which also frees a writer stuck on its full socket.
		PingInterval: 15 * time.Second,
		AfterFunc:    a.afterFunc,
		Init:         a.websocketInit,
		Refresh:      a.websocketRefresh,
		Logger:       a.Logger,
	}
}

// wsSession is the authenticated side of one websocket connection.
type wsSession struct {
	a   *App
	v   *viewer.Viewer // the rights the connection's operations were authorised on
	end context.CancelCauseFunc

	mu        sync.Mutex
	token     string // the latest (refreshed) token
	expiresAt time.Time
	stop      func() bool // the expiry timer
}

type wsSessionKey struct{}

// websocketToken is the access token of a connection_init (or refresh) payload:
// {"Authorization": "Bearer <token>"}, or {"token": "<token>"}.
func websocketToken(payload map[string]any) string {
	for _, k := range []string{"Authorization", "authorization"} {
		if s, ok := payload[k].(string); ok && bearer(s) != "" {
			return bearer(s)
		}
	}
	s, _ := payload["token"].(string)
	return s
}

// websocketInit authenticates a graphql-transport-ws connection from its connection_init
// payload. A refused token closes the socket with 4403 Forbidden (the graphql-ws client
// retries it, asking its connectionParams again: a fresh token); the account over its
// connection cap with 4429. An accepted token bounds the connection: when it expires, every
// running operation receives an error (reason TOKEN_EXPIRED) and the socket closes with
// 4403 — unless the client refreshed it in-band first (websocketRefresh).
func (a *App) websocketInit(ctx context.Context, payload map[string]any) (context.Context, error) {
	ctx, _, err := a.openWebsocket(ctx, websocketToken(payload))
	return ctx, err
}

// legacyWebsocketInit is websocketInit for gqlgen's subscriptions-transport-ws transport,
// which closes a connection whose context ended with its generic 1000 "terminated": the
// legacy protocol has no refresh, and no way to say why.
func (a *App) legacyWebsocketInit(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	ctx, _, err := a.openWebsocket(ctx, websocketToken(payload))
	if ce := (*transportws.CloseError)(nil); errors.As(err, &ce) {
		ctx = transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, ce.Code), ce.Reason)
		return ctx, nil, errors.New(ce.Reason)
	}
	return ctx, nil, err
}

// openWebsocket authenticates a connection by token ("" makes an anonymous one, on which
// every subscription answers UNAUTHENTICATED), counts it against its account's cap, and
// returns its context: cancelled with errTokenExpired at the token's expiry and with
// errAccessChanged when the account's access changes.
func (a *App) openWebsocket(ctx context.Context, token string) (context.Context, *wsSession, error) {
	ctx, end := context.WithCancelCause(ctx)
	changed := func() { end(errAccessChanged) }
	if token == "" {
		if err := a.trackStream(ctx, nil, changed); err != nil {
			end(err)
			return ctx, nil, &transportws.CloseError{Code: closeTooManyConnections, Reason: err.Error()}
		}
		return ctx, nil, nil
	}
	v, exp, err := a.checkWebsocketToken(ctx, token)
	if err != nil {
		end(err)
		return ctx, nil, err
	}
	s := &wsSession{a: a, v: v, end: end, token: token}
	ctx = context.WithValue(viewer.NewContext(ctx, v), wsSessionKey{}, s)
	s.expireAt(exp)
	context.AfterFunc(ctx, func() { s.mu.Lock(); s.stop(); s.mu.Unlock() })
	if err := a.trackStream(ctx, v, changed); err != nil {
		end(err)
		return ctx, nil, &transportws.CloseError{Code: closeTooManyConnections, Reason: err.Error()}
	}
	go a.watchAccess(ctx, s)
	return ctx, s, nil
}

// checkWebsocketToken authenticates token and returns its viewer and expiry, or the
// *transportws.CloseError refusing it.
func (a *App) checkWebsocketToken(ctx context.Context, token string) (*viewer.Viewer, time.Time, error) {
	v, err := a.Auth.Authenticate(ctx, token)
	if err != nil && apperror.CodeOf(err) != apperror.Unauthenticated {
		a.Logger.ErrorContext(ctx, "websocket: authenticating", "err", err)
		return nil, time.Time{}, &transportws.CloseError{Code: closeInternal, Reason: "Internal server error"}
	}
	var claims *auth.Claims
	if err == nil {
		claims, err = a.Auth.Tokens.Verify(token)
	}
	// Verify allows some clock skew past the expiry; a connection gets none of it.
	if err != nil || claims.ExpiresAt == nil || !claims.ExpiresAt.After(a.now()) {
		return nil, time.Time{}, &transportws.CloseError{Code: transportws.CloseForbidden, Reason: "Forbidden: invalid or expired access token"}
	}
	return v, claims.ExpiresAt.Time, nil
}

// expireAt (re)sets the session's expiry.
func (s *wsSession) expireAt(exp time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
	s.expiresAt = exp
	s.stop = s.a.afterFunc(exp.Sub(s.a.now()), func() { s.end(errTokenExpired) })
}

func (s *wsSession) currentToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// websocketRefresh renews a connection's token in-band: the client sends
// {"type":"ping","payload":{"type":"refresh","token":"<new access token>"}} (or
// "Authorization": "Bearer …") and the pong says {"type":"refresh","expiresAt":"…"}, or
// {"type":"refresh","error":{"message":…,"extensions":{"code":…}}} leaving the connection
// to end at its old expiry. The new token must be valid, its session alive, and give the
// same account the same rights the running operations were authorised on.
func (a *App) websocketRefresh(ctx context.Context, payload map[string]any) map[string]any {
	refused := func(code apperror.Code, format string, args ...any) map[string]any {
		return map[string]any{"type": "refresh", "error": map[string]any{
			"message": fmt.Sprintf(format, args...), "extensions": map[string]any{"code": string(code)}}}
	}
	s, _ := ctx.Value(wsSessionKey{}).(*wsSession)
	if s == nil {
		return refused(apperror.BadUserInput, "this connection was opened without a token: open a new one with the token")
	}
	token := websocketToken(payload)
	if token == "" {
		return refused(apperror.BadUserInput, `a refresh carries the new access token: {"type":"refresh","token":"<access token>"}`)
	}
	v, exp, err := a.checkWebsocketToken(ctx, token)
	if ce := (*transportws.CloseError)(nil); errors.As(err, &ce) && ce.Code == closeInternal {
		return refused(apperror.Internal, "internal error")
	} else if err != nil {
		return refused(apperror.Unauthenticated, "invalid or expired access token")
	}
	if !sameAccess(s.v, v) {
		return refused(apperror.Forbidden, "the token is another account's, or carries other rights: open a new connection with it")
	}
	if ctx.Err() != nil { // expired (or closed) while the token was checked
		return refused(apperror.Unauthenticated, "the connection has ended")
	}
	s.mu.Lock()
	s.token = token
	s.mu.Unlock()
	s.expireAt(exp)
	return map[string]any{"type": "refresh", "expiresAt": exp.UTC().Format(time.RFC3339)}
}

// watchAccess ends a websocket connection whose access changed since it was opened: the
// account disabled, the partner client revoked or rotated, a merchant or scope taken
// away. Subscriptions are authorised when they start, so the connection must not outlive
// the rights they were granted on; the client reconnects (and is authorised afresh).
// internal/streams closes connections at once on the changes this replica hears of; this
// re-check is the fallback for one it did not.
func (a *App) watchAccess(ctx context.Context, s *wsSession) {
	every := a.AccessRecheck
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := a.Auth.Authenticate(ctx, s.currentToken())
		if ctx.Err() != nil {
			return
		}
		if err != nil && apperror.CodeOf(err) != apperror.Unauthenticated {
			a.Logger.WarnContext(ctx, "websocket: rechecking access", "err", err)
			continue // a database hiccup is not a reason to drop subscribers
		}
		if err != nil || !sameAccess(s.v, now) {
			a.Logger.InfoContext(ctx, "websocket: access changed; closing the connection", "user_id", s.v.UserID, "api_client_id", s.v.APIClientID)
			s.end(errAccessChanged)
			return
		}
	}
}

// sameAccess reports whether two viewers have the same rights.
func sameAccess(a, b *viewer.Viewer) bool {
	sorted := func(xs []int) []int { xs = slices.Clone(xs); slices.Sort(xs); return xs }
	strs := func(xs []string) []string { xs = slices.Clone(xs); slices.Sort(xs); return xs }
	roles := func(xs []viewer.Role) []viewer.Role { xs = slices.Clone(xs); slices.Sort(xs); return xs }
	return a.UserID == b.UserID && a.MerchantID == b.MerchantID && a.MerchantRole == b.MerchantRole &&
		a.APIClientID == b.APIClientID && slices.Equal(roles(a.Roles), roles(b.Roles)) &&
		slices.Equal(sorted(a.PartnerMerchantIDs), sorted(b.PartnerMerchantIDs)) && slices.Equal(strs(a.Scopes), strs(b.Scopes))
}
