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

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/product"
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

// ProductOnSale keeps the products the public may see at now: flagged on sale (ACTIVE, of
// an ACTIVE merchant not removed: ent/schema Product.on_sale) and not of a merchant
// suspended at now. The suspended merchants are few, so the database reads them once per
// statement (NOT IN a subquery it materialises) instead of joining every product's merchant.
func ProductOnSale(now time.Time) predicate.Product {
	return func(s *sql.Selector) {
		s.Where(sql.And(
			// "= 1", not the bare column Ent writes for a boolean equality: MariaDB uses
			// an index for the equality only (a bare column made every list a full scan).
			sql.EQ(s.C(product.FieldOnSale), 1),
			sql.NotIn(s.C(product.FieldMerchantID), merchantsWhere(s.Dialect(), func(t *sql.SelectTable) *sql.Predicate {
				return sql.GT(t.C(merchant.FieldSuspendedUntil), now)
			})),
		))
	}
}

// ProductOfListedMerchant keeps the products of merchants whose products the platform's
// lists and search show at now (Listed), as HasMerchantWith(Listed(now)) does, without
// reading the merchant of every product: not of a merchant removed, or suspended or
// restricted at now.
func ProductOfListedMerchant(now time.Time) predicate.Product {
	return func(s *sql.Selector) {
		s.Where(sql.NotIn(s.C(product.FieldMerchantID), merchantsWhere(s.Dialect(), func(t *sql.SelectTable) *sql.Predicate {
			return sql.Or(
				sql.NotNull(t.C(merchant.FieldRemovedAt)),
				sql.GT(t.C(merchant.FieldSuspendedUntil), now),
				sql.GT(t.C(merchant.FieldRestrictedUntil), now),
			)
		})))
	}
}

// merchantsWhere selects the ids of the merchants matching where.
func merchantsWhere(dialectName string, where func(*sql.SelectTable) *sql.Predicate) *sql.Selector {
	d := sql.Dialect(dialectName)
	t := d.Table(merchant.Table)
	return d.Select(t.C(merchant.FieldID)).From(t).Where(where(t))
}
