package promotest

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/commission"
	"github.com/xiadan/xiadan/ent/flashsaleitem"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestConcurrentCancelGivesBackOnce: the fully stacked order (see
// TestPromotionsStackThroughCheckout) is cancelled by the buyer three times at once and by
// the merchant: one cancellation wins, the others fail cleanly (no INTERNAL), and
// everything comes back exactly once — red packet balance 5.00 (not 10.00), flash sold 0
// (not negative), both coupons AVAILABLE, commission reversed once.
func TestConcurrentCancelGivesBackOnce(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			for round := range apitest.RaceRounds(d, 3) {
				t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
					w := newWorld(t, s, fmt.Sprintf("cc%d", round), round, 500)
					in := orderInput(fmt.Sprintf("cc-%d", round), w.vA, 1, w.vB, 2, w.vC, 1)
					in["couponIDs"] = []string{w.shopCoupon, w.platCoupon}
					in["attributionCode"] = w.code
					in["expectedTotal"] = "130.33"
					var p placed
					s.MustQuery(w.buyer.AccessToken, placeOrderQ, map[string]any{"i": in}).Decode(t, &p)
					id := p.PlaceOrder.Orders[0].ID
					vars := map[string]any{"id": id}
					outs := apitest.Race(s.Request(w.buyer.AccessToken, cancelQ, vars), s.Request(w.buyer.AccessToken, cancelQ, vars),
						s.Request(w.buyer.AccessToken, cancelQ, vars), s.Request(w.shop.Owner.AccessToken, cancelQ, vars))
					codes := map[string]int{}
					for _, o := range outs {
						codes[o.Code()]++
						if c := o.Code(); c != "" && c != "INVALID_STATE" && c != "CONFLICT" {
							t.Errorf("cancel: unexpected outcome %s", o)
						}
					}
					t.Logf("4 cancellations at once: %v", codes)
					if codes[""] != 1 {
						t.Fatalf("%d cancellations succeeded, want exactly 1: %v", codes[""], codes)
					}
					w.checkRedPacket(t, "after cancellations", 500)
					w.checkCoupons(t, "after cancellations", "AVAILABLE")
					if sold := client.FlashSaleItem.GetX(ctx, w.flashItem).Sold; sold != 0 {
						t.Errorf("flash sold %d, want 0", sold)
					}
					oid, _ := strconv.Atoi(id)
					c := client.Commission.Query().Where(commission.OrderID(oid)).OnlyX(ctx)
					if c.Reversed != c.Amount || string(c.Status) != "REVERSED" {
						t.Errorf("commission %s reversed %d of %d", c.Status, c.Reversed, c.Amount)
					}
				})
			}
		})
	}
}

// TestCartBestChoiceMatchesPlaceOrder: with no couponIDs the cart and placeOrder choose
// the best coupons the same way, and placeOrder with the cart's total as expectedTotal
// succeeds (no TOTAL_CHANGED). Same world as the stacking test, no creator code: the best
// pair is the two coupons the buyer holds, so the totals are the hand-computed 130.33.
func TestCartBestChoiceMatchesPlaceOrder(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s, "best", 0, 500)
		for _, l := range [][2]int{{w.vA, 1}, {w.vB, 2}, {w.vC, 1}} {
			s.MustQuery(w.buyer.AccessToken, `mutation($v: ID!, $q: Int!) { addToCart(variantID: $v, quantity: $q) { quantity } }`,
				map[string]any{"v": strconv.Itoa(l[0]), "q": l[1]})
		}
		var cart struct{ Cart struct{ Total minor } }
		s.MustQuery(w.buyer.AccessToken, `{ cart { total { minorUnits } } }`, nil).Decode(t, &cart)
		if cart.Cart.Total.n() != 13033 {
			t.Errorf("cart total %d, want 13033", cart.Cart.Total.n())
		}
		in := map[string]any{"fromCart": true, "idempotencyKey": "checkout-best", "expectedTotal": fmt.Sprintf("%d.%02d", cart.Cart.Total.n()/100, cart.Cart.Total.n()%100),
			"shippingAddress": orderInput("x")["shippingAddress"]}
		var p placed
		s.MustQuery(w.buyer.AccessToken, placeOrderQ, map[string]any{"i": in}).Decode(t, &p)
		if p.PlaceOrder.Total.n() != cart.Cart.Total.n() {
			t.Errorf("placed %d, cart said %d", p.PlaceOrder.Total.n(), cart.Cart.Total.n())
		}
		checkOrderSums(t, p.PlaceOrder.Orders[0])
		w.checkCoupons(t, "after placeOrder", "USED")
		var after struct{ Cart struct{ Quantity int } }
		s.MustQuery(w.buyer.AccessToken, `{ cart { quantity } }`, nil).Decode(t, &after)
		if after.Cart.Quantity != 0 {
			t.Errorf("cart keeps %d units after placeOrder fromCart", after.Cart.Quantity)
		}
	})
}

// TestFlashSaleSameBuyerRacesPastLimit: one buyer fires 4 checkouts of one flash unit at
// once with a per-customer limit of 1 (cap 10): exactly one order carries the flash price;
// the others are placed at full price or CONFLICT FLASH_SALE_LIMIT_REACHED; the claim is 1.
func TestFlashSaleSameBuyerRacesPastLimit(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			for round := range apitest.RaceRounds(d, 3) {
				t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
					shop := s.NewMerchant(t, fmt.Sprintf("limit-shop-%d", round), merchant.StatusACTIVE)
					_, vid := s.NewProduct(t, shop, "Teapot", product.KindPHYSICAL, fmt.Sprintf("LIM-%d", round), 10000, 1000)
					promo := promotion(t, s, shop, map[string]any{"kind": "FLASH_SALE", "label": "限购一件", "perUserLimit": 1,
						"flashItems": []map[string]any{{"variantID": strconv.Itoa(vid), "price": "80.00", "cap": 10}}})
					b := s.Register(fmt.Sprintf("limit-buyer-%d@example.com", round), "Buyer")
					var rs []apitest.Racer
					for i := range 4 {
						rs = append(rs, s.Request(b.AccessToken, placeOrderQ, map[string]any{"i": orderInput(fmt.Sprintf("lim-%d-%d", round, i), vid, 1)}))
					}
					atFlash, other := 0, map[string]int{}
					for _, o := range apitest.Race(rs...) {
						switch o.Code() {
						case "":
							var p placed
							o.R.Decode(t, &p)
							if p.PlaceOrder.Orders[0].Discount.n() == 2000 {
								atFlash++
							} else {
								other["full price"]++
							}
						case "CONFLICT":
							other[reason(o.R)]++
							if r := reason(o.R); r != "FLASH_SALE_LIMIT_REACHED" {
								t.Errorf("CONFLICT reason %q: %s", r, o)
							}
						default:
							t.Errorf("unexpected outcome %s", o)
						}
					}
					t.Logf("one buyer, 4 checkouts, limit 1: %d at the flash price, others %v", atFlash, other)
					if atFlash != 1 {
						t.Errorf("%d at the flash price, want 1", atFlash)
					}
					it := client.FlashSaleItem.Query().Where(flashsaleitem.PromotionID(promo)).OnlyX(ctx)
					if it.Sold != 1 {
						t.Errorf("sold %d, want 1", it.Sold)
					}
				})
			}
		})
	}
}

// TestPlaceOrderRetrySpendsOnce: the fully stacked checkout sent three times at once with
// the same idempotencyKey, then once more: every success is the same checkout and total,
// and the promotions are spent once — red packet balance 0, flash sold 1, one commission,
// both coupons USED. (TestPlaceOrderConcurrentRetryPlain checks the orders' edges in
// such answers.)
func TestPlaceOrderRetrySpendsOnce(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			w := newWorld(t, s, "retry", 0, 500)
			in := orderInput("retry-once", w.vA, 1, w.vB, 2, w.vC, 1)
			in["couponIDs"] = []string{w.shopCoupon, w.platCoupon}
			in["attributionCode"] = w.code
			in["expectedTotal"] = "130.33"
			req := s.Request(w.buyer.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID total { minorUnits } } }`, map[string]any{"i": in})
			outs := apitest.Race(req, req, req)
			outs = append(outs, apitest.Race(req)...)
			checkouts := map[string]bool{}
			for _, o := range outs {
				switch o.Code() {
				case "":
					var p placed
					o.R.Decode(t, &p)
					checkouts[p.PlaceOrder.CheckoutID+"/"+p.PlaceOrder.Total.MinorUnits] = true
				case "CONFLICT":
					// A retry racing the first attempt may be told it is in progress.
					t.Logf("retry: %s", o)
				default:
					t.Errorf("retry: unexpected outcome %s", o)
				}
			}
			if len(checkouts) != 1 {
				t.Fatalf("retries gave %d different checkouts: %v", len(checkouts), checkouts)
			}
			if n := client.Order.Query().CountX(ctx); n != 1 {
				t.Errorf("%d orders, want 1", n)
			}
			w.checkRedPacket(t, "after retries", 0)
			w.checkCoupons(t, "after retries", "USED")
			if sold := client.FlashSaleItem.GetX(ctx, w.flashItem).Sold; sold != 1 {
				t.Errorf("flash sold %d, want 1", sold)
			}
			if n := client.Commission.Query().CountX(ctx); n != 1 {
				t.Errorf("%d commissions, want 1", n)
			}
		})
	}
}
