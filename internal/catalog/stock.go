package catalog

import (
	"context"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Stock changes are made safe under concurrency in three layers, the same on MySQL and
// SQLite:
//
//  1. the variant's product row is locked first (MySQL; SQLite serialises write
//     transactions), the lock order every variant change follows, so concurrent changes
//     to the same product queue instead of deadlocking;
//  2. the stock before the change is read with a locking read, which sees the latest
//     committed value rather than the transaction's snapshot and holds it;
//  3. the write itself is conditional — stock = stock + delta WHERE stock + delta >= 0 —
//     and a write that matched no row is refused, so stock never goes below zero even if
//     the layers above were bypassed.
//
// The ledger row (before, after, delta, actor, reason) is written in the same transaction,
// so for every variant the deltas add up to its stock and each row starts where the
// previous one ended.

// movement builds a ledger row for a change of pv's stock from before to after.
func movement(ctx context.Context, db *ent.Client, pv *ent.ProductVariant, kind stockmovement.Kind, before, after int, reason string) *ent.StockMovementCreate {
	mc := db.StockMovement.Create().
		SetVariantID(pv.ID).
		SetMerchantID(pv.MerchantID).
		SetKind(kind).
		SetDelta(after - before).
		SetStockBefore(before).
		SetStockAfter(after).
		SetReason(reason)
	if id := viewer.FromContext(ctx).UserID; id != 0 {
		mc.SetActorID(id)
	}
	return mc
}

// AdjustStock adds (positive delta) or removes (negative delta) stock of a variant and
// records the change, with its reason, in the ledger.
func AdjustStock(ctx context.Context, db *ent.Client, variantID, delta int, reason string) (*ent.ProductVariant, error) {
	reason, err := checkText("reason", reason, 1, MaxReason)
	if err != nil {
		return nil, err
	}
	if delta == 0 {
		return nil, apperror.BadInput("delta", "must not be zero")
	}
	if delta > MaxStock || delta < -MaxStock {
		return nil, apperror.BadInput("delta", "must be between %d and %d", -MaxStock, MaxStock)
	}
	pv, err := managedVariant(ctx, db, variantID)
	if err != nil {
		return nil, err
	}
	if err := hooks.LockProducts(ctx, db, pv.ProductID); err != nil {
		return nil, err
	}
	if pv, err = lockedVariant(ctx, db, variantID); err != nil {
		return nil, err
	}
	before := pv.Stock
	if before+delta < 0 {
		return nil, apperror.BadInput("delta", "would take the stock below zero (current stock: %d)", before)
	}
	if before+delta > MaxStock {
		return nil, apperror.BadInput("delta", "would take the stock above %d (current stock: %d)", MaxStock, before)
	}
	updated, err := db.ProductVariant.UpdateOneID(variantID).
		Where(productvariant.StockGTE(-delta)).
		AddStock(delta).
		Save(ctx)
	if ent.IsNotFound(err) {
		return nil, apperror.BadInput("delta", "would take the stock below zero")
	}
	if err != nil {
		return nil, err
	}
	if updated.Stock != before+delta {
		// Only possible if something changed the stock without taking the locks.
		return nil, apperror.New(apperror.Conflict, "the stock changed during the adjustment; try again")
	}
	return updated, movement(ctx, db, updated, stockmovement.KindADJUSTMENT, before, updated.Stock, reason).Exec(ctx)
}

// LowStockVariants lists the variants of a merchant at or under their low-stock threshold,
// lowest stock first (then by id). Staff see their own merchant's; admins name one.
func LowStockVariants(ctx context.Context, db *ent.Client, merchantID *int,
	after *entgql.Cursor[int], first *int, before *entgql.Cursor[int], last *int) (*ent.ProductVariantConnection, error) {
	mid, err := scopeMerchant(ctx, db, merchantID)
	if err != nil {
		return nil, err
	}
	q := db.ProductVariant.Query().Where(
		productvariant.MerchantID(mid),
		func(s *sql.Selector) {
			s.Where(sql.ColumnsLTE(s.C(productvariant.FieldStock), s.C(productvariant.FieldLowStockThreshold)))
		},
	)
	return paginateByStock(ctx, q, after, first, before, last)
}

// paginateByStock is ProductVariantQuery.Paginate ordered by (stock, id) ascending. The
// generated pager orders only by fields annotated as GraphQL order fields, and stock is
// not one, so this follows the same cursor rules by hand: cursors carry (id, stock).
func paginateByStock(ctx context.Context, q *ent.ProductVariantQuery,
	after *entgql.Cursor[int], first *int, before *entgql.Cursor[int], last *int) (*ent.ProductVariantConnection, error) {
	conn := &ent.ProductVariantConnection{Edges: []*ent.ProductVariantEdge{}}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, err
	}
	conn.TotalCount = total
	direction := entgql.OrderDirectionAsc
	if last != nil {
		direction = direction.Reverse()
	}
	after, before = stockCursor(after), stockCursor(before)
	for _, p := range entgql.CursorsPredicate(after, before, productvariant.FieldID, productvariant.FieldStock, direction) {
		q.Where(p)
	}
	limit := 0
	switch {
	case first != nil:
		limit = *first + 1
	case last != nil:
		limit = *last + 1
	}
	if limit > 0 {
		q.Limit(limit)
	}
	nodes, err := q.Order(
		productvariant.ByStock(direction.OrderTermOption()),
		productvariant.ByID(direction.OrderTermOption()),
	).All(ctx)
	if err != nil {
		return nil, err
	}
	conn.PageInfo.HasNextPage = before != nil
	conn.PageInfo.HasPreviousPage = after != nil
	switch {
	case first != nil && len(nodes) == *first+1:
		conn.PageInfo.HasNextPage = true
		nodes = nodes[:len(nodes)-1]
	case last != nil && len(nodes) == *last+1:
		conn.PageInfo.HasPreviousPage = true
		nodes = nodes[:len(nodes)-1]
	}
	conn.Edges = make([]*ent.ProductVariantEdge, len(nodes))
	for i := range nodes {
		node := nodes[i]
		if last != nil {
			node = nodes[len(nodes)-1-i]
		}
		conn.Edges[i] = &ent.ProductVariantEdge{Node: node, Cursor: entgql.Cursor[int]{ID: node.ID, Value: node.Stock}}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}

// stockCursor restores the stock of a cursor made by paginateByStock: cursors leave out
// an empty value, so a stock of 0 arrives as no value at all.
func stockCursor(c *entgql.Cursor[int]) *entgql.Cursor[int] {
	if c == nil || c.Value != nil {
		return c
	}
	return &entgql.Cursor[int]{ID: c.ID, Value: 0}
}

// StockMovements lists the ledger of one variant, newest first.
func StockMovements(ctx context.Context, db *ent.Client, variantID int,
	after *entgql.Cursor[int], first *int, before *entgql.Cursor[int], last *int) (*ent.StockMovementConnection, error) {
	if _, err := managedVariant(ctx, db, variantID); err != nil {
		return nil, err
	}
	// By id, which is the order the rows were written in under the product lock, so each
	// row starts where the one below it ended.
	newestFirst := &ent.StockMovementOrder{Direction: entgql.OrderDirectionDesc, Field: ent.DefaultStockMovementOrder.Field}
	return db.StockMovement.Query().
		Where(stockmovement.VariantID(variantID)).
		Paginate(ctx, after, first, before, last, ent.WithStockMovementOrder(newestFirst))
}
