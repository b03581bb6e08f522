package members

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/membership"
	"github.com/xiadan/xiadan/ent/membertier"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/viewer"
)

// JobBatch is how many customers (and rule groups) a run of the job recomputes at most.
const JobBatch = 200

// errLost says another process recorded this round first.
var errLost = errors.New("recomputed meanwhile")

// Figures are what a customer's tier is judged on: over the window ending at a time,
// their paid orders that are neither cancelled nor refunded in full, and the spend of
// those in the tiers' currency, net of refunds (total - refunded amount).
type Figures struct {
	Spend  int64
	Orders int
}

// counted keeps the orders that count: paid in [since, now], not cancelled, not refunded
// in full.
func counted(since, now time.Time) predicate.Order {
	return order.And(order.PaidAtGTE(since), order.PaidAtLTE(now), order.StatusNEQ(order.StatusCANCELLED),
		order.CancelledAtIsNil(), func(s *sql.Selector) {
			s.Where(sql.ColumnsGT(s.C(order.FieldTotal), s.C(order.FieldRefundedAmount)))
		})
}

// aggregates are the columns of a figures query.
type aggregates struct {
	CustomerID int   `json:"customer_id"`
	Orders     int   `json:"orders"`
	Spend      int64 `json:"spend"`
}

func netSpend(currency string) ent.AggregateFunc {
	return func(s *sql.Selector) string {
		// Only orders in the tiers' currency add to spend; every order counts as an order.
		return sql.As(fmt.Sprintf("COALESCE(SUM(CASE WHEN %s = '%s' THEN %s - %s ELSE 0 END), 0)",
			s.C(order.FieldCurrency), currency, s.C(order.FieldTotal), s.C(order.FieldRefundedAmount)), "spend")
	}
}

// FiguresOf reads user's figures over the window ending at now, as the system.
func (s *Service) FiguresOf(ctx context.Context, db *ent.Client, userID int, now time.Time) (Figures, error) {
	var rows []aggregates
	err := db.Order.Query().Where(order.CustomerID(userID), counted(now.Add(-s.Config.Window), now)).
		Aggregate(ent.As(ent.Count(), "orders"), netSpend(s.Config.Currency)).Scan(viewer.SystemContext(ctx), &rows)
	if err != nil || len(rows) == 0 {
		return Figures{}, err
	}
	return Figures{Spend: rows[0].Spend, Orders: rows[0].Orders}, nil
}

// Qualifies reports whether figures f reach tier t: any set threshold, or all of them
// with match_all.
func Qualifies(t *ent.MemberTier, f Figures) bool {
	spendOK := t.MinSpend != nil && f.Spend >= *t.MinSpend
	ordersOK := t.MinOrders != nil && f.Orders >= *t.MinOrders
	if t.MatchAll {
		return (t.MinSpend == nil || spendOK) && (t.MinOrders == nil || ordersOK) && (t.MinSpend != nil || t.MinOrders != nil)
	}
	return spendOK || ordersOK
}

// Earned is the highest of tiers (lowest level first) that f reaches, or nil.
func Earned(tiers []*ent.MemberTier, f Figures) *ent.MemberTier {
	var best *ent.MemberTier
	for _, t := range tiers {
		if Qualifies(t, f) {
			best = t
		}
	}
	return best
}

// record computes user's figures now and stores their membership in db's transaction.
// downgrade lets the tier fall (the job, an admin's recompute); without it the tier only
// rises (after a payment). With staleBefore (the job) it first claims the round with a
// write conditional on the version it read and on the row being older than staleBefore:
// of two replicas one records and the other gets errLost (a first row is claimed by the
// insert, whose unique user_id makes the second fail).
func (s *Service) record(ctx context.Context, db *ent.Client, userID int, downgrade bool, staleBefore *time.Time) (*ent.Membership, error) {
	return s.recordOnce(ctx, db, userID, downgrade, staleBefore, false)
}

// recordOnce is record; afterInsertRace is its one retry after losing the race to create
// the user's first row.
func (s *Service) recordOnce(ctx context.Context, db *ent.Client, userID int, downgrade bool, staleBefore *time.Time, afterInsertRace bool) (*ent.Membership, error) {
	sys := viewer.SystemContext(ctx)
	now := standing.Now(ctx)
	// Decide on the row as committed now, holding it: a plain read under REPEATABLE READ
	// would answer from this transaction's snapshot, so a concurrent upgrade could undo
	// the job's downgrade (or a retry never see the row that beat its insert). A missing
	// row is read without a lock first, to take no gap lock two first inserts would
	// deadlock on; the unique user_id decides between those.
	prev, err := db.Membership.Query().Where(membership.UserID(userID)).Only(sys)
	if ent.IsNotFound(err) && afterInsertRace {
		err = nil
		prev = &ent.Membership{} // read it below with the lock, which sees the committed row
	}
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	if prev != nil {
		if prev, err = db.Membership.Query().Where(membership.UserID(userID), hooks.LockRows).WithTier().Only(sys); err != nil {
			return nil, err
		}
	}
	if prev != nil && staleBefore != nil {
		n, err := db.Membership.Update().Where(membership.UserID(userID), membership.Version(prev.Version),
			membership.ComputedAtLT(*staleBefore)).AddVersion(1).Save(sys)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errLost
		}
	}
	f, err := s.FiguresOf(ctx, db, userID, now)
	if err != nil {
		return nil, err
	}
	tiers, err := Tiers(sys, db)
	if err != nil {
		return nil, err
	}
	earned := Earned(tiers, f)
	var cur *ent.MemberTier
	if prev != nil {
		cur = prev.Edges.Tier
	}
	next := earned
	if !downgrade && cur != nil && (earned == nil || earned.Level < cur.Level) {
		next = cur // downgrades wait for the recompute
	}
	var nextID *int
	since := (*time.Time)(nil)
	if next != nil {
		nextID = &next.ID
		since = &now
		if cur != nil && cur.ID == next.ID && prev.TierSince != nil {
			since = prev.TierSince
		}
	}
	if prev == nil {
		err = db.Membership.Create().SetUserID(userID).SetNillableTierID(nextID).SetSpend(f.Spend).
			SetOrders(f.Orders).SetComputedAt(now).SetNillableTierSince(since).Exec(sys)
		if ent.IsConstraintError(err) {
			if staleBefore != nil {
				return nil, errLost
			}
			if afterInsertRace {
				return nil, err
			}
			// Created meanwhile (by the job or a payment): update that row instead.
			return s.recordOnce(ctx, db, userID, downgrade, nil, true)
		}
	} else {
		u := db.Membership.Update().Where(membership.UserID(userID)).SetSpend(f.Spend).SetOrders(f.Orders).AddVersion(1)
		if downgrade {
			// computed_at is the last full recompute, which schedules the next: an upgrade
			// after a payment does not put off the recompute that may lower the tier.
			u.SetComputedAt(now)
		}
		if nextID != nil {
			u.SetTierID(*nextID).SetTierSince(*since)
		} else {
			u.ClearTierID().ClearTierSince()
		}
		err = u.Exec(sys)
	}
	if err != nil {
		return nil, err
	}
	return db.Membership.Query().Where(membership.UserID(userID)).WithTier().Only(sys)
}

// Upgrade recomputes user's tier after a payment, in db's transaction: it may rise at
// once, never fall (a fall waits for the job). The checkout's lead wires it after payment.
func (s *Service) Upgrade(ctx context.Context, db *ent.Client, userID int) (*ent.Membership, error) {
	return s.record(ctx, db, userID, false, nil)
}

// RecomputeUser is an admin's recompute of one customer now: up or down, audited.
func (s *Service) RecomputeUser(ctx context.Context, db *ent.Client, userID int) (*View, error) {
	sys := viewer.SystemContext(ctx)
	if ok, err := db.User.Query().Where(user.ID(userID)).Exist(sys); err != nil {
		return nil, err
	} else if !ok {
		return nil, apperror.NotFoundf("user not found")
	}
	m, err := s.record(ctx, db, userID, true, nil)
	if err != nil {
		return nil, err
	}
	code := ""
	if m.Edges.Tier != nil {
		code = m.Edges.Tier.Code
	}
	if err := audit.Record(ctx, db, audit.Entry{Action: "membership.recompute", TargetType: "User", TargetID: userID,
		Details: map[string]any{"tier": code, "spend": m.Spend, "orders": m.Orders}}); err != nil {
		return nil, err
	}
	return s.view(ctx, db, userID, m)
}

// RunJobs recomputes due memberships and rule groups every interval until ctx ends.
// Every replica may run it: each customer and group is recomputed in its own transaction
// that first claims the round with a conditional write, so of two replicas one records
// and the other skips. Errors are logged and retried on the next run.
func (s *Service) RunJobs(ctx context.Context, db *ent.Client, interval time.Duration, logger *slog.Logger) {
	if interval <= 0 {
		interval = time.Minute
	}
	telemetry.RunJob(ctx, "members", interval, logger, "members job: memberships recomputed", func(ctx context.Context) (int, error) {
		return s.RunOnce(ctx, db)
	})
}

// RunOnce recomputes up to JobBatch memberships that are missing (customers with an
// order paid in the window and no row) or older than Config.Interval, and up to JobBatch
// rule groups likewise; it returns how many it recorded. Tiers fall here and only here
// (and at an admin's recompute).
func (s *Service) RunOnce(ctx context.Context, db *ent.Client) (int, error) {
	sys := viewer.SystemContext(ctx)
	now := standing.Now(ctx)
	staleBefore := now.Add(-s.Config.Interval)
	fresh, err := db.Order.Query().Where(order.PaidAtGTE(now.Add(-s.Config.Window)), withoutMembership).
		Order(order.ByCustomerID()).Unique(true).Limit(JobBatch).Select(order.FieldCustomerID).Ints(sys)
	if err != nil {
		return 0, fmt.Errorf("finding customers without membership: %w", err)
	}
	stale, err := db.Membership.Query().Where(membership.ComputedAtLT(staleBefore)).
		Order(membership.ByComputedAt(), membership.ByID()).Limit(JobBatch).Select(membership.FieldUserID).Ints(sys)
	if err != nil {
		return 0, fmt.Errorf("finding stale memberships: %w", err)
	}
	var errs []error
	done := 0
	for _, id := range append(fresh, stale...) {
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
		err := inTx(ctx, db, func(ctx context.Context, tx *ent.Client) error {
			_, err := s.record(ctx, tx, id, true, &staleBefore)
			return err
		})
		switch {
		case errors.Is(err, errLost):
		case err != nil:
			errs = append(errs, fmt.Errorf("user %d: %w", id, err))
		default:
			done++
		}
	}
	n, err := s.recomputeGroups(ctx, db, staleBefore)
	return done + n, errors.Join(append(errs, err)...)
}

// withoutMembership keeps the orders whose customer has no membership row yet.
func withoutMembership(s *sql.Selector) {
	t := sql.Table(membership.Table)
	s.Where(sql.NotExists(sql.Dialect(s.Dialect()).Select(t.C(membership.FieldID)).From(t).
		Where(sql.ColumnsEQ(t.C(membership.FieldUserID), s.C(order.FieldCustomerID)))))
}

// inTx runs fn in a transaction of its own.
func inTx(ctx context.Context, db *ent.Client, fn func(ctx context.Context, tx *ent.Client) error) error {
	tx, err := db.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(ent.NewTxContext(ctx, tx), tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// View is a customer's membership as GraphQL shows it: the stored tier (which falls only
// at a recompute) with the live figures over the window and the way to the next tier.
type View struct {
	Tier     *ent.MemberTier
	NextTier *ent.MemberTier
	Figures  Figures
	Currency string
	// WindowDays is how far back the figures reach.
	WindowDays int
	// ComputedAt is the last full recompute (the job, an admin); nil before any.
	ComputedAt *time.Time
	TierSince  *time.Time
}

// Spend is the figures' spend as money.
func (v *View) Spend() *money.Money { return money.New(v.Figures.Spend, v.Currency) }

// Orders is the figures' paid orders.
func (v *View) Orders() int { return v.Figures.Orders }

// Progress is what is left to reach the next tier: nil parts are not thresholds of it.
type Progress struct {
	SpendLeft    *int64
	OrdersToNext *int
	// Percent is how far along the nearest threshold the customer is, 0 to 100.
	Percent  int
	currency string
}

// SpendToNext is the spend still needed, nil when the next tier has no spend threshold.
func (p *Progress) SpendToNext() *money.Money {
	if p.SpendLeft == nil {
		return nil
	}
	return money.New(*p.SpendLeft, p.currency)
}

// Progress is the way to v's next tier, nil at the top.
func (v *View) Progress() *Progress {
	t := v.NextTier
	if t == nil {
		return nil
	}
	p := &Progress{currency: v.Currency}
	best := 0
	if t.MinSpend != nil {
		left := max(0, *t.MinSpend-v.Figures.Spend)
		p.SpendLeft = &left
		best = max(best, share(v.Figures.Spend, *t.MinSpend))
	}
	if t.MinOrders != nil {
		left := max(0, *t.MinOrders-v.Figures.Orders)
		p.OrdersToNext = &left
		best = max(best, share(int64(v.Figures.Orders), int64(*t.MinOrders)))
	}
	p.Percent = best
	return p
}

func share(have, need int64) int {
	if need <= 0 || have >= need {
		return 100
	}
	return int(have * 100 / need)
}

// MyMembership is the signed-in customer's membership.
func (s *Service) MyMembership(ctx context.Context, db *ent.Client) (*View, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to see your membership")
	}
	m, err := db.Membership.Query().Where(membership.UserID(v.UserID)).WithTier().Only(viewer.SystemContext(ctx))
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	return s.view(ctx, db, v.UserID, m)
}

// MembershipOf is a customer's membership, for admins.
func (s *Service) MembershipOf(ctx context.Context, db *ent.Client, userID int) (*View, error) {
	sys := viewer.SystemContext(ctx)
	if ok, err := db.User.Query().Where(user.ID(userID)).Exist(sys); err != nil {
		return nil, err
	} else if !ok {
		return nil, apperror.NotFoundf("user not found")
	}
	m, err := db.Membership.Query().Where(membership.UserID(userID)).WithTier().Only(sys)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	return s.view(ctx, db, userID, m)
}

func (s *Service) view(ctx context.Context, db *ent.Client, userID int, m *ent.Membership) (*View, error) {
	sys := viewer.SystemContext(ctx)
	f, err := s.FiguresOf(ctx, db, userID, standing.Now(ctx))
	if err != nil {
		return nil, err
	}
	v := &View{Figures: f, Currency: s.Config.Currency, WindowDays: int(s.Config.Window / (24 * time.Hour))}
	level := 0
	if m != nil {
		v.Tier, v.ComputedAt, v.TierSince = m.Edges.Tier, &m.ComputedAt, m.TierSince
		if v.Tier != nil {
			level = v.Tier.Level
		}
	}
	next, err := db.MemberTier.Query().Where(membertier.LevelGT(level)).Order(membertier.ByLevel()).First(sys)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	v.NextTier = next
	return v, nil
}
