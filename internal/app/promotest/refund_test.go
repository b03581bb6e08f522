package promotest

import (
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/commission"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestRefundOfDiscountedOrderReversesCommission: the fully stacked order of
// TestPromotionsStackThroughCheckout (total 130.33, commission base 130.33, 8% → 10.42) is
// paid through the sandbox, then the merchant refunds 50.00: the goods part is 50.00, so
// ⌊1042 × 5000 / 13033⌋ = 399 is reversed and the commission stays PENDING; refunding the
// remaining 80.33 refunds the whole base and reverses all 1042 (net 0).
func TestRefundOfDiscountedOrderReversesCommission(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s, "refund", 0, 500)
		client, ctx := s.Client()
		in := orderInput("refund", w.vA, 1, w.vB, 2, w.vC, 1)
		in["couponIDs"] = []string{w.shopCoupon, w.platCoupon}
		in["attributionCode"] = w.code
		in["expectedTotal"] = "130.33"
		var p placed
		s.MustQuery(w.buyer.AccessToken, placeOrderQ, map[string]any{"i": in}).Decode(t, &p)
		o := p.PlaceOrder.Orders[0]
		orderID, _ := strconv.Atoi(o.ID)

		var pay struct{ PayOrder struct{ ID, Status string } }
		s.MustQuery(w.buyer.AccessToken, `mutation($i: PayOrderInput!) { payOrder(input: $i) { id status } }`,
			map[string]any{"i": map[string]any{"checkoutID": p.PlaceOrder.CheckoutID, "method": "WECHAT_PAY", "idempotencyKey": "pay-refund-1"}}).Decode(t, &pay)
		s.MustQuery(w.buyer.AccessToken, `mutation($id: ID!) { sandboxCompletePayment(paymentID: $id, outcome: SUCCEEDED) { status } }`,
			map[string]any{"id": pay.PayOrder.ID})
		if st := client.Order.GetX(ctx, orderID).Status; st != order.StatusPAID {
			t.Fatalf("order after payment: %s", st)
		}

		refund := func(amount string) {
			t.Helper()
			vars := map[string]any{"o": o.ID}
			q := `mutation($o: ID!) { refundOrder(orderID: $o, reason: "damaged") { status } }`
			if amount != "" {
				vars["a"] = amount
				q = `mutation($o: ID!, $a: String) { refundOrder(orderID: $o, amount: $a, reason: "damaged") { status } }`
			}
			s.MustQuery(w.shop.Owner.AccessToken, q, vars)
		}
		com := func() (base, amount, refunded, reversed int64, status string) {
			c := client.Commission.Query().Where(commission.OrderID(orderID)).OnlyX(ctx)
			return c.Base, c.Amount, c.RefundedBase, c.Reversed, string(c.Status)
		}
		if base, amount, _, reversed, _ := com(); base != 13033 || amount != 1042 || reversed != 0 {
			t.Fatalf("commission base %d amount %d reversed %d, want 13033 1042 0", base, amount, reversed)
		}

		refund("50.00")
		base, amount, refunded, reversed, status := com()
		t.Logf("after refunding 50.00: base %d amount %d refunded base %d reversed %d status %s", base, amount, refunded, reversed, status)
		if refunded != 5000 || reversed != 399 || status == "REVERSED" {
			t.Errorf("after refunding 50.00: refunded base %d reversed %d status %s, want 5000, ⌊1042×5000/13033⌋ = 399, not REVERSED",
				refunded, reversed, status)
		}
		w.checkMerchantCommission(t, "after refunding 50.00", status, 1042, 399)

		refund("") // what remains: 80.33
		base, amount, refunded, reversed, status = com()
		t.Logf("after refunding the rest: base %d amount %d refunded base %d reversed %d status %s", base, amount, refunded, reversed, status)
		if refunded != 13033 || reversed != 1042 {
			t.Errorf("after refunding the rest: refunded base %d reversed %d, want 13033 1042", refunded, reversed)
		}
		var earn struct {
			MyCreatorEarnings struct{ Pending, Reversed minor }
		}
		s.MustQuery(w.creator.AccessToken, `{ myCreatorEarnings { pending { minorUnits } reversed { minorUnits } } }`, nil).Decode(t, &earn)
		if earn.MyCreatorEarnings.Pending.n() != 0 || earn.MyCreatorEarnings.Reversed.n() != 1042 {
			t.Errorf("creator earnings: pending %d reversed %d, want 0 and 1042", earn.MyCreatorEarnings.Pending.n(), earn.MyCreatorEarnings.Reversed.n())
		}
	})
}
