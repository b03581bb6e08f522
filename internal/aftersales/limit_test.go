package aftersales_test

import (
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/orderevent"

	"github.com/xiadan/xiadan/internal/apitest"
)

// TestAfterSalesArbitrationLimit: arbitration may refund no more of the lines than a new
// request could ask for — what they are worth less what earlier requests refunded on them.
func TestAfterSalesArbitrationLimit(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		owner := w.shop.Owner.AccessToken
		o := w.paidOrder(t, false) // teas ¥51.00, cup ¥40.00, shipping ¥10.00
		first := w.open(t, map[string]any{"orderID": o.ID, "orderItemIDs": []string{o.TeaLine}, "type": "REFUND_ONLY", "reason": "NOT_RECEIVED", "amount": "30.00"})
		if got := w.step(t, owner, "approveAfterSales", "id: $id", map[string]any{"id": first.ID}); got.RefundedAmount.Amount != "30.00" {
			t.Fatalf("first request refunded %s", got.RefundedAmount.Amount)
		}
		second := w.open(t, map[string]any{"orderID": o.ID, "orderItemIDs": []string{o.TeaLine}, "type": "REFUND_ONLY", "reason": "QUALITY_ISSUE"})
		if second.Amount.Amount != "21.00" {
			t.Fatalf("second request asks for %s, want what remains of the line (21.00)", second.Amount.Amount)
		}
		w.step(t, owner, "rejectAfterSales", "id: $id, reason: $r", map[string]any{"id": second.ID, "r": "refunded already"})
		w.step(t, w.buyer.AccessToken, "escalateAfterSales", "id: $id, reason: $r", map[string]any{"id": second.ID, "r": "not enough"})
		arbitrate := `mutation($id: ID!, $a: String) { arbitrateAfterSales(id: $id, decision: REFUND, amount: $a, reason: "platform") { status refundedAmount { amount } } }`
		wantCode(t, s.Query(w.admin, arbitrate, map[string]any{"id": second.ID, "a": "51.00"}), "BAD_USER_INPUT", "amount")
		wantCode(t, s.Query(w.admin, arbitrate, map[string]any{"id": second.ID, "a": "21.01"}), "BAD_USER_INPUT", "amount")
		var out struct {
			ArbitrateAfterSales struct {
				Status         string
				RefundedAmount struct{ Amount string }
			}
		}
		w.must(t, w.admin, arbitrate, map[string]any{"id": second.ID, "a": "21.00"}, &out)
		if out.ArbitrateAfterSales.Status != "REFUNDED" || out.ArbitrateAfterSales.RefundedAmount.Amount != "21.00" {
			t.Errorf("arbitration: %+v", out.ArbitrateAfterSales)
		}
		if got := w.read(t, w.buyer.AccessToken, second.ID); got.Order.RefundedAmount.Amount != "51.00" {
			t.Errorf("order refunded %s, want 51.00 (the tea line, once)", got.Order.RefundedAmount.Amount)
		}

		// The dispute's text stays on the request's timeline; the order's events, which
		// partners and webhooks read, carry none of it.
		got := w.read(t, w.buyer.AccessToken, second.ID)
		found := false
		for _, e := range got.Timeline {
			found = found || strings.Contains(e.Message, "refunded already")
		}
		if !found {
			t.Errorf("the rejection reason is missing from the request's timeline: %+v", got.Timeline)
		}
		client, ctx := s.Client()
		evs, err := client.OrderEvent.Query().Where(orderevent.OrderID(mustAtoi(t, o.ID))).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			t.Fatal("no order events")
		}
		for _, e := range evs {
			for _, secret := range []string{"refunded already", "not enough", "QUALITY_ISSUE", "NOT_RECEIVED"} {
				if strings.Contains(e.Reason, secret) {
					t.Errorf("order event %s reason %q shows the dispute's text %q", e.Type, e.Reason, secret)
				}
			}
		}
	})
}
