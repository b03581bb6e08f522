package aftersales_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/auditlog"
	"github.com/xiadan/xiadan/ent/refund"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestAfterSalesStories runs whole after-sales stories over GraphQL on SQLite and MySQL:
// a refund only of one line, a return and refund approved by the deadline job, a
// rejection the platform decides, a partial proposal, and an exchange.
func TestAfterSalesStories(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		staff := w.shop.Owner.AccessToken

		t.Run("refund only of one line, approved by the merchant", func(t *testing.T) {
			o := w.paidOrder(t, false)
			// More than the line is worth is refused, naming the field.
			wantCode(t, w.try(w.buyer.AccessToken, "requestAfterSales", "input: $i", map[string]any{"i": map[string]any{
				"orderID": o.ID, "orderItemIDs": []string{o.TeaLine}, "type": "REFUND_ONLY", "reason": "NO_LONGER_WANTED", "amount": "51.01"}}),
				"BAD_USER_INPUT", "amount")
			// Someone else's order is not found; the merchant cannot ask.
			wantCode(t, w.try(w.other.AccessToken, "requestAfterSales", "input: $i", map[string]any{"i": map[string]any{
				"orderID": o.ID, "type": "REFUND_ONLY", "reason": "NO_LONGER_WANTED"}}), "NOT_FOUND", "")
			r := w.open(t, map[string]any{"orderID": o.ID, "orderItemIDs": []string{o.TeaLine}, "type": "REFUND_ONLY",
				"reason": "NO_LONGER_WANTED", "description": "bought twice", "amount": "30.00"})
			if r.Status != "REQUESTED" || r.Amount.Amount != "30.00" || r.DueAt == nil || r.Order.AfterSalesStatus != "IN_PROGRESS" {
				t.Fatalf("new request: %+v", r)
			}
			// One open request per order.
			wantCode(t, w.try(w.buyer.AccessToken, "requestAfterSales", "input: $i", map[string]any{"i": map[string]any{
				"orderID": o.ID, "type": "REFUND_ONLY", "reason": "NO_LONGER_WANTED"}}), "CONFLICT", "")
			// Privacy: strangers and the rival shop see nothing; the buyer may not approve.
			if w.read(t, w.other.AccessToken, r.ID) != nil || w.read(t, w.rival.Owner.AccessToken, r.ID) != nil {
				t.Fatal("a stranger sees the request")
			}
			wantCode(t, w.try(w.rival.Owner.AccessToken, "approveAfterSales", "id: $id", map[string]any{"id": r.ID}), "NOT_FOUND", "")
			wantCode(t, w.try(w.buyer.AccessToken, "approveAfterSales", "id: $id", map[string]any{"id": r.ID}), "FORBIDDEN", "")
			var q struct {
				MerchantAfterSalesRequests struct{ TotalCount int }
			}
			w.must(t, w.rival.Owner.AccessToken, `{ merchantAfterSalesRequests(first: 10) { totalCount } }`, nil, &q)
			if q.MerchantAfterSalesRequests.TotalCount != 0 {
				t.Fatal("the rival's queue shows another shop's request")
			}
			w.must(t, staff, `query($d: Time) { merchantAfterSalesRequests(dueBefore: $d, first: 10) { totalCount } }`,
				map[string]any{"d": w.clock.Now().Add(49 * time.Hour).Format(time.RFC3339)}, &q)
			if q.MerchantAfterSalesRequests.TotalCount != 1 {
				t.Fatalf("the queue due in 49 h has %d requests", q.MerchantAfterSalesRequests.TotalCount)
			}

			r = w.step(t, staff, "approveAfterSales", "id: $id", map[string]any{"id": r.ID})
			if r.Status != "REFUNDED" || r.RefundedAmount.Amount != "30.00" || r.Order.RefundedAmount.Amount != "30.00" ||
				r.Order.AfterSalesStatus != "PARTIALLY_REFUNDED" {
				t.Fatalf("approved: %+v", r)
			}
			if !slices.Equal(types(r), []string{"REQUESTED", "APPROVED", "REFUNDED"}) {
				t.Errorf("timeline %v", types(r))
			}
			for _, it := range r.Order.Items {
				want := "NONE"
				if it.ID == o.TeaLine {
					want = "PARTIALLY_REFUNDED"
				}
				if it.AfterSalesStatus != want {
					t.Errorf("line %s: %s, want %s", it.ID, it.AfterSalesStatus, want)
				}
			}
			// Approving again is INVALID_STATE; the line has ¥21.00 left to ask.
			wantCode(t, w.try(staff, "approveAfterSales", "id: $id", map[string]any{"id": r.ID}), "INVALID_STATE", "")
			wantCode(t, w.try(w.buyer.AccessToken, "requestAfterSales", "input: $i", map[string]any{"i": map[string]any{
				"orderID": o.ID, "orderItemIDs": []string{o.TeaLine}, "type": "REFUND_ONLY", "reason": "NO_LONGER_WANTED", "amount": "21.01"}}),
				"BAD_USER_INPUT", "amount")
		})

		t.Run("return and refund, approved by the deadline, confirmed by the merchant", func(t *testing.T) {
			o := w.paidOrder(t, true)
			r := w.open(t, map[string]any{"orderID": o.ID, "type": "RETURN_REFUND", "reason": "DAMAGED", "description": "cracked cup"})
			if r.Amount.Amount != "101.00" {
				t.Fatalf("default amount %s, want the whole order 101.00", r.Amount.Amount)
			}
			// Shipping back before the approval is INVALID_STATE with the state.
			wantCode(t, w.try(w.buyer.AccessToken, "shipAfterSalesReturn", "id: $id, carrier: $c, trackingNumber: $n",
				map[string]any{"id": r.ID, "c": "SF", "n": "SF1"}), "INVALID_STATE", "")
			w.clock.Advance(47 * time.Hour)
			if n, err := s.App.AfterSales.RunJobsOnce(context.Background(), s.App.DB.Client); err != nil || n != 0 {
				t.Fatalf("before the deadline the job moved %d (%v)", n, err)
			}
			w.clock.Advance(2 * time.Hour)
			if n, err := s.App.AfterSales.RunJobsOnce(context.Background(), s.App.DB.Client); err != nil || n < 1 {
				t.Fatalf("past the deadline the job moved %d (%v)", n, err)
			}
			if got := w.read(t, w.buyer.AccessToken, r.ID); got.Status != "AWAITING_RETURN" || got.Timeline[1].ActorRole != "SYSTEM" {
				t.Fatalf("after the deadline: %+v", got)
			}
			r = w.step(t, w.buyer.AccessToken, "shipAfterSalesReturn", "id: $id, carrier: $c, trackingNumber: $n",
				map[string]any{"id": r.ID, "c": "SF Express", "n": "SF123"})
			if r.Status != "RETURN_SHIPPED" {
				t.Fatalf("shipped back: %+v", r)
			}
			r = w.step(t, staff, "confirmAfterSalesReturn", "id: $id", map[string]any{"id": r.ID})
			if r.Status != "REFUNDED" || r.RefundedAmount.Amount != "101.00" || r.Order.AfterSalesStatus != "REFUNDED" {
				t.Fatalf("confirmed: %+v", r)
			}
			want := []string{"REQUESTED", "APPROVED", "RETURN_SHIPPED", "RETURN_RECEIVED", "REFUNDED"}
			if !slices.Equal(types(r), want) {
				t.Errorf("timeline %v, want %v", types(r), want)
			}
			var ord struct {
				Order struct{ Timeline []struct{ Type string } }
			}
			w.must(t, w.buyer.AccessToken, `query($id: ID!) { order(id: $id) { timeline { type } } }`, map[string]any{"id": o.ID}, &ord)
			var got []string
			for _, e := range ord.Order.Timeline {
				got = append(got, e.Type)
			}
			for _, typ := range []string{"AFTER_SALES_REQUESTED", "AFTER_SALES_APPROVED", "AFTER_SALES_RETURN_SHIPPED", "AFTER_SALES_RETURN_RECEIVED", "REFUNDED", "AFTER_SALES_RESOLVED"} {
				if !slices.Contains(got, typ) {
					t.Errorf("order timeline %v lacks %s", got, typ)
				}
			}
		})

		t.Run("rejected, escalated and arbitrated", func(t *testing.T) {
			o := w.paidOrder(t, true)
			r := w.open(t, map[string]any{"orderID": o.ID, "orderItemIDs": []string{o.CupLine}, "type": "REFUND_ONLY", "reason": "NOT_AS_DESCRIBED"})
			wantCode(t, w.try(staff, "rejectAfterSales", "id: $id, reason: $r", map[string]any{"id": r.ID, "r": " "}), "BAD_USER_INPUT", "reason")
			r = w.step(t, staff, "rejectAfterSales", "id: $id, reason: $r", map[string]any{"id": r.ID, "r": "the cup is as pictured"})
			if r.Status != "REJECTED" || r.MerchantReason != "the cup is as pictured" {
				t.Fatalf("rejected: %+v", r)
			}
			// Only the customer escalates; arbitration waits for an escalation.
			wantCode(t, w.try(staff, "escalateAfterSales", "id: $id, reason: $r", map[string]any{"id": r.ID, "r": "x"}), "FORBIDDEN", "")
			wantCode(t, w.try(w.admin, "arbitrateAfterSales", "id: $id, decision: $d, reason: $r",
				map[string]any{"id": r.ID, "d": "REFUND", "r": "x"}), "INVALID_STATE", "")
			r = w.step(t, w.buyer.AccessToken, "escalateAfterSales", "id: $id, reason: $r", map[string]any{"id": r.ID, "r": "the glaze is chipped"})
			if r.Status != "ESCALATED" || r.DueAt != nil {
				t.Fatalf("escalated: %+v", r)
			}
			w.step(t, staff, "addAfterSalesMessage", "id: $id, message: $r", map[string]any{"id": r.ID, "r": "photo of the packing attached"})
			var queue struct {
				AdminAfterSalesRequests struct{ Nodes []struct{ ID string } }
			}
			w.must(t, w.admin, `{ adminAfterSalesRequests(first: 10) { nodes { id } } }`, nil, &queue)
			if len(queue.AdminAfterSalesRequests.Nodes) != 1 || queue.AdminAfterSalesRequests.Nodes[0].ID != r.ID {
				t.Fatalf("arbitration queue %+v", queue)
			}
			wantCode(t, w.s.Query(staff, `{ adminAfterSalesRequests(first: 10) { totalCount } }`, nil), "FORBIDDEN", "")
			wantCode(t, w.try(w.admin, "arbitrateAfterSales", "id: $id, decision: $d, amount: $a, reason: $r",
				map[string]any{"id": r.ID, "d": "REFUND", "a": "40.01", "r": "x"}), "BAD_USER_INPUT", "amount")
			r = w.step(t, w.admin, "arbitrateAfterSales", "id: $id, decision: $d, amount: $a, reason: $r",
				map[string]any{"id": r.ID, "d": "REFUND", "a": "20.00", "r": "chipped glaze shown in the photos"})
			if r.Status != "REFUNDED" || r.RefundedAmount.Amount != "20.00" {
				t.Fatalf("arbitrated: %+v", r)
			}
			want := []string{"REQUESTED", "REJECTED", "ESCALATED", "MESSAGE", "ARBITRATED", "REFUNDED"}
			if !slices.Equal(types(r), want) {
				t.Errorf("timeline %v, want %v", types(r), want)
			}
			wantCode(t, w.try(w.admin, "arbitrateAfterSales", "id: $id, decision: $d, reason: $r",
				map[string]any{"id": r.ID, "d": "REJECT", "r": "again"}), "INVALID_STATE", "")
			client, ctx := s.Client()
			if n, err := client.AuditLog.Query().Where(auditlog.Action("after_sales.arbitrate")).Count(ctx); err != nil || n != 1 {
				t.Errorf("%d audit entries (%v)", n, err)
			}

			// The merchant's credit counts the dispute and the lost arbitration: three
			// requests so far (the two stories above and this one), each answered.
			var credit struct {
				RecomputeMerchantCredit struct {
					AfterSalesAvailable bool
					Inputs              struct {
						AfterSales struct {
							Requests, Disputes, ArbitrationLosses, Responses int
							AverageResponseHours                             *float64
						}
					}
				}
			}
			w.must(t, w.admin, `mutation($m: ID!) { recomputeMerchantCredit(merchantID: $m) {
				afterSalesAvailable inputs { afterSales { requests disputes arbitrationLosses responses averageResponseHours } } } }`,
				map[string]any{"m": w.shop.ID}, &credit)
			got := credit.RecomputeMerchantCredit
			if a := got.Inputs.AfterSales; !got.AfterSalesAvailable || a.Requests != 3 || a.Disputes != 1 ||
				a.ArbitrationLosses != 1 || a.Responses != 3 || a.AverageResponseHours == nil {
				t.Errorf("credit after-sales inputs %+v", got)
			}
		})

		t.Run("partial proposal accepted by the customer", func(t *testing.T) {
			o := w.paidOrder(t, false)
			r := w.open(t, map[string]any{"orderID": o.ID, "type": "REFUND_ONLY", "reason": "QUALITY_ISSUE", "amount": "50.00"})
			wantCode(t, w.try(staff, "proposeAfterSalesAmount", "id: $id, amount: $n, reason: $r",
				map[string]any{"id": r.ID, "n": "50.00", "r": "x"}), "BAD_USER_INPUT", "amount")
			r = w.step(t, staff, "proposeAfterSalesAmount", "id: $id, amount: $n, reason: $r",
				map[string]any{"id": r.ID, "n": "15.00", "r": "the tea is fine, the tin is dented"})
			if r.Status != "PROPOSED" || r.ProposedAmount == nil || r.ProposedAmount.Amount != "15.00" {
				t.Fatalf("proposed: %+v", r)
			}
			r = w.step(t, w.buyer.AccessToken, "acceptAfterSalesProposal", "id: $id", map[string]any{"id": r.ID})
			if r.Status != "REFUNDED" || r.RefundedAmount.Amount != "15.00" {
				t.Fatalf("accepted: %+v", r)
			}
		})

		t.Run("exchange: returned, received, replaced, no refund", func(t *testing.T) {
			o := w.paidOrder(t, true)
			r := w.open(t, map[string]any{"orderID": o.ID, "orderItemIDs": []string{o.CupLine}, "type": "EXCHANGE", "reason": "WRONG_ITEM"})
			r = w.step(t, staff, "approveAfterSales", "id: $id", map[string]any{"id": r.ID})
			r = w.step(t, w.buyer.AccessToken, "shipAfterSalesReturn", "id: $id, carrier: $c, trackingNumber: $n",
				map[string]any{"id": r.ID, "c": "YTO", "n": "YT1"})
			r = w.step(t, staff, "confirmAfterSalesReturn", "id: $id", map[string]any{"id": r.ID})
			if r.Status != "AWAITING_REPLACEMENT" {
				t.Fatalf("received: %+v", r)
			}
			r = w.step(t, staff, "shipAfterSalesReplacement", "id: $id, carrier: $c, trackingNumber: $n",
				map[string]any{"id": r.ID, "c": "YTO", "n": "YT2"})
			if r.Status != "EXCHANGED" || r.RefundedAmount.Amount != "0.00" || r.Order.AfterSalesStatus != "EXCHANGED" ||
				r.Order.RefundedAmount.Amount != "0.00" {
				t.Fatalf("exchanged: %+v", r)
			}
			client, ctx := s.Client()
			if n, _ := client.Refund.Query().Where(refund.AfterSalesRequestIDNotNil()).Count(ctx); n != 4 {
				t.Errorf("%d after-sales refunds in all, want 4 (one per refunded story)", n)
			}
		})

		t.Run("auto-complete waits while a request is open", func(t *testing.T) {
			o := w.paidOrder(t, true)
			w.must(t, w.buyer.AccessToken, `mutation($id: ID!) { confirmReceipt(orderID: $id) { status } }`, map[string]any{"id": o.ID}, nil)
			// confirmReceipt completes it at once; check the job on a delivered order instead.
			o = w.paidOrder(t, true)
			client, ctx := s.Client()
			id := mustAtoi(t, o.ID)
			if err := client.Order.UpdateOneID(id).SetStatus("DELIVERED").SetDeliveredAt(w.clock.Now()).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			r := w.open(t, map[string]any{"orderID": o.ID, "type": "RETURN_REFUND", "reason": "DAMAGED"})
			w.clock.Advance(8 * 24 * time.Hour)
			if _, _, err := s.App.Orders.RunJobsOnce(context.Background(), s.App.DB.Client); err != nil {
				t.Fatal(err)
			}
			if got, _ := client.Order.Get(ctx, id); got.Status != "DELIVERED" {
				t.Fatalf("an order with an open request became %s", got.Status)
			}
			// The request's own deadline passed too: it was approved by the job.
			_, _ = s.App.AfterSales.RunJobsOnce(context.Background(), s.App.DB.Client)
			if got := w.read(t, w.buyer.AccessToken, r.ID); got.Status != "AWAITING_RETURN" {
				t.Fatalf("request %s", got.Status)
			}
		})
	})
}
