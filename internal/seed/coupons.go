package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/coupontemplate"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/user"
)

// coupons issues the demo coupons (internal/coupons) after the orders, so they do not
// change the seeded orders' totals: a platform coupon (满99减10) and a shop coupon of the
// first trading shop (满200减30), both claimable, and a private code; the first demo
// customer holds one of each, so the demo cart shows the discount.
func (s *seeder) coupons(ctx context.Context, client *ent.Client) error {
	return inTx(ctx, client, func(ctx context.Context, c *ent.Client) error {
		now := time.Now().UTC().Truncate(time.Second)
		m, err := c.Merchant.Query().Where(merchant.StatusEQ(merchant.StatusACTIVE)).Order(ent.Asc(merchant.FieldID)).First(ctx)
		if err != nil {
			return fmt.Errorf("a trading shop: %w", err)
		}
		buyer, err := c.User.Query().Where(user.Email(customers[0].email)).Only(ctx)
		if err != nil {
			return fmt.Errorf("the demo customer: %w", err)
		}
		code := "XIADAN2026"
		templates := []*ent.CouponTemplateCreate{
			c.CouponTemplate.Create().SetName("平台新人券").SetKind(coupontemplate.KindFIXED).SetAmount(1000).
				SetThreshold(9900).SetScope(coupontemplate.ScopeALL).SetValidDays(30).SetTotalLimit(1000).SetPerUserLimit(1),
			c.CouponTemplate.Create().SetMerchantID(m.ID).SetCurrency(m.Currency).SetName(m.Name + " 店铺券").
				SetKind(coupontemplate.KindFIXED).SetAmount(3000).SetThreshold(20000).SetScope(coupontemplate.ScopeALL).
				SetValidDays(14).SetTotalLimit(200).SetPerUserLimit(2),
			c.CouponTemplate.Create().SetName("九折券 (code " + code + ")").SetCode(code).SetKind(coupontemplate.KindPERCENT).
				SetPercentBp(1000).SetMaxDiscount(5000).SetScope(coupontemplate.ScopeALL).SetValidDays(7).SetPerUserLimit(1),
		}
		for _, t := range templates {
			t.SetCreatedAt(now).SetUpdatedAt(now)
		}
		ts, err := c.CouponTemplate.CreateBulk(templates...).Save(ctx)
		if err != nil {
			return err
		}
		for _, t := range ts[:2] {
			if err := c.Coupon.Create().SetTemplateID(t.ID).SetUserID(buyer.ID).SetSeq(1).SetNillableMerchantID(t.MerchantID).
				SetValidFrom(now).SetValidUntil(now.AddDate(0, 0, t.ValidDays)).SetClaimedAt(now).Exec(ctx); err != nil {
				return err
			}
			if err := c.CouponTemplate.UpdateOne(t).AddClaimedCount(1).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}
