// Package rule holds the Ent privacy rules that decide who may read and write each entity.
// Reads that are not allowed are filtered away, so a forbidden record looks exactly like a
// missing one.
package rule

import (
	"context"
	"slices"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/entql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/merchantinvitation"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/refund"
	"github.com/xiadan/xiadan/ent/shipment"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/ent/trackingevent"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// AllowIfSystem allows internal work marked with viewer.SystemContext.
func AllowIfSystem() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx).System {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// AllowIfAdmin allows platform operators.
func AllowIfAdmin() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx).IsAdmin() {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// DenyIfAnonymous denies callers who have not signed in.
func DenyIfAnonymous() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if !viewer.FromContext(ctx).Authenticated() {
			return privacy.Denyf("anonymous viewer")
		}
		return privacy.Skip
	})
}

// Partner scopes that open orders and shipments (the names of internal/partners, which
// this package cannot import).
const (
	scopeOrdersRead    = "orders:read"
	scopeOrdersWrite   = "orders:write"
	scopeTrackingWrite = "tracking:write"
)

// orderMerchantIDs returns the merchants whose orders the viewer may read: its own
// merchant's as staff, and a partner client's merchants when it holds one of scopes
// (orders:read or orders:write when none are given).
func orderMerchantIDs(v *viewer.Viewer, scopes ...string) []int {
	var ids []int
	if v.Has(viewer.RoleMerchant) && v.MerchantID != 0 {
		ids = append(ids, v.MerchantID)
	}
	if len(scopes) == 0 {
		scopes = []string{scopeOrdersRead, scopeOrdersWrite}
	}
	if v.Has(viewer.RolePartner) && slices.ContainsFunc(scopes, v.HasScope) {
		ids = append(ids, v.PartnerMerchantIDs...)
	}
	return ids
}

// memberMerchantIDs returns the merchants whose private records the viewer may see: its
// own merchant for staff, the granted merchants for partner clients.
func memberMerchantIDs(v *viewer.Viewer) []int {
	var ids []int
	if v.Has(viewer.RoleMerchant) && v.MerchantID != 0 {
		ids = append(ids, v.MerchantID)
	}
	if v.Has(viewer.RolePartner) {
		ids = append(ids, v.PartnerMerchantIDs...)
	}
	return ids
}

// onlyFields reports whether a mutation touches nothing outside allowed.
func onlyFields(m ent.Mutation, allowed ...string) bool {
	for _, f := range m.Fields() {
		if !slices.Contains(allowed, f) {
			return false
		}
	}
	for _, f := range m.ClearedFields() {
		if !slices.Contains(allowed, f) {
			return false
		}
	}
	return len(m.AddedEdges()) == 0 && len(m.RemovedEdges()) == 0 && len(m.ClearedEdges()) == 0
}

// FilterUsersToVisible lets people see themselves and the members of their own merchant.
func FilterUsersToVisible() privacy.UserQueryRuleFunc {
	return func(ctx context.Context, q *ent.UserQuery) error {
		v := viewer.FromContext(ctx)
		if v.UserID == 0 {
			return privacy.Denyf("anonymous viewer")
		}
		ps := []predicate.User{user.ID(v.UserID)}
		if v.IsMerchantMember(v.MerchantID) {
			ps = append(ps, user.MerchantID(v.MerchantID))
		}
		q.Where(user.Or(ps...))
		return privacy.Allow
	}
}

// AllowUserSelfUpdate lets people edit their own profile and password, nothing else.
func AllowUserSelfUpdate() privacy.UserMutationRuleFunc {
	return func(ctx context.Context, m *ent.UserMutation) error {
		v := viewer.FromContext(ctx)
		id, ok := m.ID()
		if !ok || v.UserID == 0 || id != v.UserID || !m.Op().Is(ent.OpUpdateOne) {
			return privacy.Skip
		}
		if !onlyFields(m, user.FieldDisplayName, user.FieldPhone, user.FieldLocale,
			user.FieldPasswordHash, user.FieldUpdatedAt) {
			return privacy.Denyf("field not editable by its owner")
		}
		return privacy.Allow
	}
}

// FilterMerchantsToVisible shows the public ACTIVE merchants and members their own one.
func FilterMerchantsToVisible() privacy.MerchantQueryRuleFunc {
	return func(ctx context.Context, q *ent.MerchantQuery) error {
		v := viewer.FromContext(ctx)
		// Suspended and removed merchants (internal/credit) are hidden like non-ACTIVE ones.
		ps := []predicate.Merchant{merchant.And(merchant.StatusEQ(merchant.StatusACTIVE), standing.Open(standing.Now(ctx)))}
		if ids := memberMerchantIDs(v); len(ids) > 0 {
			ps = append(ps, merchant.IDIn(ids...))
		}
		if v.UserID != 0 {
			ps = append(ps, merchant.OwnerID(v.UserID))
		}
		q.Where(merchant.Or(ps...))
		return privacy.Allow
	}
}

// AllowMerchantApplication lets a signed-in user create a merchant they own, pending review.
func AllowMerchantApplication() privacy.MerchantMutationRuleFunc {
	return func(ctx context.Context, m *ent.MerchantMutation) error {
		v := viewer.FromContext(ctx)
		if !m.Op().Is(ent.OpCreate) || v.UserID == 0 {
			return privacy.Skip
		}
		owner, _ := m.OwnerID()
		status, _ := m.Status()
		if owner != v.UserID || (status != "" && status != merchant.StatusPENDING_REVIEW) {
			return privacy.Denyf("applicants create only their own pending merchant")
		}
		return privacy.Allow
	}
}

// AllowMerchantOwnerUpdate lets an owner edit the shop profile, not its status or qualification.
func AllowMerchantOwnerUpdate() privacy.MerchantMutationRuleFunc {
	return func(ctx context.Context, m *ent.MerchantMutation) error {
		v := viewer.FromContext(ctx)
		id, ok := m.ID()
		if !ok || !m.Op().Is(ent.OpUpdateOne) || !v.IsMerchantOwner(id) {
			return privacy.Skip
		}
		if !onlyFields(m, merchant.FieldName, merchant.FieldDescription, merchant.FieldLogoURL,
			merchant.FieldContactName, merchant.FieldContactPhone, merchant.FieldContactEmail,
			merchant.FieldShippingFlatFee, merchant.FieldFreeShippingThreshold, merchant.FieldShowExactStock, merchant.FieldPromisedShipHours,
			merchant.FieldUpdatedAt) {
			return privacy.Denyf("field not editable by the merchant")
		}
		return privacy.Allow
	}
}

// FilterInvitationsToVisible shows invitations to the inviting merchant's owner and to the
// invitee — once the invitee has verified that address. Anyone may register any address,
// so an unverified one shows nothing (not even that an invitation exists).
func FilterInvitationsToVisible() privacy.MerchantInvitationQueryRuleFunc {
	return func(ctx context.Context, q *ent.MerchantInvitationQuery) error {
		v := viewer.FromContext(ctx)
		if v.UserID == 0 {
			return privacy.Denyf("anonymous viewer")
		}
		var ps []predicate.MerchantInvitation
		if v.EmailVerified && v.Email != "" {
			ps = append(ps, merchantinvitation.Email(v.Email))
		}
		if v.IsMerchantOwner(v.MerchantID) {
			ps = append(ps, merchantinvitation.MerchantID(v.MerchantID))
		}
		if len(ps) == 0 {
			q.Where(merchantinvitation.IDIn()) // matches nothing
			return privacy.Allow
		}
		q.Where(merchantinvitation.Or(ps...))
		return privacy.Allow
	}
}

// AllowInvitationByOwner lets a merchant owner invite people to, and revoke invitations
// of, their own merchant.
func AllowInvitationByOwner() privacy.MerchantInvitationMutationRuleFunc {
	return func(ctx context.Context, m *ent.MerchantInvitationMutation) error {
		v := viewer.FromContext(ctx)
		if !v.IsMerchantOwner(v.MerchantID) {
			return privacy.Skip
		}
		if m.Op().Is(ent.OpCreate) {
			if mid, _ := m.MerchantID(); mid == v.MerchantID {
				return privacy.Allow
			}
			return privacy.Denyf("invitation for another merchant")
		}
		m.Where(merchantinvitation.MerchantID(v.MerchantID))
		return privacy.Allow
	}
}

// publicProduct is a product the public may see: ACTIVE, of an ACTIVE merchant that is
// neither suspended nor removed at the request's time (internal/credit/standing).
//
// The product's on_sale flag carries its status, its merchant's status and removal (kept by
// the catalog hooks), so only the suspensions, which end by time, are read from merchants.
func publicProduct(ctx context.Context) predicate.Product {
	return standing.ProductOnSale(standing.Now(ctx))
}

// FilterProductsToVisible shows the public what is on sale and members all of their own.
func FilterProductsToVisible() privacy.ProductQueryRuleFunc {
	return func(ctx context.Context, q *ent.ProductQuery) error {
		ps := []predicate.Product{publicProduct(ctx)}
		if ids := memberMerchantIDs(viewer.FromContext(ctx)); len(ids) > 0 {
			ps = append(ps, product.MerchantIDIn(ids...))
		}
		q.Where(product.Or(ps...))
		return privacy.Allow
	}
}

// AllowProductWriteByMember lets merchant staff write their own merchant's products.
func AllowProductWriteByMember() privacy.ProductMutationRuleFunc {
	return func(ctx context.Context, m *ent.ProductMutation) error {
		v := viewer.FromContext(ctx)
		if !v.IsMerchantMember(v.MerchantID) {
			return privacy.Skip
		}
		if m.Op().Is(ent.OpCreate) {
			if mid, _ := m.MerchantID(); mid == v.MerchantID {
				return privacy.Allow
			}
			return privacy.Denyf("product of another merchant")
		}
		m.Where(product.MerchantID(v.MerchantID))
		return privacy.Allow
	}
}

// FilterVariantsToVisible shows variants of visible products.
func FilterVariantsToVisible() privacy.ProductVariantQueryRuleFunc {
	return func(ctx context.Context, q *ent.ProductVariantQuery) error {
		ps := []predicate.ProductVariant{productvariant.HasProductWith(publicProduct(ctx))}
		if ids := memberMerchantIDs(viewer.FromContext(ctx)); len(ids) > 0 {
			ps = append(ps, productvariant.MerchantIDIn(ids...))
		}
		q.Where(productvariant.Or(ps...))
		return privacy.Allow
	}
}

// AllowVariantWriteByMember lets merchant staff write their own merchant's variants.
func AllowVariantWriteByMember() privacy.ProductVariantMutationRuleFunc {
	return func(ctx context.Context, m *ent.ProductVariantMutation) error {
		v := viewer.FromContext(ctx)
		if !v.IsMerchantMember(v.MerchantID) {
			return privacy.Skip
		}
		if m.Op().Is(ent.OpCreate) {
			if mid, _ := m.MerchantID(); mid == v.MerchantID {
				return privacy.Allow
			}
			return privacy.Denyf("variant of another merchant")
		}
		m.Where(productvariant.MerchantID(v.MerchantID))
		return privacy.Allow
	}
}

// orderVisible is the predicate of orders the viewer may see: their own purchases and the
// orders of the merchants they serve.
func orderVisible(v *viewer.Viewer, scopes ...string) (predicate.Order, bool) {
	var ps []predicate.Order
	if v.UserID != 0 {
		ps = append(ps, order.CustomerID(v.UserID))
	}
	if ids := orderMerchantIDs(v, scopes...); len(ids) > 0 {
		ps = append(ps, order.MerchantIDIn(ids...))
	}
	if len(ps) == 0 {
		return nil, false
	}
	return order.Or(ps...), true
}

// FilterOrdersToVisible shows buyers their orders and merchants the orders they received.
func FilterOrdersToVisible() privacy.OrderQueryRuleFunc {
	return func(ctx context.Context, q *ent.OrderQuery) error {
		p, ok := orderVisible(viewer.FromContext(ctx))
		if !ok {
			return privacy.Denyf("anonymous viewer")
		}
		q.Where(p)
		return privacy.Allow
	}
}

// FilterOrderItemsToVisible shows the items of visible orders.
func FilterOrderItemsToVisible() privacy.OrderItemQueryRuleFunc {
	return func(ctx context.Context, q *ent.OrderItemQuery) error {
		p, ok := orderVisible(viewer.FromContext(ctx))
		if !ok {
			return privacy.Denyf("anonymous viewer")
		}
		q.Where(orderitem.HasOrderWith(p))
		return privacy.Allow
	}
}

// FilterPaymentsToVisible shows payers their payments and merchants the payments of their orders.
func FilterPaymentsToVisible() privacy.PaymentQueryRuleFunc {
	return func(ctx context.Context, q *ent.PaymentQuery) error {
		v := viewer.FromContext(ctx)
		p, ok := orderVisible(v)
		if !ok {
			return privacy.Denyf("anonymous viewer")
		}
		q.Where(payment.Or(payment.CustomerID(v.UserID), payment.HasOrdersWith(p)))
		return privacy.Allow
	}
}

// DenyUnlessCreate keeps append-only records (audit logs) from being changed or deleted.
func DenyUnlessCreate() privacy.MutationRule {
	return privacy.MutationRuleFunc(func(_ context.Context, m ent.Mutation) error {
		if m.Op().Is(ent.OpCreate) {
			return privacy.Skip
		}
		return privacy.Denyf("append-only")
	})
}

// FilterStockMovementsToMembers shows a merchant's stock ledger to its members only.
func FilterStockMovementsToMembers() privacy.StockMovementQueryRuleFunc {
	return func(ctx context.Context, q *ent.StockMovementQuery) error {
		v := viewer.FromContext(ctx)
		if !v.IsMerchantMember(v.MerchantID) {
			return privacy.Denyf("stock ledger is for the merchant's members")
		}
		q.Where(stockmovement.MerchantID(v.MerchantID))
		return privacy.Allow
	}
}

// AllowStockMovementByMember lets merchant staff record movements of their own merchant.
func AllowStockMovementByMember() privacy.StockMovementMutationRuleFunc {
	return func(ctx context.Context, m *ent.StockMovementMutation) error {
		v := viewer.FromContext(ctx)
		if !v.IsMerchantMember(v.MerchantID) {
			return privacy.Skip
		}
		if mid, _ := m.MerchantID(); mid == v.MerchantID {
			return privacy.Allow
		}
		return privacy.Denyf("stock movement of another merchant")
	}
}

// FilterToOwnUser restricts personal records (cart lines, addresses, checkouts) to the
// signed-in user they belong to.
func FilterToOwnUser() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		v := viewer.FromContext(ctx)
		if v.UserID == 0 {
			return privacy.Denyf("anonymous viewer")
		}
		uf, ok := f.(interface{ WhereUserID(entql.IntP) })
		if ok {
			uf.WhereUserID(entql.IntEQ(v.UserID))
			return privacy.Allow
		}
		cf, ok := f.(interface{ WhereCustomerID(entql.IntP) })
		if ok {
			cf.WhereCustomerID(entql.IntEQ(v.UserID))
			return privacy.Allow
		}
		return privacy.Denyf("no owner field")
	})
}

// AllowOwnUserWrite lets people create and change their own personal records only.
func AllowOwnUserWrite() privacy.MutationRule {
	return privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
		v := viewer.FromContext(ctx)
		if v.UserID == 0 {
			return privacy.Skip
		}
		if m.Op().Is(ent.OpCreate) {
			owner, ok := m.Field("user_id")
			if ok && owner == v.UserID {
				return privacy.Allow
			}
			return privacy.Denyf("record of another user")
		}
		w, ok := m.(interface{ WhereP(...func(*sql.Selector)) })
		if !ok {
			return privacy.Denyf("unscoped mutation")
		}
		w.WhereP(sql.FieldEQ("user_id", v.UserID))
		return privacy.Allow
	})
}

// FilterOrderEventsToVisible shows an order's timeline to whoever may see the order.
func FilterOrderEventsToVisible() privacy.OrderEventQueryRuleFunc {
	return func(ctx context.Context, q *ent.OrderEventQuery) error {
		v := viewer.FromContext(ctx)
		var ps []predicate.OrderEvent
		if v.UserID != 0 {
			ps = append(ps, orderevent.CustomerID(v.UserID))
		}
		if ids := orderMerchantIDs(v); len(ids) > 0 {
			ps = append(ps, orderevent.MerchantIDIn(ids...))
		}
		if len(ps) == 0 {
			return privacy.Denyf("anonymous viewer")
		}
		q.Where(orderevent.Or(ps...))
		return privacy.Allow
	}
}

// FilterShipmentsToVisible shows shipments of visible orders.
func FilterShipmentsToVisible() privacy.ShipmentQueryRuleFunc {
	return func(ctx context.Context, q *ent.ShipmentQuery) error {
		p, ok := orderVisible(viewer.FromContext(ctx), scopeOrdersRead, scopeOrdersWrite, scopeTrackingWrite)
		if !ok {
			return privacy.Denyf("anonymous viewer")
		}
		q.Where(shipment.HasOrderWith(p))
		return privacy.Allow
	}
}

// FilterTrackingEventsToVisible shows tracking of visible shipments.
func FilterTrackingEventsToVisible() privacy.TrackingEventQueryRuleFunc {
	return func(ctx context.Context, q *ent.TrackingEventQuery) error {
		p, ok := orderVisible(viewer.FromContext(ctx), scopeOrdersRead, scopeOrdersWrite, scopeTrackingWrite)
		if !ok {
			return privacy.Denyf("anonymous viewer")
		}
		q.Where(trackingevent.HasShipmentWith(shipment.HasOrderWith(p)))
		return privacy.Allow
	}
}

// FilterRefundsToVisible shows payers the refunds of their payments, and merchants (staff
// and partner clients) the refunds of their own orders only: one payment may cover the
// orders of several merchants, and what another merchant refunded is not theirs to see.
func FilterRefundsToVisible() privacy.RefundQueryRuleFunc {
	return func(ctx context.Context, q *ent.RefundQuery) error {
		v := viewer.FromContext(ctx)
		var ps []predicate.Refund
		if v.UserID != 0 {
			ps = append(ps, refund.HasPaymentWith(payment.CustomerID(v.UserID)))
		}
		if ids := orderMerchantIDs(v); len(ids) > 0 {
			ps = append(ps, refundOfOrders(order.MerchantIDIn(ids...)))
		}
		if len(ps) == 0 {
			return privacy.Denyf("anonymous viewer")
		}
		q.Where(refund.Or(ps...))
		return privacy.Allow
	}
}

// refundOfOrders keeps the refunds of orders matching p. A refund names its order by
// order_id without an Ent edge, so the orders are selected here.
func refundOfOrders(p predicate.Order) predicate.Refund {
	return func(s *sql.Selector) {
		t := sql.Table(order.Table)
		orders := sql.Dialect(s.Dialect()).Select(t.C(order.FieldID)).From(t)
		p(orders)
		s.Where(sql.In(s.C(refund.FieldOrderID), orders))
	}
}
