package seed

import (
	"context"
	"fmt"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/merchantsanction"
	"github.com/xiadan/xiadan/internal/credit"
)

// demoSanctions are the platform's sanctions on demo shops, by slug: a warning the tea
// house can see, and a restriction the toy club answered with an appeal.
var demoSanctions = []struct {
	slug   string
	kind   merchantsanction.Kind
	reason string
	hours  int
	appeal string
}{
	{"tea-house", merchantsanction.KindWARNING, "发货超时 3 次 Three orders shipped past the promise this month", 24 * 30, ""},
	{"toy-club", merchantsanction.KindRESTRICTION, "商品描述与实物不符 Listings did not match the goods (complaints #1042, #1057)", 24 * 7,
		"已下架相关商品并更新描述 We delisted the products concerned and corrected their descriptions."},
}

// credit imposes the demo sanctions and computes every approved shop's credit (with the
// default CREDIT_* settings), after the orders, so the scores come from them.
func (s *seeder) credit(ctx context.Context, client *ent.Client) error {
	svc := credit.New(credit.DefaultConfig())
	err := inTx(ctx, client, func(ctx context.Context, c *ent.Client) error {
		for _, d := range demoSanctions {
			m, err := c.Merchant.Query().Where(merchant.Slug(d.slug)).Only(ctx)
			if err != nil {
				return fmt.Errorf("shop %s: %w", d.slug, err)
			}
			hours := d.hours
			sn, err := svc.Impose(ctx, c, credit.ImposeInput{MerchantID: m.ID, Kind: d.kind, Reason: d.reason, DurationHours: &hours})
			if err != nil {
				return fmt.Errorf("sanction on %s: %w", d.slug, err)
			}
			if d.appeal != "" {
				if err := c.MerchantSanction.UpdateOne(sn).SetAppealNote(d.appeal).SetAppealedAt(sn.CreatedAt).
					SetAppealedByID(m.OwnerID).Exec(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for {
		n, err := svc.RunOnce(ctx, client)
		if err != nil {
			return err
		}
		if n < credit.JobBatch {
			return nil
		}
	}
}
