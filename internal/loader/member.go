package loader

import (
	"context"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/members"
)

// MemberPrices returns variant v's member prices; the variants resolved together are read
// with one batch (internal/members.PricesOf); without loaders it reads through db.
func (l *Loaders) MemberPrices(ctx context.Context, db *ent.Client, v *ent.ProductVariant) ([]*members.VariantPrice, error) {
	if l == nil {
		out, err := members.PricesOf(ctx, db, []members.VariantKey{members.KeyOf(v)})
		if err != nil {
			return nil, err
		}
		return out[0], nil
	}
	return l.memberPrices.Load(ctx, members.KeyOf(v))()
}

func (l *Loaders) loadMemberPrices(ctx context.Context, keys []members.VariantKey) []*dataloader.Result[[]*members.VariantPrice] {
	out := make([]*dataloader.Result[[]*members.VariantPrice], len(keys))
	prices, err := members.PricesOf(ctx, l.db(ctx), keys)
	for i := range keys {
		if err != nil {
			out[i] = &dataloader.Result[[]*members.VariantPrice]{Error: err}
		} else {
			out[i] = &dataloader.Result[[]*members.VariantPrice]{Data: prices[i]}
		}
	}
	return out
}
