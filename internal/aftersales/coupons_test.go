package aftersales_test

import (
	"context"
	"sync"
	"testing"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/pricing"
)

// refundWatcher is a promotions provider that only follows refunds (as creator
// attribution will), recording what it hears.
type refundWatcher struct {
	mu      sync.Mutex
	refunds []int64
}

func (*refundWatcher) Stage() pricing.Stage                                      { return pricing.StageRecord }
func (*refundWatcher) Quote(context.Context, *ent.Client, *pricing.Basket) error { return nil }
func (*refundWatcher) Commit(context.Context, *ent.Client, *pricing.Basket, map[int]int) error {
	return nil
}
func (w *refundWatcher) Refunded(_ context.Context, _ *ent.Client, _ *ent.Order, amount int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.refunds = append(w.refunds, amount)
	return nil
}

// After-sales caps use a line's net worth: its list total less its share of the order's
// coupon discount, so a refund never gives back money the customer did not pay.
func TestAfterSalesCapsUseTheDiscountedLine(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		s.App.Coupons.Now = w.clock.Now
		watcher := &refundWatcher{}
		s.App.Orders.Promotions = append(s.App.Orders.Promotions, watcher)
		var tpl struct{ CreateCouponTemplate struct{ ID string } }
		w.must(t, w.shop.Owner.AccessToken, `mutation($i: CreateCouponTemplateInput!) { createCouponTemplate(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"merchantID": w.shop.ID, "name": "10 off", "kind": "FIXED", "amount": "10.00", "scope": "ALL", "validDays": 7}}, &tpl)
		w.must(t, w.buyer.AccessToken, `mutation($id: ID!) { claimCoupon(templateID: $id) { id } }`,
			map[string]any{"id": tpl.CreateCouponTemplate.ID}, nil)
		// Teas ¥51.00 and a cup ¥40.00: the ¥10.00 coupon is ¥5.60 on the teas and ¥4.40 on
		// the cup (largest remainder), so the teas are worth ¥45.40.
		o := w.paidOrder(t, false)
		wantCode(t, s.Query(w.buyer.AccessToken, `mutation($i: RequestAfterSalesInput!) { requestAfterSales(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"orderID": o.ID, "orderItemIDs": []string{o.TeaLine}, "type": "REFUND_ONLY", "reason": "QUALITY_ISSUE", "amount": "45.41"}}),
			"BAD_USER_INPUT", "amount")
		r := w.open(t, map[string]any{"orderID": o.ID, "orderItemIDs": []string{o.TeaLine}, "type": "REFUND_ONLY", "reason": "QUALITY_ISSUE"})
		if r.Amount.Amount != "45.40" {
			t.Fatalf("a request for the teas asks for %s, want their net worth 45.40", r.Amount.Amount)
		}
		got := w.step(t, w.shop.Owner.AccessToken, "approveAfterSales", "id: $id", map[string]any{"id": r.ID})
		if got.RefundedAmount.Amount != "45.40" || got.Order.RefundedAmount.Amount != "45.40" {
			t.Fatalf("refunded %s (order %s), want 45.40", got.RefundedAmount.Amount, got.Order.RefundedAmount.Amount)
		}
		if len(watcher.refunds) != 1 || watcher.refunds[0] != 4540 {
			t.Errorf("refund observers heard %v, want [4540]", watcher.refunds)
		}
		for _, it := range got.Order.Items {
			if it.ID == o.TeaLine && it.AfterSalesStatus != "REFUNDED" {
				t.Errorf("the tea line is %s after its net worth was refunded, want REFUNDED", it.AfterSalesStatus)
			}
		}
	})
}
