package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/redpacketcampaign"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/redpackets"
	"github.com/xiadan/xiadan/internal/viewer"
)

// redPackets starts a week-long platform red-packet rain (¥1000 in 200 random packets of
// ¥1 to ¥20, one per customer, spendable for 72 hours) and lets the first demo customer
// claim a packet, so the demo cart has red-packet credit to spend
// (docs/PROMOTIONS-redpackets.md).
func (s *seeder) redPackets(ctx context.Context, client *ent.Client) error {
	svc := redpackets.New(nil, "", nil) // the database path: the seed runs without Redis
	now := s.gen.now
	svc.Now = func() time.Time { return now }
	return inTx(ctx, client, func(ctx context.Context, c *ent.Client) error {
		lo, hi, limit, hours := int64(100), int64(2000), 1, 72
		camp, err := svc.Create(ctx, c, redpackets.CreateInput{
			Name: "双12红包雨 Double-12 red-packet rain", Currency: "CNY", Split: redpacketcampaign.SplitRANDOM,
			Budget: 100000, Count: 200, MinAmount: &lo, MaxAmount: &hi,
			StartsAt: now.Add(-time.Hour), EndsAt: now.AddDate(0, 0, 7), PerUserLimit: &limit, ValidityHours: &hours,
		})
		if err != nil {
			return fmt.Errorf("campaign: %w", err)
		}
		u, err := c.User.Query().Where(user.Email(customers[0].email)).Only(ctx)
		if err != nil {
			return fmt.Errorf("demo customer: %w", err)
		}
		_, err = svc.Claim(viewer.NewContext(ctx, &viewer.Viewer{UserID: u.ID, Roles: []viewer.Role{viewer.RoleCustomer}}), c, camp.ID)
		return err
	})
}
