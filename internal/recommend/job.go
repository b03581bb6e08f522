package recommend

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productdailysales"
	"github.com/xiadan/xiadan/ent/productpair"
	"github.com/xiadan/xiadan/ent/recommendwatermark"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/viewer"
)

// WatermarkOrders names the watermark of the paid orders counted.
const WatermarkOrders = "paid_orders"

// epoch is the watermark of a job that has counted nothing.
var epoch = time.Unix(0, 0).UTC()

// RunJobs counts newly paid orders every interval until ctx ends.
func (s *Service) RunJobs(ctx context.Context, db *ent.Client, interval time.Duration, logger *slog.Logger) {
	telemetry.RunJob(ctx, "recommend", interval, logger, "recommendation counts updated", func(ctx context.Context) (int, error) {
		return s.Refresh(ctx, db)
	})
}

// Refresh counts the orders paid since the watermark, a batch per transaction, until none
// is left or another replica is counting; it returns how many orders it counted.
func (s *Service) Refresh(ctx context.Context, db *ent.Client) (int, error) {
	total := 0
	for {
		n, more, err := s.RefreshBatch(ctx, db)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// RefreshBatch counts one batch of the orders paid after the watermark, and moves the
// watermark past them, in one transaction: the counts of an order are added exactly once
// however many replicas run the job. The watermark row is locked (MySQL) and moved by an
// UPDATE conditional on its old position, whose rows-affected decides: a replica that lost
// the race rolls back and reports more = false. more is true when the batch was full.
func (s *Service) RefreshBatch(ctx context.Context, db *ent.Client) (n int, more bool, err error) {
	ctx = viewer.SystemContext(ctx)
	if err := ensureWatermark(ctx, db, s.now()); err != nil {
		return 0, false, err
	}
	batch := s.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	tx, err := db.Tx(ctx)
	if err != nil {
		return 0, false, err
	}
	defer func() {
		if err != nil || n == 0 {
			_ = tx.Rollback()
		}
	}()
	wm, err := tx.RecommendWatermark.Query().Where(recommendwatermark.Name(WatermarkOrders), hooks.LockRows).Only(ctx)
	if err != nil {
		return 0, false, err
	}
	wmAt := wm.PaidAt.UTC()
	orders, err := tx.Order.Query().
		Where(order.PaidAtNotNil(), order.PaidAtLTE(s.now().Add(-s.SettleLag)),
			order.Or(order.PaidAtGT(wmAt), order.And(order.PaidAt(wmAt), order.IDGT(wm.OrderID)))).
		Order(ent.Asc(order.FieldPaidAt), ent.Asc(order.FieldID)).Limit(batch).
		Select(order.FieldID, order.FieldPaidAt).All(ctx)
	if err != nil || len(orders) == 0 {
		return 0, false, err
	}
	c, err := countOrders(ctx, tx.Client(), orders)
	if err != nil {
		return 0, false, err
	}
	if err := c.write(ctx, tx.Client()); err != nil {
		return 0, false, err
	}
	last := orders[len(orders)-1]
	moved, err := tx.RecommendWatermark.Update().
		Where(recommendwatermark.Name(WatermarkOrders), recommendwatermark.PaidAt(wmAt), recommendwatermark.OrderID(wm.OrderID)).
		SetPaidAt(last.PaidAt.UTC()).SetOrderID(last.ID).AddOrders(len(orders)).SetUpdatedAt(s.now()).Save(ctx)
	if err != nil {
		return 0, false, err
	}
	if moved != 1 {
		return 0, false, nil // another replica counted this batch first
	}
	if err := tx.Commit(); err != nil {
		return 0, false, err
	}
	return len(orders), len(orders) == batch, nil
}

// ensureWatermark creates the watermark row at the epoch unless it exists; of replicas
// creating it at once, one insert wins and the others' are ignored.
func ensureWatermark(ctx context.Context, db *ent.Client, now time.Time) error {
	ok, err := db.RecommendWatermark.Query().Where(recommendwatermark.Name(WatermarkOrders)).Exist(ctx)
	if err != nil || ok {
		return err
	}
	err = db.RecommendWatermark.Create().SetName(WatermarkOrders).SetPaidAt(epoch).SetUpdatedAt(now).
		OnConflictColumns(recommendwatermark.FieldName).DoNothing().Exec(ctx)
	if err != nil && !errors.Is(err, stdsql.ErrNoRows) {
		return fmt.Errorf("recommend watermark: %w", err)
	}
	return nil
}

// counts is what one batch adds: orders per product pair (both directions, and (a, a) for
// the orders holding a) and units per product and day.
type counts struct {
	pairs map[[2]int]int
	units map[[2]int]int
}

// countOrders reads the batch's items and counts them; products deleted since are left out.
func countOrders(ctx context.Context, db *ent.Client, orders []*ent.Order) (*counts, error) {
	ids := make([]int, len(orders))
	day := make(map[int]int, len(orders))
	for i, o := range orders {
		ids[i] = o.ID
		day[o.ID] = dayOf(*o.PaidAt)
	}
	items, err := db.OrderItem.Query().Where(orderitem.OrderIDIn(ids...), orderitem.ProductIDNotNil()).
		Select(orderitem.FieldOrderID, orderitem.FieldProductID, orderitem.FieldQuantity).All(ctx)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(items))
	for _, it := range items {
		pids = append(pids, *it.ProductID)
	}
	existing, err := db.Product.Query().Where(product.IDIn(pids...)).IDs(ctx)
	if err != nil {
		return nil, err
	}
	exists := make(map[int]bool, len(existing))
	for _, id := range existing {
		exists[id] = true
	}
	c := &counts{pairs: map[[2]int]int{}, units: map[[2]int]int{}}
	basket := map[int][]int{}
	for _, it := range items {
		p := *it.ProductID
		if !exists[p] {
			continue
		}
		c.units[[2]int{p, day[it.OrderID]}] += it.Quantity
		if !slices.Contains(basket[it.OrderID], p) {
			basket[it.OrderID] = append(basket[it.OrderID], p)
		}
	}
	for _, ps := range basket {
		slices.Sort(ps)
		if len(ps) > MaxProductsPerOrder {
			ps = ps[:MaxProductsPerOrder]
		}
		for i, a := range ps {
			c.pairs[[2]int{a, a}]++
			for _, b := range ps[i+1:] {
				c.pairs[[2]int{a, b}]++
				c.pairs[[2]int{b, a}]++
			}
		}
	}
	return c, nil
}

// upsertChunk bounds the rows of one INSERT.
const upsertChunk = 400

// write adds the counts by INSERT … ON CONFLICT/DUPLICATE KEY adding to the stored count,
// rows grouped by the amount they add, in key order (so concurrent writers lock alike).
func (c *counts) write(ctx context.Context, db *ent.Client) error {
	for delta, keys := range byDelta(c.pairs) {
		for chunk := range slices.Chunk(keys, upsertChunk) {
			bs := make([]*ent.ProductPairCreate, len(chunk))
			for i, k := range chunk {
				bs[i] = db.ProductPair.Create().SetProductID(k[0]).SetOtherID(k[1]).SetOrders(delta)
			}
			err := db.ProductPair.CreateBulk(bs...).
				OnConflictColumns(productpair.FieldProductID, productpair.FieldOtherID).
				Update(func(u *ent.ProductPairUpsert) { u.AddOrders(delta) }).Exec(ctx)
			if err != nil {
				return fmt.Errorf("product pairs: %w", err)
			}
		}
	}
	for delta, keys := range byDelta(c.units) {
		for chunk := range slices.Chunk(keys, upsertChunk) {
			bs := make([]*ent.ProductDailySalesCreate, len(chunk))
			for i, k := range chunk {
				bs[i] = db.ProductDailySales.Create().SetProductID(k[0]).SetDay(k[1]).SetUnits(delta)
			}
			err := db.ProductDailySales.CreateBulk(bs...).
				OnConflictColumns(productdailysales.FieldProductID, productdailysales.FieldDay).
				Update(func(u *ent.ProductDailySalesUpsert) { u.AddUnits(delta) }).Exec(ctx)
			if err != nil {
				return fmt.Errorf("product daily sales: %w", err)
			}
		}
	}
	return nil
}

// byDelta groups the keys of m by their value, each group sorted.
func byDelta(m map[[2]int]int) map[int][][2]int {
	out := map[int][][2]int{}
	for k, v := range m {
		out[v] = append(out[v], k)
	}
	for _, keys := range out {
		slices.SortFunc(keys, func(a, b [2]int) int {
			if a[0] != b[0] {
				return a[0] - b[0]
			}
			return a[1] - b[1]
		})
	}
	return out
}

// dayOf is t's UTC day: days since 1970-01-01.
func dayOf(t time.Time) int { return int(t.UTC().Unix() / 86400) }
