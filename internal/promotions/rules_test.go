package promotions_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/promotion"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/promotions"
	"github.com/xiadan/xiadan/internal/testdb"
)

// gold is an audience checker: user 7 is in tier:GOLD, nobody else in anything.
type gold struct{}

func (gold) Prefix() string { return "tier" }
func (gold) InAudience(_ context.Context, _ *ent.Client, userID int, rest string) (bool, error) {
	return userID == 7 && rest == "GOLD", nil
}

// memberPrice proposes a unit price for line 0, as a member price would.
type memberPrice struct{ price int64 }

func (memberPrice) Stage() pricing.Stage { return pricing.StagePrice }
func (m memberPrice) Quote(_ context.Context, _ *ent.Client, b *pricing.Basket) error {
	b.ProposePrice(0, m.price, pricing.Adjustment{Kind: pricing.KindMemberPrice, FundedBy: pricing.FundedByMerchant})
	return nil
}
func (memberPrice) Commit(context.Context, *ent.Client, *pricing.Basket, map[int]int) error {
	return nil
}

func fr(t ...int64) func(*ent.PromotionCreate) {
	return func(c *ent.PromotionCreate) { c.SetTiers(tiers(t...)) }
}

// TestRules runs the promotions' rules over baskets built from real rows, on SQLite and
// MySQL: each case is its own merchant in one database per dialect.
func TestRules(t *testing.T) {
	t.Parallel()
	type tc struct {
		name  string
		items []item
		setup func(w *world)
		user  int
		at    time.Time
		// extra providers run with ours (a member price).
		extra []pricing.Provider
		// want is the merchant's goods discount; kinds the adjustments' kinds in order.
		want  int64
		kinds []pricing.Kind
	}
	tiered := fr(100, 10, 200, 30, 300, 50)
	cases := []tc{
		{name: "below the first tier", items: []item{{9999, 1, 0}}, setup: func(w *world) { w.promo(promotion.KindFULL_REDUCTION, tiered) }, want: 0},
		{name: "exactly the first tier", items: []item{{5000, 2, 0}}, setup: func(w *world) { w.promo(promotion.KindFULL_REDUCTION, tiered) },
			want: 1000, kinds: []pricing.Kind{pricing.KindFullReduction}},
		{name: "just below the second tier", items: []item{{19999, 1, 0}}, setup: func(w *world) { w.promo(promotion.KindFULL_REDUCTION, tiered) }, want: 1000},
		{name: "exactly the second tier", items: []item{{10000, 1, 0}, {10000, 1, 1}}, setup: func(w *world) { w.promo(promotion.KindFULL_REDUCTION, tiered) }, want: 3000},
		{name: "beyond the last tier", items: []item{{100000, 1, 0}}, setup: func(w *world) { w.promo(promotion.KindFULL_REDUCTION, tiered) }, want: 5000},
		{name: "repeating without cap", items: []item{{35000, 1, 0}}, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, func(c *ent.PromotionCreate) { c.SetTiers(tiers(100, 10)).SetRepeating(true) })
		}, want: 3000},
		{name: "repeating with its cap", items: []item{{35000, 1, 0}}, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, func(c *ent.PromotionCreate) { c.SetTiers(tiers(100, 10)).SetRepeating(true).SetMaxOff(2500) })
		}, want: 2500},
		{name: "the best of two full reductions, only one", items: []item{{20000, 1, 0}}, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, fr(100, 10))
			w.promo(promotion.KindFULL_REDUCTION, fr(200, 25))
			w.promo(promotion.KindFULL_REDUCTION, fr(150, 20))
		}, want: 2500, kinds: []pricing.Kind{pricing.KindFullReduction}},
		{name: "buy 2 get 1: the cheapest unit free", items: []item{{3000, 2, 0}, {1000, 1, 0}}, setup: func(w *world) {
			w.promo(promotion.KindBUY_N_GET_M, func(c *ent.PromotionCreate) { c.SetBuyQuantity(2).SetFreeQuantity(1) })
		}, want: 1000, kinds: []pricing.Kind{pricing.KindBuyNGetM}},
		{name: "buy 2 get 1 over six units: the two cheapest", items: []item{{5000, 3, 0}, {2000, 3, 0}}, setup: func(w *world) {
			w.promo(promotion.KindBUY_N_GET_M, func(c *ent.PromotionCreate) { c.SetBuyQuantity(2).SetFreeQuantity(1) })
		}, want: 4000},
		{name: "buy 2 get 1 with two units: nothing", items: []item{{5000, 2, 0}}, setup: func(w *world) {
			w.promo(promotion.KindBUY_N_GET_M, func(c *ent.PromotionCreate) { c.SetBuyQuantity(2).SetFreeQuantity(1) })
		}, want: 0},
		{name: "category scope counts only its lines", items: []item{{6000, 1, 1}, {6000, 1, 2}}, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, func(c *ent.PromotionCreate) {
				c.SetTiers(tiers(100, 10)).SetScope(promotion.ScopeCATEGORIES).SetCategoryIds([]int{w.cats[1]})
			})
		}, want: 0},
		{name: "category scope reached", items: []item{{6000, 2, 1}, {6000, 1, 2}}, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, func(c *ent.PromotionCreate) {
				c.SetTiers(tiers(100, 10)).SetScope(promotion.ScopeCATEGORIES).SetCategoryIds([]int{w.cats[1]})
			})
		}, want: 1000},
		{name: "product scope", items: []item{{6000, 1, 1}, {6000, 1, 2}, {90000, 1, 0}}, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, func(c *ent.PromotionCreate) {
				c.SetTiers(tiers(100, 10)).SetScope(promotion.ScopePRODUCTS).SetProductIds([]int{w.products[0], w.products[1]})
			})
		}, want: 1000},
		{name: "not started yet", items: []item{{20000, 1, 0}}, at: base.Add(-2 * time.Hour),
			setup: func(w *world) { w.promo(promotion.KindFULL_REDUCTION, tiered) }, want: 0},
		{name: "at its start", items: []item{{20000, 1, 0}}, at: base.Add(-time.Hour),
			setup: func(w *world) { w.promo(promotion.KindFULL_REDUCTION, tiered) }, want: 3000},
		{name: "at its end", items: []item{{20000, 1, 0}}, at: base.Add(time.Hour),
			setup: func(w *world) { w.promo(promotion.KindFULL_REDUCTION, tiered) }, want: 0},
		{name: "paused", items: []item{{20000, 1, 0}}, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, func(c *ent.PromotionCreate) { tiered(c); c.SetStatus(promotion.StatusPAUSED) })
		}, want: 0},
		{name: "ended", items: []item{{20000, 1, 0}}, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, func(c *ent.PromotionCreate) { tiered(c); c.SetStatus(promotion.StatusENDED) })
		}, want: 0},
		{name: "draft", items: []item{{20000, 1, 0}}, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, func(c *ent.PromotionCreate) { tiered(c); c.SetStatus(promotion.StatusDRAFT) })
		}, want: 0},
		{name: "audience: a member", items: []item{{20000, 1, 0}}, user: 7, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, func(c *ent.PromotionCreate) { tiered(c); c.SetAudiences([]string{"tier:GOLD"}) })
		}, want: 3000},
		{name: "audience: not a member", items: []item{{20000, 1, 0}}, user: 8, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, func(c *ent.PromotionCreate) { tiered(c); c.SetAudiences([]string{"tier:GOLD"}) })
		}, want: 0},
		{name: "audience: an unknown prefix matches nobody", items: []item{{20000, 1, 0}}, user: 7, setup: func(w *world) {
			w.promo(promotion.KindFULL_REDUCTION, func(c *ent.PromotionCreate) { tiered(c); c.SetAudiences([]string{"group:GOLD"}) })
		}, want: 0},
		{name: "another merchant's promotion", items: []item{{20000, 1, 0}}, setup: func(w *world) {
			other := newWorld(w.t, w.client)
			other.promo(promotion.KindFULL_REDUCTION, tiered)
		}, want: 0},
		{name: "never below zero", items: []item{{5000, 2, 0}}, setup: func(w *world) {
			w.promo(promotion.KindBUY_N_GET_M, func(c *ent.PromotionCreate) { c.SetBuyQuantity(1).SetFreeQuantity(1) })
			w.promo(promotion.KindFULL_REDUCTION, fr(50, 50))
		}, want: 10000, kinds: []pricing.Kind{pricing.KindBuyNGetM, pricing.KindFullReduction}},
		{name: "buy N get M first, then the full reduction on what is left", items: []item{{5000, 3, 0}}, setup: func(w *world) {
			w.promo(promotion.KindBUY_N_GET_M, func(c *ent.PromotionCreate) { c.SetBuyQuantity(2).SetFreeQuantity(1) })
			w.promo(promotion.KindFULL_REDUCTION, tiered) // 15000 - 5000 = 10000: 满100减10
		}, want: 6000, kinds: []pricing.Kind{pricing.KindBuyNGetM, pricing.KindFullReduction}},
		{name: "a flash price lowers what the full reduction counts", items: []item{{10000, 1, 0}}, setup: func(w *world) {
			w.flash(0, 8000, 10, 0, 0)
			w.promo(promotion.KindFULL_REDUCTION, tiered)
		}, want: 2000, kinds: []pricing.Kind{pricing.KindFlashSale}},
		{name: "flash price and full reduction both", items: []item{{10000, 3, 0}}, setup: func(w *world) {
			w.flash(0, 8000, 10, 0, 0)                    // 24000
			w.promo(promotion.KindFULL_REDUCTION, tiered) // 满200减30
		}, want: 9000, kinds: []pricing.Kind{pricing.KindFlashSale, pricing.KindFullReduction}},
		{name: "flash beats a higher member price", items: []item{{10000, 1, 0}}, extra: []pricing.Provider{memberPrice{8500}},
			setup: func(w *world) { w.flash(0, 8000, 10, 0, 0) }, want: 2000, kinds: []pricing.Kind{pricing.KindFlashSale}},
		{name: "a lower member price beats flash", items: []item{{10000, 1, 0}}, extra: []pricing.Provider{memberPrice{7000}},
			setup: func(w *world) { w.flash(0, 8000, 10, 0, 0) }, want: 3000, kinds: []pricing.Kind{pricing.KindMemberPrice}},
		{name: "more than the cap leaves: full price", items: []item{{10000, 2, 0}},
			setup: func(w *world) { w.flash(0, 8000, 5, 4, 0) }, want: 0},
		{name: "exactly what the cap leaves", items: []item{{10000, 2, 0}},
			setup: func(w *world) { w.flash(0, 8000, 5, 3, 0) }, want: 4000},
		{name: "more than the per-user limit: full price", items: []item{{10000, 3, 0}}, user: 9,
			setup: func(w *world) { w.flash(0, 8000, 50, 0, 2) }, want: 0},
		{name: "the per-user limit counts earlier purchases", items: []item{{10000, 2, 0}}, user: 9, setup: func(w *world) {
			it := w.flash(0, 8000, 50, 1, 2)
			w.client.FlashSaleClaim.Create().SetItemID(it.ID).SetUserID(9).SetQuantity(1).ExecX(w.ctx)
		}, want: 0},
		{name: "a flash sale ended by its merchant", items: []item{{10000, 1, 0}}, setup: func(w *world) {
			it := w.flash(0, 8000, 50, 0, 0)
			w.client.Promotion.UpdateOneID(it.PromotionID).SetStatus(promotion.StatusENDED).ExecX(w.ctx)
		}, want: 0},
	}
	svc := promotions.New(gold{})
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			client := testdb.Open(t, d.URL(t), database.Options{}).Client
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					w := newWorld(t, client, c.items...)
					c.setup(w)
					at := c.at
					if at.IsZero() {
						at = base
					}
					b := w.basket(c.user, at)
					providers := append([]pricing.Provider{svc.Automatic(), svc.FlashSale()}, c.extra...)
					if err := pricing.Run(context.Background(), client, b, providers); err != nil {
						t.Fatal(err)
					}
					tot := b.TotalsOf(w.merchant)
					if tot.Discount != c.want {
						t.Errorf("discount %d, want %d (adjustments %s)", tot.Discount, c.want, describe(b))
					}
					if tot.Total < 0 {
						t.Errorf("total %d below zero", tot.Total)
					}
					if c.kinds != nil {
						var kinds []pricing.Kind
						for _, a := range b.Adjustments {
							kinds = append(kinds, a.Kind)
						}
						if len(kinds) != len(c.kinds) {
							t.Fatalf("kinds %v, want %v", kinds, c.kinds)
						}
						for i := range kinds {
							if kinds[i] != c.kinds[i] {
								t.Fatalf("kinds %v, want %v", kinds, c.kinds)
							}
						}
					}
				})
			}
		})
	}
}

func describe(b *pricing.Basket) string {
	s := ""
	for _, a := range b.Adjustments {
		s += string(a.Kind) + ":" + a.Label + " " + strconv.FormatInt(a.Amount, 10) + "; "
	}
	return s
}
