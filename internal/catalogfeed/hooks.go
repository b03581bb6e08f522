package catalogfeed

import (
	"context"
	"slices"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
)

// Register installs on client the hooks that record catalog changes in the mutating
// transaction, and tells feed (when not nil) of every change row once it commits.
// Call it once per client, before the client serves requests.
func Register(client *ent.Client, feed *Feed) {
	client.CatalogChange.Use(announceHook(feed))
	client.Product.Use(recordHook[*ent.ProductMutation](Product, productRelevant))
	client.ProductVariant.Use(variantHook())
	client.Merchant.Use(recordHook[*ent.MerchantMutation](Merchant, always))
	client.Category.Use(recordHook[*ent.CategoryMutation](Category, always))
	client.Promotion.Use(recordHook[*ent.PromotionMutation](Promotion, always))
	// Reviews show under Product.reviews; a moderated one must leave cached pages.
	client.Review.Use(recordHook[*ent.ReviewMutation](Review, always))
	// Exchange rates convert the prices of cached pages (internal/currency).
	client.ExchangeRate.Use(recordHook[*ent.ExchangeRateMutation](Rate, always))
	// Synonym groups change what a keyword finds (internal/search).
	client.SearchSynonym.Use(recordHook[*ent.SearchSynonymMutation](Synonym, always))
}

// catalogMutation is what the hooks need of a generated mutation.
type catalogMutation interface {
	ent.Mutation
	ID() (int, bool)
	IDs(context.Context) ([]int, error)
	Client() *ent.Client
}

func always(ent.Mutation) bool { return true }

// derivedProductFields are product columns that only follow other rows: the variant
// aggregates (the variant change that moves them is recorded itself) and the sales
// counter, which every paid order bumps. Counting sales as a catalog change would empty
// the storefront cache on every order; a cached sales count is instead as old as the
// cache TTL at most (docs/CACHING.md).
var derivedProductFields = []string{product.FieldMinPrice, product.FieldMaxPrice, product.FieldCurrency,
	product.FieldTotalStock, product.FieldVariantCount, product.FieldSalesCount, product.FieldUpdatedAt}

// productRelevant reports whether a product mutation changes what a shopper sees.
func productRelevant(m ent.Mutation) bool {
	if !m.Op().Is(ent.OpUpdate | ent.OpUpdateOne) {
		return true
	}
	return !onlyFields(m, derivedProductFields)
}

// onlyFields reports whether m sets, adds to or clears no field outside fields.
func onlyFields(m ent.Mutation, fields []string) bool {
	in := func(f string) bool { return slices.Contains(fields, f) }
	for _, list := range [][]string{m.Fields(), m.AddedFields(), m.ClearedFields()} {
		for _, f := range list {
			if !in(f) {
				return false
			}
		}
	}
	return true
}

// recordHook records a change of entity for every row a relevant mutation of type M
// creates, updates or deletes, in the mutation's transaction.
func recordHook[M catalogMutation](entity string, relevant func(ent.Mutation) bool) ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, mu ent.Mutation) (ent.Value, error) {
			m, ok := mu.(M)
			if !ok || !relevant(m) {
				return next.Mutate(ctx, mu)
			}
			var ids []int
			if !m.Op().Is(ent.OpCreate) {
				var err error
				if ids, err = rowsOf(ctx, m); err != nil {
					return nil, err
				}
				if len(ids) == 0 {
					return next.Mutate(ctx, mu)
				}
			}
			v, err := next.Mutate(ctx, mu)
			if err != nil {
				return v, err
			}
			if m.Op().Is(ent.OpCreate) {
				id, ok := m.ID()
				if !ok {
					return v, nil
				}
				ids = []int{id}
			}
			return v, Record(ctx, m.Client(), entity, ids...)
		})
	}
}

// rowsOf returns the rows an update or delete touches, read before the write (a bulk
// update names them by predicates only, a delete removes them).
func rowsOf(ctx context.Context, m catalogMutation) ([]int, error) {
	if id, ok := m.ID(); ok {
		return []int{id}, nil
	}
	return m.IDs(privacy.DecisionContext(ctx, privacy.Allow))
}

// stockOnlyVariantFields are the variant columns whose change alone shows a shopper
// nothing except when a variant runs out or comes back (exact stock is the merchant's).
var stockOnlyVariantFields = []string{productvariant.FieldStock, productvariant.FieldLowStockThreshold,
	productvariant.FieldUpdatedAt}

// variantHook records variant changes: every create, delete and edit, and a stock change
// only when it flips whether the variant is in stock (what `available` and the inStock
// filter show). Checkout's stock writes go around Ent (internal/orders) and record their
// flips with Record themselves.
func variantHook() ent.Hook {
	inner := recordHook[*ent.ProductVariantMutation](Variant, always)
	return func(next ent.Mutator) ent.Mutator {
		recordAll := inner(next)
		return ent.MutateFunc(func(ctx context.Context, mu ent.Mutation) (ent.Value, error) {
			m, ok := mu.(*ent.ProductVariantMutation)
			if !ok || !m.Op().Is(ent.OpUpdate|ent.OpUpdateOne) || !onlyFields(m, stockOnlyVariantFields) {
				return recordAll.Mutate(ctx, mu)
			}
			ids, err := rowsOf(ctx, m)
			if err != nil || len(ids) == 0 {
				if err != nil {
					return nil, err
				}
				return next.Mutate(ctx, mu)
			}
			before, err := inStock(ctx, m.Client(), ids)
			if err != nil {
				return nil, err
			}
			v, err := next.Mutate(ctx, mu)
			if err != nil {
				return v, err
			}
			after, err := inStock(ctx, m.Client(), ids)
			if err != nil {
				return nil, err
			}
			var flipped []int
			for _, id := range ids {
				if before[id] != after[id] {
					flipped = append(flipped, id)
				}
			}
			if len(flipped) == 0 {
				return v, nil
			}
			return v, Record(ctx, m.Client(), Variant, flipped...)
		})
	}
}

// inStock reads which of the variants ids have stock.
func inStock(ctx context.Context, client *ent.Client, ids []int) (map[int]bool, error) {
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	have, err := client.ProductVariant.Query().
		Where(productvariant.IDIn(ids...), productvariant.StockGT(0)).IDs(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[int]bool, len(have))
	for _, id := range have {
		out[id] = true
	}
	return out, nil
}

// announceHook tells feed of every change row once its transaction commits (at once
// when written outside one). A transaction that wrote several rows tells it several
// times; the feed coalesces them.
func announceHook(feed *Feed) ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, mu ent.Mutation) (ent.Value, error) {
			v, err := next.Mutate(ctx, mu)
			if err != nil || feed == nil {
				return v, err
			}
			m, ok := mu.(*ent.CatalogChangeMutation)
			if !ok || !m.Op().Is(ent.OpCreate) {
				return v, nil
			}
			tx, terr := m.Tx()
			if terr != nil {
				feed.committed(ctx)
				return v, nil
			}
			tx.OnCommit(func(next ent.Committer) ent.Committer {
				return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
					if err := next.Commit(ctx, tx); err != nil {
						return err
					}
					feed.committed(ctx)
					return nil
				})
			})
			return v, nil
		})
	}
}
