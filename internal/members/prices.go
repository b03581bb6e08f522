package members

import (
	"context"
	"sort"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/memberprice"
	"github.com/xiadan/xiadan/ent/membertier"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// VariantPrice is one tier's price of a variant, as ProductVariant.memberPrices shows it.
type VariantPrice struct {
	Tier  *ent.MemberTier
	Price *money.Money
}

// TierCode is the price's tier's code.
func (p *VariantPrice) TierCode() string { return p.Tier.Code }

// TierLevel is the price's tier's level.
func (p *VariantPrice) TierLevel() int { return p.Tier.Level }

// VariantKey is what the member prices of a variant depend on: its id and list price.
type VariantKey struct {
	ID       int
	Price    int64
	Currency string
}

// KeyOf is v's VariantKey.
func KeyOf(v *ent.ProductVariant) VariantKey {
	return VariantKey{ID: v.ID, Price: v.Price, Currency: v.Currency}
}

// PricesOf returns the member prices of the variants (one slice per key, in key order,
// lowest tier first) with two queries whatever their number. A price no longer below the
// list price, or in another currency, is left out: it would not apply.
func PricesOf(ctx context.Context, db *ent.Client, keys []VariantKey) ([][]*VariantPrice, error) {
	ids := make([]int, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	rows, err := db.MemberPrice.Query().Where(memberprice.VariantIDIn(ids...)).WithTier().All(ctx)
	if err != nil {
		return nil, err
	}
	byVariant := map[int][]*ent.MemberPrice{}
	for _, r := range rows {
		byVariant[r.VariantID] = append(byVariant[r.VariantID], r)
	}
	out := make([][]*VariantPrice, len(keys))
	for i, k := range keys {
		list := []*VariantPrice{}
		for _, r := range byVariant[k.ID] {
			if r.Edges.Tier == nil || r.Currency != k.Currency || r.Price >= k.Price {
				continue
			}
			list = append(list, &VariantPrice{Tier: r.Edges.Tier, Price: money.New(r.Price, r.Currency)})
		}
		sort.Slice(list, func(a, b int) bool { return list[a].Tier.Level < list[b].Tier.Level })
		out[i] = list
	}
	return out, nil
}

// managedVariant reads a variant of the viewer's merchant with a shared lock (so its list
// price cannot change under the check), or NOT_FOUND.
func managedVariant(ctx context.Context, db *ent.Client, id int) (*ent.ProductVariant, error) {
	v := viewer.FromContext(ctx)
	if !v.IsMerchantMember(v.MerchantID) {
		return nil, apperror.New(apperror.Forbidden, "only a merchant's staff set its member prices")
	}
	pv, err := db.ProductVariant.Query().Where(productvariant.ID(id), productvariant.MerchantID(v.MerchantID),
		hooks.ShareRows).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("variant not found")
	}
	return pv, err
}

// SetMemberPrice sets the price of the merchant's variant for members of tier (and of the
// tiers above that have no lower price of their own). It must be below the variant's
// list price, in its currency.
func (s *Service) SetMemberPrice(ctx context.Context, db *ent.Client, variantID, tierID int, price string) (*ent.ProductVariant, error) {
	pv, err := managedVariant(ctx, db, variantID)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	if ok, err := db.MemberTier.Query().Where(membertier.ID(tierID)).Exist(sys); err != nil {
		return nil, err
	} else if !ok {
		return nil, apperror.NotFoundf("member tier not found")
	}
	p, err := amount("price", &price, pv.Currency, false)
	if err != nil {
		return nil, err
	}
	if *p >= pv.Price {
		return nil, apperror.BadInput("price", "must be below the list price %s", money.New(pv.Price, pv.Currency).Amount())
	}
	err = db.MemberPrice.Create().SetVariantID(pv.ID).SetTierID(tierID).SetMerchantID(pv.MerchantID).
		SetPrice(*p).SetCurrency(pv.Currency).
		OnConflictColumns(memberprice.FieldVariantID, memberprice.FieldTierID).
		Update(func(u *ent.MemberPriceUpsert) { u.UpdatePrice().UpdateCurrency().UpdateUpdatedAt() }).Exec(sys)
	if err != nil {
		return nil, err
	}
	return db.ProductVariant.Get(ctx, pv.ID)
}

// RemoveMemberPrice removes the variant's price for tier; removing none is no error.
func (s *Service) RemoveMemberPrice(ctx context.Context, db *ent.Client, variantID, tierID int) (*ent.ProductVariant, error) {
	pv, err := managedVariant(ctx, db, variantID)
	if err != nil {
		return nil, err
	}
	if _, err := db.MemberPrice.Delete().Where(memberprice.VariantID(pv.ID), memberprice.TierID(tierID)).
		Exec(viewer.SystemContext(ctx)); err != nil {
		return nil, err
	}
	return db.ProductVariant.Get(ctx, pv.ID)
}
