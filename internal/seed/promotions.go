package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/promotion"
	"github.com/xiadan/xiadan/ent/schema/schematype"
)

// promotionShop is the demo shop running the seeded promotions.
const promotionShop = "tea-house"

// automaticPromotions writes the demo's running automatic promotions on the tea house
// (docs/PROMOTIONS-automatic.md): a shop-wide 满100减10 / 满200减30 / 满300减50, and a
// flash sale (限时秒杀) at 80% of the price on one variant of its second product on sale,
// 100 units, 2 per customer. Both run from an hour before the seed for 30 days.
func (s *seeder) automaticPromotions(ctx context.Context, c *ent.Client) error {
	m, err := c.Merchant.Query().Where(merchant.Slug(promotionShop)).Only(ctx)
	if err != nil {
		return fmt.Errorf("promotion shop: %w", err)
	}
	start := s.gen.now.Add(-time.Hour)
	end := s.gen.now.Add(30 * 24 * time.Hour)
	if err := c.Promotion.Create().SetMerchantID(m.ID).SetKind(promotion.KindFULL_REDUCTION).
		SetLabel("店铺满减").SetStatus(promotion.StatusACTIVE).SetStartsAt(start).SetEndsAt(end).
		SetCurrency(m.Currency).SetTiers([]schematype.PromotionTier{
		{Threshold: 10000, Off: 1000}, {Threshold: 20000, Off: 3000}, {Threshold: 30000, Off: 5000}}).
		Exec(ctx); err != nil {
		return err
	}
	products, err := c.Product.Query().Where(product.MerchantID(m.ID), product.StatusEQ(product.StatusACTIVE)).
		Order(ent.Asc(product.FieldID)).Limit(2).All(ctx)
	if err != nil || len(products) < 2 {
		return err
	}
	v, err := c.ProductVariant.Query().Where(productvariant.ProductID(products[1].ID)).
		Order(ent.Asc(productvariant.FieldID)).First(ctx)
	if err != nil {
		return err
	}
	p, err := c.Promotion.Create().SetMerchantID(m.ID).SetKind(promotion.KindFLASH_SALE).
		SetLabel("限时秒杀").SetStatus(promotion.StatusACTIVE).SetStartsAt(start).SetEndsAt(end).
		SetCurrency(m.Currency).SetPerUserLimit(2).Save(ctx)
	if err != nil {
		return err
	}
	return c.FlashSaleItem.Create().SetPromotionID(p.ID).SetMerchantID(m.ID).SetVariantID(v.ID).
		SetPrice(v.Price * 8 / 10).SetCap(100).Exec(ctx)
}
