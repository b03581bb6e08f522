package experiments

import (
	"context"
	"strings"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/experiment"
	"github.com/xiadan/xiadan/ent/experimentexposure"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Audience is the pricing.AudienceChecker for "experiment:<key>/<arm>": a user belongs to
// it when they were assigned arm <arm> of experiment <key> AND exposed to it (they asked
// for their assignment). Assignment alone is not enough: a coupon meant for arm B must not
// reach users who never saw the experiment, or the arms would no longer compare like with
// like. The experiment need not still run: users keep what their arm gave them.
type Audience struct{}

var _ pricing.AudienceChecker = Audience{}

// Audience returns the audience checker to register with coupons and promotions.
func (s *Service) Audience() Audience { return Audience{} }

// Prefix is "experiment".
func (Audience) Prefix() string { return "experiment" }

// InAudience answers in one statement; a malformed name is false.
func (Audience) InAudience(ctx context.Context, db *ent.Client, userID int, rest string) (bool, error) {
	key, arm, ok := strings.Cut(rest, "/")
	if !ok || key == "" || arm == "" || userID == 0 {
		return false, nil
	}
	return db.ExperimentExposure.Query().Where(
		experimentexposure.UserID(userID), experimentexposure.Arm(arm),
		func(s *sql.Selector) {
			t := sql.Table(experiment.Table)
			s.Where(sql.In(s.C(experimentexposure.FieldExperimentID),
				sql.Select(t.C(experiment.FieldID)).From(t).Where(sql.EQ(t.C(experiment.FieldKey), key))))
		}).Exist(viewer.SystemContext(ctx))
}

// MayTarget keeps experiments the platform's: a merchant aiming at an arm would skew the
// platform's results.
func (Audience) MayTarget(_ context.Context, _ *ent.Client, merchantID int, _ string) (bool, error) {
	return merchantID == 0, nil
}
