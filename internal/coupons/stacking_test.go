package coupons_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
)

// The stacking rules over placeOrder: one shop coupon per merchant and one platform
// coupon, thresholds, percentage caps, scope, never below zero, shipping apart; each
// order's discount is allocated to its lines and adds up.
func TestStackingRules(t *testing.T) {
	t.Parallel()
	type want struct {
		code, field, reason string
		// per merchant ("A", "B"): discount and total; items: sku → discount.
		discount, total map[string]int64
		items           map[string]int64
		checkout        int64
	}
	type tc struct {
		name string
		// setup issues and claims coupons for buyer and returns the placeOrder input.
		setup func(t *testing.T, w *world, buyer apitest.Session) map[string]any
		want  want
	}
	cases := []tc{
		{"shop and platform stack; the platform coupon spreads over both orders", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			w.claim(t, b.AccessToken, w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "20.00", "threshold": "100.00", "scope": "ALL"}))
			w.claim(t, b.AccessToken, w.template(t, w.admin.AccessToken, map[string]any{"kind": "FIXED", "amount": "10.00", "threshold": "50.00", "scope": "ALL"}))
			return input("stack-1", nil, w.vA1, 1, w.vB, 1)
		}, want{
			// A: 20.00 shop + 7.27 of the platform's 10.00 (80.00 of 110.00 left), B: 2.73.
			discount: map[string]int64{"A": 2727, "B": 273}, total: map[string]int64{"A": 7273, "B": 3727},
			items: map[string]int64{"A1": 2727, "B1": 273}, checkout: 11000,
		}},
		{"a chosen coupon below its threshold is refused", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			id := w.claim(t, b.AccessToken, w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "30.00", "threshold": "200.00", "scope": "ALL"}))
			return input("threshold-1", []string{id}, w.vA1, 1)
		}, want{code: "BAD_USER_INPUT", field: "couponIDs[0]", reason: "BELOW_THRESHOLD"}},
		{"the best combination leaves out a coupon below its threshold", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			w.claim(t, b.AccessToken, w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "30.00", "threshold": "200.00", "scope": "ALL"}))
			return input("threshold-2", nil, w.vA1, 1)
		}, want{discount: map[string]int64{"A": 0}, total: map[string]int64{"A": 10000}, checkout: 10000}},
		{"a percentage is capped", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			w.claim(t, b.AccessToken, w.template(t, w.admin.AccessToken, map[string]any{"kind": "PERCENT", "percentBp": 2000, "maxDiscount": "15.00", "scope": "ALL"}))
			return input("percent-1", nil, w.vA1, 2)
		}, want{discount: map[string]int64{"A": 1500}, total: map[string]int64{"A": 18500}, checkout: 18500}},
		{"a percentage under its cap; shipping is charged on the list subtotal", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			w.claim(t, b.AccessToken, w.template(t, w.admin.AccessToken, map[string]any{"kind": "PERCENT", "percentBp": 1000, "maxDiscount": "50.00", "scope": "ALL"}))
			return input("percent-2", nil, w.vA2, 1)
		}, want{discount: map[string]int64{"A": 500}, total: map[string]int64{"A": 5500}, items: map[string]int64{"A2": 500}, checkout: 5500}},
		{"a product scope discounts only its products", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			w.claim(t, b.AccessToken, w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "10.00", "scope": "PRODUCTS", "scopeIDs": []string{strconv.Itoa(w.pA2)}}))
			return input("scope-1", nil, w.vA1, 1, w.vA2, 1)
		}, want{discount: map[string]int64{"A": 1000}, total: map[string]int64{"A": 14000}, items: map[string]int64{"A1": 0, "A2": 1000}, checkout: 14000}},
		{"never below zero, and shipping is apart", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			w.claim(t, b.AccessToken, w.shop(t, w.b, map[string]any{"kind": "FIXED", "amount": "500.00", "scope": "ALL"}))
			return input("zero-1", nil, w.vB, 1)
		}, want{discount: map[string]int64{"B": 3000}, total: map[string]int64{"B": 1000}, items: map[string]int64{"B1": 3000}, checkout: 1000}},
		{"one coupon per shop", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			c1 := w.claim(t, b.AccessToken, w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "5.00", "scope": "ALL"}))
			c2 := w.claim(t, b.AccessToken, w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "6.00", "scope": "ALL"}))
			return input("per-shop-1", []string{c1, c2}, w.vA1, 1)
		}, want{code: "BAD_USER_INPUT", field: "couponIDs[1]", reason: "ONE_PER_SHOP"}},
		{"one platform coupon", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			c1 := w.claim(t, b.AccessToken, w.template(t, w.admin.AccessToken, map[string]any{"kind": "FIXED", "amount": "5.00", "scope": "ALL"}))
			c2 := w.claim(t, b.AccessToken, w.template(t, w.admin.AccessToken, map[string]any{"kind": "FIXED", "amount": "6.00", "scope": "ALL"}))
			return input("per-platform-1", []string{c1, c2}, w.vA1, 1)
		}, want{code: "BAD_USER_INPUT", field: "couponIDs[1]", reason: "ONE_PLATFORM_COUPON"}},
		{"a shop coupon is out of scope in another shop", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			id := w.claim(t, b.AccessToken, w.shop(t, w.b, map[string]any{"kind": "FIXED", "amount": "5.00", "scope": "ALL"}))
			return input("scope-2", []string{id}, w.vA1, 1)
		}, want{code: "BAD_USER_INPUT", field: "couponIDs[0]", reason: "OUT_OF_SCOPE"}},
		{"[] uses no coupon", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			w.claim(t, b.AccessToken, w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "5.00", "scope": "ALL"}))
			return input("none-1", []string{}, w.vA1, 1)
		}, want{discount: map[string]int64{"A": 0}, total: map[string]int64{"A": 10000}, checkout: 10000}},
		{"someone else's coupon is not yours to use", func(t *testing.T, w *world, b apitest.Session) map[string]any {
			other := w.buyer(t)
			id := w.claim(t, other.AccessToken, w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "5.00", "scope": "ALL"}))
			return input("other-1", []string{id}, w.vA1, 1)
		}, want{code: "BAD_USER_INPUT", field: "couponIDs[0]"}},
	}
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		names := map[string]string{w.a.ID: "A", w.b.ID: "B"}
		for _, c := range cases {
			b := w.buyer(t)
			r := w.place(b.AccessToken, c.setup(t, w, b))
			if c.want.code != "" {
				if r.Code() != c.want.code || r.Field() != c.want.field {
					t.Errorf("%s: got %s, want %s on %s", c.name, r.Raw, c.want.code, c.want.field)
				} else if c.want.reason != "" && r.Errors[0].Extensions["reason"] != c.want.reason {
					t.Errorf("%s: reason %v, want %s: %s", c.name, r.Errors[0].Extensions["reason"], c.want.reason, r.Raw)
				}
				continue
			}
			var out placed
			if len(r.Errors) > 0 {
				t.Errorf("%s: %s", c.name, r.Raw)
				continue
			}
			r.Decode(t, &out)
			if got := out.PlaceOrder.Total.n(); got != c.want.checkout {
				t.Errorf("%s: checkout total %d, want %d", c.name, got, c.want.checkout)
			}
			for _, o := range out.PlaceOrder.Orders {
				m := names[o.Merchant.ID]
				if d, ok := c.want.discount[m]; ok && o.Discount.n() != d {
					t.Errorf("%s: order %s discount %d, want %d", c.name, m, o.Discount.n(), d)
				}
				if tot, ok := c.want.total[m]; ok && o.Total.n() != tot {
					t.Errorf("%s: order %s total %d, want %d", c.name, m, o.Total.n(), tot)
				}
				if o.Total.n() != o.Subtotal.n()-o.Discount.n()+o.ShippingFee.n()-o.ShippingDiscount.n() {
					t.Errorf("%s: order %s total does not add up: %+v", c.name, m, o)
				}
				var items, adjs int64
				for _, it := range o.Items {
					items += it.Discount.n()
					if it.NetTotal.n() != it.LineTotal.n()-it.Discount.n() {
						t.Errorf("%s: item %s net %d", c.name, it.Sku, it.NetTotal.n())
					}
					if d, ok := c.want.items[it.Sku]; ok && it.Discount.n() != d {
						t.Errorf("%s: item %s discount %d, want %d", c.name, it.Sku, it.Discount.n(), d)
					}
				}
				for _, a := range o.Adjustments {
					adjs += a.Amount.n()
				}
				if items != o.Discount.n() || adjs != o.Discount.n() {
					t.Errorf("%s: order %s discount %d, its lines' %d and adjustments' %d", c.name, m, o.Discount.n(), items, adjs)
				}
			}
		}
	})
}

const myCoupons = `query($s: CouponStatus) { myCoupons(status: $s) { id status template { id usedCount } } }`

func couponIDsOf(t *testing.T, r *apitest.Response) []string {
	t.Helper()
	var out struct{ MyCoupons []struct{ ID string } }
	r.Decode(t, &out)
	var ids []string
	for _, c := range out.MyCoupons {
		ids = append(ids, c.ID)
	}
	return ids
}

// A coupon comes back when every order it was spread over is cancelled in full: the
// shop coupon with its order, the platform coupon with the last of the two.
func TestCouponRestoredOnFullCancellation(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		b := w.buyer(t)
		shopC := w.claim(t, b.AccessToken, w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "20.00", "scope": "ALL"}))
		platC := w.claim(t, b.AccessToken, w.template(t, w.admin.AccessToken, map[string]any{"kind": "FIXED", "amount": "10.00", "scope": "ALL"}))
		var out placed
		w.s.MustQuery(b.AccessToken, placeOrder, map[string]any{"i": input("cancel-1", []string{shopC, platC}, w.vA1, 1, w.vB, 1)}).Decode(t, &out)
		if n := len(couponIDsOf(t, s.MustQuery(b.AccessToken, myCoupons, map[string]any{"s": "USED"}))); n != 2 {
			t.Fatalf("%d coupons USED after placing, want 2", n)
		}
		cancel := `mutation($id: ID!) { cancelOrder(id: $id) { status } }`
		byMerchant := map[string]string{}
		for _, o := range out.PlaceOrder.Orders {
			byMerchant[o.Merchant.ID] = o.ID
		}
		s.MustQuery(b.AccessToken, cancel, map[string]any{"id": byMerchant[w.a.ID]})
		avail := couponIDsOf(t, s.MustQuery(b.AccessToken, myCoupons, map[string]any{"s": "AVAILABLE"}))
		if len(avail) != 1 || avail[0] != shopC {
			t.Fatalf("after cancelling shop A's order, available %v, want the shop coupon %s only", avail, shopC)
		}
		s.MustQuery(b.AccessToken, cancel, map[string]any{"id": byMerchant[w.b.ID]})
		if avail := couponIDsOf(t, s.MustQuery(b.AccessToken, myCoupons, map[string]any{"s": "AVAILABLE"})); len(avail) != 2 {
			t.Fatalf("after cancelling both orders, available %v, want both coupons", avail)
		}
		// And it can be used again.
		w.s.MustQuery(b.AccessToken, placeOrder, map[string]any{"i": input("cancel-2", []string{shopC, platC}, w.vA1, 1)})
	})
}

// expectedTotal is compared with the discounted total; a retry with the same key and input
// returns the first checkout, with other coupons it is CONFLICT.
func TestExpectedTotalAndReplayWithCoupons(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		b := w.buyer(t)
		c := w.claim(t, b.AccessToken, w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "10.00", "scope": "ALL"}))
		in := input("expect-1", []string{c}, w.vA1, 1)
		in["expectedTotal"] = "100.00" // the list total: stale
		r := w.place(b.AccessToken, in)
		if r.Code() != "CONFLICT" || r.Errors[0].Extensions["reason"] != "TOTAL_CHANGED" || r.Errors[0].Extensions["total"] != "90.00" {
			t.Fatalf("expectedTotal at list price: %s", r.Raw)
		}
		in["expectedTotal"] = "90.00"
		var first, again placed
		w.s.MustQuery(b.AccessToken, placeOrder, map[string]any{"i": in}).Decode(t, &first)
		w.s.MustQuery(b.AccessToken, placeOrder, map[string]any{"i": in}).Decode(t, &again)
		if first.PlaceOrder.CheckoutID != again.PlaceOrder.CheckoutID || again.PlaceOrder.Total.n() != 9000 {
			t.Fatalf("replay gave %+v, first %+v", again, first)
		}
		in["couponIDs"] = []string{}
		if r := w.place(b.AccessToken, in); r.Code() != "CONFLICT" || r.Field() != "idempotencyKey" {
			t.Fatalf("same key without the coupon: %s", r.Raw)
		}
	})
}

var _ = fmt.Sprint
