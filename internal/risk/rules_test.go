package risk_test

import (
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/risk"
)

// TestRulesFireWithExplanations drives each rule over its threshold through placeOrder
// and payOrder, and reads the rules that fired, with their explanations, as the admin.
func TestRulesFireWithExplanations(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		a, b := f.buyer(t), f.buyer(t)

		// A first, ordinary order: nothing fires.
		first := f.order(t, buy{token: a.AccessToken, device: "device-aaaa-1111", qty: 1})
		if got := f.assessment(t, first); got.Status != "PASSED" || got.Score != 0 || len(got.Rules) != 0 || got.DeviceID != "device-aaaa-1111" {
			t.Fatalf("first order: %+v", got)
		}

		// The second order of the same account, device, address and phone, of 4 units
		// (4× the merchant's average), after two failed payments.
		p := f.place(t, buy{token: a.AccessToken, device: "device-aaaa-1111", qty: 4})
		f.pay(t, a.AccessToken, p.CheckoutID, "FAILED")
		f.pay(t, a.AccessToken, p.CheckoutID, "FAILED")
		f.pay(t, a.AccessToken, p.CheckoutID, "SUCCEEDED")
		got := f.assessment(t, p.Orders[0].ID)
		want := map[string]string{
			risk.RuleAccountVelocity:   "2 orders from this account in the last 24h (more than 1)",
			risk.RuleDeviceVelocity:    "2 orders from this device in the last 24h (more than 1)",
			risk.RuleAddressVelocity:   "2 orders from this shipping address in the last 24h (more than 1)",
			risk.RulePhoneVelocity:     "2 orders from this phone in the last 24h (more than 1)",
			risk.RuleLargeQuantity:     "4 × Longjing tea (TEA-1) in one line (more than 3)",
			risk.RuleLargeAmount:       "above ¥100.00",
			risk.RuleAboveMerchantNorm: "more than 2 × the merchant's average order",
			risk.RulePaymentFailures:   "2 failed payments by this account in the last 24h (more than 1)",
		}
		total := 0
		for code, text := range want {
			e, ok := got.rule(code)
			if !ok || !strings.Contains(e, text) {
				t.Errorf("%s: want an explanation with %q, got %q (fired: %s)", code, text, e, got.codes())
			}
			total += risk.Scores[code]
		}
		if got.Score != total || len(got.Rules) != len(want) {
			t.Errorf("score %d (%s), want %d from %d rules", got.Score, got.codes(), total, len(want))
		}

		// Another account on the same device and address, with a coupon each: the
		// shared-device, shared-address and coupon rules.
		tpl := f.s.MustQuery(f.shop.Owner.AccessToken, `mutation($i: CreateCouponTemplateInput!) { createCouponTemplate(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"merchantID": f.shop.ID, "name": "One off", "kind": "FIXED", "amount": "1.00", "scope": "ALL", "validDays": 30}})
		var created struct{ CreateCouponTemplate struct{ ID string } }
		tpl.Decode(t, &created)
		c := f.buyer(t)
		for _, who := range []apitest.Session{b, c} {
			f.s.MustQuery(who.AccessToken, `mutation($id: ID!) { claimCoupon(templateID: $id) { id } }`,
				map[string]any{"id": created.CreateCouponTemplate.ID})
		}
		f.order(t, buy{token: b.AccessToken, device: "device-bbbb-2222", street: "9 Shared Lane", phone: "13900000001"})
		third := f.order(t, buy{token: c.AccessToken, device: "device-bbbb-2222", street: "9  shared lane", phone: "13900000002"})
		got = f.assessment(t, third)
		for code, text := range map[string]string{
			risk.RuleSharedDevice:  "2 accounts ordered from this device in the last 30d (more than 1)",
			risk.RuleSharedAddress: "2 accounts ordered from this shipping address in the last 30d (more than 1)",
			risk.RuleCouponAbuse:   "2 accounts used coupons from this device in the last 30d (more than 1)",
		} {
			if e, ok := got.rule(code); !ok || !strings.Contains(e, text) {
				t.Errorf("%s: want an explanation with %q, got %q (fired: %s)", code, text, e, got.codes())
			}
		}
		if got.Status != "PASSED" {
			t.Errorf("below the hold score, the order passes: %+v", got)
		}
	}, func(c *config.Config) {
		quiet(c)
		c.Risk.MaxOrdersPerAccount, c.Risk.MaxOrdersPerDevice, c.Risk.MaxOrdersPerAddress, c.Risk.MaxOrdersPerPhone = 1, 1, 1, 1
		c.Risk.MaxAccountsPerDevice, c.Risk.MaxAccountsPerAddress, c.Risk.MaxCouponAccounts = 1, 1, 1
		c.Risk.MaxLineQuantity, c.Risk.MaxOrderAmount = 3, 10000
		c.Risk.NormFactor, c.Risk.NormMinOrders = 2, 1
		c.Risk.MaxPaymentFailures = 1
	})
}
