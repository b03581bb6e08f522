package promotions

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/flashsaleitem"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Tier is a full-reduction tier as the API shows it.
type Tier struct {
	Threshold, Off *money.Money
	// Label is 满200减30 (每满100减10 when repeating).
	Label string
}

// StatusAt is p's status at the request's time.
func StatusAt(ctx context.Context, p *ent.Promotion) Status { return StatusOf(p, standing.Now(ctx)) }

// RunningAt reports whether p applies at the request's time.
func RunningAt(ctx context.Context, p *ent.Promotion) bool { return Running(p, standing.Now(ctx)) }

// Tiers are p's full-reduction tiers.
func Tiers(p *ent.Promotion) []*Tier {
	out := make([]*Tier, len(p.Tiers))
	for i, t := range p.Tiers {
		out[i] = &Tier{Threshold: money.New(t.Threshold, p.Currency), Off: money.New(t.Off, p.Currency),
			Label: TierLabel(t, p.Repeating, p.Currency)}
	}
	return out
}

// MaxOff is a repeating full reduction's cap, nil when it has none.
func MaxOff(p *ent.Promotion) *money.Money {
	if p.MaxOff == 0 {
		return nil
	}
	return money.New(p.MaxOff, p.Currency)
}

// insider reports whether the viewer sees p's merchant-internal fields: its merchant's
// members and admins.
func insider(ctx context.Context, merchantID int) bool {
	v := viewer.FromContext(ctx)
	return v.IsAdmin() || v.ActsForMerchant(merchantID)
}

// Audiences are p's audience names for its merchant's members and admins; nil for others.
func Audiences(ctx context.Context, p *ent.Promotion) []string {
	if !insider(ctx, p.MerchantID) {
		return nil
	}
	return p.Audiences
}

// FlashItems are a flash sale's variants, by id.
func FlashItems(ctx context.Context, db *ent.Client, p *ent.Promotion) ([]*ent.FlashSaleItem, error) {
	items := p.Edges.FlashItems
	if items == nil {
		var err error
		items, err = db.FlashSaleItem.Query().Where(flashsaleitem.PromotionID(p.ID)).Order(ent.Asc(flashsaleitem.FieldID)).All(ctx)
		if err != nil {
			return nil, err
		}
	}
	for _, it := range items {
		it.Edges.Promotion = p // for the price's currency
	}
	return items, nil
}

// ItemPrice is a flash-sale item's price.
func ItemPrice(ctx context.Context, db *ent.Client, it *ent.FlashSaleItem) (*money.Money, error) {
	p := it.Edges.Promotion
	if p == nil {
		var err error
		if p, err = db.Promotion.Get(viewer.SystemContext(ctx), it.PromotionID); err != nil {
			return nil, err
		}
	}
	return money.New(it.Price, p.Currency), nil
}

// ItemVariant is a flash-sale item's variant, nil when the viewer may not see it.
func ItemVariant(ctx context.Context, db *ent.Client, it *ent.FlashSaleItem) (*ent.ProductVariant, error) {
	v, err := db.ProductVariant.Query().Where(productvariant.ID(it.VariantID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return v, err
}

// Merchant is p's merchant, nil when the viewer may not see it.
func Merchant(ctx context.Context, p *ent.Promotion) (*ent.Merchant, error) {
	m, err := p.QueryMerchant().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return m, err
}
