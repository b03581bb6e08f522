package catalog

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Who sees a merchant's internal numbers. Shoppers (anonymous or signed in) see how much
// of a variant is left as a level (Availability); the exact stock, the low-stock
// threshold and the lowStock flag are the merchant's own, shown to its staff, its partner
// clients and admins — and the exact stock to everyone when the merchant opts in
// (Merchant.showExactStock). The fields are in no where input or order, so a filter
// cannot reveal what a field hides.

// Availability levels of a variant's stock.
const (
	InStock    = "IN_STOCK"
	LowStock   = "LOW_STOCK"
	OutOfStock = "OUT_OF_STOCK"
)

// Availability is how much of v is left, as everyone may see it: none, at or under the
// merchant's low-stock threshold, or more.
func Availability(v *ent.ProductVariant) string {
	switch {
	case v.Stock <= 0:
		return OutOfStock
	case v.Stock <= v.LowStockThreshold:
		return LowStock
	}
	return InStock
}

// SeesInternals reports whether the viewer may read merchant id's internal stock numbers
// (the low-stock threshold and flag): its staff, its partner clients and admins.
func SeesInternals(ctx context.Context, merchantID int) bool {
	v := viewer.FromContext(ctx)
	return (v != nil && v.System) || v.IsAdmin() || v.ActsForMerchant(merchantID)
}

// SeesExactStock reports whether the viewer may read the exact stock of merchant id's
// variants: whoever SeesInternals, and everyone when the merchant shows exact stock.
func SeesExactStock(ctx context.Context, client *ent.Client, merchantID int) (bool, error) {
	if SeesInternals(ctx, merchantID) {
		return true, nil
	}
	return loader.For(ctx).ShowsExactStock(ctx, client, merchantID)
}

// VariantStock is v's exact stock, or nil for a viewer who may not see it.
func VariantStock(ctx context.Context, client *ent.Client, v *ent.ProductVariant) (*int, error) {
	ok, err := SeesExactStock(ctx, client, v.MerchantID)
	if err != nil || !ok {
		return nil, err
	}
	return &v.Stock, nil
}

// ProductStock is the stock of all p's variants together, visible as VariantStock is.
func ProductStock(ctx context.Context, client *ent.Client, p *ent.Product) (*int, error) {
	ok, err := SeesExactStock(ctx, client, p.MerchantID)
	if err != nil || !ok {
		return nil, err
	}
	return &p.TotalStock, nil
}

// LowStockThreshold is v's threshold, or nil for a viewer who may not see it.
func LowStockThreshold(ctx context.Context, v *ent.ProductVariant) *int {
	if !SeesInternals(ctx, v.MerchantID) {
		return nil
	}
	return &v.LowStockThreshold
}

// IsLowStock reports whether v's stock is at or under its threshold, or nil for a viewer
// who may not see the threshold.
func IsLowStock(ctx context.Context, v *ent.ProductVariant) *bool {
	if !SeesInternals(ctx, v.MerchantID) {
		return nil
	}
	low := v.Stock <= v.LowStockThreshold
	return &low
}

// StatusReason is why the platform restricted, suspended or rejected m, for its members
// and admins; nil for anyone else.
func StatusReason(ctx context.Context, m *ent.Merchant) *string {
	v := viewer.FromContext(ctx)
	if (v == nil || !v.System) && !v.IsAdmin() && !v.IsMerchantMember(m.ID) {
		return nil
	}
	if m.StatusReason == "" {
		return nil
	}
	return &m.StatusReason
}
