package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/xiadan/xiadan/internal/apperror"
)

// Every request but a subscription runs under a deadline (REQUEST_TIMEOUT). Its context
// ends at the deadline, or as soon as the client goes away (net/http cancels the request
// context when the connection closes), and everything below — Ent, database/sql, the
// drivers — stops with it: SQLite interrupts the statement, MySQL's is killed on the
// server (internal/database), the request transaction is rolled back, and the caller is
// told TIMEOUT. Websockets and event streams live as long as their connection, so the
// HTTP deadline leaves them alone; the operations they carry are bounded one by one,
// except subscriptions.

// withDeadline bounds every HTTP request except websocket upgrades and event streams.
func (a *App) withDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if longLived(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeoutCause(r.Context(), a.Config.RequestTimeout, apperror.ErrRequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// longLived reports whether r opens a websocket, a GraphQL-over-SSE stream or an Apollo
// multipart subscription.
func longLived(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") ||
		strings.Contains(r.Header.Get("Accept"), "text/event-stream") ||
		acceptsSubscriptionMultipart(r.Header.Get("Accept"))
}

// RequestDeadline is the gqlgen extension that bounds each operation but subscriptions by
// Timeout, whatever transport carries it (a query sent over a websocket or an event
// stream too), and answers an operation that ran past it with one TIMEOUT error and no
// data. Install it before the Transactioner, so the transaction lives under the deadline
// and has been rolled back when the answer is written.
type RequestDeadline struct {
	Timeout time.Duration
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = RequestDeadline{}

// ExtensionName names the extension.
func (RequestDeadline) ExtensionName() string { return "XiadanRequestDeadline" }

// Validate checks the extension's configuration.
func (d RequestDeadline) Validate(graphql.ExecutableSchema) error {
	if d.Timeout <= 0 {
		return errors.New("RequestDeadline needs a positive Timeout")
	}
	return nil
}

// InterceptResponse runs the operation under the deadline.
func (d RequestDeadline) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Subscription {
		return next(ctx)
	}
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, d.Timeout, apperror.ErrRequestTimeout)
	if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && usesDefer(oc.Doc, oc.Operation.SelectionSet) {
		// The deferred fragments run after the first result is returned, under this
		// context: it must last until the deadline or the end of the operation.
		context.AfterFunc(parent, cancel)
	} else {
		defer cancel()
	}
	rsp := next(ctx)
	if rsp == nil || len(rsp.Errors) == 0 || !errors.Is(context.Cause(ctx), apperror.ErrRequestTimeout) {
		// Finished in time — or finished cleanly just as the deadline passed, and then a
		// mutation has committed: its answer stands.
		return rsp
	}
	e := apperror.TimedOut(d.Timeout)
	ext := map[string]any{"code": string(e.Code)}
	for k, v := range e.Extensions {
		ext[k] = v
	}
	return &graphql.Response{Errors: gqlerror.List{{Message: e.Message, Extensions: ext}}, Extensions: rsp.Extensions}
}

// usesDefer reports whether a selection set has a @defer fragment, at any depth.
func usesDefer(doc *ast.QueryDocument, set ast.SelectionSet) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if usesDefer(doc, s.SelectionSet) {
				return true
			}
		case *ast.InlineFragment:
			if s.Directives.ForName("defer") != nil || usesDefer(doc, s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Directives.ForName("defer") != nil {
				return true
			}
			if doc != nil {
				if f := doc.Fragments.ForName(s.Name); f != nil && usesDefer(doc, f.SelectionSet) {
					return true
				}
			}
		}
	}
	return false
}
