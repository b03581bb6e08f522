package pricing

import (
	"context"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
)

func TestAllocate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		amount  int64
		weights []int64
		want    []int64
	}{
		{"proportional", 100, []int64{300, 100}, []int64{75, 25}},
		{"largest remainder", 100, []int64{1, 1, 1}, []int64{1, 1, 1}},
		{"remainder to earlier on ties", 10, []int64{100, 100, 100}, []int64{4, 3, 3}},
		{"capped at weights", 1000, []int64{300, 100}, []int64{300, 100}},
		{"zero weights get nothing", 50, []int64{0, 100, -5}, []int64{0, 50, 0}},
		{"nothing to spread", 0, []int64{10}, []int64{0}},
		{"huge amounts do not overflow", 1 << 59, []int64{1 << 60, 1 << 60}, []int64{1 << 58, 1 << 58}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Allocate(c.amount, c.weights)
			for i := range c.want {
				if got[i] != c.want[i] {
					t.Fatalf("Allocate(%d, %v) = %v, want %v", c.amount, c.weights, got, c.want)
				}
			}
		})
	}
}

type fixed struct {
	stage Stage
	quote func(b *Basket)
}

func (f fixed) Stage() Stage { return f.stage }
func (f fixed) Quote(_ context.Context, _ *ent.Client, b *Basket) error {
	f.quote(b)
	return nil
}
func (f fixed) Commit(context.Context, *ent.Client, *Basket, map[int]int) error { return nil }

// The stages in order: the lowest price proposal wins, later stages see what is left,
// nothing goes below zero, and shipping is discounted apart.
func TestRunStacksInOrderAndNeverBelowZero(t *testing.T) {
	t.Parallel()
	b := NewBasket(1, "CNY", time.Now(), []*Line{
		{VariantID: 1, MerchantID: 10, Quantity: 2, ListPrice: 10000}, // 200.00
		{VariantID: 2, MerchantID: 10, Quantity: 1, ListPrice: 5000},  // 50.00
		{VariantID: 3, MerchantID: 20, Quantity: 1, ListPrice: 3000},  // 30.00
	}, map[int]int64{10: 1000, 20: 800})
	providers := []Provider{
		// Registered out of order on purpose: Run sorts by stage.
		fixed{StagePlatformCoupon, func(b *Basket) {
			b.Add(Adjustment{Kind: KindPlatformCoupon, FundedBy: FundedByPlatform, Lines: b.Spread(b.LinesOf(0), 1_000_000)})
		}},
		fixed{StagePrice, func(b *Basket) {
			b.ProposePrice(0, 9000, Adjustment{Kind: KindMemberPrice})
			b.ProposePrice(0, 8000, Adjustment{Kind: KindFlashSale}) // lower: wins
			b.ProposePrice(0, 9500, Adjustment{Kind: KindMemberPrice})
			b.ProposePrice(1, 6000, Adjustment{Kind: KindFlashSale}) // above list: ignored
		}},
		fixed{StageAutomatic, func(b *Basket) {
			b.Add(Adjustment{Kind: KindFullReduction, MerchantID: 10, Lines: b.Spread(b.LinesOf(10), 3000)})
		}},
		fixed{StageShipping, func(b *Basket) {
			b.AddShipping(Adjustment{Kind: KindFreeShipping, Shipping: map[int]int64{10: 5000}})
		}},
	}
	if err := Run(context.Background(), nil, b, providers); err != nil {
		t.Fatal(err)
	}
	kinds := []Kind{}
	for _, a := range b.Adjustments {
		kinds = append(kinds, a.Kind)
	}
	want := []Kind{KindFlashSale, KindFullReduction, KindPlatformCoupon, KindFreeShipping}
	if len(kinds) != len(want) {
		t.Fatalf("adjustments %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("adjustments %v, want %v", kinds, want)
		}
	}
	if a := b.Adjustments[0]; a.Amount != 4000 || a.Lines[0] != 4000 {
		t.Fatalf("flash sale took %d (%v), want 40.00 off line 0", a.Amount, a.Lines)
	}
	// 满减 30.00 over 160.00 and 50.00: 22.86 and 7.14.
	if a := b.Adjustments[1]; a.Lines[0] != 2286 || a.Lines[1] != 714 {
		t.Fatalf("full reduction allocated %v", a.Lines)
	}
	for _, l := range b.Lines {
		if l.Net() != 0 {
			t.Fatalf("line %d nets %d after a coupon bigger than the basket, want 0", l.Index, l.Net())
		}
	}
	t10 := b.TotalsOf(10)
	if t10.Total != 0 || t10.Shipping != 1000 || t10.ShippingDiscount != 1000 {
		t.Fatalf("merchant 10 totals %+v", t10)
	}
	if t20 := b.TotalsOf(20); t20.Total != 800 || t20.Discount != 3000 {
		t.Fatalf("merchant 20 totals %+v", t20)
	}
}

// A what-if on a clone leaves the basket as it was.
func TestCloneIsIndependent(t *testing.T) {
	t.Parallel()
	b := NewBasket(1, "CNY", time.Now(), []*Line{{MerchantID: 1, Quantity: 1, ListPrice: 1000}}, map[int]int64{1: 500})
	c := b.Clone()
	c.Add(Adjustment{Kind: KindShopCoupon, Lines: map[int]int64{0: 300}})
	c.AddShipping(Adjustment{Kind: KindFreeShipping, Shipping: map[int]int64{1: 500}})
	if b.Lines[0].Discount != 0 || len(b.Adjustments) != 0 || b.TotalsOf(0).Total != 1500 {
		t.Fatalf("the clone changed the basket: %+v", b.TotalsOf(0))
	}
	if c.TotalsOf(0).Total != 700 {
		t.Fatalf("clone total %d, want 700", c.TotalsOf(0).Total)
	}
}
