package rule

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/flashsaleitem"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/promotion"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// runningPromotion is a promotion the public may see at the request's time.
func runningPromotion(ctx context.Context) predicate.Promotion {
	now := standing.Now(ctx)
	return promotion.And(
		promotion.StatusEQ(promotion.StatusACTIVE),
		promotion.StartsAtLTE(now),
		promotion.EndsAtGT(now),
		promotion.HasMerchantWith(merchant.StatusEQ(merchant.StatusACTIVE), standing.Open(now)),
	)
}

// FilterPromotionsToVisible shows everyone the running promotions, and a merchant's
// members (and partner clients granted it) all of the merchant's: drafts, paused, ended.
func FilterPromotionsToVisible() privacy.PromotionQueryRuleFunc {
	return func(ctx context.Context, q *ent.PromotionQuery) error {
		ps := []predicate.Promotion{runningPromotion(ctx)}
		if ids := memberMerchantIDs(viewer.FromContext(ctx)); len(ids) > 0 {
			ps = append(ps, promotion.MerchantIDIn(ids...))
		}
		q.Where(promotion.Or(ps...))
		return privacy.Allow
	}
}

// FilterFlashSaleItemsToVisible shows the items of the promotions the viewer may see.
func FilterFlashSaleItemsToVisible() privacy.FlashSaleItemQueryRuleFunc {
	return func(ctx context.Context, q *ent.FlashSaleItemQuery) error {
		ps := []predicate.FlashSaleItem{flashsaleitem.HasPromotionWith(runningPromotion(ctx))}
		if ids := memberMerchantIDs(viewer.FromContext(ctx)); len(ids) > 0 {
			ps = append(ps, flashsaleitem.MerchantIDIn(ids...))
		}
		q.Where(flashsaleitem.Or(ps...))
		return privacy.Allow
	}
}
