package promotest

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/commission"
	"github.com/xiadan/xiadan/ent/flashsaleitem"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// world is one shop with every kind of promotion running, a GOLD buyer holding a shop
// coupon, a platform coupon and a red packet, and an approved creator with a general code.
//
//	A teapot 100.00, flash sale 80.00 (cap 10, 5 per customer)
//	B cups    50.00, GOLD member price 45.00
//	C tea     30.00
//	shop: 满100减10 / 满200减30; shipping 10.00 (its own free-shipping threshold out of reach)
//	GOLD: 5% tier discount capped at 20.00, free shipping from 99.00
//	shop coupon 满100减20, platform coupon 满50减10, red packet 5.00, creator rate 8%
type world struct {
	s                      *apitest.Server
	admin, buyer, creator  apitest.Session
	shop                   apitest.Merchant
	vA, vB, vC             int
	flashItem              int
	shopCoupon, platCoupon string
	redPacket              int
	code                   string
}

func newWorld(t *testing.T, s *apitest.Server, tag string, n int, redPacket int64) *world {
	t.Helper()
	w := &world{s: s, code: "CR" + tag}
	client, ctx := s.Client()
	w.admin = s.NewAdmin(t, tag+"-admin@example.com")
	w.shop = s.NewMerchant(t, tag+"-shop", merchant.StatusACTIVE)
	client.Merchant.UpdateOneID(w.shop.IntID).SetFreeShippingThreshold(10_000_000).ExecX(ctx)
	w.buyer = s.Register(tag+"-buyer@example.com", "Buyer")
	_, w.vA = s.NewProduct(t, w.shop, "Teapot", product.KindPHYSICAL, tag+"-A", 10000, 1000)
	_, w.vB = s.NewProduct(t, w.shop, "Cups", product.KindPHYSICAL, tag+"-B", 5000, 1000)
	_, w.vC = s.NewProduct(t, w.shop, "Tea", product.KindPHYSICAL, tag+"-C", 3000, 1000)

	// GOLD: the buyer holds it (written directly: earning it takes paid orders).
	var tier struct{ CreateMemberTier struct{ ID string } }
	s.MustQuery(w.admin.AccessToken, `mutation($i: MemberTierInput!) { createMemberTier(input: $i) { id } }`, map[string]any{"i": map[string]any{
		"code": fmt.Sprintf("GOLD_%d", n), "name": "黄金会员", "level": 2 + n, "minSpend": "100000.00", "discountBps": 500, "discountCap": "20.00",
		"freeShipping": true, "freeShippingMin": "99.00"}}).Decode(t, &tier)
	tierID, _ := strconv.Atoi(tier.CreateMemberTier.ID)
	buyerID, _ := strconv.Atoi(w.buyer.UserID)
	now := time.Now().UTC()
	client.Membership.Create().SetUserID(buyerID).SetTierID(tierID).SetComputedAt(now).SetTierSince(now).ExecX(ctx)
	s.MustQuery(w.shop.Owner.AccessToken, `mutation($v: ID!, $t: ID!) { setMemberPrice(variantID: $v, tierID: $t, price: "45.00") { id } }`,
		map[string]any{"v": strconv.Itoa(w.vB), "t": tier.CreateMemberTier.ID})

	// The shop's promotions.
	promo := promotion(t, s, w.shop, map[string]any{"kind": "FLASH_SALE", "label": "限时秒杀", "perUserLimit": 5,
		"flashItems": []map[string]any{{"variantID": strconv.Itoa(w.vA), "price": "80.00", "cap": 10}}})
	w.flashItem = client.FlashSaleItem.Query().Where(flashsaleitem.PromotionID(promo)).OnlyIDX(ctx)
	promotion(t, s, w.shop, map[string]any{"kind": "FULL_REDUCTION", "label": "店铺满减",
		"tiers": []map[string]any{{"threshold": "100", "off": "10"}, {"threshold": "200", "off": "30"}}})

	// Coupons, claimed.
	w.shopCoupon = w.coupon(t, w.shop.Owner.AccessToken, map[string]any{"merchantID": w.shop.ID, "kind": "FIXED", "amount": "20.00", "threshold": "100.00", "scope": "ALL"})
	w.platCoupon = w.coupon(t, w.admin.AccessToken, map[string]any{"kind": "FIXED", "amount": "10.00", "threshold": "50.00", "scope": "ALL"})

	// A red packet, claimed.
	if redPacket > 0 {
		var camp struct{ CreateRedPacketCampaign struct{ ID string } }
		s.MustQuery(w.admin.AccessToken, `mutation($i: CreateRedPacketCampaignInput!) { createRedPacketCampaign(input: $i) { id } }`, map[string]any{"i": map[string]any{
			"name": "红包雨", "currency": "CNY", "split": "FIXED", "budget": redPacket, "count": 1,
			"startsAt": now.Add(-time.Minute).Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339),
			"perUserLimit": 1, "validityHours": 72}}).Decode(t, &camp)
		var rp struct{ ClaimRedPacket struct{ ID string } }
		s.MustQuery(w.buyer.AccessToken, `mutation($c: ID!) { claimRedPacket(campaignID: $c) { id amount balance } }`,
			map[string]any{"c": camp.CreateRedPacketCampaign.ID}).Decode(t, &rp)
		w.redPacket, _ = strconv.Atoi(rp.ClaimRedPacket.ID)
	}

	// A creator with a general code; the shop pays 8%.
	w.creator = s.Register(tag+"-creator@example.com", "Creator")
	var cr struct{ ApplyAsCreator struct{ ID string } }
	s.MustQuery(w.creator.AccessToken, `mutation($c: String!) { applyAsCreator(displayName: "Emma", code: $c) { id } }`,
		map[string]any{"c": w.code}).Decode(t, &cr)
	s.MustQuery(w.admin.AccessToken, `mutation($id: ID!) { approveCreator(id: $id) { status } }`, map[string]any{"id": cr.ApplyAsCreator.ID})
	s.MustQuery(w.shop.Owner.AccessToken, `mutation($m: ID!) { setCommissionRule(input: {merchantId: $m, active: true, rateBps: 800, windowDays: 7}) { rateBps } }`,
		map[string]any{"m": w.shop.ID})
	return w
}

func (w *world) coupon(t *testing.T, token string, in map[string]any) string {
	t.Helper()
	in["name"] = "Coupon"
	in["validDays"] = 30
	var tpl struct{ CreateCouponTemplate struct{ ID string } }
	w.s.MustQuery(token, `mutation($i: CreateCouponTemplateInput!) { createCouponTemplate(input: $i) { id } }`, map[string]any{"i": in}).Decode(t, &tpl)
	var c struct{ ClaimCoupon struct{ ID string } }
	w.s.MustQuery(w.buyer.AccessToken, `mutation($id: ID!) { claimCoupon(templateID: $id) { id } }`,
		map[string]any{"id": tpl.CreateCouponTemplate.ID}).Decode(t, &c)
	return c.ClaimCoupon.ID
}

const cartQ = `query($c: [ID!], $a: String) { cart(couponIDs: $c, attributionCode: $a) {
  subtotal { minorUnits } discount { minorUnits } shippingFee { minorUnits } shippingDiscount { minorUnits } total { minorUnits }
  adjustments { kind amount { minorUnits } shippingDiscount { minorUnits } fundedBy }
  lines { variant { sku } discount { minorUnits } netTotal { minorUnits } } } }`

// TestPromotionsStackThroughCheckout puts every provider on one checkout and checks the
// cart and the order against numbers worked out by hand from the documented rules:
//
//	list: A 100.00 + B 2 × 50.00 + C 30.00 = 230.00
//	price:   A flash 80.00 (−20.00), B member 2 × 45.00 (−10.00)          → 80.00 / 90.00 / 30.00 = 200.00
//	满减:     200.00 reaches 满200减30: 30.00 spread 80:90:30              → −12.00 / −13.50 / −4.50 → 68.00 / 76.50 / 25.50
//	tier:    5% of the lines not at a member price, A + C = 93.50 → 4.67 (cap 20.00), spread 68:25.5
//	         → 3.3963 / 1.2736: A 3.40 (larger remainder), C 1.27       → 64.60 / 76.50 / 24.23 = 165.33
//	shop coupon 满100减20: 20.00 spread → 7.8147 / 9.2542 / 2.9311: A 7.82, B 9.25, C 2.93 → 56.78 / 67.25 / 21.30 = 145.33
//	platform 满50减10: 10.00 → 3.9070 / 4.6274 / 1.4656: A 3.91, B 4.63, C 1.46 → 52.87 / 62.62 / 19.84 = 135.33
//	red packet 5.00 → 1.9533 / 2.3136 / 0.7330: A 1.95, B 2.32, C 0.73  → 50.92 / 60.30 / 19.11 = 130.33
//	shipping 10.00 (list subtotal below the shop's threshold), waived by GOLD free shipping (130.33 ≥ 99.00)
//	discount 99.67, total 230.00 − 99.67 + 10.00 − 10.00 = 130.33; commission ⌊13033 × 8%⌋ = 10.42
//
// Then cancelling the unpaid order gives everything back: both coupons AVAILABLE, the flash
// unit back, the red packet's 5.00 back, the commission REVERSED.
func TestPromotionsStackThroughCheckout(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s, "stack", 0, 500)
		client, ctx := s.Client()
		for _, l := range [][2]int{{w.vA, 1}, {w.vB, 2}, {w.vC, 1}} {
			s.MustQuery(w.buyer.AccessToken, `mutation($v: ID!, $q: Int!) { addToCart(variantID: $v, quantity: $q) { quantity } }`,
				map[string]any{"v": strconv.Itoa(l[0]), "q": l[1]})
		}
		coupons := []string{w.shopCoupon, w.platCoupon}
		var cart struct {
			Cart struct {
				Subtotal, Discount, ShippingFee, ShippingDiscount, Total minor
				Adjustments                                              []adjustment
				Lines                                                    []struct {
					Variant            struct{ Sku string }
					Discount, NetTotal minor
				}
			}
		}
		s.MustQuery(w.buyer.AccessToken, cartQ, map[string]any{"c": coupons, "a": w.code}).Decode(t, &cart)
		c := cart.Cart
		if c.Subtotal.n() != 23000 || c.Discount.n() != 9967 || c.ShippingFee.n() != 1000 || c.ShippingDiscount.n() != 1000 || c.Total.n() != 13033 {
			t.Errorf("cart: subtotal %d discount %d shipping %d shippingDiscount %d total %d; want 23000 9967 1000 1000 13033",
				c.Subtotal.n(), c.Discount.n(), c.ShippingFee.n(), c.ShippingDiscount.n(), c.Total.n())
		}
		wantKinds := map[string][2]int64{"FLASH_SALE": {2000, 0}, "MEMBER_PRICE": {1000, 0}, "FULL_REDUCTION": {3000, 0},
			"TIER_DISCOUNT": {467, 0}, "SHOP_COUPON": {2000, 0}, "PLATFORM_COUPON": {1000, 0}, "RED_PACKET": {500, 0}, "FREE_SHIPPING": {0, 1000}}
		checkKinds := func(what string, adjs []adjustment) {
			t.Helper()
			got := map[string][2]int64{}
			for _, a := range adjs {
				g := got[a.Kind]
				got[a.Kind] = [2]int64{g[0] + a.Amount.n(), g[1] + a.ShippingDiscount.n()}
			}
			if fmt.Sprint(got) != fmt.Sprint(wantKinds) {
				t.Errorf("%s adjustments by kind: %v, want %v", what, got, wantKinds)
			}
		}
		checkKinds("cart", c.Adjustments)
		wantLine := map[string]int64{"stack-A": 4908, "stack-B": 3970, "stack-C": 1089}
		for _, l := range c.Lines {
			if l.Discount.n() != wantLine[l.Variant.Sku] {
				t.Errorf("cart line %s: discount %d, want %d", l.Variant.Sku, l.Discount.n(), wantLine[l.Variant.Sku])
			}
		}

		in := orderInput("stack", w.vA, 1, w.vB, 2, w.vC, 1)
		in["couponIDs"] = coupons
		in["attributionCode"] = w.code
		in["expectedTotal"] = fmt.Sprintf("%d.%02d", c.Total.n()/100, c.Total.n()%100)
		var p placed
		s.MustQuery(w.buyer.AccessToken, placeOrderQ, map[string]any{"i": in}).Decode(t, &p)
		if len(p.PlaceOrder.Orders) != 1 {
			t.Fatalf("%d orders, want 1", len(p.PlaceOrder.Orders))
		}
		o := p.PlaceOrder.Orders[0]
		checkOrderSums(t, o)
		if o.Subtotal.n() != 23000 || o.Discount.n() != 9967 || o.ShippingFee.n() != 1000 || o.ShippingDiscount.n() != 1000 || o.Total.n() != 13033 || p.PlaceOrder.Total.n() != 13033 {
			t.Errorf("order: subtotal %d discount %d shipping %d shippingDiscount %d total %d (checkout %d); want 23000 9967 1000 1000 13033",
				o.Subtotal.n(), o.Discount.n(), o.ShippingFee.n(), o.ShippingDiscount.n(), o.Total.n(), p.PlaceOrder.Total.n())
		}
		checkKinds("order", o.Adjustments)
		for _, it := range o.Items {
			if it.Discount.n() != wantLine[it.Sku] {
				t.Errorf("order item %s: discount %d, want %d", it.Sku, it.Discount.n(), wantLine[it.Sku])
			}
		}
		orderID, _ := strconv.Atoi(o.ID)

		// What was claimed.
		w.checkCoupons(t, "after placeOrder", "USED")
		if sold := client.FlashSaleItem.GetX(ctx, w.flashItem).Sold; sold != 1 {
			t.Errorf("flash sold %d after placeOrder, want 1", sold)
		}
		w.checkRedPacket(t, "after placeOrder", 0)
		com := client.Commission.Query().Where(commission.OrderID(orderID)).OnlyX(ctx)
		if com.Base != 13033 || com.Amount != 1042 || com.Reversed != 0 {
			t.Errorf("commission base %d amount %d reversed %d, want 13033 1042 0", com.Base, com.Amount, com.Reversed)
		}
		w.checkMerchantCommission(t, "after placeOrder", "PENDING", 1042, 0)

		// Cancel the unpaid order: everything comes back.
		s.MustQuery(w.buyer.AccessToken, `mutation($id: ID!) { cancelOrder(id: $id, reason: "changed my mind") { id status } }`, map[string]any{"id": o.ID})
		w.checkCoupons(t, "after cancel", "AVAILABLE")
		if sold := client.FlashSaleItem.GetX(ctx, w.flashItem).Sold; sold != 0 {
			t.Errorf("flash sold %d after cancel, want 0", sold)
		}
		w.checkRedPacket(t, "after cancel", 500)
		com = client.Commission.GetX(ctx, com.ID)
		if com.Reversed != com.Amount || string(com.Status) != "REVERSED" {
			t.Errorf("after cancel: commission status %s reversed %d of %d, want REVERSED all", com.Status, com.Reversed, com.Amount)
		}
		w.checkMerchantCommission(t, "after cancel", "REVERSED", 1042, 1042)

		// The same checkout again gets the same price: everything is usable again.
		s.MustQuery(w.buyer.AccessToken, cartQ, map[string]any{"c": coupons, "a": w.code}).Decode(t, &cart)
		if cart.Cart.Total.n() != 13033 {
			t.Errorf("cart after cancel: total %d, want 13033", cart.Cart.Total.n())
		}
	})
}

func (w *world) checkCoupons(t *testing.T, when, status string) {
	t.Helper()
	var out struct{ MyCoupons []struct{ ID, Status string } }
	w.s.MustQuery(w.buyer.AccessToken, `{ myCoupons { id status } }`, nil).Decode(t, &out)
	got := map[string]string{}
	for _, c := range out.MyCoupons {
		got[c.ID] = c.Status
	}
	for _, id := range []string{w.shopCoupon, w.platCoupon} {
		if got[id] != status {
			t.Errorf("%s: coupon %s is %q, want %s", when, id, got[id], status)
		}
	}
}

func (w *world) checkRedPacket(t *testing.T, when string, want int) {
	t.Helper()
	var out struct{ MyRedPacketBalance int }
	w.s.MustQuery(w.buyer.AccessToken, `{ myRedPacketBalance(currency: "CNY") }`, nil).Decode(t, &out)
	if out.MyRedPacketBalance != want {
		t.Errorf("%s: red packet balance %d, want %d", when, out.MyRedPacketBalance, want)
	}
}

func (w *world) checkMerchantCommission(t *testing.T, when, status string, amount, reversed int64) {
	t.Helper()
	var out struct {
		MerchantCommissions struct {
			Commissions []struct {
				Status           string
				Amount, Reversed minor
			}
		}
	}
	w.s.MustQuery(w.shop.Owner.AccessToken, `query($m: ID!) { merchantCommissions(merchantId: $m) { commissions { status amount { minorUnits } reversed { minorUnits } } } }`,
		map[string]any{"m": w.shop.ID}).Decode(t, &out)
	cs := out.MerchantCommissions.Commissions
	if len(cs) != 1 || cs[0].Status != status || cs[0].Amount.n() != amount || cs[0].Reversed.n() != reversed {
		t.Errorf("%s: merchantCommissions %+v, want one %s of %d with %d reversed", when, cs, status, amount, reversed)
	}
}
