package members_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/members"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/testdb"
)

type countKey struct{}

// counting wraps a driver so that statements sent with a context from counted are counted.
func counting(d dialect.Driver) dialect.Driver {
	return dialect.DebugWithContext(d, func(ctx context.Context, _ ...any) {
		if n, ok := ctx.Value(countKey{}).(*atomic.Int64); ok {
			n.Add(1)
		}
	})
}

func counted(ctx context.Context) (context.Context, *atomic.Int64) {
	n := &atomic.Int64{}
	return context.WithValue(ctx, countKey{}, n), n
}

// flash proposes a flash-sale price for one line, as the promotions engine would.
type flash struct {
	line  int
	price int64
}

func (flash) Stage() pricing.Stage { return pricing.StagePrice }
func (f flash) Quote(_ context.Context, _ *ent.Client, b *pricing.Basket) error {
	b.ProposePrice(f.line, f.price, pricing.Adjustment{Kind: pricing.KindFlashSale, FundedBy: pricing.FundedByMerchant})
	return nil
}
func (flash) Commit(context.Context, *ent.Client, *pricing.Basket, map[int]int) error { return nil }

// basket builds a basket of the variants (id → quantity, in the order given) from their
// rows, with the shop's 10.00 shipping fee.
func (w *world) basket(t *testing.T, user int, lines ...[2]int) *pricing.Basket {
	t.Helper()
	client, ctx := w.s.Client()
	var ls []*pricing.Line
	for _, l := range lines {
		v := client.ProductVariant.GetX(ctx, l[0])
		ls = append(ls, &pricing.Line{VariantID: v.ID, ProductID: v.ProductID, MerchantID: v.MerchantID, Quantity: l[1], ListPrice: v.Price})
	}
	return pricing.NewBasket(user, "CNY", w.now(), ls, map[int]int64{w.shop.IntID: 1000})
}

func kinds(b *pricing.Basket) map[pricing.Kind]int64 {
	out := map[pricing.Kind]int64{}
	for _, a := range b.Adjustments {
		out[a.Kind] += a.Amount + a.ShippingAmount
	}
	return out
}

// TestProviders prices real baskets with the member providers, on rows written through
// GraphQL: the lowest of a flash-sale and a member price wins per line; a higher tier gets
// a lower tier's member price; the tier discount skips member-priced lines, is capped and
// spread; free shipping needs the threshold after discounts; nothing goes below zero; all
// member benefits of a quote cost at most two statements (none for a guest). The audience
// checker of tiers counts higher tiers in.
func TestProviders(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := buildWorld(t, apitest.NewWithDriver(t, d.URL(t), counting), nil)
			ids := w.tiers(t)
			_, bVariant := w.s.NewProduct(t, w.shop, "茶点 Snack", product.KindPHYSICAL, "SNACK-1", 2000, 100)
			a := strconv.Itoa(w.variantID)
			w.s.MustQuery(w.shop.Owner.AccessToken, setPriceM, map[string]any{"v": a, "t": ids["GOLD"], "p": "80.00"})
			w.s.MustQuery(w.shop.Owner.AccessToken, setPriceM, map[string]any{"v": a, "t": ids["SILVER"], "p": "90.00"})
			w.paid(t, w.buyer, w.shop, 100000, w.now())      // 1000.00: GOLD
			w.paid(t, w.second, w.shop, 10000, w.now())      // 100.00: SILVER
			plat := w.s.Register("plat@example.com", "Plat") // PLATINUM by hand below
			svc := w.s.App.Members
			for _, u := range []apitest.Session{w.buyer, w.second} {
				if _, err := svc.Upgrade(w.ctx(), w.s.DB.Client, uid(u)); err != nil {
					t.Fatal(err)
				}
			}
			quote := func(b *pricing.Basket, extra ...pricing.Provider) int64 {
				t.Helper()
				ctx, n := counted(w.ctx())
				if err := pricing.Run(ctx, w.s.DB.Client, b, append(extra, svc.Providers()...)); err != nil {
					t.Fatal(err)
				}
				return n.Load()
			}

			// GOLD: member price 80.00 beats the flash sale's 85.00 on A; 5% of B's 100.00
			// is 5.00, capped at 3.00, and A (member-priced) takes none; shipping is free.
			b := w.basket(t, uid(w.buyer), [2]int{w.variantID, 1}, [2]int{bVariant, 5})
			if n := quote(b, flash{0, 8500}); n != 2 {
				t.Errorf("a GOLD quote took %d statements, want 2", n)
			}
			k := kinds(b)
			tot := b.TotalsOf(0)
			if k[pricing.KindMemberPrice] != 2000 || k[pricing.KindFlashSale] != 0 || k[pricing.KindTierDiscount] != 300 ||
				k[pricing.KindFreeShipping] != 1000 || b.Lines[0].Discount != 2000 || b.Lines[1].Discount != 300 ||
				tot != (pricing.Totals{Subtotal: 20000, Discount: 2300, Shipping: 1000, ShippingDiscount: 1000, Total: 17700}) {
				t.Errorf("GOLD with a flash sale at 85.00: %v %+v", k, tot)
			}
			for _, adj := range b.Adjustments {
				if adj.Kind == pricing.KindTierDiscount && (adj.FundedBy != pricing.FundedByPlatform || adj.MerchantID != w.shop.IntID) {
					t.Errorf("the tier discount is the platform's: %+v", adj)
				}
			}

			// A flash sale at 70.00 wins on A; the tier discount is then spread over both lines.
			b = w.basket(t, uid(w.buyer), [2]int{w.variantID, 1}, [2]int{bVariant, 5})
			quote(b, flash{0, 7000})
			k = kinds(b)
			if k[pricing.KindFlashSale] != 3000 || k[pricing.KindMemberPrice] != 0 || k[pricing.KindTierDiscount] != 300 ||
				b.Lines[0].Discount != 3000+124 || b.Lines[1].Discount != 176 {
				t.Errorf("GOLD with a flash sale at 70.00: %v lines %d %d", k, b.Lines[0].Discount, b.Lines[1].Discount)
			}

			// SILVER: 90.00, no discount, no free shipping.
			b = w.basket(t, uid(w.second), [2]int{w.variantID, 2})
			if n := quote(b); n != 2 {
				t.Errorf("a SILVER quote took %d statements", n)
			}
			if k := kinds(b); len(k) != 1 || k[pricing.KindMemberPrice] != 2000 {
				t.Errorf("SILVER: %v", k)
			}

			// A guest costs nothing and gets nothing; a customer without a tier one read.
			b = w.basket(t, 0, [2]int{w.variantID, 1})
			if n := quote(b); n != 0 || len(b.Adjustments) != 0 {
				t.Errorf("a guest: %d statements, %v", n, kinds(b))
			}
			b = w.basket(t, uid(plat), [2]int{w.variantID, 1})
			if n := quote(b); n != 1 || len(b.Adjustments) != 0 {
				t.Errorf("no tier: %d statements, %v", n, kinds(b))
			}

			// PLATINUM (no price of its own) gets GOLD's 80.00, the lowest below it.
			client, ctx := w.s.Client()
			platID, _ := strconv.Atoi(ids["PLATINUM"])
			client.Membership.Create().SetUserID(uid(plat)).SetTierID(platID).SetComputedAt(w.now()).ExecX(ctx)
			b = w.basket(t, uid(plat), [2]int{w.variantID, 1})
			quote(b)
			if k := kinds(b); k[pricing.KindMemberPrice] != 2000 {
				t.Errorf("PLATINUM takes a lower tier's member price: %v", k)
			}

			// Free shipping needs 50.00 of goods after discounts: 20.00 less 1.00 is not.
			b = w.basket(t, uid(w.buyer), [2]int{bVariant, 1})
			quote(b)
			if k := kinds(b); k[pricing.KindTierDiscount] != 100 || k[pricing.KindFreeShipping] != 0 {
				t.Errorf("GOLD under the free-shipping threshold: %v", k)
			}

			// Never below zero: a 100% tier discount without a cap takes the lines to 0.
			w.s.MustQuery(w.admin.AccessToken, `mutation($id: ID!, $i: MemberTierInput!) { updateMemberTier(id: $id, input: $i) { id } }`,
				map[string]any{"id": ids["GOLD"], "i": map[string]any{"code": "GOLD", "name": "黄金", "level": 2, "minSpend": "1000.00",
					"discountBps": 10000, "freeShipping": true, "freeShippingMin": "50.00"}})
			b = w.basket(t, uid(w.buyer), [2]int{bVariant, 5})
			quote(b)
			if tot := b.TotalsOf(0); tot.Discount != 10000 || b.Lines[0].Net() != 0 || tot.ShippingDiscount != 0 || tot.Total != 1000 {
				t.Errorf("a 100%% discount: %+v", tot)
			}

			// tier:X is X or above.
			checker := svc.TierChecker()
			for _, c := range []struct {
				user int
				rest string
				want bool
			}{{uid(w.buyer), "SILVER", true}, {uid(w.buyer), "GOLD", true}, {uid(w.buyer), "PLATINUM", false},
				{uid(w.second), "GOLD", false}, {uid(w.second), "SILVER", true}, {uid(plat), "GOLD", true},
				{uid(w.buyer), "NOPE", false}, {uid(w.buyer), "gold", false}, {0, "SILVER", false}} {
				if got, err := checker.InAudience(w.ctx(), w.s.DB.Client, c.user, c.rest); err != nil || got != c.want {
					t.Errorf("tier:%s for %d = %v %v, want %v", c.rest, c.user, got, err, c.want)
				}
			}
			if checker.Prefix() != "tier" || svc.GroupChecker().Prefix() != "group" {
				t.Error("prefixes")
			}
		})
	}
}

// TestTierDiscountArithmetic: basis points round down to the minor unit, then the cap.
func TestTierDiscountArithmetic(t *testing.T) {
	t.Parallel()
	cap300 := int64(300)
	for _, c := range []struct {
		base int64
		bps  int
		cap  *int64
		want int64
	}{{10000, 500, nil, 500}, {10000, 500, &cap300, 300}, {1999, 500, nil, 99}, {0, 500, nil, 0}, {100, 10000, nil, 100},
		{1 << 60, 9999, nil, 1152806212456386291}} {
		if got := members.TierDiscount(c.base, c.bps, c.cap); got != c.want {
			t.Errorf("%d at %d bps (cap %v) = %d, want %d", c.base, c.bps, c.cap, got, c.want)
		}
	}
}

// TestMemberPricesAreBatched: a page of products asks for the member prices of all its
// variants with one query on member_prices, however many variants it shows.
func TestMemberPricesAreBatched(t *testing.T) {
	t.Parallel()
	var on atomic.Bool
	var reads atomic.Int64
	wrap := func(d dialect.Driver) dialect.Driver {
		return dialect.DebugWithContext(d, func(_ context.Context, args ...any) {
			if on.Load() && strings.Contains(fmt.Sprint(args...), "member_prices") {
				reads.Add(1)
			}
		})
	}
	s := apitest.NewWithDriver(t, testdb.SQLiteURL(t), wrap)
	w := buildWorld(t, s, nil)
	ids := w.tiers(t)
	for i := range 4 {
		_, v := s.NewProduct(t, w.shop, fmt.Sprintf("茶 %d", i), product.KindPHYSICAL, fmt.Sprintf("T-%d", i), 5000, 10)
		s.MustQuery(w.shop.Owner.AccessToken, setPriceM, map[string]any{"v": strconv.Itoa(v), "t": ids["GOLD"], "p": "40.00"})
	}
	on.Store(true)
	r := s.MustQuery("", `query { products(first: 20) { nodes { variants { memberPrices { tierCode tierLevel price { amount } } } } } }`, nil)
	on.Store(false)
	if n := reads.Load(); n != 1 {
		t.Errorf("%d queries of member_prices for a page, want 1", n)
	}
	if got := strings.Count(string(r.Raw), `"40.00"`); got != 4 {
		t.Errorf("%d member prices shown, want 4: %s", got, r.Raw)
	}
}
