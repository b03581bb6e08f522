package catalog

import (
	"context"
	"slices"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Bulk operations check every item first, by the same rules as the single mutations, and
// collect one BulkError per item that fails. Atomic operations then apply nothing unless
// every item passed; others apply the items that passed. Either way the call itself
// succeeds, so the request transaction commits what was applied.

// BulkError is why one item of a bulk operation could not be applied.
type BulkError struct {
	// Index is the item's position in the input list.
	Index int
	// ID is the product or variant the item names.
	ID int
	// Field is the offending field of the item, if one is to blame.
	Field   string
	Code    apperror.Code
	Message string
}

// BulkVariantUpdate sets the price and/or the absolute stock of one variant.
type BulkVariantUpdate struct {
	VariantID int
	Price     *string
	Stock     *int
}

// itemError turns err, a caller-facing error, into item index's BulkError. Any other
// error is returned as it is, failing the whole operation.
func itemError(index, id int, err error) (BulkError, error) {
	e := apperror.Classify(err)
	if e == nil || e.Code == apperror.Internal {
		return BulkError{}, err
	}
	return BulkError{Index: index, ID: id, Field: e.Field, Code: e.Code, Message: e.Message}, nil
}

// sortedUnique returns ids sorted, without repeats.
func sortedUnique(ids []int) []int {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// BulkSetProductStatus moves up to MaxBulkItems products to status (ACTIVE or DELISTED),
// and returns the products changed and the items that could not be.
func BulkSetProductStatus(ctx context.Context, db *ent.Client, ids []int, to product.Status, atomic bool) ([]*ent.Product, []BulkError, error) {
	if len(ids) > MaxBulkItems {
		return nil, nil, apperror.BadInput("ids", "at most %d items at a time", MaxBulkItems)
	}
	if to != product.StatusACTIVE && to != product.StatusDELISTED {
		return nil, nil, apperror.BadInput("status", "products move to ACTIVE or DELISTED; only new products are DRAFT")
	}
	// Locked in id order, so concurrent bulk operations queue rather than deadlock.
	found, err := db.Product.Query().
		Where(product.IDIn(sortedUnique(ids)...), hooks.LockRows).
		Order(product.ByID()).
		All(ctx)
	if err != nil {
		return nil, nil, err
	}
	v := viewer.FromContext(ctx)
	byID := map[int]*ent.Product{}
	var managed []*ent.Product
	for _, p := range found {
		if canManage(v, p.MerchantID) {
			byID[p.ID] = p
			managed = append(managed, p)
		}
	}
	facts, err := loadPublishFacts(ctx, db, managed, to)
	if err != nil {
		return nil, nil, err
	}
	var (
		errs  []BulkError
		apply []int
		seen  = map[int]int{}
	)
	for i, id := range ids {
		var problem error
		if j, again := seen[id]; again {
			problem = apperror.BadInput("", "the product is listed twice (also at index %d)", j)
		} else if p := byID[id]; p == nil {
			problem = productNotFound()
		} else {
			problem = checkTransition(p, to, facts)
		}
		seen[id] = i
		if problem == nil {
			apply = append(apply, id)
			continue
		}
		e, err := itemError(i, id, problem)
		if err != nil {
			return nil, nil, err
		}
		errs = append(errs, e)
	}
	if atomic && len(errs) > 0 {
		return []*ent.Product{}, errs, nil
	}
	if err := applyStatus(ctx, db, apply, to); err != nil {
		return nil, nil, err
	}
	changed, err := db.Product.Query().Where(product.IDIn(apply...)).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	return inOrder(changed, apply, func(p *ent.Product) int { return p.ID }), errs, nil
}

// inOrder returns nodes in the order of ids.
func inOrder[T any](nodes []T, ids []int, id func(T) int) []T {
	byID := make(map[int]T, len(nodes))
	for _, n := range nodes {
		byID[id(n)] = n
	}
	out := make([]T, 0, len(ids))
	for _, i := range ids {
		if n, ok := byID[i]; ok {
			out = append(out, n)
		}
	}
	return out
}

// variantChange is a checked item of BulkUpdateVariants.
type variantChange struct {
	id    int
	price *int64
	stock *int
}

// BulkUpdateVariants sets the price and/or stock of up to MaxBulkItems variants, and
// returns the variants changed and the items that could not be. Stock changes are
// recorded in the ledger as BULK_UPDATE.
func BulkUpdateVariants(ctx context.Context, db *ent.Client, items []BulkVariantUpdate, atomic bool) ([]*ent.ProductVariant, []BulkError, error) {
	if len(items) > MaxBulkItems {
		return nil, nil, apperror.BadInput("inputs", "at most %d items at a time", MaxBulkItems)
	}
	ids := make([]int, len(items))
	for i, it := range items {
		ids[i] = it.VariantID
	}
	found, err := db.ProductVariant.Query().Where(productvariant.IDIn(sortedUnique(ids)...)).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	v := viewer.FromContext(ctx)
	byID := map[int]*ent.ProductVariant{}
	for _, pv := range found {
		if canManage(v, pv.MerchantID) {
			byID[pv.ID] = pv
		}
	}
	var (
		errs    []BulkError
		changes []variantChange
		seen    = map[int]int{}
	)
	for i, it := range items {
		change, problem := checkVariantChange(it, byID[it.VariantID])
		if j, again := seen[it.VariantID]; again {
			problem = apperror.BadInput("variantID", "the variant is listed twice (also at index %d)", j)
		}
		seen[it.VariantID] = i
		if problem == nil {
			changes = append(changes, change)
			continue
		}
		e, err := itemError(i, it.VariantID, problem)
		if err != nil {
			return nil, nil, err
		}
		errs = append(errs, e)
	}
	if atomic && len(errs) > 0 {
		return []*ent.ProductVariant{}, errs, nil
	}
	changed, err := applyVariantChanges(ctx, db, changes, byID)
	if err != nil {
		return nil, nil, err
	}
	return changed, errs, nil
}

// checkVariantChange checks one item of BulkUpdateVariants against its variant (nil when
// missing or not the caller's).
func checkVariantChange(it BulkVariantUpdate, pv *ent.ProductVariant) (variantChange, error) {
	change := variantChange{id: it.VariantID, stock: it.Stock}
	if pv == nil {
		return change, variantNotFound()
	}
	if it.Price == nil && it.Stock == nil {
		return change, apperror.BadInput("price", "give a price, a stock or both")
	}
	if it.Price != nil {
		price, err := checkPrice("price", *it.Price, pv.Currency)
		if err != nil {
			return change, err
		}
		change.price = &price
	}
	if it.Stock != nil {
		if err := checkStock("stock", *it.Stock); err != nil {
			return change, err
		}
	}
	return change, nil
}

// applyVariantChanges writes checked changes, with a ledger row for every stock that
// moved, and returns the variants in the order of changes.
func applyVariantChanges(ctx context.Context, db *ent.Client, changes []variantChange, byID map[int]*ent.ProductVariant) ([]*ent.ProductVariant, error) {
	if len(changes) == 0 {
		return []*ent.ProductVariant{}, nil
	}
	ids := make([]int, len(changes))
	productIDs := make([]int, len(changes))
	for i, c := range changes {
		ids[i] = c.id
		productIDs[i] = byID[c.id].ProductID
	}
	// The lock order of every variant change: products (in id order), then variants, read
	// again with a locking read for the stock the ledger starts from.
	if err := hooks.LockProducts(ctx, db, sortedUnique(productIDs)...); err != nil {
		return nil, err
	}
	current, err := db.ProductVariant.Query().Where(productvariant.IDIn(ids...), hooks.LockRows).All(ctx)
	if err != nil {
		return nil, err
	}
	before := make(map[int]int, len(current))
	for _, pv := range current {
		before[pv.ID] = pv.Stock
	}
	out := make([]*ent.ProductVariant, 0, len(changes))
	var movements []*ent.StockMovementCreate
	for _, c := range changes {
		up := db.ProductVariant.UpdateOneID(c.id)
		if c.price != nil {
			up.SetPrice(*c.price)
		}
		if c.stock != nil {
			up.SetStock(*c.stock)
		}
		pv, err := up.Save(ctx)
		if err != nil {
			return nil, err
		}
		if c.stock != nil && *c.stock != before[c.id] {
			movements = append(movements, movement(ctx, db, pv, stockmovement.KindBULK_UPDATE, before[c.id], *c.stock, "bulk update"))
		}
		out = append(out, pv)
	}
	return out, db.StockMovement.CreateBulk(movements...).Exec(ctx)
}
