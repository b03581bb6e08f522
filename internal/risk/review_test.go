package risk_test

import (
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/risk"
)

// holdLarge holds every order with a line of more than 3 units (LARGE_QUANTITY alone
// reaches the hold score).
func holdLarge(c *config.Config) {
	quiet(c)
	c.Risk.MaxLineQuantity = 3
	c.Risk.HoldScore = risk.Scores[risk.RuleLargeQuantity]
}

// TestHoldApproveReject: a held order waits in RISK_REVIEW, which the merchant cannot
// accept; buyers and merchants see only the status; an admin approves it (back to PAID)
// or rejects it (cancelled, refunded once), audited, with RISK_* events on the timeline.
func TestHoldApproveReject(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		buyer := f.buyer(t)
		merchant := f.shop.Owner.AccessToken

		small := f.order(t, buy{token: buyer.AccessToken, qty: 1})
		if o := f.readOrder(t, buyer.AccessToken, small); o.Status != "PAID" {
			t.Fatalf("an ordinary order is PAID: %+v", o)
		}
		held := f.order(t, buy{token: buyer.AccessToken, qty: 4})
		o := f.readOrder(t, buyer.AccessToken, held)
		if o.Status != "RISK_REVIEW" {
			t.Fatalf("a held order is RISK_REVIEW: %+v", o)
		}
		if reason, ok := o.has("RISK_HELD"); !ok || reason != risk.HeldReason {
			t.Fatalf("timeline: want RISK_HELD %q: %+v", risk.HeldReason, o.Timeline)
		}

		// The merchant cannot accept or ship it, and reads only the status.
		wantCode(t, s.Query(merchant, accept, map[string]any{"id": held}), "INVALID_STATE")
		if mo := f.readOrder(t, merchant, held); mo.Status != "RISK_REVIEW" {
			t.Fatalf("merchant view: %+v", mo)
		}
		a := f.assessment(t, held)
		if a.Status != "HELD" || a.Score != risk.Scores[risk.RuleLargeQuantity] {
			t.Fatalf("assessment: %+v", a)
		}
		// Privacy: neither the buyer nor the merchant reads assessments, by query or node.
		for _, token := range []string{buyer.AccessToken, merchant} {
			wantCode(t, s.Query(token, `{ riskAssessments(first: 5) { nodes { id score } } }`, nil), "FORBIDDEN")
			r := s.Query(token, `query($id: ID!) { node(id: $id) { id ... on RiskAssessment { score rules { code } } } }`, map[string]any{"id": a.ID})
			if !r.Contains(`"node":null`) || r.Contains(risk.RuleLargeQuantity) {
				t.Fatalf("node(id:) of an assessment as a non-admin: %s", r.Raw)
			}
			wantCode(t, s.Query(token, approve, map[string]any{"id": held}), "FORBIDDEN")
			if ro := s.Query(token, `query($id: ID!) { order(id: $id) { timeline { reason } } }`, map[string]any{"id": held}); ro.Contains(risk.RuleLargeQuantity) || ro.Contains("score") {
				t.Fatalf("the timeline names a rule: %s", ro.Raw)
			}
		}

		// The queue: HELD assessments, paginated and filtered.
		var queue struct {
			RiskAssessments struct {
				TotalCount int
				Nodes      []assessment
			}
		}
		s.MustQuery(f.admin.AccessToken, `{ riskAssessments(first: 10, where: {status: HELD, scoreGTE: 1}) { totalCount nodes { `+assessmentFields+` } } }`, nil).Decode(t, &queue)
		if queue.RiskAssessments.TotalCount != 1 || queue.RiskAssessments.Nodes[0].ID != a.ID {
			t.Fatalf("queue: %+v", queue)
		}
		if e, _ := queue.RiskAssessments.Nodes[0].rule(risk.RuleLargeQuantity); !strings.Contains(e, "4 × Longjing tea") {
			t.Fatalf("the admin reads the explanation: %+v", queue)
		}

		// Approve: back to PAID, the merchant accepts; a second decision is INVALID_STATE.
		var approved struct{ ApproveRiskReview assessment }
		s.MustQuery(f.admin.AccessToken, approve, map[string]any{"id": held, "n": "known customer"}).Decode(t, &approved)
		if approved.ApproveRiskReview.Status != "APPROVED" || approved.ApproveRiskReview.DecisionNote != "known customer" {
			t.Fatalf("approved: %+v", approved)
		}
		o = f.readOrder(t, buyer.AccessToken, held)
		if _, ok := o.has("RISK_APPROVED"); o.Status != "PAID" || !ok {
			t.Fatalf("after approval: %+v", o)
		}
		wantCode(t, s.Query(f.admin.AccessToken, approve, map[string]any{"id": held}), "INVALID_STATE")
		wantCode(t, s.Query(f.admin.AccessToken, reject, map[string]any{"id": held, "r": "late"}), "INVALID_STATE")
		s.MustQuery(merchant, accept, map[string]any{"id": held})

		// Reject: cancelled and refunded in full, once.
		rejected := f.order(t, buy{token: buyer.AccessToken, qty: 5})
		wantCode(t, s.Query(f.admin.AccessToken, reject, map[string]any{"id": rejected, "r": "  "}), "BAD_USER_INPUT")
		var rej struct{ RejectRiskReview assessment }
		s.MustQuery(f.admin.AccessToken, reject, map[string]any{"id": rejected, "r": "stolen card pattern"}).Decode(t, &rej)
		if rej.RejectRiskReview.Status != "REJECTED" {
			t.Fatalf("rejected: %+v", rej)
		}
		o = f.readOrder(t, buyer.AccessToken, rejected)
		if reason, ok := o.has("RISK_REJECTED"); o.Status != "CANCELLED" || !ok || strings.Contains(reason, "stolen") {
			t.Fatalf("after rejection (the admin's reason stays private): %+v", o)
		}
		if o.RefundedAmount.Amount != "127.50" || len(o.Payments) != 1 || o.Payments[0].Status != "REFUNDED" || len(o.Payments[0].Refunds) != 1 {
			t.Fatalf("a rejected order is refunded in full once: %+v", o)
		}

		// The buyer may cancel while held: refunded, the review WITHDRAWN.
		withdrawn := f.order(t, buy{token: buyer.AccessToken, qty: 6})
		s.MustQuery(buyer.AccessToken, cancel, map[string]any{"id": withdrawn})
		if o := f.readOrder(t, buyer.AccessToken, withdrawn); o.Status != "CANCELLED" || o.RefundedAmount.Amount != "153.00" {
			t.Fatalf("cancelled by the buyer: %+v", o)
		}
		if a := f.assessment(t, withdrawn); a.Status != "WITHDRAWN" {
			t.Fatalf("assessment after the buyer cancelled: %+v", a)
		}
		wantCode(t, s.Query(f.admin.AccessToken, approve, map[string]any{"id": withdrawn}), "INVALID_STATE")
		// Unknown orders.
		wantCode(t, s.Query(f.admin.AccessToken, approve, map[string]any{"id": "999999999"}), "NOT_FOUND")

		// The decisions are audited.
		var audit struct {
			AuditLogs struct {
				Nodes []struct{ Action, Reason string }
			}
		}
		s.MustQuery(f.admin.AccessToken, `{ auditLogs(first: 10, where: {actionHasPrefix: "risk."}) { nodes { action reason } } }`, nil).Decode(t, &audit)
		got := map[string]string{}
		for _, n := range audit.AuditLogs.Nodes {
			got[n.Action] = n.Reason
		}
		if got["risk.approve"] != "known customer" || got["risk.reject"] != "stolen card pattern" || len(got) != 2 {
			t.Fatalf("audit: %+v", audit)
		}
	}, holdLarge)
}

// TestMonitorModeNeverHolds: RISK_MODE=monitor scores and records, and never holds.
func TestMonitorModeNeverHolds(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		buyer := f.buyer(t)
		id := f.order(t, buy{token: buyer.AccessToken, qty: 4})
		if o := f.readOrder(t, buyer.AccessToken, id); o.Status != "PAID" {
			t.Fatalf("monitor mode held the order: %+v", o)
		}
		if a := f.assessment(t, id); a.Status != "PASSED" || a.Score == 0 {
			t.Fatalf("monitor mode records the score: %+v", a)
		}
	}, func(c *config.Config) { holdLarge(c); c.Risk.Mode = risk.ModeMonitor })
}
