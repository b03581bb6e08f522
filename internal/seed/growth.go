package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/creator"
	"github.com/xiadan/xiadan/ent/experiment"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/user"
)

// Demo growth data (docs/PROMOTIONS-growth.md): a running experiment comparing two coupon
// values, and a creator with a code whose orders at the tea house earn 8%.
const (
	DemoExperimentKey = "coupon-value"
	DemoCreatorEmail  = "emma@demo.xiadan.dev"
	DemoCreatorCode   = "EMMA2026"
)

// growth writes the demo experiment, creator and commission rule.
func (s *seeder) growth(ctx context.Context, client *ent.Client) error {
	return inTx(ctx, client, func(ctx context.Context, c *ent.Client) error {
		now := time.Now().UTC().Truncate(time.Microsecond)
		e, err := c.Experiment.Create().SetKey(DemoExperimentKey).SetName("满100减10 vs 满100减15 coupon value").
			SetStatus(experiment.StatusRUNNING).SetStartsAt(now.AddDate(0, 0, -1)).SetEndsAt(now.AddDate(0, 1, 0)).
			SetControlArm("ten").Save(ctx)
		if err != nil {
			return fmt.Errorf("experiment: %w", err)
		}
		for i, a := range []struct {
			key   string
			value int
		}{{"ten", 1000}, {"fifteen", 1500}} {
			if err := c.ExperimentArm.Create().SetExperimentID(e.ID).SetKey(a.key).SetPosition(i).SetWeight(50).
				SetPayload(map[string]any{"couponValue": a.value, "audience": "experiment:" + DemoExperimentKey + "/" + a.key}).
				Exec(ctx); err != nil {
				return fmt.Errorf("arm %s: %w", a.key, err)
			}
		}
		u, err := c.User.Query().Where(user.Email(DemoCreatorEmail)).Only(ctx)
		if err != nil {
			return fmt.Errorf("creator user: %w", err)
		}
		cr, err := c.Creator.Create().SetUserID(u.ID).SetDisplayName("Emma 的好物分享").
			SetStatus(creator.StatusAPPROVED).SetApprovedAt(now).Save(ctx)
		if err != nil {
			return fmt.Errorf("creator: %w", err)
		}
		if err := c.CreatorLink.Create().SetCreatorID(cr.ID).SetCreatorUserID(u.ID).SetCode(DemoCreatorCode).
			SetCreatedAt(now).Exec(ctx); err != nil {
			return fmt.Errorf("creator code: %w", err)
		}
		m, err := c.Merchant.Query().Where(merchant.Slug("tea-house")).Only(ctx)
		if err != nil {
			return fmt.Errorf("tea house: %w", err)
		}
		return c.CommissionRule.Create().SetMerchantID(m.ID).SetRateBps(800).SetWindowDays(7).Exec(ctx)
	})
}
