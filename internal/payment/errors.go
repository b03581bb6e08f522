package payment

import "errors"

// Sentinel errors. Providers wrap them with context (never with secrets); test with errors.Is.
var (
	// ErrInvalidSignature: the notification or response is not signed by the provider.
	ErrInvalidSignature = errors.New("payment: invalid signature")
	// ErrUnknownKey: it names a signing key (WeChat platform serial) we are not configured with.
	ErrUnknownKey = errors.New("payment: unknown signing key")
	// ErrExpired: its signing timestamp is outside the allowed clock skew.
	ErrExpired = errors.New("payment: signature timestamp outside tolerance")
	// ErrMismatch: it is genuine but for another app id or merchant id than ours.
	ErrMismatch = errors.New("payment: app or merchant id mismatch")
	// ErrMalformed: it cannot be parsed, or lacks or garbles a required field.
	ErrMalformed = errors.New("payment: malformed message")
	// ErrInvalidRequest: our own request is invalid (bad ref, amount, URL…).
	ErrInvalidRequest = errors.New("payment: invalid request")
	// ErrUnsupported: the provider does not serve this method, channel or currency, or
	// the operation is not configured (no provider for a method, QQ refunds without a
	// client certificate).
	ErrUnsupported = errors.New("payment: unsupported")
	// ErrNotFound: the provider has no such payment.
	ErrNotFound = errors.New("payment: not found at provider")
	// ErrDeclined: the provider refused the request for a business reason (insufficient
	// merchant balance, trade already closed, the sandbox's simulated refund failure).
	// Repeating it will not help.
	ErrDeclined = errors.New("payment: declined by provider")
	// ErrProvider: the provider could not be reached or failed; the request may be
	// repeated (with the same refs, which makes it idempotent).
	ErrProvider = errors.New("payment: provider unavailable")
)

// Rejection is the HTTP status and a short, secret-free reason for refusing a
// notification that failed with err: 401 for signature and key problems, 400 for
// malformed or foreign messages, 500 for anything else (the caller's own failure, after
// which the provider should retry).
func Rejection(err error) (status int, reason string) {
	switch {
	case errors.Is(err, ErrInvalidSignature), errors.Is(err, ErrUnknownKey):
		return 401, "invalid signature"
	case errors.Is(err, ErrExpired):
		return 401, "signature expired"
	case errors.Is(err, ErrMismatch):
		return 400, "not for this merchant"
	case errors.Is(err, ErrMalformed):
		return 400, "malformed notification"
	default:
		return 500, "internal error"
	}
}
