package creators_test

import (
	"crypto/rand"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/creator"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// Error paths of the creator programme over GraphQL. Each test runs on SQLite and MySQL.

const (
	suspendQ  = `mutation($id: ID!) { suspendCreator(id: $id) { id status } }`
	placeQ    = `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { number } } }`
	addCartQ  = `mutation($v: ID!, $q: Int!) { addToCart(variantID: $v, quantity: $q) { total { minorUnits } } }`
	cartCodeQ = `query($c: String) { cart(attributionCode: $c) { total { minorUnits } } }`
	unknownID = "999999"
)

var shipTo = map[string]any{"recipientName": "王小明", "phone": "13800138000", "province": "上海市",
	"city": "上海市", "district": "浦东新区", "street": "世纪大道 100 号"}

// forEachWorld runs fn on a fresh world per dialect, in parallel.
func forEachWorld(t *testing.T, fn func(t *testing.T, w *world)) {
	t.Helper()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, newWorld(t, d.URL(t)))
		})
	}
}

// creatorID is the id of the creator profile of the user of session u.
func (w *world) creatorID(t *testing.T, u apitest.Session) string {
	t.Helper()
	c, err := w.client.Creator.Query().Where(creator.UserID(mustAtoi(u.UserID))).Only(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(c.ID)
}

// creatorStatus reads creator id's status directly.
func (w *world) creatorStatus(t *testing.T, id string) creator.Status {
	t.Helper()
	return w.client.Creator.GetX(w.ctx, mustAtoi(id)).Status
}

// checkout places an order of one unit of variant over GraphQL, with attribution code
// code unless it is "".
func (w *world) checkout(token string, variant int, code string) *apitest.Response {
	in := map[string]any{"lines": []any{map[string]any{"variantID": strconv.Itoa(variant), "quantity": 1}},
		"shippingAddress": shipTo, "idempotencyKey": "crt-" + rand.Text()}
	if code != "" {
		in["attributionCode"] = code
	}
	return w.s.Query(token, placeQ, map[string]any{"i": in})
}

// orderCommission returns the commission of the one order placeOrder answered r, nil
// when it has none.
func (w *world) orderCommission(t *testing.T, r *apitest.Response) *ent.Commission {
	t.Helper()
	var out struct {
		PlaceOrder struct{ Orders []struct{ Number string } }
	}
	r.Decode(t, &out)
	if len(out.PlaceOrder.Orders) != 1 {
		t.Fatalf("placeOrder made %d orders: %s", len(out.PlaceOrder.Orders), r.Raw)
	}
	return w.commissionOf(t, w.client.Order.Query().Where(order.Number(out.PlaceOrder.Orders[0].Number)).OnlyX(w.ctx))
}

// TestSuspendCreatorErrorsAndEffect: suspendCreator is for admins (a customer FORBIDDEN,
// anonymous UNAUTHENTICATED), NOT_FOUND on an unknown id, and INVALID_STATE (with
// extensions.currentState) from any state but APPROVED — a PENDING creator, and a second
// suspension. Once suspended, the creator's code is NOT_FOUND to recordAttribution like a
// pending one, BAD_USER_INPUT on attributionCode at placeOrder and in the cart, a click
// recorded before the suspension no longer earns a commission, and the suspended creator
// cannot add codes (INVALID_STATE). Approving again (documented: SUSPENDED → APPROVED)
// restores the code.
func TestSuspendCreatorErrorsAndEffect(t *testing.T) {
	t.Parallel()
	forEachWorld(t, func(t *testing.T, w *world) {
		s := w.s
		alice := w.newCreator(t, "Alice", "alice88")
		aliceID := w.creatorID(t, alice)
		s.MustQuery(w.shop.Owner.AccessToken, ruleQ, map[string]any{"i": map[string]any{"merchantId": w.shop.ID, "active": true, "rateBps": 1000}})
		_, variant := s.NewProduct(t, w.shop, "Mug", product.KindPHYSICAL, "MUG-1", 10000, 100)

		// Who may suspend.
		if r := s.Query(w.buyer.AccessToken, suspendQ, map[string]any{"id": aliceID}); r.Code() != "FORBIDDEN" {
			t.Errorf("customer suspends: %s", r.Raw)
		}
		if r := s.Query(alice.AccessToken, suspendQ, map[string]any{"id": aliceID}); r.Code() != "FORBIDDEN" {
			t.Errorf("creator suspends herself: %s", r.Raw)
		}
		if r := s.Query("", suspendQ, map[string]any{"id": aliceID}); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous suspends: %s", r.Raw)
		}
		if st := w.creatorStatus(t, aliceID); st != creator.StatusAPPROVED {
			t.Fatalf("refused suspensions changed the status to %s", st)
		}
		if r := s.Query(w.admin.AccessToken, suspendQ, map[string]any{"id": unknownID}); r.Code() != "NOT_FOUND" {
			t.Errorf("suspend an unknown creator: %s", r.Raw)
		}

		// A PENDING creator cannot be suspended (only APPROVED → SUSPENDED).
		pending := s.Register("pending@example.com", "Pending")
		var applied struct{ ApplyAsCreator struct{ ID string } }
		s.MustQuery(pending.AccessToken, applyQ, map[string]any{"n": "Pending", "c": "PEND1234"}).Decode(t, &applied)
		r := s.Query(w.admin.AccessToken, suspendQ, map[string]any{"id": applied.ApplyAsCreator.ID})
		if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "PENDING" {
			t.Errorf("suspend a pending creator: %s", r.Raw)
		}
		if st := w.creatorStatus(t, applied.ApplyAsCreator.ID); st != creator.StatusPENDING {
			t.Errorf("pending creator is %s after the refused suspension", st)
		}

		// Control: before the suspension Alice's checkout code earns 10% of 10000.
		r = w.checkout(w.buyer.AccessToken, variant, "alice88")
		if len(r.Errors) > 0 {
			t.Fatalf("placeOrder with Alice's code: %s", r.Raw)
		}
		if c := w.orderCommission(t, r); c == nil || c.CreatorUserID != mustAtoi(alice.UserID) || c.Amount != 1000 {
			t.Fatalf("commission before the suspension %+v, want Alice's 1000", c)
		}

		// Suspend; a second suspension is INVALID_STATE.
		var sus struct{ SuspendCreator struct{ ID, Status string } }
		s.MustQuery(w.admin.AccessToken, suspendQ, map[string]any{"id": aliceID}).Decode(t, &sus)
		if sus.SuspendCreator.ID != aliceID || sus.SuspendCreator.Status != "SUSPENDED" {
			t.Errorf("suspendCreator answered %+v", sus.SuspendCreator)
		}
		r = s.Query(w.admin.AccessToken, suspendQ, map[string]any{"id": aliceID})
		if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "SUSPENDED" {
			t.Errorf("second suspension: %s", r.Raw)
		}

		// The suspended code looks unknown, like a pending one.
		for _, code := range []string{"alice88", "ALICE88", "PEND1234"} {
			if r := s.Query(w.buyer.AccessToken, clickQ, map[string]any{"c": code}); r.Code() != "NOT_FOUND" {
				t.Errorf("click on %s: %s", code, r.Raw)
			}
		}
		// At checkout the code is refused on attributionCode, and no order is made.
		before := w.client.Order.Query().CountX(w.ctx)
		r = w.checkout(w.buyer.AccessToken, variant, "alice88")
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "attributionCode" {
			t.Errorf("placeOrder with a suspended creator's code: %s", r.Raw)
		}
		if n := w.client.Order.Query().CountX(w.ctx); n != before {
			t.Errorf("the refused placeOrder made %d orders", n-before)
		}
		s.MustQuery(w.buyer.AccessToken, addCartQ, map[string]any{"v": strconv.Itoa(variant), "q": 1})
		if r := s.Query(w.buyer.AccessToken, cartCodeQ, map[string]any{"c": "alice88"}); r.Code() != "BAD_USER_INPUT" || r.Field() != "attributionCode" {
			t.Errorf("cart with a suspended creator's code: %s", r.Raw)
		}
		// The click recorded at the first checkout is within the window but earns nothing now.
		r = w.checkout(w.buyer.AccessToken, variant, "")
		if len(r.Errors) > 0 {
			t.Fatalf("placeOrder without a code: %s", r.Raw)
		}
		if c := w.orderCommission(t, r); c != nil {
			t.Errorf("order after the suspension earned %+v", c)
		}
		// A suspended creator adds no codes.
		r = s.Query(alice.AccessToken, linkQ, map[string]any{"i": map[string]any{"merchantId": w.shop.ID}})
		if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "SUSPENDED" {
			t.Errorf("suspended creator adds a code: %s", r.Raw)
		}

		// Approving again (SUSPENDED → APPROVED) restores the code.
		s.MustQuery(w.admin.AccessToken, approveQ, map[string]any{"id": aliceID})
		s.MustQuery(w.buyer.AccessToken, clickQ, map[string]any{"c": "alice88"})
	})
}

// TestApproveCreatorErrors: approveCreator is for admins (a customer or a creator
// FORBIDDEN, anonymous UNAUTHENTICATED), NOT_FOUND on an unknown id, and INVALID_STATE
// (currentState APPROVED) on an approved creator.
func TestApproveCreatorErrors(t *testing.T) {
	t.Parallel()
	forEachWorld(t, func(t *testing.T, w *world) {
		s := w.s
		alice := w.newCreator(t, "Alice", "alice88")
		aliceID := w.creatorID(t, alice)
		pending := s.Register("pending@example.com", "Pending")
		var applied struct{ ApplyAsCreator struct{ ID string } }
		s.MustQuery(pending.AccessToken, applyQ, map[string]any{"n": "Pending", "c": "PEND1234"}).Decode(t, &applied)
		pid := applied.ApplyAsCreator.ID

		for _, who := range []apitest.Session{w.buyer, alice, pending, w.shop.Owner} {
			if r := s.Query(who.AccessToken, approveQ, map[string]any{"id": pid}); r.Code() != "FORBIDDEN" {
				t.Errorf("%s approves: %s", who.Email, r.Raw)
			}
		}
		if r := s.Query("", approveQ, map[string]any{"id": pid}); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous approves: %s", r.Raw)
		}
		if st := w.creatorStatus(t, pid); st != creator.StatusPENDING {
			t.Errorf("refused approvals changed the status to %s", st)
		}
		if r := s.Query(w.admin.AccessToken, approveQ, map[string]any{"id": unknownID}); r.Code() != "NOT_FOUND" {
			t.Errorf("approve an unknown creator: %s", r.Raw)
		}
		r := s.Query(w.admin.AccessToken, approveQ, map[string]any{"id": aliceID})
		if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "APPROVED" {
			t.Errorf("approve an approved creator: %s", r.Raw)
		}
		// The pending one is approved once, then INVALID_STATE.
		s.MustQuery(w.admin.AccessToken, approveQ, map[string]any{"id": pid})
		if r := s.Query(w.admin.AccessToken, approveQ, map[string]any{"id": pid}); r.Code() != "INVALID_STATE" {
			t.Errorf("second approval: %s", r.Raw)
		}
	})
}

// TestCreateCreatorLinkErrors: createCreatorLink is INVALID_STATE (currentState PENDING)
// for a pending creator, NOT_FOUND for a signed-in non-creator, UNAUTHENTICATED for
// anonymous; for an approved creator, an unknown productId or merchantId is
// BAD_USER_INPUT naming the field, as are a merchantId that is not the product's and a
// malformed code; a taken code is CONFLICT on code. No refused call adds a link.
func TestCreateCreatorLinkErrors(t *testing.T) {
	t.Parallel()
	forEachWorld(t, func(t *testing.T, w *world) {
		s := w.s
		alice := w.newCreator(t, "Alice", "alice88")
		pending := s.Register("pending@example.com", "Pending")
		s.MustQuery(pending.AccessToken, applyQ, map[string]any{"n": "Pending", "c": "PEND1234"})
		productID, _ := s.NewProduct(t, w.shop, "Mug", product.KindPHYSICAL, "MUG-1", 10000, 100)
		links := w.client.CreatorLink.Query().CountX(w.ctx)

		link := func(in map[string]any) map[string]any { return map[string]any{"i": in} }
		r := s.Query(pending.AccessToken, linkQ, link(map[string]any{"merchantId": w.shop.ID}))
		if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "PENDING" {
			t.Errorf("pending creator adds a code: %s", r.Raw)
		}
		if r := s.Query(w.buyer.AccessToken, linkQ, link(map[string]any{"merchantId": w.shop.ID})); r.Code() != "NOT_FOUND" {
			t.Errorf("non-creator adds a code: %s", r.Raw)
		}
		if r := s.Query("", linkQ, link(map[string]any{"merchantId": w.shop.ID})); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous adds a code: %s", r.Raw)
		}
		for _, tc := range []struct {
			name, code, field string
			in                map[string]any
		}{
			{"unknown product", "BAD_USER_INPUT", "productId", map[string]any{"productId": unknownID}},
			{"unknown merchant", "BAD_USER_INPUT", "merchantId", map[string]any{"merchantId": unknownID}},
			{"another merchant's product", "BAD_USER_INPUT", "merchantId", map[string]any{"productId": strconv.Itoa(productID), "merchantId": w.other.ID}},
			{"short code", "BAD_USER_INPUT", "code", map[string]any{"code": "AB1"}},
			{"code with a dash", "BAD_USER_INPUT", "code", map[string]any{"code": "ALICE-99"}},
			{"taken code", "CONFLICT", "code", map[string]any{"code": "pend1234"}},
		} {
			if r := s.Query(alice.AccessToken, linkQ, link(tc.in)); r.Code() != tc.code || r.Field() != tc.field {
				t.Errorf("%s: %s, want %s on %s", tc.name, r.Raw, tc.code, tc.field)
			}
		}
		if n := w.client.CreatorLink.Query().CountX(w.ctx); n != links {
			t.Errorf("refused calls added %d links", n-links)
		}
		// Control: the same creator adds a product link.
		r = s.MustQuery(alice.AccessToken, linkQ, link(map[string]any{"productId": strconv.Itoa(productID)}))
		if !r.Contains(`"merchantId":"` + w.shop.ID + `"`) {
			t.Errorf("product link: %s", r.Raw)
		}
	})
}

// TestWrongAttributionCodeOverGraphQL: an attribution code that is no creator's is
// BAD_USER_INPUT with extensions.field "attributionCode" from placeOrder (and no order
// is made) and from the cart query.
func TestWrongAttributionCodeOverGraphQL(t *testing.T) {
	t.Parallel()
	forEachWorld(t, func(t *testing.T, w *world) {
		s := w.s
		w.newCreator(t, "Alice", "alice88")
		_, variant := s.NewProduct(t, w.shop, "Mug", product.KindPHYSICAL, "MUG-1", 10000, 100)
		for _, code := range []string{"WRONG999", "x"} {
			r := w.checkout(w.buyer.AccessToken, variant, code)
			if r.Code() != "BAD_USER_INPUT" || r.Field() != "attributionCode" {
				t.Errorf("placeOrder with attributionCode %q: %s", code, r.Raw)
			}
		}
		if n := w.client.Order.Query().CountX(w.ctx); n != 0 {
			t.Errorf("refused placeOrders made %d orders", n)
		}
		s.MustQuery(w.buyer.AccessToken, addCartQ, map[string]any{"v": strconv.Itoa(variant), "q": 1})
		if r := s.Query(w.buyer.AccessToken, cartCodeQ, map[string]any{"c": "WRONG999"}); r.Code() != "BAD_USER_INPUT" || r.Field() != "attributionCode" {
			t.Errorf("cart with attributionCode WRONG999: %s", r.Raw)
		}
		// Control: a real code is accepted by both.
		s.MustQuery(w.buyer.AccessToken, cartCodeQ, map[string]any{"c": "alice88"})
		if r := w.checkout(w.buyer.AccessToken, variant, "alice88"); len(r.Errors) > 0 {
			t.Errorf("placeOrder with a real code: %s", r.Raw)
		}
	})
}

// TestApplyAndCommissionRuleErrors: applyAsCreator is BAD_USER_INPUT on displayName when
// it is empty or blank and on code when it is too short, too long or not letters and
// digits; UNAUTHENTICATED for anonymous; refused applications leave no profile, so the
// user can still apply. setCommissionRule is FORBIDDEN to a customer and a creator and
// UNAUTHENTICATED for anonymous, and the rule stays unset.
func TestApplyAndCommissionRuleErrors(t *testing.T) {
	t.Parallel()
	forEachWorld(t, func(t *testing.T, w *world) {
		s := w.s
		u := s.Register("carol@example.com", "Carol")
		long := "A234567890123456789012345678901234" // 34 characters
		for _, tc := range []struct{ name, n, c, field string }{
			{"empty name", "", "CAROL123", "displayName"},
			{"blank name", "   ", "CAROL123", "displayName"},
			{"short code", "Carol", "AB1", "code"},
			{"long code", "Carol", long, "code"},
			{"code with a dash", "Carol", "CAR-OL12", "code"},
			{"empty code", "Carol", "", "code"},
		} {
			if r := s.Query(u.AccessToken, applyQ, map[string]any{"n": tc.n, "c": tc.c}); r.Code() != "BAD_USER_INPUT" || r.Field() != tc.field {
				t.Errorf("%s: %s, want BAD_USER_INPUT on %s", tc.name, r.Raw, tc.field)
			}
		}
		if r := s.Query("", applyQ, map[string]any{"n": "Anon", "c": "ANON1234"}); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous applies: %s", r.Raw)
		}
		if n := w.client.Creator.Query().CountX(w.ctx); n != 0 {
			t.Errorf("refused applications made %d creators", n)
		}
		s.MustQuery(u.AccessToken, applyQ, map[string]any{"n": "Carol", "c": "carol123"})

		rule := map[string]any{"i": map[string]any{"merchantId": w.shop.ID, "active": true, "rateBps": 1000}}
		for _, who := range []apitest.Session{w.buyer, u} {
			if r := s.Query(who.AccessToken, ruleQ, rule); r.Code() != "FORBIDDEN" {
				t.Errorf("%s sets the rule: %s", who.Email, r.Raw)
			}
		}
		if r := s.Query("", ruleQ, rule); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous sets the rule: %s", r.Raw)
		}
		if n := w.client.CommissionRule.Query().CountX(w.ctx); n != 0 {
			t.Errorf("refused calls made %d rules", n)
		}
	})
}
