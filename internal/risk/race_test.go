package risk_test

import (
	"fmt"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// TestConcurrentDecisions races, on a held order, two admins deciding differently, and
// a decision against the buyer's cancellation: exactly one wins each round, the loser
// gets INVALID_STATE, and the order, its assessment and its refunds agree with the
// winner (one refund at most).
func TestConcurrentDecisions(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.NewReachable(t, d.URL(t), holdLarge)
			f := newFixture(t, s)
			second := s.NewAdmin(t, "risk-admin-2@example.com")
			buyer := f.buyer(t)
			rounds := apitest.RaceRounds(d, 8)
			for i := range rounds {
				for _, sc := range []string{"approve-vs-reject", "approve-vs-cancel", "reject-vs-cancel"} {
					t.Run(fmt.Sprintf("%d/%s", i, sc), func(t *testing.T) {
						raceOnce(t, f, second, buyer, sc, d)
					})
				}
			}
		})
	}
}

func raceOnce(t *testing.T, f *fixture, second, buyer apitest.Session, scenario string, d testdb.Dialect) {
	s := f.s
	id := f.order(t, buy{token: buyer.AccessToken, qty: 4})
	doApprove := s.Request(f.admin.AccessToken, approve, map[string]any{"id": id, "n": "ok"})
	doReject := s.Request(second.AccessToken, reject, map[string]any{"id": id, "r": "no"})
	doCancel := s.Request(buyer.AccessToken, cancel, map[string]any{"id": id})
	var outs []apitest.Outcome
	switch scenario {
	case "approve-vs-reject":
		outs = apitest.Race(doApprove, doReject)
	case "approve-vs-cancel":
		outs = apitest.Race(doApprove, doCancel)
	case "reject-vs-cancel":
		outs = apitest.Race(doReject, doCancel)
	}
	if n := apitest.Successes(t, scenario, outs, "INVALID_STATE"); n != 1 {
		t.Fatalf("%s on %s: %d winners: %v", scenario, d.Name, n, outs)
	}
	first := outs[0].Code() == ""
	o := f.readOrder(t, buyer.AccessToken, id)
	a := f.assessment(t, id)
	refunds := 0
	for _, p := range o.Payments {
		refunds += len(p.Refunds)
	}
	var wantOrder, wantReview string
	switch {
	case scenario == "approve-vs-reject" && first, scenario == "approve-vs-cancel" && first:
		wantOrder, wantReview = "PAID", "APPROVED"
	case scenario == "approve-vs-reject", scenario == "reject-vs-cancel" && first:
		wantOrder, wantReview = "CANCELLED", "REJECTED"
	default:
		wantOrder, wantReview = "CANCELLED", "WITHDRAWN"
	}
	wantRefunds := 0
	if wantOrder == "CANCELLED" {
		wantRefunds = 1
	}
	if o.Status != wantOrder || a.Status != wantReview || refunds != wantRefunds {
		t.Fatalf("%s (first won: %v): order %s, review %s, %d refunds; want %s, %s, %d", scenario, first,
			o.Status, a.Status, refunds, wantOrder, wantReview, wantRefunds)
	}
}
