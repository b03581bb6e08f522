package aftersales_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/aftersalesrequest"
	entorder "github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/ent/refund"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestAfterSalesRaces races the money steps of after-sales requests over HTTP — two
// merchant approvals, an approval and the deadline job, an admin's arbitration and the
// merchant giving in, an after-sales refund and the merchant's direct refund of the same
// order, two requests opened for one order (one opens, the other gets CONFLICT) — on SQLite and on MySQL at REPEATABLE READ and READ COMMITTED, and after every
// round checks that a request executed at most one refund, that the refunds of an order
// never exceed what was paid, and that the order's, the payment's and the request's
// refunded amounts agree with the refund rows. RACE_ROUNDS sets the rounds (default 4).
func TestAfterSalesRaces(t *testing.T) {
	t.Parallel()
	rounds := 4
	if n, err := strconv.Atoi(os.Getenv("RACE_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.NewReachable(t, d.URL(t))
			w := newWorld(t, s)
			staff := s.AddStaff(t, w.shop, "staff@example.com").AccessToken
			owner := w.shop.Owner.AccessToken
			approve := `mutation($id: ID!) { approveAfterSales(id: $id) { status } }`
			job := func() (*apitest.Response, error) {
				_, err := s.App.AfterSales.RunJobsOnce(context.Background(), s.App.DB.Client)
				return &apitest.Response{}, err
			}
			for _, sc := range []struct {
				name string
				run  func(t *testing.T, o order) string // returns the request id
			}{
				{"two merchant approvals", func(t *testing.T, o order) string {
					r := w.open(t, map[string]any{"orderID": o.ID, "type": "REFUND_ONLY", "reason": "NOT_RECEIVED"})
					outs := apitest.Race(s.Request(owner, approve, map[string]any{"id": r.ID}), s.Request(staff, approve, map[string]any{"id": r.ID}))
					if n := apitest.Successes(t, "approve", outs, "INVALID_STATE"); n != 1 {
						t.Errorf("%d approvals succeeded, want 1", n)
					}
					return r.ID
				}},
				{"approval racing the deadline job", func(t *testing.T, o order) string {
					r := w.open(t, map[string]any{"orderID": o.ID, "type": "REFUND_ONLY", "reason": "NOT_RECEIVED", "amount": "33.00"})
					w.clock.Advance(49 * time.Hour)
					outs := apitest.Race(s.Request(owner, approve, map[string]any{"id": r.ID}), job)
					apitest.Successes(t, "approve or job", outs, "INVALID_STATE")
					if got := w.read(t, w.buyer.AccessToken, r.ID); got.Status != "REFUNDED" || got.RefundedAmount.Amount != "33.00" {
						t.Errorf("request %s refunded %s", got.Status, got.RefundedAmount.Amount)
					}
					return r.ID
				}},
				{"arbitration racing a merchant approval", func(t *testing.T, o order) string {
					r := w.open(t, map[string]any{"orderID": o.ID, "type": "REFUND_ONLY", "reason": "QUALITY_ISSUE"})
					w.step(t, owner, "rejectAfterSales", "id: $id, reason: $r", map[string]any{"id": r.ID, "r": "no"})
					w.step(t, w.buyer.AccessToken, "escalateAfterSales", "id: $id, reason: $r", map[string]any{"id": r.ID, "r": "yes"})
					outs := apitest.Race(
						s.Request(w.admin, `mutation($id: ID!) { arbitrateAfterSales(id: $id, decision: REFUND, amount: "20.00", reason: "half") { status } }`, map[string]any{"id": r.ID}),
						s.Request(owner, approve, map[string]any{"id": r.ID}))
					if n := apitest.Successes(t, "arbitrate or approve", outs, "INVALID_STATE"); n != 1 {
						t.Errorf("%d of arbitration and approval succeeded, want 1", n)
					}
					return r.ID
				}},
				{"two requests for one order", func(t *testing.T, o order) string {
					req := `mutation($i: RequestAfterSalesInput!) { requestAfterSales(input: $i) { id } }`
					in := map[string]any{"i": map[string]any{"orderID": o.ID, "type": "REFUND_ONLY", "reason": "NOT_RECEIVED", "amount": "20.00"}}
					outs := apitest.Race(s.Request(w.buyer.AccessToken, req, in), s.Request(w.buyer.AccessToken, req, in))
					if n := apitest.Successes(t, "request", outs, "CONFLICT"); n != 1 {
						t.Fatalf("%d requests opened, want 1", n)
					}
					var id string
					for _, out := range outs {
						if out.Code() == "" {
							var got struct{ RequestAfterSales struct{ ID string } }
							out.R.Decode(t, &got)
							id = got.RequestAfterSales.ID
						}
					}
					w.step(t, owner, "approveAfterSales", "id: $id", map[string]any{"id": id})
					return id
				}},
				{"after-sales refund racing a direct refund", func(t *testing.T, o order) string {
					r := w.open(t, map[string]any{"orderID": o.ID, "type": "REFUND_ONLY", "reason": "NOT_RECEIVED"})
					outs := apitest.Race(s.Request(owner, approve, map[string]any{"id": r.ID}),
						s.Request(staff, `mutation($id: ID!) { refundOrder(orderID: $id, amount: "60.00", reason: "goodwill") { id } }`, map[string]any{"id": o.ID}))
					if n := apitest.Successes(t, "approve or refund", outs, "INVALID_STATE", "BAD_USER_INPUT"); n < 1 {
						t.Errorf("neither the approval nor the direct refund succeeded")
					}
					return r.ID
				}},
			} {
				t.Run(sc.name, func(t *testing.T) {
					for round := range rounds {
						t.Run(fmt.Sprintf("round %d", round+1), func(t *testing.T) {
							o := w.paidOrder(t, false)
							id := sc.run(t, o)
							checkMoney(t, s, mustAtoi(t, o.ID), mustAtoi(t, id))
						})
					}
				})
			}
		})
	}
}

// checkMoney checks the money invariants of an order and its request.
func checkMoney(t *testing.T, s *apitest.Server, orderID, requestID int) {
	t.Helper()
	client, ctx := s.Client()
	o, err := client.Order.Query().Where(entorder.ID(orderID)).WithPayments().Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := client.Refund.Query().Where(refund.OrderID(orderID), refund.StatusNEQ(refund.StatusFAILED)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum, ofRequest int64
	perRequest := 0
	for _, r := range rs {
		sum += r.Amount
		if r.AfterSalesRequestID != nil && *r.AfterSalesRequestID == requestID {
			perRequest++
			ofRequest += r.Amount
		}
	}
	req, err := client.AfterSalesRequest.Get(ctx, requestID)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case perRequest > 1:
		t.Errorf("request %s executed %d refunds", req.Number, perRequest)
	case sum > o.Total:
		t.Errorf("order %s refunded %d of %d paid", o.Number, sum, o.Total)
	case sum != o.RefundedAmount:
		t.Errorf("order %s: refunded_amount %d, refunds %d", o.Number, o.RefundedAmount, sum)
	case req.RefundedAmount != ofRequest:
		t.Errorf("request %s: refunded_amount %d, its refund %d", req.Number, req.RefundedAmount, ofRequest)
	case req.Status == aftersalesrequest.StatusREFUNDED && perRequest != 1:
		t.Errorf("request %s is REFUNDED without a refund", req.Number)
	case req.Status != aftersalesrequest.StatusREFUNDED && req.Status != aftersalesrequest.StatusCLOSED:
		t.Errorf("request %s ended %s", req.Number, req.Status)
	}
	for _, p := range o.Edges.Payments {
		checkPayment(t, client, ctx, p)
	}
}

func checkPayment(t *testing.T, client *ent.Client, ctx context.Context, p *ent.Payment) {
	t.Helper()
	rs, err := client.Refund.Query().Where(refund.PaymentID(p.ID), refund.StatusNEQ(refund.StatusFAILED)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, r := range rs {
		sum += r.Amount
	}
	if sum != p.RefundedAmount || sum > p.Amount || (p.Status == payment.StatusREFUNDED) != (sum == p.Amount) {
		t.Errorf("payment %s (%s): refunded_amount %d, refunds %d, amount %d", p.PaymentRef, p.Status, p.RefundedAmount, sum, p.Amount)
	}
}
