package orders

import (
	"context"
	"strings"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/partners"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Page is a Relay page request.
type Page struct {
	After, Before *entgql.Cursor[int]
	First, Last   *int
}

// newestFirst orders lists by creation time, newest first (then id), which the indexes
// (customer_id, created_at), (merchant_id, status, created_at) and (status, created_at)
// serve.
var newestFirst = ent.WithOrderOrder(&ent.OrderOrder{Field: ent.OrderOrderFieldCreatedAt, Direction: entgql.OrderDirectionDesc})

// Mine lists the caller's orders.
func Mine(ctx context.Context, db *ent.Client, p Page, f *ListFilter) (*ent.OrderConnection, error) {
	v := viewer.FromContext(ctx)
	preds, err := f.predicates(true)
	if err != nil {
		return nil, err
	}
	return db.Order.Query().Where(order.CustomerID(v.UserID)).Where(preds...).
		Paginate(ctx, p.After, p.First, p.Before, p.Last, newestFirst)
}

// OfMerchant lists the orders a merchant received: staff their own merchant's, admins the
// one they name.
func OfMerchant(ctx context.Context, db *ent.Client, merchantID *int, p Page, f *ListFilter) (*ent.OrderConnection, error) {
	mid, err := scopeMerchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	preds, err := f.predicates(false)
	if err != nil {
		return nil, err
	}
	return db.Order.Query().Where(order.MerchantID(mid)).Where(preds...).
		Paginate(ctx, p.After, p.First, p.Before, p.Last, newestFirst)
}

// All lists every order (admins).
func All(ctx context.Context, db *ent.Client, p Page, f *ListFilter) (*ent.OrderConnection, error) {
	preds, err := f.predicates(true)
	if err != nil {
		return nil, err
	}
	return db.Order.Query().Where(preds...).Paginate(ctx, p.After, p.First, p.Before, p.Last, newestFirst)
}

// Counts returns how many orders a merchant has in each status, zeros included, in the
// order of the status enum: one GROUP BY on the (merchant_id, status, …) index.
func Counts(ctx context.Context, db *ent.Client, merchantID *int) ([]*StatusCount, error) {
	mid, err := scopeMerchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Status order.Status `json:"status"`
		Count  int          `json:"count"`
	}
	// Only counts leave here, of the merchant just authorised: no privacy filter needed,
	// and without it the GROUP BY is answered from the (merchant_id, status, …) index.
	if err := db.Order.Query().Where(order.MerchantID(mid)).
		GroupBy(order.FieldStatus).Aggregate(ent.Count()).Scan(system(ctx), &rows); err != nil {
		return nil, err
	}
	n := map[order.Status]int{}
	for _, r := range rows {
		n[r.Status] = r.Count
	}
	out := make([]*StatusCount, 0, len(allStatuses))
	for _, s := range allStatuses {
		out = append(out, &StatusCount{Status: s, Count: n[s]})
	}
	return out, nil
}

var allStatuses = []order.Status{
	order.StatusPENDING_PAYMENT, order.StatusPAID, order.StatusRISK_REVIEW, order.StatusACCEPTED, order.StatusSHIPPED,
	order.StatusDELIVERED, order.StatusFULFILLED, order.StatusCOMPLETED, order.StatusCANCELLED,
}

// Timeline returns an order's events, oldest first.
func Timeline(ctx context.Context, db *ent.Client, o *ent.Order) ([]*ent.OrderEvent, error) {
	return db.OrderEvent.Query().Where(orderevent.OrderID(o.ID)).Order(orderevent.ByID()).All(ctx)
}

// ByNumber reads an order the caller may see by its number.
func ByNumber(ctx context.Context, db *ent.Client, number string) (*ent.Order, error) {
	return db.Order.Query().Where(order.Number(strings.TrimSpace(number))).Only(ctx)
}

// CanReadContent reports whether the caller may read a virtual order's delivered
// content: its customer and its merchant's staff only.
func CanReadContent(ctx context.Context, o *ent.Order) bool {
	v := viewer.FromContext(ctx)
	return v.System || (v.UserID != 0 && v.UserID == o.CustomerID) || v.IsMerchantMember(o.MerchantID)
}

func scopeMerchant(ctx context.Context, requested *int) (int, error) {
	v := viewer.FromContext(ctx)
	switch {
	case v.IsAdmin() || v.System:
		if requested == nil {
			return 0, apperror.BadInput("merchantID", "is required for admins")
		}
		return *requested, nil
	case v.Has(viewer.RolePartner) && !v.Has(viewer.RoleMerchant):
		// A partner client names the merchant; it reads only those it was granted, with
		// orders:read.
		if requested == nil {
			return 0, apperror.BadInput("merchantID", "is required for partner clients")
		}
		if !v.ActsForMerchant(*requested) {
			return 0, apperror.NotFoundf("merchant %d not found", *requested)
		}
		if !v.HasScope(partners.ScopeOrdersRead) && !v.HasScope(partners.ScopeOrdersWrite) {
			return 0, apperror.New(apperror.Forbidden, "this needs the %s scope", partners.ScopeOrdersRead)
		}
		return *requested, nil
	case v.MerchantID == 0 || !v.Has(viewer.RoleMerchant):
		return 0, apperror.New(apperror.Forbidden, "only merchant staff and admins see a merchant's orders")
	case requested != nil && *requested != v.MerchantID:
		return 0, apperror.NotFoundf("merchant %d not found", *requested)
	}
	return v.MerchantID, nil
}

func (f *ListFilter) predicates(byMerchant bool) ([]predicate.Order, error) {
	if f == nil {
		return nil, nil
	}
	var ps []predicate.Order
	if len(f.Status) > 0 {
		ps = append(ps, order.StatusIn(f.Status...))
	}
	if f.Number != nil {
		ps = append(ps, order.Number(strings.TrimSpace(*f.Number)))
	}
	if f.MerchantID != nil {
		if !byMerchant {
			return nil, apperror.BadInput("where.merchantID", "is not a filter of merchantOrders: pass merchantID")
		}
		ps = append(ps, order.MerchantID(*f.MerchantID))
	}
	if f.CreatedAfter != nil {
		ps = append(ps, order.CreatedAtGTE(f.CreatedAfter.UTC()))
	}
	if f.CreatedBefore != nil {
		ps = append(ps, order.CreatedAtLT(f.CreatedBefore.UTC()))
	}
	if f.CreatedAfter != nil && f.CreatedBefore != nil && !f.CreatedAfter.Before(*f.CreatedBefore) {
		return nil, apperror.BadInput("where.createdBefore", "must be after createdAfter")
	}
	return ps, nil
}
