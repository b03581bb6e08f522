// Package credit keeps merchant credit (商家信用) and platform sanctions. A job recomputes
// each merchant's public score, level and badges from documented inputs (Gather, Compute;
// docs/CREDIT.md) and keeps a daily history; admins impose and lift sanctions (warning,
// restriction, suspension, removal), whose effects are recorded on the merchant row for the
// privacy rules and services to enforce (internal/credit/standing), and merchants answer
// them with an appeal note. Every admin action is audited in its transaction.
package credit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/merchantcredit"
	"github.com/xiadan/xiadan/ent/merchantcreditsnapshot"
	"github.com/xiadan/xiadan/ent/merchantsanction"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/review"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/viewer"
)

// DisputeSource gives the after-sales figures of merchants since a time. After-sales
// (internal/aftersales) implements it; without one every merchant counts as having had no
// after-sales requests, disputes or arbitration losses.
type DisputeSource interface {
	DisputeStats(ctx context.Context, db *ent.Client, merchantIDs []int, since time.Time) (map[int]DisputeStats, error)
}

// Service computes credit and manages sanctions.
type Service struct {
	Config Config
	// Disputes is where the after-sales inputs come from; nil means none (see DisputeSource).
	Disputes DisputeSource
}

// New returns a service with configuration c and no dispute source.
func New(c Config) *Service { return &Service{Config: c} }

// JobBatch is how many merchants a run of the job recomputes at most.
const JobBatch = 100

// errLost says another process recorded this round of a merchant's credit first.
var errLost = errors.New("credit recomputed meanwhile")

// Gather reads merchant m's inputs over the window ending at now. It reads as the system:
// the inputs are aggregates, and only Compute's result is shown to the public.
func (s *Service) Gather(ctx context.Context, db *ent.Client, m *ent.Merchant, now time.Time) (Inputs, error) {
	sys := viewer.SystemContext(ctx)
	since := now.Add(-s.Config.Window)
	in := Inputs{PromisedShipHours: m.PromisedShipHours}

	// Reviews of the merchant's products written in the window.
	reviews := func() *ent.ReviewQuery {
		return db.Review.Query().Where(review.Hidden(false), review.CreatedAtGTE(since), review.CreatedAtLTE(now),
			review.HasProductWith(product.MerchantID(m.ID)))
	}
	var err error
	if in.Ratings, err = reviews().Count(sys); err != nil {
		return in, fmt.Errorf("counting reviews: %w", err)
	}
	if in.Ratings > 0 {
		if in.RatingSum, err = reviews().Aggregate(ent.Sum(review.FieldRating)).Int(sys); err != nil {
			return in, fmt.Errorf("summing ratings: %w", err)
		}
		if in.PositiveRatings, err = reviews().Where(review.RatingGTE(4)).Count(sys); err != nil {
			return in, fmt.Errorf("counting positive reviews: %w", err)
		}
	}

	// Orders paid in the window, and those of them refunded.
	paid := func() *ent.OrderQuery {
		return db.Order.Query().Where(order.MerchantID(m.ID), order.PaidAtGTE(since), order.PaidAtLTE(now))
	}
	if in.PaidOrders, err = paid().Count(sys); err != nil {
		return in, fmt.Errorf("counting paid orders: %w", err)
	}
	if in.RefundedOrders, err = paid().Where(order.RefundedAmountGT(0)).Count(sys); err != nil {
		return in, fmt.Errorf("counting refunded orders: %w", err)
	}

	// Physical orders against the shipping promise: one that shipped counts, on time or
	// late; one not shipped counts once its promise has passed (late), unless it was
	// cancelled before shipping.
	promise := time.Duration(m.PromisedShipHours) * time.Hour
	shipments, err := paid().Where(order.FulfilmentEQ(order.FulfilmentPHYSICAL)).
		Select(order.FieldPaidAt, order.FieldShippedAt, order.FieldCancelledAt).All(sys)
	if err != nil {
		return in, fmt.Errorf("reading shipments: %w", err)
	}
	for _, o := range shipments {
		switch {
		case o.ShippedAt != nil:
			in.ShipmentsDue++
			if !o.ShippedAt.After(o.PaidAt.Add(promise)) {
				in.ShippedOnTime++
			}
		case o.CancelledAt == nil && now.After(o.PaidAt.Add(promise)):
			in.ShipmentsDue++
		}
	}

	sanctions, err := db.MerchantSanction.Query().Where(merchantsanction.MerchantID(m.ID), inForce(now)).All(sys)
	if err != nil {
		return in, fmt.Errorf("reading sanctions: %w", err)
	}
	for _, sn := range sanctions {
		switch sn.Kind {
		case merchantsanction.KindWARNING:
			in.Warnings++
		case merchantsanction.KindRESTRICTION:
			in.Restrictions++
		case merchantsanction.KindSUSPENSION:
			in.Suspensions++
		case merchantsanction.KindREMOVAL:
			in.Removals++
		}
	}

	if s.Disputes != nil {
		stats, err := s.Disputes.DisputeStats(sys, db, []int{m.ID}, since)
		if err != nil {
			return in, fmt.Errorf("reading after-sales figures: %w", err)
		}
		in.AfterSales = stats[m.ID]
	}
	return in, nil
}

// Breakdown is what the merchant and admins see of how the score came about.
type Breakdown struct {
	Inputs     Inputs             `json:"inputs"`
	Components map[string]float64 `json:"components"`
	Weights    map[string]int     `json:"weights"`
	Penalty    int                `json:"penalty"`
	WindowDays int                `json:"windowDays"`
	// DisputeSource says whether after-sales figures were available.
	DisputeSource bool `json:"disputeSource"`
}

// Recompute computes merchant id's credit now and records it with today's snapshot, in
// db's transaction. Whatever else is recomputing it, the last to commit stands, and every
// result was computed from the rows as they were.
func (s *Service) Recompute(ctx context.Context, db *ent.Client, id int) (*ent.MerchantCredit, error) {
	return s.record(ctx, db, id, nil)
}

// record is Recompute. With staleBefore (the job), it first claims the round with a write
// conditional on the credit being older than staleBefore and on the version it read: of
// two replicas on one merchant, one claims and the other gets errLost and skips (a first
// computation is claimed by the insert, whose unique key makes the second wait and fail).
func (s *Service) record(ctx context.Context, db *ent.Client, id int, staleBefore *time.Time) (*ent.MerchantCredit, error) {
	sys := viewer.SystemContext(ctx)
	now := standing.Now(ctx)
	m, err := db.Merchant.Get(sys, id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("merchant not found")
	}
	if err != nil {
		return nil, err
	}
	prev, err := db.MerchantCredit.Query().Where(merchantcredit.MerchantID(id)).Only(sys)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	if prev != nil && staleBefore != nil {
		n, err := db.MerchantCredit.Update().
			Where(merchantcredit.MerchantID(id), merchantcredit.Version(prev.Version), merchantcredit.ComputedAtLT(*staleBefore)).
			AddVersion(1).Save(sys)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errLost
		}
	}
	in, err := s.Gather(ctx, db, m, now)
	if err != nil {
		return nil, err
	}
	r := Compute(s.Config, in)
	b := Breakdown{Inputs: in, Components: r.Components, Weights: s.Config.Weights, Penalty: r.Penalty,
		WindowDays: int(s.Config.Window / (24 * time.Hour)), DisputeSource: s.Disputes != nil}
	details, err := toMap(b)
	if err != nil {
		return nil, err
	}
	update := func() error {
		return db.MerchantCredit.Update().Where(merchantcredit.MerchantID(id)).
			SetScore(r.Score).SetLevel(r.Level).SetBadges(r.Badges).SetBreakdown(details).
			SetComputedAt(now).AddVersion(1).Exec(sys)
	}
	if prev == nil {
		err = db.MerchantCredit.Create().SetMerchantID(id).SetScore(r.Score).SetLevel(r.Level).
			SetBadges(r.Badges).SetBreakdown(details).SetComputedAt(now).Exec(sys)
		switch {
		case ent.IsConstraintError(err) && staleBefore != nil:
			return nil, errLost
		case ent.IsConstraintError(err):
			// Created meanwhile by the job; this result is as fresh.
			err = update()
		}
	} else {
		err = update()
	}
	if err != nil {
		return nil, err
	}
	day := now.Format(time.DateOnly)
	snap, err := db.MerchantCreditSnapshot.Query().
		Where(merchantcreditsnapshot.MerchantID(id), merchantcreditsnapshot.Day(day)).Only(sys)
	switch {
	case ent.IsNotFound(err):
		err = db.MerchantCreditSnapshot.Create().SetMerchantID(id).SetDay(day).
			SetScore(r.Score).SetLevel(r.Level).SetComputedAt(now).Exec(sys)
		if ent.IsConstraintError(err) {
			err = db.MerchantCreditSnapshot.Update().
				Where(merchantcreditsnapshot.MerchantID(id), merchantcreditsnapshot.Day(day)).
				SetScore(r.Score).SetLevel(r.Level).SetComputedAt(now).Exec(sys)
		}
	case err == nil:
		err = snap.Update().SetScore(r.Score).SetLevel(r.Level).SetComputedAt(now).Exec(sys)
	}
	if err != nil {
		return nil, err
	}
	return db.MerchantCredit.Query().Where(merchantcredit.MerchantID(id)).Only(sys)
}

// RecomputeNow is the admin's recompute of one merchant, audited.
func (s *Service) RecomputeNow(ctx context.Context, db *ent.Client, id int) (*ent.MerchantCredit, error) {
	c, err := s.Recompute(ctx, db, id)
	if err != nil {
		return nil, err
	}
	return c, audit.Record(ctx, db, audit.Entry{Action: "merchant.recompute_credit", TargetType: "Merchant", TargetID: id,
		Details: map[string]any{"score": c.Score, "level": c.Level}})
}

// RunJobs recomputes due credit every interval until ctx ends. Every replica may run it:
// each merchant is recomputed in its own transaction that first claims the round with a
// conditional write (record), so of two replicas on one merchant one records and the
// other skips. Errors are logged and retried on the next run.
func (s *Service) RunJobs(ctx context.Context, db *ent.Client, interval time.Duration, logger *slog.Logger) {
	if interval <= 0 {
		interval = time.Minute
	}
	telemetry.RunJob(ctx, "credit", interval, logger, "credit job: merchants recomputed", func(ctx context.Context) (int, error) {
		return s.RunOnce(ctx, db)
	})
}

// RunOnce recomputes up to JobBatch approved merchants whose credit is missing or older
// than Config.Interval, and returns how many it recorded. Merchants another process
// recorded meanwhile are skipped; an error on one merchant does not stop the others.
func (s *Service) RunOnce(ctx context.Context, db *ent.Client) (int, error) {
	sys := viewer.SystemContext(ctx)
	now := standing.Now(ctx)
	approved := merchant.StatusIn(merchant.StatusACTIVE, merchant.StatusRESTRICTED, merchant.StatusSUSPENDED)
	fresh, err := db.Merchant.Query().Where(approved, withoutCredit).Order(merchant.ByID()).Limit(JobBatch).IDs(sys)
	if err != nil {
		return 0, fmt.Errorf("finding merchants without credit: %w", err)
	}
	staleBefore := now.Add(-s.Config.Interval)
	stale, err := db.MerchantCredit.Query().Where(merchantcredit.ComputedAtLT(staleBefore)).
		Order(merchantcredit.ByComputedAt()).Limit(JobBatch).Select(merchantcredit.FieldMerchantID).Ints(sys)
	if err != nil {
		return 0, fmt.Errorf("finding stale credit: %w", err)
	}
	var errs []error
	done := 0
	for _, id := range append(fresh, stale...) {
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
		tx, err := db.Tx(ctx)
		if err != nil {
			return done, err
		}
		if _, err := s.record(ent.NewTxContext(ctx, tx), tx.Client(), id, &staleBefore); err != nil {
			_ = tx.Rollback()
			if !errors.Is(err, errLost) {
				errs = append(errs, fmt.Errorf("merchant %d: %w", id, err))
			}
			continue
		}
		if err := tx.Commit(); err != nil {
			errs = append(errs, fmt.Errorf("merchant %d: %w", id, err))
			continue
		}
		done++
	}
	return done, errors.Join(errs...)
}

// withoutCredit keeps the merchants that have no credit row yet.
func withoutCredit(s *sql.Selector) {
	t := sql.Table(merchantcredit.Table)
	s.Where(sql.NotExists(sql.Dialect(s.Dialect()).Select(t.C(merchantcredit.FieldID)).From(t).
		Where(sql.ColumnsEQ(t.C(merchantcredit.FieldMerchantID), s.C(merchant.FieldID)))))
}

// toMap turns b into the JSON object stored in the credit row.
func toMap(b Breakdown) (map[string]any, error) {
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(raw, &out)
}
