package events

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/partners"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Who may follow which order events. The subscription's Filter is decided here,
// once, at subscribe time, and it is exactly what the privacy rules let the caller read:
// one visible order, one merchant the caller works for, or the caller's own orders. The
// stream applies the filter to every event (from the database and live), so nothing
// outside it is ever delivered.

// scopeOrdersRead is the partner-client scope that reads orders and their events
// (orders:write includes it).
const scopeOrdersRead = partners.ScopeOrdersRead

// readsOrders reports whether a partner client may read its merchants' orders.
func readsOrders(v *viewer.Viewer) bool {
	return v.HasScope(partners.ScopeOrdersRead) || v.HasScope(partners.ScopeOrdersWrite)
}

// MaxSince caps orderEventsSince's first.
const MaxSince = 500

// ForOrder selects the events of one order: NOT_FOUND unless the caller may see the
// order (its customer, its merchant's staff, a partner of that merchant, an admin); a
// partner client also needs orders:read.
func ForOrder(ctx context.Context, db *ent.Client, orderID int) (Filter, error) {
	o, err := orders.Visible(ctx, db, orderID)
	if err != nil {
		return Filter{}, err
	}
	v := viewer.FromContext(ctx)
	if v.Has(viewer.RolePartner) && !readsOrders(v) &&
		!v.IsAdmin() && !v.IsMerchantMember(o.MerchantID) && v.UserID != o.CustomerID {
		return Filter{}, apperror.New(apperror.Forbidden, "this needs the %s scope", scopeOrdersRead)
	}
	return Filter{OrderID: o.ID, MerchantID: o.MerchantID}, nil
}

// ForMerchant selects a merchant's events: its staff, a partner client acting for it
// with orders:read, or an admin. Anyone else gets FORBIDDEN — merchants are public, so
// refusing says nothing about whether one exists.
func ForMerchant(ctx context.Context, merchantID int, types []orderevent.Type) (Filter, error) {
	v := viewer.FromContext(ctx)
	switch {
	case v.IsAdmin(), v.IsMerchantMember(merchantID):
	case v.ActsForMerchant(merchantID) && readsOrders(v):
	case v.ActsForMerchant(merchantID):
		return Filter{}, apperror.New(apperror.Forbidden, "this needs the %s scope", scopeOrdersRead)
	default:
		return Filter{}, apperror.New(apperror.Forbidden,
			"only the merchant's staff, its partners with %s, and admins may follow its orders", scopeOrdersRead)
	}
	return Filter{MerchantID: merchantID, Types: types}, nil
}

// ForCustomer selects the signed-in person's own orders. Partner clients are nobody's
// customer: without this check their zero user id would select every order.
func ForCustomer(ctx context.Context) (Filter, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return Filter{}, apperror.New(apperror.Forbidden, "only a signed-in person has orders of their own; pass merchantID")
	}
	return Filter{CustomerID: v.UserID}, nil
}

// ParseAfter reads an optional resume cursor.
func ParseAfter(after *string) (*int64, error) {
	if after == nil || *after == "" {
		return nil, nil
	}
	p, err := ParseCursor("after", *after)
	if err != nil {
		return nil, err
	}
	return &p, nil
}
