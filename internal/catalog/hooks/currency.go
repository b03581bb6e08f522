package hooks

import (
	"context"

	"entgo.io/ent"

	gen "github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/hook"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/internal/apperror"
)

// ProductVariantCurrencyHook keeps every variant priced in its merchant's currency: a
// create, or an update that sets the currency, naming another currency is refused with
// BAD_USER_INPUT on currency. An order adds its variants' prices to its merchant's
// shipping fee, so they must be amounts of one currency. The catalog checks the same first
// and names the input; this is the rule for every other writer (seeding, fixtures, tools).
func ProductVariantCurrencyHook() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.ProductVariantFunc(func(ctx context.Context, m *gen.ProductVariantMutation) (ent.Value, error) {
			currency, ok := m.Currency()
			if !ok {
				return next.Mutate(ctx, m)
			}
			sys := privacy.DecisionContext(ctx, privacy.Allow)
			client := m.Client()
			var merchantIDs []int
			if id, ok := m.MerchantID(); ok {
				merchantIDs = []int{id}
			} else {
				ids, err := m.IDs(sys)
				if err != nil {
					return nil, err
				}
				if len(ids) == 0 {
					return next.Mutate(ctx, m)
				}
				merchantIDs, err = client.ProductVariant.Query().
					Where(productvariant.IDIn(ids...)).
					Unique(true).
					Select(productvariant.FieldMerchantID).
					Ints(sys)
				if err != nil {
					return nil, err
				}
			}
			other, err := client.Merchant.Query().
				Where(merchant.IDIn(merchantIDs...), merchant.CurrencyNEQ(currency)).
				Select(merchant.FieldCurrency).
				First(sys)
			switch {
			case gen.IsNotFound(err):
				return next.Mutate(ctx, m)
			case err != nil:
				return nil, err
			}
			return nil, apperror.BadInput("currency", "must be %s, the currency the merchant sells in", other.Currency)
		})
	}, ent.OpCreate|ent.OpUpdate|ent.OpUpdateOne)
}
