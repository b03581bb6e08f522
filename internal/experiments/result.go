package experiments

import (
	"context"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/experimentexposure"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Result is an experiment's comparison of its arms.
type Result struct {
	Experiment *View
	Arms       []*ArmResult
}

// ArmResult is one arm's figures. Revenue is in minor units of the platform currency.
type ArmResult struct {
	Arm     string
	Control bool
	// Exposed users, and those of them with at least one order that still counts.
	Exposed, Converting int
	// Revenue is the arm's revenue net of refunds and cancellations.
	Revenue int64
	// ConversionRate is Converting/Exposed with its Wilson interval.
	ConversionRate Interval
	// RevenuePerUser is the mean revenue per exposed user (non-converters count as 0)
	// with its normal-approximation interval.
	RevenuePerUser Interval
	// The differences from the control arm (nil for the control itself).
	ConversionRateDiff *Interval
	RevenuePerUserDiff *Interval
}

// armMoments is one arm's aggregates, read in one statement from the exposures' running
// per-user sums: COUNT(*), SUM(orders > 0), SUM(revenue), SUM(revenue * revenue).
type armMoments struct {
	Arm        string  `json:"arm"`
	Exposed    int     `json:"exposed"`
	Converting int     `json:"converting"`
	Sum        float64 `json:"sum"`
	Sq         float64 `json:"sq"`
}

// Result computes experiment key's result for an admin (docs/PROMOTIONS-growth.md shows
// the formulas with a worked example). Arms without exposures show zeros.
func (s *Service) Result(ctx context.Context, db *ent.Client, key string) (*Result, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	e, err := s.load(sys, db, key)
	if err != nil {
		return nil, err
	}
	var rows []armMoments
	err = db.ExperimentExposure.Query().Where(experimentexposure.ExperimentID(e.ID)).
		GroupBy(experimentexposure.FieldArm).
		Aggregate(ent.As(ent.Count(), "exposed"),
			func(s *sql.Selector) string {
				return sql.As("SUM(CASE WHEN "+s.C(experimentexposure.FieldOrders)+" > 0 THEN 1 ELSE 0 END)", "converting")
			},
			func(s *sql.Selector) string {
				return sql.As("SUM("+s.C(experimentexposure.FieldRevenue)+")", "sum")
			},
			func(s *sql.Selector) string {
				c := s.C(experimentexposure.FieldRevenue)
				// Times 1.0: a DECIMAL on MySQL and a REAL on SQLite, as the square of a large
				// revenue overflows a 64-bit integer.
				return sql.As("SUM("+c+" * 1.0 * "+c+")", "sq")
			}).
		Scan(sys, &rows)
	if err != nil {
		return nil, err
	}
	byArm := map[string]armMoments{}
	for _, r := range rows {
		byArm[r.Arm] = r
	}
	res := &Result{Experiment: viewOf(e)}
	c := byArm[e.ControlArm]
	cm := Moments{N: c.Exposed, Sum: c.Sum, Sq: c.Sq}
	for _, a := range e.Edges.Arms {
		r := byArm[a.Key]
		m := Moments{N: r.Exposed, Sum: r.Sum, Sq: r.Sq}
		ar := &ArmResult{Arm: a.Key, Control: a.Key == e.ControlArm, Exposed: r.Exposed, Converting: r.Converting,
			Revenue: int64(r.Sum), ConversionRate: Wilson(r.Converting, r.Exposed), RevenuePerUser: m.MeanInterval()}
		if !ar.Control {
			d := DiffRates(r.Converting, r.Exposed, c.Converting, c.Exposed)
			dm := DiffMeans(m, cm)
			ar.ConversionRateDiff, ar.RevenuePerUserDiff = &d, &dm
		}
		res.Arms = append(res.Arms, ar)
	}
	return res, nil
}
