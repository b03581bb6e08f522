package experiments

import (
	"context"
	"fmt"
	"strconv"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/experiment"
	"github.com/xiadan/xiadan/ent/experimentconversion"
	"github.com/xiadan/xiadan/ent/experimentexposure"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

func itoa(i int) string { return strconv.Itoa(i) }

// Conversions is the pricing.Provider (StageRecord) that records experiment conversions
// at placeOrder, and the pricing.Releaser and pricing.RefundObserver that take them back:
//
//   - Commit: for each RUNNING experiment (by the basket's time) the customer was exposed
//     to before the basket's time, one conversion per order of the checkout, whose revenue
//     is the order's total after discounts (shipping included); the exposure's running
//     sums gain the order and its revenue. The unique (experiment, order) index makes a
//     second recording of an order fail rather than count twice.
//   - Release (full cancellation, including an unpaid order's timeout): the conversion is
//     voided — it no longer counts as an order nor as revenue.
//   - Refunded: the refund's goods amount is taken off the conversion's revenue (never
//     below zero); the user still counts as converting.
//
// It changes no price. Statements at placeOrder: one read when the customer has no
// exposure; otherwise two reads, one insert and one update per running experiment.
type Conversions struct{ s *Service }

var (
	_ pricing.Provider       = (*Conversions)(nil)
	_ pricing.Releaser       = (*Conversions)(nil)
	_ pricing.RefundObserver = (*Conversions)(nil)
)

// Provider returns the conversions provider to pass to pricing.Run and pricing.Commit.
func (s *Service) Provider() *Conversions { return &Conversions{s: s} }

// Stage is StageRecord: conversions change no price.
func (*Conversions) Stage() pricing.Stage { return pricing.StageRecord }

// Quote does nothing: conversions are recorded at Commit.
func (*Conversions) Quote(context.Context, *ent.Client, *pricing.Basket) error { return nil }

// Commit records the checkout's orders as conversions, in db's transaction.
func (c *Conversions) Commit(ctx context.Context, db *ent.Client, b *pricing.Basket, orders map[int]int) error {
	if b.UserID == 0 || len(orders) == 0 {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	xs, err := db.ExperimentExposure.Query().
		Where(experimentexposure.UserID(b.UserID), experimentexposure.ExposedAtLTE(b.Now)).All(sys)
	if err != nil || len(xs) == 0 {
		return err
	}
	ids := make([]int, len(xs))
	for i, x := range xs {
		ids[i] = x.ExperimentID
	}
	es, err := db.Experiment.Query().Where(experiment.IDIn(ids...), experiment.StatusEQ(experiment.StatusRUNNING)).All(sys)
	if err != nil {
		return err
	}
	live := map[int]bool{}
	for _, e := range es {
		live[e.ID] = running(e, b.Now)
	}
	var bulk []*ent.ExperimentConversionCreate
	for _, x := range xs {
		if !live[x.ExperimentID] {
			continue
		}
		var revenue int64
		n := 0
		for _, m := range b.Merchants() {
			id, ok := orders[m]
			if !ok {
				continue
			}
			t := b.TotalsOf(m).Total
			revenue += t
			n++
			bulk = append(bulk, db.ExperimentConversion.Create().SetExperimentID(x.ExperimentID).SetExposureID(x.ID).
				SetUserID(b.UserID).SetArm(x.Arm).SetOrderID(id).SetCurrency(b.Currency).SetRevenue(t).SetCreatedAt(b.Now))
		}
		if n == 0 {
			continue
		}
		if err := db.ExperimentExposure.Update().Where(experimentexposure.ID(x.ID)).AddOrders(n).AddRevenue(revenue).Exec(sys); err != nil {
			return fmt.Errorf("adding to exposure %d: %w", x.ID, err)
		}
	}
	if len(bulk) == 0 {
		return nil
	}
	if err := db.ExperimentConversion.CreateBulk(bulk...).Exec(sys); err != nil {
		if ent.IsConstraintError(err) {
			return &apperror.Error{Code: apperror.Conflict, Message: "the order's conversion is recorded already",
				Extensions: map[string]any{"reason": "CONVERSION_RECORDED"}, Err: err}
		}
		return err
	}
	return nil
}

// conversionsOf reads order's live conversions with a locking read, so concurrent
// refunds and a cancellation of one order take turns on MySQL.
func conversionsOf(ctx context.Context, db *ent.Client, orderID int) ([]*ent.ExperimentConversion, error) {
	return db.ExperimentConversion.Query().
		Where(experimentconversion.OrderID(orderID), experimentconversion.VoidedAtIsNil(), hooks.LockRows).
		Order(experimentconversion.ByID()).All(ctx)
}

// Release voids the conversions of cancelled order o, in db's transaction: exactly once,
// by a conditional update on voided_at.
func (c *Conversions) Release(ctx context.Context, db *ent.Client, o *ent.Order) error {
	sys := viewer.SystemContext(ctx)
	cs, err := conversionsOf(sys, db, o.ID)
	if err != nil {
		return err
	}
	for _, cv := range cs {
		n, err := db.ExperimentConversion.Update().
			Where(experimentconversion.ID(cv.ID), experimentconversion.VoidedAtIsNil()).
			SetVoidedAt(c.s.now()).Save(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		if err := db.ExperimentExposure.Update().Where(experimentexposure.ID(cv.ExposureID)).
			AddOrders(-1).AddRevenue(-(cv.Revenue - cv.Reversed)).Exec(sys); err != nil {
			return err
		}
	}
	return nil
}

// Refunded takes amount off the revenue of order o's conversions (cut at what is left),
// in db's transaction. Each take is a conditional update on the reversed amount read, so
// two concurrent refunds never take the same revenue twice.
func (c *Conversions) Refunded(ctx context.Context, db *ent.Client, o *ent.Order, amount int64) error {
	if amount <= 0 {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	for attempt := 0; attempt < 5; attempt++ {
		cs, err := conversionsOf(sys, db, o.ID)
		if err != nil {
			return err
		}
		lost := false
		for _, cv := range cs {
			take := min(amount, cv.Revenue-cv.Reversed)
			if take <= 0 {
				continue
			}
			n, err := db.ExperimentConversion.Update().
				Where(experimentconversion.ID(cv.ID), experimentconversion.Reversed(cv.Reversed), experimentconversion.VoidedAtIsNil()).
				AddReversed(take).Save(sys)
			if err != nil {
				return err
			}
			if n == 0 {
				lost = true
				continue
			}
			if err := db.ExperimentExposure.Update().Where(experimentexposure.ID(cv.ExposureID)).AddRevenue(-take).Exec(sys); err != nil {
				return err
			}
		}
		if !lost {
			return nil
		}
	}
	return &apperror.Error{Code: apperror.Conflict, Message: "the order's conversions changed meanwhile; try again",
		Extensions: map[string]any{"reason": "CONCURRENT_REFUND"}}
}
