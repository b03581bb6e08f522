// Package apperror defines the closed set of error codes the API returns in
// `extensions.code`, and turns every error — ours, Ent's, gqlgen's, unknown ones — into a
// GraphQL error carrying one of them.
package apperror

import (
	"errors"
	"fmt"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Code is a machine-readable error class, returned in `extensions.code`.
type Code string

// The closed set of error codes.
const (
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	NotFound        Code = "NOT_FOUND"
	BadUserInput    Code = "BAD_USER_INPUT"
	Conflict        Code = "CONFLICT"
	InvalidState    Code = "INVALID_STATE"
	RateLimited     Code = "RATE_LIMITED"
	// Timeout: the request ran past the server's deadline (REQUEST_TIMEOUT) and was
	// stopped; whatever it changed was rolled back.
	Timeout  Code = "TIMEOUT"
	Internal Code = "INTERNAL"
)

// ErrRequestTimeout is the cause of a request context that ran past the request timeout.
var ErrRequestTimeout = errors.New("the request ran past the request timeout")

// TimedOut returns the TIMEOUT error of a request stopped after d.
func TimedOut(d time.Duration) *Error {
	return &Error{
		Code: Timeout,
		Message: fmt.Sprintf("the request did not finish within %s and was stopped; nothing it changed was saved "+
			"(ask for less, or try again later)", d),
		Extensions: map[string]any{"timeoutSeconds": d.Seconds()},
	}
}

// Error is an error meant for the API caller.
type Error struct {
	Code    Code
	Message string
	// Field names the offending input field (BAD_USER_INPUT), as the caller spelled it.
	Field string
	// Extensions are extra machine-readable details, such as retryAfter or currentState.
	Extensions map[string]any
	// Err is an underlying cause, logged but never shown.
	Err error
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error with code and message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadInput returns a BAD_USER_INPUT error naming field.
func BadInput(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf returns a NOT_FOUND error.
func NotFoundf(format string, args ...any) *Error { return New(NotFound, format, args...) }

// ConflictOn returns a CONFLICT error naming field.
func ConflictOn(field, format string, args ...any) *Error {
	return &Error{Code: Conflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

// WrongState returns an INVALID_STATE error naming the current state.
func WrongState(current string, format string, args ...any) *Error {
	return &Error{
		Code:       InvalidState,
		Message:    fmt.Sprintf(format, args...) + fmt.Sprintf(" (current state: %s)", current),
		Extensions: map[string]any{"currentState": current},
	}
}

// Limited returns a RATE_LIMITED error telling the caller when to try again.
func Limited(retryAfter time.Duration) *Error {
	secs := int(retryAfter.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &Error{
		Code:       RateLimited,
		Message:    fmt.Sprintf("too many attempts; try again in %d seconds", secs),
		Extensions: map[string]any{"retryAfter": secs},
	}
}

// Join reports every problem found in one input at once: each error (nil ones are
// skipped) becomes a GraphQL error of its own, with its code and extensions.field, in
// the order given. It returns nil without errors and the error itself when there is one.
// errors.As and CodeOf see the first.
func Join(errs ...error) error {
	var list gqlerror.List
	for _, err := range errs {
		if err != nil {
			list = append(list, &gqlerror.Error{Message: err.Error(), Err: err})
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0].Err
	}
	return list
}

// CodeOf returns the code of err if it is (or wraps) an *Error, and "" otherwise.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
