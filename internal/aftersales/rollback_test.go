package aftersales_test

import (
	"context"
	"sync"
	"testing"

	"github.com/xiadan/xiadan/ent/refund"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/payment"
)

// recorder is the sandbox that remembers the refunds it was asked for, as a provider
// does: a refund ref it has seen is deduplicated, not refunded again.
type recorder struct {
	payment.Provider
	mu    sync.Mutex
	calls int
	byRef map[string]int64 // refund ref → amount refunded
}

func (r *recorder) Refund(ctx context.Context, req payment.RefundRequest) (*payment.RefundResult, error) {
	res, err := r.Provider.Refund(ctx, req)
	if err == nil {
		r.mu.Lock()
		r.calls++
		if _, ok := r.byRef[req.RefundRef]; !ok {
			r.byRef[req.RefundRef] = req.Amount.Minor
		}
		r.mu.Unlock()
	}
	return res, err
}

// TestAfterSalesRefundRolledBack: a money step may not share its mutation with another
// field, whose failure would roll back the transaction after the provider refunded; the
// attempts are refused before anything runs, the real step refunds once under the refund
// ref derived from the request's number, and what the database records agrees with the
// provider.
func TestAfterSalesRefundRolledBack(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		rec := &recorder{Provider: s.App.Payments.Sandbox, byRef: map[string]int64{}}
		s.App.Payments.Registry = payment.NewRegistry(rec, nil)
		o := w.paidOrder(t, false)
		r := w.open(t, map[string]any{"orderID": o.ID, "type": "REFUND_ONLY", "reason": "NOT_RECEIVED", "amount": "30.00"})
		w.step(t, w.shop.Owner.AccessToken, "proposeAfterSalesAmount", "id: $id, amount: $c, reason: $r", map[string]any{"id": r.ID, "c": "20.00", "r": "half"})
		// The money step with a failing sibling field: refused before anything runs, so no
		// transaction can roll back a refund the provider made. Through fragments too.
		for _, q := range []string{
			`mutation($id: ID!) { a: acceptAfterSalesProposal(id: $id) { status } b: withdrawAfterSales(id: "999999") { status } }`,
			`mutation($id: ID!) { b: withdrawAfterSales(id: "999999") { status } a: acceptAfterSalesProposal(id: $id) { status } }`,
			`mutation($id: ID!) { ...F b: withdrawAfterSales(id: "999999") { status } } fragment F on Mutation { acceptAfterSalesProposal(id: $id) { status } }`,
			`mutation($id: ID!) { a: acceptAfterSalesProposal(id: $id) { status } b: acceptAfterSalesProposal(id: $id) { status } }`,
		} {
			wantCode(t, s.Query(w.buyer.AccessToken, q, map[string]any{"id": r.ID}), "BAD_USER_INPUT", "acceptAfterSalesProposal")
		}
		if got := w.read(t, w.buyer.AccessToken, r.ID); got.Status != "PROPOSED" || got.RefundedAmount.Amount != "0.00" {
			t.Fatalf("after the refused attempts the request is %s, refunded %s", got.Status, got.RefundedAmount.Amount)
		}
		got := w.step(t, w.buyer.AccessToken, "acceptAfterSalesProposal", "id: $id", map[string]any{"id": r.ID})
		if got.Status != "REFUNDED" || got.RefundedAmount.Amount != "20.00" {
			t.Fatalf("accepted: %s, refunded %s", got.Status, got.RefundedAmount.Amount)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.calls != 1 {
			t.Errorf("the provider was asked %d times, want 1", rec.calls)
		}
		if len(rec.byRef) != 1 || rec.byRef["R"+got.Number] != 2000 {
			t.Fatalf("the provider refunded under %d refund refs (%v), want 1", len(rec.byRef), rec.byRef)
		}
		client, ctx := s.Client()
		rows, err := client.Refund.Query().Where(refund.OrderID(mustAtoi(t, o.ID))).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Status != refund.StatusSUCCEEDED || rec.byRef[rows[0].RefundRef] != rows[0].Amount || rows[0].Amount != 2000 {
			t.Errorf("database refunds %+v disagree with the provider's %v", rows, rec.byRef)
		}
	})
}
