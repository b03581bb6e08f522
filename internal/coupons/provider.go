package coupons

import (
	"context"
	"fmt"
	"slices"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/coupon"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderadjustment"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The Service is one pricing.Provider for both coupon stages. It runs at
// StageShopCoupon and adds the shop coupons (StageShopCoupon adjustments) and then the
// platform coupon (a StagePlatformCoupon adjustment) itself: no other provider runs
// between the two, and choosing them together finds the best combination (a shop
// coupon can push a basket below a platform coupon's threshold). It reads the
// customer's coupons once per quote: two statements.
var (
	_ pricing.Provider = (*Service)(nil)
	_ pricing.Releaser = (*Service)(nil)
)

// Stage is StageShopCoupon; the platform coupon follows the shop coupons in the same quote.
func (s *Service) Stage() pricing.Stage { return pricing.StageShopCoupon }

// Quote applies the customer's coupons: those of b.Choice.CouponIDs in that order (each
// must be usable, else BAD_USER_INPUT on couponIDs[i] with extensions.reason), or when
// it is nil the best combination, at most one per merchant and one platform coupon.
func (s *Service) Quote(ctx context.Context, db *ent.Client, b *pricing.Basket) error {
	chosen := b.Choice.CouponIDs
	if b.UserID == 0 || (chosen != nil && len(chosen) == 0) || len(b.Lines) == 0 {
		return nil
	}
	hs, err := available(ctx, db, b.UserID, chosen, b.Now)
	if err != nil {
		return err
	}
	if chosen == nil {
		for _, h := range best(b, hs) {
			apply(b, h)
		}
		return nil
	}
	byID := map[int]held{}
	for _, h := range hs {
		byID[h.c.ID] = h
	}
	// Shop coupons first, then the platform one, as the stages go; errors name the input.
	type pick struct {
		h     held
		field string
	}
	var shops, plats []pick
	shopOf := map[int]bool{}
	for i, id := range chosen {
		field := fmt.Sprintf("couponIDs[%d]", i)
		h, ok := byID[id]
		if !ok {
			return bad(field, "", "is not one of your available coupons")
		}
		delete(byID, id) // a repeated id is not available twice
		if h.platform() {
			if len(plats) > 0 {
				return bad(field, ReasonOnePlatform, "only one platform coupon per order")
			}
			plats = append(plats, pick{h, field})
			continue
		}
		if shopOf[*h.t.MerchantID] {
			return bad(field, ReasonSameShop, "only one coupon per shop")
		}
		shopOf[*h.t.MerchantID] = true
		shops = append(shops, pick{h, field})
	}
	for _, p := range append(shops, plats...) {
		if _, _, reason, msg := judge(b, p.h); reason != "" {
			return bad(p.field, reason, "%s", msg)
		}
		apply(b, p.h)
	}
	return nil
}

func bad(field string, reason Reason, format string, args ...any) error {
	e := apperror.BadInput(field, format, args...)
	if reason != "" {
		e.Extensions = map[string]any{"reason": string(reason)}
	}
	return e
}

// Commit marks the coupons b used as USED by their orders, each with a conditional
// update on its AVAILABLE status (ids ascending, so concurrent checkouts lock alike).
// A coupon used by another checkout since the quote is CONFLICT, reason
// COUPON_UNAVAILABLE. Templates are not written: a use counter there would make every
// checkout with the same platform coupon wait for the one before (UsedCount counts).
func (s *Service) Commit(ctx context.Context, db *ent.Client, b *pricing.Basket, orders map[int]int) error {
	type use struct {
		used
		orderID int
	}
	var uses []use
	for _, a := range b.Adjustments {
		u, ok := a.Data.(used)
		if !ok || (a.Kind != pricing.KindShopCoupon && a.Kind != pricing.KindPlatformCoupon) {
			continue
		}
		oid := orders[a.MerchantID]
		if a.MerchantID == 0 { // a platform coupon: recorded on the first order it reaches
			for _, m := range b.Merchants() {
				if slices.ContainsFunc(b.LinesOf(m), func(i int) bool { return a.Lines[i] > 0 }) {
					oid = orders[m]
					break
				}
			}
		}
		uses = append(uses, use{u, oid})
	}
	if len(uses) == 0 {
		return nil
	}
	slices.SortFunc(uses, func(x, y use) int { return x.couponID - y.couponID })
	sctx := viewer.SystemContext(ctx)
	now := s.now()
	for _, u := range uses {
		n, err := db.Coupon.Update().
			Where(coupon.ID(u.couponID), coupon.UserID(b.UserID), coupon.StatusEQ(coupon.StatusAVAILABLE)).
			SetStatus(coupon.StatusUSED).
			SetOrderID(u.orderID).
			SetUsedAt(now).
			Save(sctx)
		if err != nil {
			return err
		}
		if n == 0 {
			e := apperror.ConflictOn("couponIDs", "coupon %d was used by another order meanwhile; place the order again", u.couponID)
			e.Extensions = map[string]any{"reason": "COUPON_UNAVAILABLE", "couponID": u.couponID}
			return e
		}
	}
	return nil
}

// Release gives back the coupons a fully cancelled order used: each becomes AVAILABLE
// again when it is still valid (EXPIRED otherwise) once every order it was spread over
// is cancelled. It reads nothing for an order without discounts.
func (s *Service) Release(ctx context.Context, db *ent.Client, o *ent.Order) error {
	if o.Discount == 0 {
		return nil
	}
	sctx := viewer.SystemContext(ctx)
	kinds := []string{string(pricing.KindShopCoupon), string(pricing.KindPlatformCoupon)}
	mine, err := db.OrderAdjustment.Query().
		Where(orderadjustment.OrderID(o.ID), orderadjustment.KindIn(kinds...)).
		All(sctx)
	if err != nil || len(mine) == 0 {
		return err
	}
	var ids []int
	for _, a := range mine {
		ids = append(ids, a.SourceID)
	}
	// A platform coupon spread over several orders of the checkout comes back only when
	// all of them are cancelled.
	shares, err := db.OrderAdjustment.Query().
		Where(orderadjustment.SourceIDIn(ids...), orderadjustment.KindIn(kinds...), orderadjustment.OrderIDNEQ(o.ID)).
		All(sctx)
	if err != nil {
		return err
	}
	if len(shares) > 0 {
		others := map[int]bool{}
		for _, a := range shares {
			others[a.OrderID] = true
		}
		// A locking read: under REPEATABLE READ a plain one would answer from this
		// transaction's snapshot, missing a sibling cancelled just before (the
		// cancellations of one checkout take turns on its row, orders.lockCheckout).
		live, err := db.Order.Query().
			Where(order.IDIn(keys(others)...), order.StatusNEQ(order.StatusCANCELLED), hooks.ShareRows).
			IDs(sctx)
		if err != nil {
			return err
		}
		keep := map[int]bool{}
		for _, a := range shares {
			if slices.Contains(live, a.OrderID) {
				keep[a.SourceID] = true
			}
		}
		ids = slices.DeleteFunc(ids, func(id int) bool { return keep[id] })
	}
	if len(ids) == 0 {
		return nil
	}
	ids = uniq(ids)
	cs, err := db.Coupon.Query().Where(coupon.IDIn(ids...), coupon.StatusEQ(coupon.StatusUSED)).All(sctx)
	if err != nil {
		return err
	}
	now := s.now()
	for _, c := range cs {
		st := coupon.StatusAVAILABLE
		if !now.Before(c.ValidUntil) {
			st = coupon.StatusEXPIRED
		}
		if err := db.Coupon.Update().
			Where(coupon.ID(c.ID), coupon.StatusEQ(coupon.StatusUSED)).
			SetStatus(st).ClearOrderID().ClearUsedAt().
			Exec(sctx); err != nil {
			return err
		}
	}
	return nil
}

func keys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
