package seed_test

import (
	"context"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/flashsaleitem"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/promotion"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/promotions"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The demo runs a 满减 and a flash sale on the tea house, and a basket of the flash-sale
// variant (enough of it to pass 满100) gets both: the flash price, then the full reduction.
func TestDemoPromotions(t *testing.T) {
	t.Parallel()
	client, _ := demo(t)
	ctx := viewer.SystemContext(context.Background())
	now := time.Now()
	running, err := client.Promotion.Query().Where(promotion.StatusEQ(promotion.StatusACTIVE),
		promotion.StartsAtLTE(now), promotion.EndsAtGT(now)).Order(promotion.ByID()).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 2 {
		t.Fatalf("%d running promotions, want 2", len(running))
	}
	it, err := client.FlashSaleItem.Query().Where(flashsaleitem.PromotionID(running[1].ID)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := client.ProductVariant.Query().Where(productvariant.ID(it.VariantID)).WithProduct().Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const qty = 2 // the per-user limit
	lines := []*pricing.Line{{VariantID: v.ID, ProductID: v.ProductID, MerchantID: v.MerchantID, Quantity: qty, ListPrice: v.Price}}
	// Another variant of the shop, enough of it to pass 满100 whatever the prices.
	other, err := client.ProductVariant.Query().Where(productvariant.MerchantID(v.MerchantID), productvariant.IDNEQ(v.ID)).First(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lines = append(lines, &pricing.Line{VariantID: other.ID, ProductID: other.ProductID, MerchantID: other.MerchantID,
		Quantity: int(10000/other.Price) + 1, ListPrice: other.Price})
	b := pricing.NewBasket(1, v.Currency, now, lines, nil)
	svc := promotions.New()
	if err := pricing.Run(ctx, client, b, []pricing.Provider{svc.FlashSale(), svc.Automatic()}); err != nil {
		t.Fatal(err)
	}
	if len(b.Adjustments) == 0 || b.Adjustments[0].Kind != pricing.KindFlashSale {
		t.Fatalf("adjustments %+v, want the flash sale first", b.Adjustments)
	}
	if len(b.Adjustments) != 2 || b.Adjustments[1].Kind != pricing.KindFullReduction {
		t.Fatalf("adjustments %+v, want the full reduction after the flash price", b.Adjustments)
	}
}
