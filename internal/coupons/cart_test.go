package coupons_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/viewer"
)

const cartQuery = `query($c: [ID!]) { cart(couponIDs: $c) {
  subtotal { minorUnits } discount { minorUnits } shippingFee { minorUnits } shippingDiscount { minorUnits } total { minorUnits }
  adjustments { kind fundedBy amount { minorUnits } }
  merchants { merchant { id } discount { minorUnits } total { minorUnits } adjustments { kind amount { minorUnits } }
    lines { discount { minorUnits } netTotal { minorUnits } } }
  coupons { chosen { id } usable { coupon { id } value { minorUnits } } unusable { coupon { id } reason message } } } }`

type cartOut struct {
	Cart struct {
		Subtotal, Discount, ShippingFee, ShippingDiscount, Total minor
		Adjustments                                              []struct {
			Kind, FundedBy string
			Amount         minor
		}
		Merchants []struct {
			Merchant        struct{ ID string }
			Discount, Total minor
			Lines           []struct{ Discount, NetTotal minor }
		}
		Coupons struct {
			Chosen []struct{ ID string }
			Usable []struct {
				Coupon struct{ ID string }
				Value  minor
			}
			Unusable []struct {
				Coupon          struct{ ID string }
				Reason, Message string
			}
		}
	}
}

// The cart shows what placeOrder charges: the same best coupons, discounts per merchant
// and line, and which of the customer's coupons are usable and why the others are not.
func TestCartShowsWhatPlaceOrderCharges(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		b := w.buyer(t)
		shopC := w.claim(t, b.AccessToken, w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "20.00", "threshold": "100.00", "scope": "ALL"}))
		platC := w.claim(t, b.AccessToken, w.template(t, w.admin.AccessToken, map[string]any{"kind": "FIXED", "amount": "10.00", "threshold": "50.00", "scope": "ALL"}))
		farC := w.claim(t, b.AccessToken, w.shop(t, w.b, map[string]any{"kind": "FIXED", "amount": "5.00", "threshold": "300.00", "scope": "ALL"}))
		for _, l := range [][2]int{{w.vA1, 1}, {w.vB, 1}} {
			s.MustQuery(b.AccessToken, `mutation($v: ID!, $q: Int!) { addToCart(variantID: $v, quantity: $q) { quantity } }`,
				map[string]any{"v": strconv.Itoa(l[0]), "q": l[1]})
		}
		var c cartOut
		s.MustQuery(b.AccessToken, cartQuery, nil).Decode(t, &c)
		if c.Cart.Discount.n() != 3000 || c.Cart.Total.n() != 11000 || len(c.Cart.Adjustments) != 2 {
			t.Fatalf("cart: %+v", c.Cart)
		}
		if len(c.Cart.Coupons.Chosen) != 2 || len(c.Cart.Coupons.Usable) != 2 || len(c.Cart.Coupons.Unusable) != 1 ||
			c.Cart.Coupons.Unusable[0].Coupon.ID != farC || c.Cart.Coupons.Unusable[0].Reason != "BELOW_THRESHOLD" {
			t.Fatalf("cart coupons: %+v", c.Cart.Coupons)
		}
		var lines int64
		for _, g := range c.Cart.Merchants {
			for _, l := range g.Lines {
				lines += l.Discount.n()
			}
		}
		if lines != 3000 {
			t.Fatalf("the lines' discounts add up to %d, want 3000", lines)
		}
		// [] quotes none; a chosen coupon alone quotes it alone.
		s.MustQuery(b.AccessToken, cartQuery, map[string]any{"c": []string{}}).Decode(t, &c)
		if c.Cart.Discount.n() != 0 || c.Cart.Total.n() != 14000 {
			t.Fatalf("cart without coupons: %+v", c.Cart)
		}
		s.MustQuery(b.AccessToken, cartQuery, map[string]any{"c": []string{platC}}).Decode(t, &c)
		if c.Cart.Discount.n() != 1000 {
			t.Fatalf("cart with the platform coupon only: %+v", c.Cart)
		}
		// placeOrder from the cart charges what the cart showed.
		in := map[string]any{"fromCart": true, "idempotencyKey": "checkout-from-cart", "expectedTotal": "110.00",
			"shippingAddress": map[string]any{"recipientName": "Li Lei", "phone": "13800000000", "province": "Shanghai", "city": "Shanghai", "street": "1 Nanjing Road"}}
		var out placed
		s.MustQuery(b.AccessToken, placeOrder, map[string]any{"i": in}).Decode(t, &out)
		_ = shopC

		// The payment-timeout job cancels the unpaid orders and gives the coupons back.
		client, ctx := s.Client()
		ctx = viewer.SystemContext(ctx)
		if _, err := client.Order.Update().Where(order.CheckoutID(out.PlaceOrder.CheckoutID)).
			SetPaymentDeadline(time.Now().Add(-time.Minute)).Save(ctx); err != nil {
			t.Fatal(err)
		}
		if expired, _, err := s.App.Orders.RunJobsOnce(ctx, client); err != nil || expired != 2 {
			t.Fatalf("the job expired %d orders: %v", expired, err)
		}
		if ids := couponIDsOf(t, s.MustQuery(b.AccessToken, myCoupons, map[string]any{"s": "AVAILABLE"})); len(ids) != 3 {
			t.Fatalf("after expiry, available coupons %v, want all 3 back", ids)
		}
	})
}

// Claims: a private coupon by its code only, a paused template not at all, the per-user
// limit, and what is claimable where.
func TestClaimRules(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		b := w.buyer(t)
		private := w.template(t, w.admin.AccessToken, map[string]any{"kind": "FIXED", "amount": "5.00", "scope": "ALL", "code": "vip-2026"})
		if r := s.Query(b.AccessToken, claimCoupon, map[string]any{"id": private}); r.Code() != "NOT_FOUND" {
			t.Fatalf("claiming a private coupon by id: %s", r.Raw)
		}
		s.MustQuery(b.AccessToken, `mutation { claimCouponByCode(code: " VIP-2026 ") { id } }`, nil)
		if r := s.Query(b.AccessToken, `mutation { claimCouponByCode(code: "VIP-2026") { id } }`, nil); r.Code() != "CONFLICT" || r.Errors[0].Extensions["reason"] != "CLAIM_LIMIT" {
			t.Fatalf("a second claim over the per-user limit: %s", r.Raw)
		}
		shop := w.shop(t, w.a, map[string]any{"kind": "FIXED", "amount": "5.00", "scope": "PRODUCTS", "scopeIDs": []string{strconv.Itoa(w.pA2)}})
		// Another shop's staff may not pause it (it is hidden from them), its owner may.
		if r := s.Query(w.b.Owner.AccessToken, `mutation($id: ID!) { pauseCouponTemplate(id: $id, paused: true) { status } }`, map[string]any{"id": shop}); r.Code() != "NOT_FOUND" {
			t.Fatalf("a rival pausing: %s", r.Raw)
		}
		s.MustQuery(w.a.Owner.AccessToken, `mutation($id: ID!) { pauseCouponTemplate(id: $id, paused: true) { status } }`, map[string]any{"id": shop})
		if r := s.Query(b.AccessToken, claimCoupon, map[string]any{"id": shop}); r.Code() != "CONFLICT" || r.Errors[0].Extensions["reason"] != "PAUSED" {
			t.Fatalf("claiming a paused coupon: %s", r.Raw)
		}
		s.MustQuery(w.a.Owner.AccessToken, `mutation($id: ID!) { pauseCouponTemplate(id: $id, paused: false) { status } }`, map[string]any{"id": shop})
		// Claimable: on the cups' page the shop coupon shows, on the teapot's it does not;
		// the private one never does. Only admins issue platform coupons.
		claimable := func(product int) int {
			var out struct{ ClaimableCoupons []struct{ ID string } }
			s.MustQuery(b.AccessToken, `query($p: ID) { claimableCoupons(productID: $p) { id label claimedByMe } }`, map[string]any{"p": strconv.Itoa(product)}).Decode(t, &out)
			return len(out.ClaimableCoupons)
		}
		if n1, n2 := claimable(w.pA2), claimable(w.pA1); n1 != 1 || n2 != 0 {
			t.Fatalf("claimable on the cups %d, on the teapot %d; want 1 and 0", n1, n2)
		}
		if r := s.Query(w.a.Owner.AccessToken, createTemplate, map[string]any{"i": map[string]any{"name": "x", "kind": "FIXED", "amount": "1.00", "scope": "ALL", "validDays": 1}}); r.Code() != "FORBIDDEN" {
			t.Fatalf("a merchant issuing a platform coupon: %s", r.Raw)
		}
		if r := s.Query(w.admin.AccessToken, createTemplate, map[string]any{"i": map[string]any{"name": "x", "kind": "PERCENT", "scope": "ALL", "validDays": 1}}); r.Code() != "BAD_USER_INPUT" || r.Field() != "percentBp" {
			t.Fatalf("a percentage without basis points: %s", r.Raw)
		}
		// An audience no checker answers (none is wired here) lets nobody claim or see it.
		gold := w.template(t, w.admin.AccessToken, map[string]any{"kind": "FIXED", "amount": "5.00", "scope": "ALL", "audiences": []string{"tier:GOLD"}})
		if r := s.Query(b.AccessToken, claimCoupon, map[string]any{"id": gold}); r.Code() != "NOT_FOUND" || r.Field() != "templateID" {
			t.Fatalf("claiming outside the audience (by id: as if it did not exist): %s", r.Raw)
		}
		// Paused, it is still one that does not exist to them (not PAUSED, which would tell).
		s.MustQuery(w.admin.AccessToken, `mutation($id: ID!) { pauseCouponTemplate(id: $id, paused: true) { status } }`, map[string]any{"id": gold})
		if r := s.Query(b.AccessToken, claimCoupon, map[string]any{"id": gold}); r.Code() != "NOT_FOUND" || r.Field() != "templateID" {
			t.Fatalf("claiming a paused coupon outside the audience: %s", r.Raw)
		}
		var platform struct{ ClaimableCoupons []struct{ ID string } }
		s.MustQuery(b.AccessToken, `{ claimableCoupons { id } }`, nil).Decode(t, &platform)
		for _, c := range platform.ClaimableCoupons {
			if c.ID == gold || c.ID == private {
				t.Fatalf("claimable lists %s: %+v", c.ID, platform)
			}
		}
		var stats struct {
			CouponTemplates []struct {
				ID                      string
				ClaimedCount, UsedCount int
			}
		}
		s.MustQuery(w.admin.AccessToken, `{ couponTemplates { id claimedCount usedCount } }`, nil).Decode(t, &stats)
		if len(stats.CouponTemplates) != 2 || stats.CouponTemplates[1].ClaimedCount != 1 {
			t.Fatalf("platform templates: %+v", stats)
		}
	})
}
