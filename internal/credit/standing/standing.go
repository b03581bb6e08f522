// Package standing says what a merchant may do at a given time, from the effects of its
// sanctions that internal/credit records on the merchant row (restricted_until,
// suspended_until, removed_at). Sanctions end by time: every check compares those columns
// with the request's clock, so a sanction past its end stops applying at once, with no
// job to clear it. It is a leaf package, so the privacy rules, the catalogue, the cart and
// the order service can all ask it.
package standing

import (
	"context"
	"strings"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/internal/apperror"
)

type clockKey struct{}

// WithClock returns ctx whose Now reads now; the server puts its clock in every request
// (tests a manual one), and background work without one goes by the wall clock.
func WithClock(ctx context.Context, now func() time.Time) context.Context {
	return context.WithValue(ctx, clockKey{}, now)
}

// Now is the time of ctx's clock, UTC, to the microsecond the database keeps.
func Now(ctx context.Context) time.Time {
	if now, ok := ctx.Value(clockKey{}).(func() time.Time); ok && now != nil {
		return now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// Open keeps the merchants neither suspended nor removed at now: those that may be seen by
// the public and take orders (with status ACTIVE, which the callers check as before).
func Open(now time.Time) predicate.Merchant {
	return merchant.And(
		merchant.RemovedAtIsNil(),
		merchant.Or(merchant.SuspendedUntilIsNil(), merchant.SuspendedUntilLTE(now)),
	)
}

// Listed keeps the open merchants that are not restricted at now: those whose products
// show in the platform's product search and lists.
func Listed(now time.Time) predicate.Merchant {
	return merchant.And(
		Open(now),
		merchant.Or(merchant.RestrictedUntilIsNil(), merchant.RestrictedUntilLTE(now)),
	)
}

// IsOpen reports whether m is neither suspended nor removed at now.
func IsOpen(m *ent.Merchant, now time.Time) bool {
	return m.RemovedAt == nil && (m.SuspendedUntil == nil || !m.SuspendedUntil.After(now))
}

// MayList reports whether m may create and publish listings at now: open and not
// restricted.
func MayList(m *ent.Merchant, now time.Time) bool {
	return IsOpen(m, now) && (m.RestrictedUntil == nil || !m.RestrictedUntil.After(now))
}

// State names what keeps m from listing at now, as INVALID_STATE's currentState: REMOVED,
// SUSPENDED or RESTRICTED, or "" when nothing does.
func State(m *ent.Merchant, now time.Time) string {
	switch {
	case m.RemovedAt != nil:
		return "REMOVED"
	case m.SuspendedUntil != nil && m.SuspendedUntil.After(now):
		return "SUSPENDED"
	case m.RestrictedUntil != nil && m.RestrictedUntil.After(now):
		return "RESTRICTED"
	}
	return ""
}

// ListingRefused is the error of a merchant whose sanctions keep it from creating or
// publishing listings: INVALID_STATE naming the sanction, with reason MERCHANT_SANCTIONED.
// It is nil when m may list at now.
func ListingRefused(m *ent.Merchant, now time.Time) error {
	state := State(m, now)
	if state == "" {
		return nil
	}
	e := apperror.WrongState(state, "the merchant is under a platform sanction (%s) and may not create or publish listings; see Merchant.sanctions", strings.ToLower(state))
	e.Extensions["reason"] = ReasonSanctioned
	return e
}

// ReasonSanctioned is extensions.reason of refusals caused by a sanction in force.
const ReasonSanctioned = "MERCHANT_SANCTIONED"
