package seed

import (
	"context"
	"fmt"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/membership"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/members"
)

// demoTiers are the platform's VIP tiers (amounts in fen).
var demoTiers = []members.TierInput{
	{Code: "SILVER", Name: "白银会员 Silver", Level: 1, MinSpend: ptr("100.00"), MinOrders: ptr(2)},
	{Code: "GOLD", Name: "黄金会员 Gold", Level: 2, MinSpend: ptr("1000.00"), MinOrders: ptr(5), DiscountBps: ptr(500),
		DiscountCap: ptr("20.00"), FreeShipping: ptr(true), FreeShippingMin: ptr("99.00")},
	{Code: "PLATINUM", Name: "铂金会员 Platinum", Level: 3, MinSpend: ptr("5000.00"), MinOrders: ptr(10), MatchAll: ptr(true),
		DiscountBps: ptr(1000), DiscountCap: ptr("50.00"), FreeShipping: ptr(true)},
}

// members seeds the VIP tiers, computes every customer's tier from the demo orders, grants
// the first demo customer GOLD if the orders did not earn it (so the demo cart shows the
// benefits; the job's recompute a day later keeps what the orders earn), sets member
// prices on the tea house's first variants (SILVER 95%, GOLD 90% of the list price) and
// gives it a 老客 group: customers with at least two paid orders.
func (s *seeder) members(ctx context.Context, client *ent.Client) error {
	svc := members.New(members.DefaultConfig())
	tiers := map[string]*ent.MemberTier{}
	err := inTx(ctx, client, func(ctx context.Context, c *ent.Client) error {
		for _, in := range demoTiers {
			t, err := svc.CreateTier(ctx, c, in)
			if err != nil {
				return fmt.Errorf("tier %s: %w", in.Code, err)
			}
			tiers[t.Code] = t
		}
		shop, err := c.Merchant.Query().Where(merchant.Slug("tea-house")).Only(ctx)
		if err != nil {
			return err
		}
		variants, err := c.ProductVariant.Query().Where(productvariant.MerchantID(shop.ID)).
			Order(productvariant.ByID()).Limit(4).All(ctx)
		if err != nil {
			return err
		}
		for _, v := range variants {
			for code, pct := range map[string]int64{"SILVER": 95, "GOLD": 90} {
				price := v.Price * pct / 100
				if price <= 0 || price >= v.Price {
					continue
				}
				if err := c.MemberPrice.Create().SetVariantID(v.ID).SetTierID(tiers[code].ID).SetMerchantID(shop.ID).
					SetPrice(price).SetCurrency(v.Currency).Exec(ctx); err != nil {
					return err
				}
			}
		}
		return c.CustomerGroup.Create().SetMerchantID(shop.ID).SetName("老客").SetMinPaidOrders(2).Exec(ctx)
	})
	if err != nil {
		return err
	}
	// Memberships of every customer with paid orders, and the group's rule.
	for {
		n, err := svc.RunOnce(ctx, client)
		if err != nil {
			return err
		}
		if n < members.JobBatch {
			break
		}
	}
	demo, err := client.User.Query().Where(user.Email(customers[0].email)).Only(ctx)
	if err != nil {
		return err
	}
	m, err := svc.Upgrade(ctx, client, demo.ID)
	if err != nil {
		return err
	}
	if m.TierID == nil || *m.TierID != tiers["GOLD"].ID && *m.TierID != tiers["PLATINUM"].ID {
		return client.Membership.Update().Where(membership.UserID(demo.ID)).SetTierID(tiers["GOLD"].ID).
			SetTierSince(m.ComputedAt).Exec(ctx)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
