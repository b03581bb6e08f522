package members_test

import (
	"testing"
	"time"
)

// A merchant may aim coupons and promotions at its own customer groups only: a rival
// aiming at them would single out the shop's loyal customers (and learn who they are from
// its own orders). Experiments are the platform's. Refused like an audience that does not
// exist; the owner and the platform may.
func TestOnlyTheOwnerTargetsACustomerGroup(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, w *world) {
		var out struct{ CreateCustomerGroup groupView }
		w.s.MustQuery(w.shop.Owner.AccessToken, createGroupM, map[string]any{"i": map[string]any{"name": "老客", "minPaidOrders": 2}}).Decode(t, &out)
		group := "group:" + out.CreateCustomerGroup.ID
		now := w.clock.Now()
		promotion := func(audience string) map[string]any {
			return map[string]any{"i": map[string]any{"kind": "FULL_REDUCTION", "label": "满10减1", "audiences": []string{audience},
				"startsAt": now.Format(time.RFC3339), "endsAt": now.Add(48 * time.Hour).Format(time.RFC3339),
				"tiers": []map[string]any{{"threshold": "10", "off": "1"}}}}
		}
		const createPromotion = `mutation($i: PromotionInput!) { createPromotion(input: $i) { id } }`
		wantCode(t, "a rival's promotion for the shop's group", w.s.Query(w.other.Owner.AccessToken, createPromotion, promotion(group)), "BAD_USER_INPUT", "input.audiences[0]")
		wantCode(t, "a shop's promotion for an experiment arm", w.s.Query(w.other.Owner.AccessToken, createPromotion, promotion("experiment:coupon-value/B")), "BAD_USER_INPUT", "input.audiences[0]")
		w.s.MustQuery(w.shop.Owner.AccessToken, createPromotion, promotion(group))

		coupon := func(merchantID any, audience string) map[string]any {
			return map[string]any{"i": map[string]any{"merchantID": merchantID, "name": "老客券", "kind": "FIXED", "amount": "5.00",
				"scope": "ALL", "validDays": 7, "audiences": []string{audience}}}
		}
		const createCoupon = `mutation($i: CreateCouponTemplateInput!) { createCouponTemplate(input: $i) { id } }`
		wantCode(t, "a rival's coupon for the shop's group", w.s.Query(w.other.Owner.AccessToken, createCoupon, coupon(w.other.ID, group)), "BAD_USER_INPUT", "audiences[0]")
		wantCode(t, "a shop's coupon for an experiment arm", w.s.Query(w.other.Owner.AccessToken, createCoupon, coupon(w.other.ID, "experiment:coupon-value/B")), "BAD_USER_INPUT", "audiences[0]")
		w.s.MustQuery(w.shop.Owner.AccessToken, createCoupon, coupon(w.shop.ID, group))
		w.s.MustQuery(w.admin.AccessToken, createCoupon, coupon(nil, "experiment:coupon-value/B"))
	})
}
