package apperror

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/go-sql-driver/mysql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/privacy"
)

// RequestIDFunc returns the id of the request in ctx, so masked errors can be traced.
type RequestIDFunc func(context.Context) string

// Presenter returns gqlgen's error presenter: it is the one place where errors become what
// callers see. Known errors keep their code; Ent errors are mapped; anything else is logged
// with the request id and shown as INTERNAL carrying only that id.
func Presenter(logger *slog.Logger, requestID RequestIDFunc) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		cause := gqlErr.Err
		if cause == nil {
			var direct *gqlerror.Error
			if errors.As(err, &direct) && direct.Err != nil {
				cause = direct.Err
			}
		}
		if cause == nil {
			// Parse, validation and argument-coercion errors from gqlgen itself.
			return graphQLError(gqlErr)
		}
		e := Classify(cause)
		if e == nil && ctx.Err() != nil {
			// The request ended under the resolver (its deadline passed, or its client
			// left), and the driver said so in its own words: not our bug.
			e = Classify(context.Cause(ctx))
		}
		if e == nil {
			id := requestID(ctx)
			logger.ErrorContext(ctx, "internal error", "request_id", id, "path", gqlErr.Path.String(), "err", cause)
			e = &Error{Code: Internal, Message: "internal error; quote request id " + id, Extensions: map[string]any{"requestId": id}}
		}
		gqlErr.Message = e.Message
		gqlErr.Err = cause
		gqlErr.Extensions = map[string]any{"code": string(e.Code)}
		if e.Field != "" {
			gqlErr.Extensions["field"] = e.Field
		}
		for k, v := range e.Extensions {
			gqlErr.Extensions[k] = v
		}
		return gqlErr
	}
}

// WithoutSuggestions wraps an error presenter so that gqlgen's validation errors no longer
// end in "Did you mean …?": with introspection off, suggestions would spell out the
// schema's fields, arguments, types and enum values one typo at a time.
func WithoutSuggestions(p graphql.ErrorPresenterFunc) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		e := p(ctx, err)
		if e != nil {
			if i := strings.Index(e.Message, " Did you mean "); i >= 0 {
				e.Message = e.Message[:i]
			}
		}
		return e
	}
}

// persistedQueryNotFound is the standard answer to an unknown persisted-query hash.
const persistedQueryNotFound Code = "PERSISTED_QUERY_NOT_FOUND"

// graphQLError gives gqlgen's own errors a code from our closed set, keeping gqlgen's code.
func graphQLError(e *gqlerror.Error) *gqlerror.Error {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	if c, ok := e.Extensions["code"].(string); ok {
		switch Code(c) {
		case Unauthenticated, Forbidden, NotFound, BadUserInput, Conflict, InvalidState, RateLimited, Timeout, Internal:
			return e
		case persistedQueryNotFound:
			// Kept as it is: Apollo Client, urql and other APQ clients look for this code to
			// resend the query in full.
			return e
		}
		e.Extensions["graphqlCode"] = c
	}
	e.Extensions["code"] = string(BadUserInput)
	return e
}

// Classify maps an error to what the caller may see, or nil when it is unexpected.
func Classify(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, privacy.Deny):
		// A forbidden record looks exactly like a missing one.
		return &Error{Code: NotFound, Message: "not found"}
	case ent.IsNotFound(err):
		return &Error{Code: NotFound, Message: "not found"}
	case ent.IsValidationError(err):
		var ve *ent.ValidationError
		errors.As(err, &ve)
		field := lowerCamel(ve.Name)
		return &Error{Code: BadUserInput, Field: field, Message: field + " is invalid"}
	case emptyFilter(err):
		return &Error{Code: BadUserInput, Message: "a condition in where is empty ({}); give it a field or leave it out",
			Extensions: map[string]any{"reason": ReasonEmptyFilter}}
	case ent.IsConstraintError(err):
		return &Error{Code: Conflict, Message: "conflicts with an existing record"}
	case isDeadlock(err):
		// Another request's transaction and this one waited on each other and MySQL rolled
		// this one back; the server ran it again before answering this, and lost each time.
		return &Error{Code: Conflict, Message: "other requests were changing the same records at the same time; nothing was saved: try again",
			Extensions: map[string]any{"reason": ReasonConcurrentWrite}}
	case errors.Is(err, ErrRequestTimeout), errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: Timeout, Message: "the request took too long and was stopped"}
	case errors.Is(err, context.Canceled):
		return &Error{Code: Internal, Message: "the request was cancelled"}
	}
	return nil
}

// ReasonConcurrentWrite is the reason of a CONFLICT whose mutation lost a MySQL deadlock
// to other requests on every attempt (internal/app retries it first): nothing was saved
// and the same request may be sent again.
const ReasonConcurrentWrite = "CONCURRENT_WRITE"

// isDeadlock reports MySQL's ER_LOCK_DEADLOCK (internal/database.IsDeadlock, which this
// package cannot import).
func isDeadlock(err error) bool {
	var my *mysql.MySQLError
	return errors.As(err, &my) && my.Number == 1213
}

// ReasonEmptyFilter is the reason of a where input holding an empty condition, such as
// {not: {}} or {and: [{}]}: it selects nothing and everything at once, so Ent refuses it.
const ReasonEmptyFilter = "EMPTY_FILTER"

// emptyFilter reports whether err is entgql's refusal of an empty where condition
// (ent.ErrEmpty<Type>WhereInput, one variable per type, all with this text).
func emptyFilter(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if strings.HasPrefix(err.Error(), "ent: empty predicate ") {
			return true
		}
	}
	return false
}

// lowerCamel turns an Ent field name such as contact_email into contactEmail.
func lowerCamel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] == "" {
			continue
		}
		if parts[i] == "id" || parts[i] == "url" {
			parts[i] = strings.ToUpper(parts[i])
			continue
		}
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}
