package orders

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/catalogfeed"
)

// ReasonOutOfStock is extensions.reason of the CONFLICT returned when a line asks for more
// than is in stock.
const ReasonOutOfStock = "OUT_OF_STOCK"

// Stock is reserved when an order is placed and released when an unpaid order is
// cancelled or expires. Both are written as conditional statements:
//
//	UPDATE product_variants SET stock = stock - n WHERE id = ? AND stock >= n
//
// so stock never goes below zero whatever runs concurrently: a reservation that matches no
// row is refused with OUT_OF_STOCK. On MySQL the products' rows are locked first, in id
// order (the order the catalog's stock changes also follow), so concurrent checkouts and
// stock adjustments queue instead of deadlocking; SQLite serialises write transactions.
// The products' denormalised total stock is kept in step in the same transaction, and
// every change is written to the stock ledger with the order it belongs to.

// stockChange is a change of one variant's stock for one order.
type stockChange struct {
	variantID, productID, merchantID, orderID int
	// delta is negative for a reservation, positive for a release.
	delta int
	// field names the input line, for errors.
	field string
	// group is the index of the checkout group (the order to be) the change is for.
	group int
}

// applyStock applies changes (reservations when delta < 0) with conditional writes and
// records them in the ledger. Changes must already be merged per variant and order.
func applyStock(ctx context.Context, db *ent.Client, changes []stockChange, kind stockmovement.Kind,
	actorID int, reason string, now time.Time) error {
	after, err := changeStock(ctx, db, changes, now)
	if err != nil {
		return err
	}
	if err := recordAvailability(ctx, db, changes, after); err != nil {
		return err
	}
	return writeLedger(ctx, db, changes, after, kind, actorID, reason, now)
}

// recordAvailability records, in the catalog change feed, the variants that these
// changes sold out or brought back into stock (the storefront shows availability, not
// the count, so other stock changes are no catalog change). Stock is written around Ent
// here, so its hooks do not see it.
func recordAvailability(ctx context.Context, db *ent.Client, changes []stockChange, after map[int]int) error {
	delta := map[int]int{}
	for _, c := range changes {
		delta[c.variantID] += c.delta
	}
	var flipped []int
	for _, id := range sortedKeys(delta) {
		if before := after[id] - delta[id]; (before > 0) != (after[id] > 0) {
			flipped = append(flipped, id)
		}
	}
	if len(flipped) == 0 {
		return nil
	}
	return catalogfeed.Record(system(ctx), db, catalogfeed.Variant, flipped...)
}

// changeStock applies changes with conditional writes and returns each variant's stock
// after them. The products must already be locked (LockProducts).
func changeStock(ctx context.Context, db *ent.Client, changes []stockChange, now time.Time) (map[int]int, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	sctx := system(ctx)
	// A fixed order for the variant rows too: concurrent multi-line checkouts never hold
	// one row while waiting for another in the opposite order.
	slices.SortStableFunc(changes, func(a, b stockChange) int { return a.variantID - b.variantID })
	ts := stamp(now)
	for _, c := range changes {
		res, err := db.ExecContext(sctx,
			"UPDATE `product_variants` SET `stock` = `stock` + ?, `updated_at` = ? WHERE `id` = ? AND `stock` + ? >= 0",
			c.delta, ts, c.variantID, c.delta)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 0 {
			left := 0
			if pv, err := db.ProductVariant.Get(sctx, c.variantID); err == nil {
				left = pv.Stock
			}
			e := apperror.ConflictOn(c.field, "only %d left in stock, %d asked for", left, -c.delta)
			e.Extensions = map[string]any{"reason": ReasonOutOfStock, "available": left}
			return nil, e
		}
	}
	// Product totals: one statement for all of them.
	perProduct := map[int]int{}
	for _, c := range changes {
		perProduct[c.productID] += c.delta
	}
	var (
		sb   strings.Builder
		args []any
		ids  []any
	)
	sb.WriteString("UPDATE `products` SET `total_stock` = `total_stock` + CASE `id`")
	for _, pid := range sortedKeys(perProduct) {
		sb.WriteString(" WHEN ? THEN ?")
		args = append(args, pid, perProduct[pid])
		ids = append(ids, pid)
	}
	sb.WriteString(" ELSE 0 END WHERE `id` IN (" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")")
	if _, err := db.ExecContext(sctx, sb.String(), append(args, ids...)...); err != nil {
		return nil, fmt.Errorf("update product stock totals: %w", err)
	}
	// The ledger needs each variant's stock after the change: one read of rows this
	// transaction has just written (and still holds).
	vids := make([]int, len(changes))
	for i, c := range changes {
		vids[i] = c.variantID
	}
	after := map[int]int{}
	pvs, err := db.ProductVariant.Query().Where(productvariant.IDIn(vids...)).
		Select(productvariant.FieldID, productvariant.FieldStock).All(sctx)
	if err != nil {
		return nil, err
	}
	for _, pv := range pvs {
		after[pv.ID] = pv.Stock
	}
	return after, nil
}

// writeLedger records changes, given each variant's stock after all of them.
func writeLedger(ctx context.Context, db *ent.Client, changes []stockChange, after map[int]int, kind stockmovement.Kind,
	actorID int, reason string, now time.Time) error {
	if len(changes) == 0 {
		return nil
	}
	sctx, ts := system(ctx), stamp(now)
	// Several orders may change the same variant (a release of a whole checkout): walk
	// back from the final stock so each row starts where the previous one ended.
	creates := make([]*ent.StockMovementCreate, len(changes))
	running := map[int]int{}
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		end, ok := running[c.variantID]
		if !ok {
			end = after[c.variantID]
		}
		start := end - c.delta
		running[c.variantID] = start
		mc := db.StockMovement.Create().
			SetVariantID(c.variantID).
			SetMerchantID(c.merchantID).
			SetKind(kind).
			SetDelta(c.delta).
			SetStockBefore(start).
			SetStockAfter(end).
			SetReason(reason).
			SetOrderID(c.orderID).
			SetCreatedAt(ts)
		if actorID != 0 {
			mc.SetActorID(actorID)
		}
		creates[i] = mc
	}
	return db.StockMovement.CreateBulk(creates...).Exec(sctx)
}

// releaseStock returns the reserved stock of orders (unpaid cancellations and expiries).
// Items whose variant was deleted since have nothing to return to.
func releaseStock(ctx context.Context, db *ent.Client, orders []*ent.Order, actor Actor, reason string, now time.Time) error {
	if len(orders) == 0 {
		return nil
	}
	ids := make([]int, len(orders))
	merchant := map[int]int{}
	for i, o := range orders {
		ids[i] = o.ID
		merchant[o.ID] = o.MerchantID
	}
	sctx := system(ctx)
	items, err := db.OrderItem.Query().Where(orderitem.OrderIDIn(ids...), orderitem.VariantIDNotNil()).All(sctx)
	if err != nil {
		return err
	}
	type key struct{ order, variant int }
	merged := map[key]*stockChange{}
	var keys []key
	var variantIDs []int
	for _, it := range items {
		k := key{it.OrderID, *it.VariantID}
		if c, ok := merged[k]; ok {
			c.delta += it.Quantity
			continue
		}
		merged[k] = &stockChange{variantID: *it.VariantID, orderID: it.OrderID, merchantID: merchant[it.OrderID], delta: it.Quantity}
		keys = append(keys, k)
		variantIDs = append(variantIDs, *it.VariantID)
	}
	if len(keys) == 0 {
		return nil
	}
	// The product of each variant now (an item's product_id may be gone with its product).
	pvs, err := db.ProductVariant.Query().Where(productvariant.IDIn(variantIDs...)).
		Select(productvariant.FieldID, productvariant.FieldProductID).All(sctx)
	if err != nil {
		return err
	}
	product := map[int]int{}
	for _, pv := range pvs {
		product[pv.ID] = pv.ProductID
	}
	var changes []stockChange
	var productIDs []int
	for _, k := range keys {
		c := merged[k]
		pid, ok := product[c.variantID]
		if !ok {
			continue
		}
		c.productID = pid
		changes = append(changes, *c)
		productIDs = append(productIDs, pid)
	}
	if err := hooks.LockProducts(ctx, db, productIDs...); err != nil {
		return err
	}
	return applyStock(ctx, db, changes, stockmovement.KindORDER_RELEASED, actor.UserID, reason, now)
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
