package hooks

import (
	"context"
	"slices"

	"entgo.io/ent"

	gen "github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/hook"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/product"
)

// The on_sale flag of a product says the public may see it, but for sanctions that end by
// time: the product is ACTIVE and its merchant ACTIVE and not removed. The storefront reads
// the flag instead of the merchant of every row (docs/STOREFRONT-SPEED.md).
//
// Locking. A change of a merchant's status (or removal) updates the merchant's row and then
// its products' flags; a change of a product's status locks its merchant's row in share
// mode before it touches the product (MySQL). Both take the merchant first, so a product
// published while its merchant is suspended either waits for the suspension and reads it,
// or holds the suspension back until it commits and is then found by it: no product keeps
// a flag its merchant's committed status contradicts, and neither deadlocks on the other.
// SQLite serialises write transactions, so there the order alone suffices.

// listable reports whether a merchant in this state lets its ACTIVE products be on sale.
func listable(m *gen.Merchant) bool {
	return m.Status == merchant.StatusACTIVE && m.RemovedAt == nil
}

// merchantsListable reads the given merchants with a shared lock (MySQL), in id order, and
// tells which let their products be on sale.
func merchantsListable(ctx context.Context, client *gen.Client, ids []int) (map[int]bool, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	ms, err := client.Merchant.Query().
		Where(merchant.IDIn(ids...), ShareRows).
		Order(merchant.ByID()).
		Select(merchant.FieldStatus, merchant.FieldRemovedAt).
		All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[int]bool, len(ids))
	for _, m := range ms {
		out[m.ID] = listable(m)
	}
	return out, nil
}

// MerchantsListable reads the given merchants with a shared lock (MySQL) and tells which
// let their ACTIVE products be on sale, as ProductOnSaleHook does for a create: the seed's
// bulk path, which inserts products without the hooks, sets on_sale from it.
func MerchantsListable(ctx context.Context, client *gen.Client, ids []int) (map[int]bool, error) {
	return merchantsListable(privacy.DecisionContext(ctx, privacy.Allow), client, ids)
}

// ProductOnSaleHook keeps Product.on_sale in step with the product's status: on a create,
// and on every update that sets the status (bulk updates included), in the same
// transaction. The merchant's side is MerchantOnSaleHook.
func ProductOnSaleHook() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.ProductFunc(func(ctx context.Context, m *gen.ProductMutation) (ent.Value, error) {
			status, ok := m.Status()
			if m.Op().Is(ent.OpCreate) {
				if !ok {
					status = product.DefaultStatus
				}
				m.SetOnSale(false)
				mid, known := m.MerchantID()
				if status != product.StatusACTIVE || !known {
					return next.Mutate(ctx, m)
				}
				sys := privacy.DecisionContext(ctx, privacy.Allow)
				on, err := merchantsListable(sys, m.Client(), []int{mid})
				if err != nil {
					return nil, err
				}
				m.SetOnSale(on[mid])
				return next.Mutate(ctx, m)
			}
			if !ok {
				return next.Mutate(ctx, m)
			}
			if status != product.StatusACTIVE {
				m.SetOnSale(false)
				return next.Mutate(ctx, m)
			}
			sys := privacy.DecisionContext(ctx, privacy.Allow)
			client := m.Client()
			ids, err := m.IDs(sys)
			if err != nil {
				return nil, err
			}
			if len(ids) == 0 {
				return next.Mutate(ctx, m)
			}
			// merchant_id never changes, so a plain read gives it.
			merchants, err := client.Product.Query().Where(product.IDIn(ids...)).
				Unique(true).Select(product.FieldMerchantID).Ints(sys)
			if err != nil {
				return nil, err
			}
			on, err := merchantsListable(sys, client, merchants)
			if err != nil {
				return nil, err
			}
			var yes, no []int
			for _, id := range merchants {
				if on[id] {
					yes = append(yes, id)
				} else {
					no = append(no, id)
				}
			}
			switch {
			case len(no) == 0:
				m.SetOnSale(true)
				return next.Mutate(ctx, m)
			case len(yes) == 0:
				m.SetOnSale(false)
				return next.Mutate(ctx, m)
			}
			// Products of merchants of both kinds: set the flag per merchant afterwards.
			v, err := next.Mutate(ctx, m)
			if err != nil {
				return v, err
			}
			if err := client.Product.Update().
				Where(product.IDIn(ids...), product.MerchantIDIn(yes...), product.StatusEQ(product.StatusACTIVE)).
				SetOnSale(true).Exec(sys); err != nil {
				return nil, err
			}
			return v, client.Product.Update().
				Where(product.IDIn(ids...), product.MerchantIDIn(no...), product.OnSale(true)).
				SetOnSale(false).Exec(sys)
		})
	}, ent.OpCreate|ent.OpUpdate|ent.OpUpdateOne)
}

// MerchantOnSaleHook sets the on_sale flag of a merchant's products after every update
// that changes the merchant's status or removal (bulk updates included), in the same
// transaction: on for its ACTIVE products when the merchant is ACTIVE and not removed,
// off for all of them otherwise.
func MerchantOnSaleHook() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.MerchantFunc(func(ctx context.Context, m *gen.MerchantMutation) (ent.Value, error) {
			_, status := m.Status()
			_, removed := m.RemovedAt()
			if !status && !removed && !m.RemovedAtCleared() {
				return next.Mutate(ctx, m)
			}
			sys := privacy.DecisionContext(ctx, privacy.Allow)
			ids, err := m.IDs(sys)
			if err != nil {
				return nil, err
			}
			v, err := next.Mutate(ctx, m)
			if err != nil || len(ids) == 0 {
				return v, err
			}
			client := m.Client()
			// The update holds the merchants' rows now (MySQL); read them as updated.
			on, err := merchantsListable(sys, client, ids)
			if err != nil {
				return nil, err
			}
			var yes, no []int
			for _, id := range ids {
				if on[id] {
					yes = append(yes, id)
				} else {
					no = append(no, id)
				}
			}
			if len(yes) > 0 {
				if err := client.Product.Update().
					Where(product.MerchantIDIn(yes...), product.StatusEQ(product.StatusACTIVE), product.OnSale(false)).
					SetOnSale(true).Exec(sys); err != nil {
					return nil, err
				}
			}
			if len(no) > 0 {
				if err := client.Product.Update().
					Where(product.MerchantIDIn(no...), product.OnSale(true)).
					SetOnSale(false).Exec(sys); err != nil {
					return nil, err
				}
			}
			return v, nil
		})
	}, ent.OpUpdate|ent.OpUpdateOne)
}
