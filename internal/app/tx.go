package app

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/database"
)

// selfTransactional are mutation fields that manage their own transactions: a detected
// refresh-token reuse must revoke the session even though the request fails, a wrong
// email verification code must be counted even though verifyEmail fails, and the
// sandbox's notification is processed by the notify endpoint in its own transaction
// (on SQLite a request transaction would hold the only write lock meanwhile). The
// platform and phone sign-ins call a platform or an SMS provider, which no transaction
// should wait for, and count wrong phone codes in writes that must survive the failure.
// The TOTP sign-in step and disableTotp audit wrong codes, which must survive the failure too.
var selfTransactional = []string{"login", "refreshToken", "logout", "verifyEmail", "sandboxCompletePayment",
	"signInWithMiniProgram", "linkMiniProgram", "finishWebSignIn", "linkWebIdentity",
	"requestPhoneCode", "signInWithPhone", "linkPhone", "completeTotpSignIn", "disableTotp"}

// alone are mutation fields that may move money through a payment provider: each must be
// the only field of its operation. A provider refund cannot be rolled back, so no sibling
// field's failure may roll back the transaction that recorded it (the after-sales refund
// ref is also stable across attempts, so a retry after a failed commit is deduplicated by
// the provider). A merchant's refundOrder is one too.
var alone = []string{"approveAfterSales", "acceptAfterSalesProposal", "confirmAfterSalesReturn", "arbitrateAfterSales",
	"refundOrder"}

// Transactioner runs each mutation operation in one database transaction: it commits when
// every field succeeded and rolls back otherwise, so nothing is ever half-written. Unlike
// entgql's, it never shows database error text to the caller.
type Transactioner struct {
	Client *ent.Client
	Logger *slog.Logger
	// AfterCommit, when set, runs after every committed transaction (it nudges the
	// event relay, so subscribers hear of the change at once).
	AfterCommit func()
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.ResponseInterceptor
} = Transactioner{}

// ExtensionName names the extension.
func (Transactioner) ExtensionName() string { return "XiadanTransactioner" }

// Validate checks the extension's configuration.
func (Transactioner) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext serialises resolvers of a transactional operation: a transaction
// is one connection and must not be used from several goroutines.
func (t Transactioner) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if skipTx(oc.Operation) {
		return nil
	}
	if names := topFields(oc.Doc, oc.Operation.SelectionSet, 0); len(names) > 1 {
		for _, n := range names {
			if slices.Contains(alone, n) {
				return &gqlerror.Error{
					Message:    n + " moves money and must be the only field of its mutation; send the other fields in another request",
					Extensions: map[string]any{"code": "BAD_USER_INPUT", "field": n},
				}
			}
		}
	}
	previous := oc.ResolverMiddleware
	var mu sync.Mutex
	oc.ResolverMiddleware = func(ctx context.Context, next graphql.Resolver) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		return previous(ctx, next)
	}
	return nil
}

// InterceptResponse wraps the operation in a transaction. A response without an operation
// (a request refused before one was made, which gqlgen answers through DispatchError) has
// nothing to run in one.
func (t Transactioner) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) || skipTx(graphql.GetOperationContext(ctx).Operation) {
		return next(ctx)
	}
	// A renewable transaction: a mutation that has written nothing may ask for a fresh
	// snapshot (database.FreshSnapshot), as placeOrder's retries do.
	txCtx, tx, err := t.Client.OpenTx(database.WithRenewal(ctx))
	if err != nil {
		if ctx.Err() == nil { // a request past its deadline, or abandoned, is no server fault
			t.Logger.ErrorContext(ctx, "opening transaction", "request_id", audit.RequestID(ctx), "err", err)
		}
		return internalResponse(ctx)
	}
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback()
			panic(r)
		}
	}()
	rsp := next(txCtx)
	if rsp == nil {
		// No more responses: a websocket transport asks again after a mutation's one result,
		// and a streaming transport (SSE, multipart) asks for the next result until there is
		// none; a mutation has one, so the second call ends the stream.
		_ = tx.Rollback()
		return nil
	}
	if len(rsp.Errors) > 0 {
		_ = tx.Rollback()
		// Lost a deadlock: everything it did is rolled back, so the request may be run
		// again (retryDeadlocks) unless a field reached outside this transaction.
		if m := database.DeadlockMarkOf(ctx); m.Deadlocked() && !reachesOutside(graphql.GetOperationContext(ctx)) {
			m.SetRetrySafe()
		}
		return &graphql.Response{Errors: rsp.Errors, Extensions: rsp.Extensions}
	}
	if err := tx.Commit(); err != nil {
		if ctx.Err() == nil {
			t.Logger.ErrorContext(ctx, "committing transaction", "request_id", audit.RequestID(ctx), "err", err)
		}
		return internalResponse(ctx)
	}
	if t.AfterCommit != nil {
		t.AfterCommit()
	}
	return rsp
}

// reachesOutside reports whether the operation has a field whose effects a rollback of the
// request transaction does not undo: one that may call a payment provider, or one that
// commits on its own.
func reachesOutside(oc *graphql.OperationContext) bool {
	for _, n := range topFields(oc.Doc, oc.Operation.SelectionSet, 0) {
		if slices.Contains(alone, n) || slices.Contains(selfTransactional, n) {
			return true
		}
	}
	return false
}

// skipTx reports whether op needs no request transaction: queries, subscriptions, and
// mutations made only of self-transactional fields.
func skipTx(op *ast.OperationDefinition) bool {
	if op == nil || op.Operation != ast.Mutation {
		return true
	}
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || !slices.Contains(selfTransactional, f.Name) {
			return false
		}
	}
	return true
}

// internalResponse is the masked answer when the transaction itself fails.
func internalResponse(ctx context.Context) *graphql.Response {
	id := audit.RequestID(ctx)
	return &graphql.Response{Errors: gqlerror.List{{
		Message:    "internal error; quote request id " + id,
		Extensions: map[string]any{"code": "INTERNAL", "requestId": id},
	}}}
}

// topFields lists the names of the top-level fields of a selection set, through fragment
// spreads and inline fragments (a missing fragment counts as an unknown field).
func topFields(doc *ast.QueryDocument, set ast.SelectionSet, depth int) []string {
	var out []string
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			out = append(out, s.Name)
		case *ast.InlineFragment:
			out = append(out, topFields(doc, s.SelectionSet, depth+1)...)
		case *ast.FragmentSpread:
			var f *ast.FragmentDefinition
			if doc != nil && depth < 10 {
				f = doc.Fragments.ForName(s.Name)
			}
			if f == nil {
				out = append(out, "?")
				continue
			}
			out = append(out, topFields(doc, f.SelectionSet, depth+1)...)
		}
	}
	return out
}
