package promotions_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/promotion"
	_ "github.com/xiadan/xiadan/ent/runtime" // privacy policies and hooks
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// base is the time the rule tests are judged at.
var base = time.Date(2026, 11, 11, 12, 0, 0, 0, time.UTC)

var seq atomic.Int64

// world is one merchant with two categories and a product (one variant) per line the
// test asks for, written directly into a real database.
type world struct {
	t        *testing.T
	client   *ent.Client
	ctx      context.Context
	merchant int
	cats     [3]int // cats[1], cats[2]; 0 is "no category"
	products []int
	variants []*ent.ProductVariant
	items    []item
}

// item is a line of the world: a product at price in category cats[cat], bought qty times.
type item struct {
	price int64
	qty   int
	cat   int
}

func newWorld(t *testing.T, client *ent.Client, items ...item) *world {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	slug := fmt.Sprintf("w%d", seq.Add(1))
	u := client.User.Create().SetEmail(slug + "@example.com").SetPasswordHash("x").SetDisplayName(slug).
		SetRoles([]string{"CUSTOMER"}).SaveX(ctx)
	m := client.Merchant.Create().SetName(slug).SetSlug(slug).SetContactName("O").SetContactPhone("13800000000").
		SetContactEmail(slug + "@example.com").SetLicenceNumber("91310000MA1FL8XQ37").SetLegalName(slug).
		SetOwnerID(u.ID).SetStatus("ACTIVE").SaveX(ctx)
	w := &world{t: t, client: client, ctx: ctx, merchant: m.ID, items: items}
	for i := 1; i <= 2; i++ {
		w.cats[i] = client.Category.Create().SetName(fmt.Sprintf("%s-c%d", slug, i)).SetSlug(fmt.Sprintf("%s-c%d", slug, i)).SaveX(ctx).ID
	}
	for i, it := range items {
		pc := client.Product.Create().SetMerchantID(m.ID).SetTitle(fmt.Sprintf("%s p%d", slug, i)).
			SetStatus(product.StatusACTIVE)
		if it.cat != 0 {
			pc.SetCategoryID(w.cats[it.cat])
		}
		p := pc.SaveX(ctx)
		v := client.ProductVariant.Create().SetProductID(p.ID).SetMerchantID(m.ID).SetSku(fmt.Sprintf("%s-%d", slug, i)).
			SetPrice(it.price).SetCurrency("CNY").SetStock(1000).SaveX(ctx)
		w.products = append(w.products, p.ID)
		w.variants = append(w.variants, v)
	}
	return w
}

// basket builds the checkout's basket from the rows — each variant of the world with
// its item's quantity, its product's merchant and category — as the checkout reads them.
func (w *world) basket(user int, now time.Time) *pricing.Basket {
	w.t.Helper()
	var lines []*pricing.Line
	for i, v := range w.variants {
		v = w.client.ProductVariant.Query().Where(productvariant.ID(v.ID)).WithProduct().OnlyX(w.ctx)
		cat := 0
		if c := v.Edges.Product.CategoryID; c != nil {
			cat = *c
		}
		lines = append(lines, &pricing.Line{VariantID: v.ID, ProductID: v.ProductID, MerchantID: v.MerchantID,
			CategoryID: cat, Quantity: w.items[i].qty, ListPrice: v.Price})
	}
	return pricing.NewBasket(user, "CNY", now, lines, nil)
}

// promo writes an ACTIVE promotion of the world's merchant running over [base-1h, base+1h),
// changed by set.
func (w *world) promo(kind promotion.Kind, set func(*ent.PromotionCreate)) *ent.Promotion {
	w.t.Helper()
	c := w.client.Promotion.Create().SetMerchantID(w.merchant).SetKind(kind).SetLabel(string(kind)).
		SetStatus(promotion.StatusACTIVE).SetStartsAt(base.Add(-time.Hour)).SetEndsAt(base.Add(time.Hour)).
		SetCurrency("CNY")
	if set != nil {
		set(c)
	}
	return c.SaveX(w.ctx)
}

// tiers is 满t0减t1, 满t2减t3, … in yuan.
func tiers(yuan ...int64) []schematype.PromotionTier {
	var out []schematype.PromotionTier
	for i := 0; i+1 < len(yuan); i += 2 {
		out = append(out, schematype.PromotionTier{Threshold: yuan[i] * 100, Off: yuan[i+1] * 100})
	}
	return out
}

// flash puts line i's variant on a running flash sale at price with cap (sold already
// sold) and a per-user limit.
func (w *world) flash(i int, price int64, cap, sold, perUser int) *ent.FlashSaleItem {
	w.t.Helper()
	p := w.promo(promotion.KindFLASH_SALE, func(c *ent.PromotionCreate) { c.SetPerUserLimit(perUser).SetLabel("限时秒杀") })
	return w.client.FlashSaleItem.Create().SetPromotionID(p.ID).SetMerchantID(w.merchant).
		SetVariantID(w.variants[i].ID).SetPrice(price).SetCap(cap).SetSold(sold).SaveX(w.ctx)
}
