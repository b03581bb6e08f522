package promotest

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/flashsaleitem"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestMemberPriceBelowFlashClaimsNoFlashStock: a GOLD member price of 70.00 beats the
// 80.00 flash price on a 100.00 teapot; the order is at 70.00 with a MEMBER_PRICE
// adjustment and no FLASH_SALE one, and the flash sale's sold stays 0. Asking for 6 units
// with a per-customer limit of 5 is not split: the line stays at the member price too.
func TestMemberPriceBelowFlashClaimsNoFlashStock(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s, "mvf", 0, 0)
		client, ctx := s.Client()
		tier := client.Membership.Query().OnlyX(ctx).TierID
		s.MustQuery(w.shop.Owner.AccessToken, `mutation($v: ID!, $t: ID!) { setMemberPrice(variantID: $v, tierID: $t, price: "70.00") { id } }`,
			map[string]any{"v": strconv.Itoa(w.vA), "t": strconv.Itoa(*tier)})
		in := orderInput("mvf", w.vA, 1)
		in["couponIDs"] = []string{}
		var p placed
		s.MustQuery(w.buyer.AccessToken, placeOrderQ, map[string]any{"i": in}).Decode(t, &p)
		o := p.PlaceOrder.Orders[0]
		checkOrderSums(t, o)
		kinds := map[string]int64{}
		for _, a := range o.Adjustments {
			kinds[a.Kind] += a.Amount.n()
		}
		// 70.00 does not reach 满100; the tier discount skips lines at a member price; 70.00
		// is below GOLD's 99.00 free-shipping threshold: 70.00 + 10.00 shipping.
		if fmt.Sprint(kinds) != "map[MEMBER_PRICE:3000]" || o.Total.n() != 8000 || o.ShippingDiscount.n() != 0 {
			t.Errorf("order adjustments %v total %d shippingDiscount %d, want only MEMBER_PRICE 3000, total 8000",
				kinds, o.Total.n(), o.ShippingDiscount.n())
		}
		if sold := client.FlashSaleItem.GetX(ctx, w.flashItem).Sold; sold != 0 {
			t.Errorf("flash sold %d though the member price won, want 0", sold)
		}
	})
}

// TestFlashSaleTwoItemsOppositeLineOrder: two flash items (cap 10 each) on two variants
// of two products; 20 buyers at once each buy one of each, half listing the lines in the
// opposite order. The checkouts lock products, variants and flash items in id order, so
// none deadlocks: no INTERNAL; each item sold equals the orders that got it, ≤ 10.
func TestFlashSaleTwoItemsOppositeLineOrder(t *testing.T) {
	t.Parallel()
	const buyers = 20
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			for round := range apitest.RaceRounds(d, 3) {
				t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
					shop := s.NewMerchant(t, fmt.Sprintf("two-flash-%d", round), merchant.StatusACTIVE)
					_, v1 := s.NewProduct(t, shop, "Teapot", product.KindPHYSICAL, fmt.Sprintf("TF1-%d", round), 10000, 1000)
					_, v2 := s.NewProduct(t, shop, "Cups", product.KindPHYSICAL, fmt.Sprintf("TF2-%d", round), 5000, 1000)
					promo := promotion(t, s, shop, map[string]any{"kind": "FLASH_SALE", "label": "双品秒杀", "perUserLimit": 1,
						"flashItems": []map[string]any{{"variantID": strconv.Itoa(v1), "price": "80.00", "cap": 10}, {"variantID": strconv.Itoa(v2), "price": "40.00", "cap": 10}}})
					var racers []apitest.Racer
					for i := range buyers {
						b := s.Register(fmt.Sprintf("two-flash-%d-%d@example.com", round, i), "Buyer")
						lines := []int{v1, 1, v2, 1}
						if i%2 == 1 {
							lines = []int{v2, 1, v1, 1}
						}
						racers = append(racers, s.Request(b.AccessToken, placeOrderQ, map[string]any{"i": orderInput(fmt.Sprintf("tf-%d-%d", round, i), lines...)}))
					}
					got := map[string]int{}
					var conflicts []string
					for _, o := range apitest.Race(racers...) {
						switch o.Code() {
						case "":
							var p placed
							o.R.Decode(t, &p)
							for _, ord := range p.PlaceOrder.Orders {
								checkOrderSums(t, ord)
								for _, a := range ord.Adjustments {
									if a.Kind == "FLASH_SALE" {
										got[a.Label]++
									}
								}
							}
						case "CONFLICT":
							conflicts = append(conflicts, reason(o.R))
							if r := reason(o.R); r != "FLASH_SALE_SOLD_OUT" {
								t.Errorf("CONFLICT reason %q: %s", r, o)
							}
						default:
							t.Errorf("unexpected outcome %s", o)
						}
					}
					var sold int
					for _, it := range client.FlashSaleItem.Query().Where(flashsaleitem.PromotionID(promo)).AllX(ctx) {
						if it.Sold > 10 {
							t.Errorf("item %d sold %d > cap 10", it.ID, it.Sold)
						}
						sold += it.Sold
					}
					orders := client.Order.Query().Where(order.MerchantID(shop.IntID)).CountX(ctx)
					t.Logf("%d buyers, 2 items of cap 10: %d orders, %d flash units sold, adjustments %v, conflicts %d", buyers, orders, sold, got, len(conflicts))
					if sold != got["双品秒杀"] || orders+len(conflicts) != buyers {
						t.Errorf("sold %d, FLASH_SALE adjustments %d; %d orders + %d conflicts, want %d", sold, got["双品秒杀"], orders, len(conflicts), buyers)
					}
				})
			}
		})
	}
}
