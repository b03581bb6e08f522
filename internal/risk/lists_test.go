package risk_test

import (
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/risk"
)

// TestBlockAndTrustLists: a blocked phone, device, email or address refuses placeOrder
// (FORBIDDEN, reason RISK_BLOCKED) without saying which; a removed entry no longer does;
// trusted users' and merchants' orders are not scored, so not held.
func TestBlockAndTrustLists(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		buyer := f.buyer(t)
		add := func(in map[string]any) string {
			t.Helper()
			var out struct{ AddRiskListEntry struct{ ID string } }
			s.MustQuery(f.admin.AccessToken, addList, map[string]any{"i": in}).Decode(t, &out)
			return out.AddRiskListEntry.ID
		}
		refused := func(b buy) {
			t.Helper()
			r := s.Do(f.placeRequest(b))
			wantCode(t, r, "FORBIDDEN")
			if r.Errors[0].Extensions["reason"] != risk.ReasonBlocked {
				t.Fatalf("want reason %s: %s", risk.ReasonBlocked, r.Raw)
			}
		}

		phone := add(map[string]any{"kind": "BLOCKED_PHONE", "value": "+86 139-1111-2222", "note": "chargebacks"})
		refused(buy{token: buyer.AccessToken, phone: "13911112222"})
		f.place(t, buy{token: buyer.AccessToken, phone: "13911113333"})
		wantCode(t, s.Query(f.admin.AccessToken, addList, map[string]any{"i": map[string]any{"kind": "BLOCKED_PHONE", "value": "139 1111 2222"}}), "CONFLICT")
		s.MustQuery(f.admin.AccessToken, `mutation($id: ID!) { removeRiskListEntry(id: $id) }`, map[string]any{"id": phone})
		f.place(t, buy{token: buyer.AccessToken, phone: "13911112222"})
		wantCode(t, s.Query(f.admin.AccessToken, `mutation($id: ID!) { removeRiskListEntry(id: $id) }`, map[string]any{"id": phone}), "NOT_FOUND")

		add(map[string]any{"kind": "BLOCKED_DEVICE", "value": "bad-device-0001"})
		refused(buy{token: buyer.AccessToken, device: "bad-device-0001"})
		f.place(t, buy{token: buyer.AccessToken, device: "good-device-0001"})

		add(map[string]any{"kind": "BLOCKED_ADDRESS", "value": "Zhejiang, Hangzhou, 13 Fraud Street"})
		refused(buy{token: buyer.AccessToken, street: "13 fraud street"})

		other := f.buyer(t)
		add(map[string]any{"kind": "BLOCKED_EMAIL", "value": " " + other.Email + " "})
		refused(buy{token: other.AccessToken})

		// Blocking from an order: its device.
		p := f.place(t, buy{token: buyer.AccessToken, device: "seen-device-0002"})
		add(map[string]any{"kind": "BLOCKED_DEVICE", "orderID": p.Orders[0].ID})
		refused(buy{token: buyer.AccessToken, device: "seen-device-0002"})
		// An entry added after checkout still counts when the order is paid: held.
		late := f.place(t, buy{token: buyer.AccessToken, phone: "13955556666"})
		add(map[string]any{"kind": "BLOCKED_PHONE", "value": "13955556666"})
		f.pay(t, buyer.AccessToken, late.CheckoutID, "SUCCEEDED")
		if a := f.assessment(t, late.Orders[0].ID); a.Status != "HELD" {
			t.Fatalf("blocked after checkout: %+v", a)
		} else if _, ok := a.rule(risk.RuleBlocklisted); !ok {
			t.Fatalf("blocked after checkout: %+v", a)
		}

		// Input errors and roles.
		wantCode(t, s.Query(f.admin.AccessToken, addList, map[string]any{"i": map[string]any{"kind": "BLOCKED_PHONE", "value": "abc"}}), "BAD_USER_INPUT")
		wantCode(t, s.Query(f.admin.AccessToken, addList, map[string]any{"i": map[string]any{"kind": "BLOCKED_DEVICE"}}), "BAD_USER_INPUT")
		wantCode(t, s.Query(f.admin.AccessToken, addList, map[string]any{"i": map[string]any{"kind": "TRUSTED_USER"}}), "BAD_USER_INPUT")
		wantCode(t, s.Query(buyer.AccessToken, addList, map[string]any{"i": map[string]any{"kind": "BLOCKED_PHONE", "value": "13900000000"}}), "FORBIDDEN")
		wantCode(t, s.Query(f.shop.Owner.AccessToken, `{ riskListEntries(first: 5) { nodes { id } } }`, nil), "FORBIDDEN")

		// Trust: the trusted buyer's large order is not scored; then the merchant's.
		trusted := f.buyer(t)
		add(map[string]any{"kind": "TRUSTED_USER", "userID": trusted.UserID})
		id := f.order(t, buy{token: trusted.AccessToken, qty: 9})
		if o := f.readOrder(t, trusted.AccessToken, id); o.Status != "PAID" {
			t.Fatalf("a trusted user's order is not held: %+v", o)
		}
		if a := f.assessment(t, id); a.Status != "TRUSTED" || a.Score != 0 {
			t.Fatalf("trusted: %+v", a)
		}
		plain := f.buyer(t)
		if o := f.readOrder(t, plain.AccessToken, f.order(t, buy{token: plain.AccessToken, qty: 9})); o.Status != "RISK_REVIEW" {
			t.Fatalf("an untrusted large order is held: %+v", o)
		}
		add(map[string]any{"kind": "TRUSTED_MERCHANT", "merchantID": f.shop.ID})
		if o := f.readOrder(t, plain.AccessToken, f.order(t, buy{token: plain.AccessToken, qty: 9})); o.Status != "PAID" {
			t.Fatalf("a trusted merchant's order is not held: %+v", o)
		}

		var list struct {
			RiskListEntries struct{ TotalCount int }
		}
		s.MustQuery(f.admin.AccessToken, `{ riskListEntries(first: 50, where: {kindIn: [BLOCKED_DEVICE, BLOCKED_ADDRESS]}) { totalCount } }`, nil).Decode(t, &list)
		if list.RiskListEntries.TotalCount != 3 {
			t.Fatalf("list: %+v", list)
		}
	}, holdLarge)
}
