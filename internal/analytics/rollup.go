package analytics

import (
	"context"
	"errors"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/analyticsevent"
	"github.com/xiadan/xiadan/ent/analyticsproductday"
	"github.com/xiadan/xiadan/ent/analyticssalesday"
	"github.com/xiadan/xiadan/ent/analyticsstate"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/viewer"
)

// inChunk bounds the ids of one IN list.
const inChunk = 1000

// merchantDay is one (merchant, day) of the sales rollups.
type merchantDay struct{ merchant, day int }

// RunJobs rolls sales up and deletes raw events past their retention every interval,
// until ctx ends. Replicas may all run it: the watermark row serialises them.
func (s *Service) RunJobs(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := s.RollUp(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.logger.WarnContext(ctx, "analytics rollup", "error", err)
				}
				break
			}
			if n < s.batchSize {
				break
			}
		}
		if _, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "analytics retention", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RollUp handles the next batch of order events past the watermark, in one transaction:
// it claims the watermark row (SELECT … FOR UPDATE on MySQL; SQLite's write transaction
// locks the database), recomputes every (merchant, day) of the orders they name from the
// orders as they stand, and moves the watermark, so a crash loses nothing and counts
// nothing twice. It returns how many events it handled.
//
// The log's positions are given by the event relay after commit, in commit order, so an
// order change is past the watermark until its rollup is done.
func (s *Service) RollUp(ctx context.Context) (int, error) {
	sys := viewer.SystemContext(ctx)
	if err := s.ensureState(sys); err != nil {
		return 0, err
	}
	n := 0
	err := s.withTx(sys, func(tx *ent.Client) error {
		st, err := lockState(sys, tx)
		if err != nil {
			return err
		}
		evs, err := tx.OrderEvent.Query().
			Where(orderevent.PositionNotNil(), orderevent.PositionGT(st.Position)).
			Order(ent.Asc(orderevent.FieldPosition)).Limit(s.batchSize).
			Select(orderevent.FieldOrderID, orderevent.FieldPosition).All(sys)
		if err != nil {
			return err
		}
		n = len(evs)
		position := st.Position
		ids := make([]int, 0, len(evs))
		seen := map[int]bool{}
		for _, e := range evs {
			if e.Position != nil && *e.Position > position {
				position = *e.Position
			}
			if !seen[e.OrderID] {
				seen[e.OrderID] = true
				ids = append(ids, e.OrderID)
			}
		}
		days := map[merchantDay]bool{}
		for chunk := range chunks(ids) {
			os, err := tx.Order.Query().Where(order.IDIn(chunk...)).
				Select(order.FieldID, order.FieldMerchantID, order.FieldCreatedAt).All(sys)
			if err != nil {
				return err
			}
			for _, o := range os {
				days[merchantDay{o.MerchantID, s.dayOf(o.CreatedAt)}] = true
			}
		}
		for md := range days {
			if err := s.recompute(sys, tx, md); err != nil {
				return err
			}
		}
		return tx.AnalyticsState.UpdateOneID(st.ID).SetPosition(position).SetUpdatedAt(s.now()).Exec(sys)
	})
	return n, err
}

// Rebuild recomputes the sales rollups of merchant's days from first to last (yyyymmdd,
// inclusive) from the orders, holding the watermark row: a backfill for orders that have
// no events in the log (bulk imports, the benchmark's seeded orders).
func (s *Service) Rebuild(ctx context.Context, merchant, first, last int) error {
	sys := viewer.SystemContext(ctx)
	if err := s.ensureState(sys); err != nil {
		return err
	}
	return s.withTx(sys, func(tx *ent.Client) error {
		if _, err := lockState(sys, tx); err != nil {
			return err
		}
		for d := s.dayStart(first); s.dayOf(d) <= last; d = d.AddDate(0, 0, 1) {
			if err := s.recompute(sys, tx, merchantDay{merchant, s.dayOf(d)}); err != nil {
				return err
			}
		}
		return nil
	})
}

// FreshAsOf is when the rollup job last caught up (nil before its first run).
func (s *Service) FreshAsOf(ctx context.Context) (*time.Time, error) {
	st, err := s.db.AnalyticsState.Query().Order(ent.Asc(analyticsstate.FieldID)).First(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &st.UpdatedAt, nil
}

// salesRow accumulates one channel's figures of a merchant's day.
type salesRow struct {
	currency                                        string
	orders, paid, paidAmount, refunded, refundedOrd int64
	cancelled, units, failures                      int64
}

type productRow struct{ orders, units, amount int64 }

// recompute replaces the rollup rows of one merchant's day by figures computed from its
// orders as they stand in tx.
func (s *Service) recompute(ctx context.Context, tx *ent.Client, md merchantDay) error {
	start := s.dayStart(md.day)
	end := start.AddDate(0, 0, 1)
	os, err := tx.Order.Query().
		Where(order.MerchantID(md.merchant), order.CreatedAtGTE(start.UTC()), order.CreatedAtLT(end.UTC())).
		Select(order.FieldID, order.FieldChannel, order.FieldCurrency, order.FieldTotal, order.FieldPaidAt,
			order.FieldStatus, order.FieldRefundedAmount).All(ctx)
	if err != nil {
		return err
	}
	rows := map[Channel]*salesRow{}
	channelOf := map[int]Channel{}
	var all, paid []int
	for _, o := range os {
		c := Channel(o.Channel)
		r := rows[c]
		if r == nil {
			r = &salesRow{currency: o.Currency}
			rows[c] = r
		}
		channelOf[o.ID] = c
		all = append(all, o.ID)
		r.orders++
		if o.PaidAt != nil {
			r.paid++
			r.paidAmount += o.Total
			paid = append(paid, o.ID)
		}
		if o.RefundedAmount > 0 {
			r.refunded += o.RefundedAmount
			r.refundedOrd++
		}
		if o.Status == order.StatusCANCELLED {
			r.cancelled++
		}
	}
	products := map[int]*productRow{}
	for chunk := range chunks(paid) {
		items, err := tx.OrderItem.Query().Where(orderitem.OrderIDIn(chunk...)).
			Select(orderitem.FieldOrderID, orderitem.FieldProductID, orderitem.FieldQuantity,
				orderitem.FieldLineTotal, orderitem.FieldDiscount).All(ctx)
		if err != nil {
			return err
		}
		counted := map[[2]int]bool{}
		for _, it := range items {
			rows[channelOf[it.OrderID]].units += int64(it.Quantity)
			if it.ProductID == nil {
				continue
			}
			p := products[*it.ProductID]
			if p == nil {
				p = &productRow{}
				products[*it.ProductID] = p
			}
			if k := [2]int{it.OrderID, *it.ProductID}; !counted[k] {
				counted[k] = true
				p.orders++
			}
			p.units += int64(it.Quantity)
			p.amount += it.LineTotal - it.Discount
		}
	}
	for chunk := range chunks(all) {
		fails, err := tx.OrderEvent.Query().
			Where(orderevent.OrderIDIn(chunk...), orderevent.TypeEQ(orderevent.TypePAYMENT_FAILED)).
			Select(orderevent.FieldOrderID).All(ctx)
		if err != nil {
			return err
		}
		for _, f := range fails {
			rows[channelOf[f.OrderID]].failures++
		}
	}
	categories := map[int]int{}
	pids := make([]int, 0, len(products))
	for id := range products {
		pids = append(pids, id)
	}
	for chunk := range chunks(pids) {
		ps, err := tx.Product.Query().Where(product.IDIn(chunk...)).Select(product.FieldID, product.FieldCategoryID).All(ctx)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.CategoryID != nil {
				categories[p.ID] = *p.CategoryID
			}
		}
	}

	if _, err := tx.AnalyticsSalesDay.Delete().Where(analyticssalesday.MerchantID(md.merchant), analyticssalesday.Day(md.day)).Exec(ctx); err != nil {
		return err
	}
	if _, err := tx.AnalyticsProductDay.Delete().Where(analyticsproductday.MerchantID(md.merchant), analyticsproductday.Day(md.day)).Exec(ctx); err != nil {
		return err
	}
	sales := make([]*ent.AnalyticsSalesDayCreate, 0, len(rows))
	for c, r := range rows {
		sales = append(sales, tx.AnalyticsSalesDay.Create().SetMerchantID(md.merchant).SetDay(md.day).
			SetChannel(analyticssalesday.Channel(c)).SetCurrency(r.currency).SetOrders(r.orders).
			SetPaidOrders(r.paid).SetPaidAmount(r.paidAmount).SetRefundedAmount(r.refunded).
			SetRefundedOrders(r.refundedOrd).SetCancelledOrders(r.cancelled).SetUnits(r.units).
			SetPaymentFailures(r.failures))
	}
	if len(sales) > 0 {
		if err := tx.AnalyticsSalesDay.CreateBulk(sales...).Exec(ctx); err != nil {
			return err
		}
	}
	prods := make([]*ent.AnalyticsProductDayCreate, 0, len(products))
	for id, p := range products {
		prods = append(prods, tx.AnalyticsProductDay.Create().SetMerchantID(md.merchant).SetDay(md.day).
			SetProductID(id).SetCategoryID(categories[id]).SetOrders(p.orders).SetUnits(p.units).SetPaidAmount(p.amount))
	}
	for len(prods) > 0 {
		n := min(len(prods), 500)
		if err := tx.AnalyticsProductDay.CreateBulk(prods[:n]...).Exec(ctx); err != nil {
			return err
		}
		prods = prods[n:]
	}
	return nil
}

// Prune deletes raw behaviour events older than the retention, a few thousand per
// statement; it returns how many it deleted.
func (s *Service) Prune(ctx context.Context) (int, error) {
	sys := viewer.SystemContext(ctx)
	cutoff := s.now().Add(-s.cfg.EventRetention)
	total := 0
	for {
		ids, err := s.db.AnalyticsEvent.Query().Where(analyticsevent.CreatedAtLT(cutoff)).Limit(5000).IDs(sys)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		n, err := s.db.AnalyticsEvent.Delete().Where(analyticsevent.IDIn(ids...)).Exec(sys)
		total += n
		if err != nil || len(ids) < 5000 {
			return total, err
		}
	}
}

// ensureState creates the watermark row when there is none. Replicas starting together
// may each create one: every reader uses the row with the smallest id, the others stay
// unused.
func (s *Service) ensureState(ctx context.Context) error {
	ok, err := s.db.AnalyticsState.Query().Exist(ctx)
	if err != nil || ok {
		return err
	}
	return s.db.AnalyticsState.Create().SetPosition(0).Exec(ctx)
}

// lockState reads the watermark row with a lock held until tx ends (MySQL).
func lockState(ctx context.Context, tx *ent.Client) (*ent.AnalyticsState, error) {
	return tx.AnalyticsState.Query().Where(hooks.LockRows).Order(ent.Asc(analyticsstate.FieldID)).First(ctx)
}

func (s *Service) withTx(ctx context.Context, fn func(tx *ent.Client) error) error {
	tx, err := s.db.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// chunks yields ids inChunk at a time.
func chunks(ids []int) func(func([]int) bool) {
	return func(yield func([]int) bool) {
		for len(ids) > 0 {
			n := min(len(ids), inChunk)
			if !yield(ids[:n]) {
				return
			}
			ids = ids[n:]
		}
	}
}
