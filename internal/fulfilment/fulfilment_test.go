package fulfilment_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/apitest"
)

const (
	shipQ = `mutation($id: ID!, $c: String!, $n: String!) {
		shipOrder(orderID: $id, carrier: $c, trackingNumber: $n) { id carrier trackingNumber status order { id status } } }`
	trackQ = `mutation($id: ID!, $i: TrackingEventInput!) {
		addTrackingEvent(shipmentID: $id, input: $i) { id status trackingEvents { status location } } }`
	confirmQ = `mutation($id: ID!) { confirmReceipt(orderID: $id) { id status completedAt } }`
	deliverQ = `mutation($id: ID!, $c: VirtualContentInput!) { deliverVirtualGoods(orderID: $id, content: $c) { id status } }`
	renderQ  = `mutation($id: ID!, $n: String) { markServiceRendered(orderID: $id, note: $n) { id status } }`
)

// shipment is a shipment as addTrackingEvent returns it.
type shipment struct {
	ID             string
	Status         string
	TrackingEvents []struct{ Status, Location string }
}

func scan(status string, at time.Time, location string) map[string]any {
	return map[string]any{"status": status, "occurredAt": at.Format(time.RFC3339Nano), "location": location}
}

func track(t *testing.T, w *world, token, shipmentID string, in map[string]any) shipment {
	t.Helper()
	r := w.s.MustQuery(token, trackQ, map[string]any{"id": shipmentID, "i": in})
	var out struct{ AddTrackingEvent shipment }
	r.Decode(t, &out)
	return out.AddTrackingEvent
}

func scanStatuses(sh shipment) []string {
	var out []string
	for _, e := range sh.TrackingEvents {
		out = append(out, e.Status)
	}
	return out
}

// A PHYSICAL order from ACCEPTED to COMPLETED: the merchant ships it, the carrier's scans
// arrive out of order and repeated, the shipment follows the latest scan by time, a
// DELIVERED scan delivers the order and the customer confirms it. Everyone else is turned
// away with the right code at each step, and the timeline tells the whole story.
func TestPhysicalOrderLife(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		id := w.paidOrder(t, "PHYSICAL")
		w.accept(t, id)

		wantError(t, s.Query(w.customer.AccessToken, confirmQ, map[string]any{"id": id}), "INVALID_STATE",
			map[string]string{"currentState": "ACCEPTED"})

		ship := map[string]any{"id": id, "c": "SF Express", "n": "SF1234567890"}
		for _, c := range []struct{ who, token, code string }{
			{"anonymous", "", "UNAUTHENTICATED"},
			{"customer", w.customer.AccessToken, "FORBIDDEN"},
			{"another merchant", w.rival.Owner.AccessToken, "NOT_FOUND"},
		} {
			wantError(t, s.Query(c.token, shipQ, ship), c.code, nil)
		}
		r := s.MustQuery(w.staff.AccessToken, shipQ, ship)
		var shipped struct {
			ShipOrder struct {
				ID, Carrier, TrackingNumber, Status string
				Order                               struct{ Status string }
			}
		}
		r.Decode(t, &shipped)
		sh := shipped.ShipOrder
		if sh.Carrier != "SF Express" || sh.TrackingNumber != "SF1234567890" || sh.Status != "SHIPPED" || sh.Order.Status != "SHIPPED" {
			t.Fatalf("shipOrder: %s", r.Raw)
		}
		wantError(t, s.Query(w.staff.AccessToken, shipQ, ship), "INVALID_STATE", map[string]string{"currentState": "SHIPPED"})

		t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
		// The transit scan arrives before the older pick-up scan.
		got := track(t, w, w.staff.AccessToken, sh.ID, scan("IN_TRANSIT", t0.Add(time.Hour), "杭州"))
		if got.Status != "IN_TRANSIT" {
			t.Fatalf("after IN_TRANSIT: %+v", got)
		}
		got = track(t, w, w.staff.AccessToken, sh.ID, scan("PICKED_UP", t0, "上海"))
		if got.Status != "IN_TRANSIT" || !slices.Equal(scanStatuses(got), []string{"PICKED_UP", "IN_TRANSIT"}) {
			t.Fatalf("an older scan must not move the shipment back, and scans come by time: %+v", got)
		}
		// The carrier resends a scan: nothing changes, and it is not an error.
		again := track(t, w, w.staff.AccessToken, sh.ID, scan("IN_TRANSIT", t0.Add(time.Hour), "杭州"))
		if !slices.Equal(scanStatuses(again), scanStatuses(got)) || again.Status != got.Status {
			t.Fatalf("duplicate scan changed the shipment: %+v", again)
		}

		next := map[string]any{"id": sh.ID, "i": scan("OUT_FOR_DELIVERY", t0.Add(2*time.Hour), "杭州西湖")}
		for _, c := range []struct{ who, token, code string }{
			{"anonymous", "", "UNAUTHENTICATED"},
			{"customer", w.customer.AccessToken, "FORBIDDEN"},
			{"another merchant", w.rival.Owner.AccessToken, "NOT_FOUND"},
		} {
			wantError(t, s.Query(c.token, trackQ, next), c.code, nil)
		}
		track(t, w, w.staff.AccessToken, sh.ID, next["i"].(map[string]any))
		if st := w.status(t, id); st != "SHIPPED" {
			t.Fatalf("order status before delivery: %s", st)
		}

		got = track(t, w, w.admin.AccessToken, sh.ID, scan("DELIVERED", t0.Add(150*time.Minute), "前台"))
		if got.Status != "DELIVERED" || w.status(t, id) != "DELIVERED" {
			t.Fatalf("DELIVERED scan: %+v, order %s", got, w.status(t, id))
		}
		// A later DELIVERED scan of an order already delivered is only recorded.
		got = track(t, w, w.staff.AccessToken, sh.ID, scan("DELIVERED", t0.Add(155*time.Minute), "前台"))
		if want := []string{"PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED", "DELIVERED"}; !slices.Equal(scanStatuses(got), want) {
			t.Fatalf("scans %v, want %v", scanStatuses(got), want)
		}

		wantError(t, s.Query(w.staff.AccessToken, confirmQ, map[string]any{"id": id}), "FORBIDDEN", nil)
		wantError(t, s.Query(w.admin.AccessToken, confirmQ, map[string]any{"id": id}), "FORBIDDEN", nil)
		wantError(t, s.Query(w.stranger.AccessToken, confirmQ, map[string]any{"id": id}), "NOT_FOUND", nil)
		r = s.MustQuery(w.customer.AccessToken, confirmQ, map[string]any{"id": id})
		if !strings.Contains(string(r.Data), `"status":"COMPLETED"`) || strings.Contains(string(r.Data), `"completedAt":null`) {
			t.Fatalf("confirmReceipt: %s", r.Raw)
		}
		wantError(t, s.Query(w.customer.AccessToken, confirmQ, map[string]any{"id": id}), "INVALID_STATE",
			map[string]string{"currentState": "COMPLETED"})
		// A delivered parcel does not go back on the road: a later scan saying otherwise is
		// refused (a return travels as an after-sales shipment of its own), while an earlier
		// scan that arrives late is recorded as history. The order stays COMPLETED.
		wantError(t, s.Query(w.staff.AccessToken, trackQ, map[string]any{"id": sh.ID, "i": scan("EXCEPTION", t0.Add(160*time.Minute), "退回")}),
			"INVALID_STATE", map[string]string{"currentState": "DELIVERED"})
		late := track(t, w, w.staff.AccessToken, sh.ID, scan("IN_TRANSIT", t0.Add(90*time.Minute), "杭州转运中心"))
		if late.Status != "DELIVERED" || len(late.TrackingEvents) != 6 {
			t.Fatalf("a late earlier scan: %+v", late)
		}
		if st := w.status(t, id); st != "COMPLETED" {
			t.Fatalf("a late scan moved a completed order to %s", st)
		}

		tl := w.timeline(t, id)
		want := []string{"CREATED", "ACCEPTED", "SHIPPED", "TRACKING_UPDATED", "TRACKING_UPDATED", "TRACKING_UPDATED",
			"TRACKING_UPDATED", "DELIVERED", "TRACKING_UPDATED", "COMPLETED", "TRACKING_UPDATED"} // the last: the late earlier scan
		if !slices.Equal(types(tl), want) {
			t.Fatalf("timeline %v, want %v", types(tl), want)
		}
		for i, wantActor := range map[int]string{1: "MERCHANT", 2: "MERCHANT", 7: "ADMIN", 9: "CUSTOMER"} {
			if tl[i].ActorRole != wantActor {
				t.Fatalf("timeline[%d] %+v: actor %s, want %s", i, tl[i], tl[i].ActorRole, wantActor)
			}
		}
		if tl[2].Reason != "SF Express SF1234567890" || tl[7].FromStatus != "SHIPPED" || tl[7].ToStatus != "DELIVERED" {
			t.Fatalf("timeline: %+v", tl)
		}
		if !strings.HasPrefix(tl[3].Reason, "IN_TRANSIT at 杭州") {
			t.Fatalf("tracking reason %q", tl[3].Reason)
		}
	})
}

// A merchant may ship a PAID order straight away, as on Taobao: the order is accepted in the
// same step and the timeline shows both moves by the merchant.
func TestShipPaidOrderAcceptsItImplicitly(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		id := w.paidOrder(t, "PHYSICAL")
		s.MustQuery(w.shop.Owner.AccessToken, shipQ, map[string]any{"id": id, "c": "顺丰速运", "n": "SF-0001"})
		tl := w.timeline(t, id)
		if got := types(tl); !slices.Equal(got, []string{"CREATED", "ACCEPTED", "SHIPPED"}) {
			t.Fatalf("timeline %v", got)
		}
		if tl[1].FromStatus != "PAID" || tl[1].ActorRole != "MERCHANT" || tl[2].FromStatus != "ACCEPTED" {
			t.Fatalf("timeline %+v", tl)
		}
	})
}

// 确认收货 is one tap: confirming a SHIPPED order completes it, and the timeline shows
// both steps by the customer, DELIVERED then COMPLETED, stamped on the order.
func TestConfirmReceiptCompletesAShippedOrderInOneCall(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		id := w.paidOrder(t, "PHYSICAL")
		var shipped struct{ ShipOrder shipment }
		s.MustQuery(w.shop.Owner.AccessToken, shipQ, map[string]any{"id": id, "c": "顺丰速运", "n": "SF-0002"}).Decode(t, &shipped)
		track(t, w, w.staff.AccessToken, shipped.ShipOrder.ID, scan("IN_TRANSIT", time.Now().UTC().Add(-time.Hour), "杭州"))
		r := s.MustQuery(w.customer.AccessToken, `mutation($id: ID!) {
			confirmReceipt(orderID: $id) { status deliveredAt completedAt } }`, map[string]any{"id": id})
		var got struct {
			ConfirmReceipt struct {
				Status                   string
				DeliveredAt, CompletedAt *string
			}
		}
		r.Decode(t, &got)
		if c := got.ConfirmReceipt; c.Status != "COMPLETED" || c.DeliveredAt == nil || c.CompletedAt == nil {
			t.Fatalf("confirmReceipt of a SHIPPED order: %s", r.Raw)
		}
		tl := w.timeline(t, id)
		if got := types(tl); !slices.Equal(got, []string{"CREATED", "ACCEPTED", "SHIPPED", "TRACKING_UPDATED", "DELIVERED", "COMPLETED"}) {
			t.Fatalf("timeline %v", got)
		}
		// An event that changes no status has null statuses, not "".
		raw := s.MustQuery(w.customer.AccessToken, `query($id: ID!) { order(id: $id) { timeline { type fromStatus toStatus } } }`, map[string]any{"id": id})
		if !raw.Contains(`{"type":"TRACKING_UPDATED","fromStatus":null,"toStatus":null}`) || !raw.Contains(`{"type":"SHIPPED","fromStatus":"ACCEPTED","toStatus":"SHIPPED"}`) {
			t.Fatalf("timeline statuses: %s", raw.Raw)
		}
		tl = slices.DeleteFunc(tl, func(e event) bool { return e.Type == "TRACKING_UPDATED" })
		for _, e := range tl[3:] {
			if e.ActorRole != "CUSTOMER" {
				t.Fatalf("timeline %+v", tl)
			}
		}
		if tl[3].FromStatus != "SHIPPED" || tl[3].ToStatus != "DELIVERED" || tl[4].FromStatus != "DELIVERED" || tl[4].ToStatus != "COMPLETED" {
			t.Fatalf("timeline %+v", tl)
		}
		wantError(t, s.Query(w.customer.AccessToken, confirmQ, map[string]any{"id": id}), "INVALID_STATE",
			map[string]string{"currentState": "COMPLETED"})
	})
}

// A VIRTUAL order: the merchant delivers its codes (accepting the paid order on the way),
// only the buyer and the merchant read them, the buyer confirms. Shipping or marking it
// rendered is the wrong call for its kind.
func TestVirtualOrderLife(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		id := w.paidOrder(t, "VIRTUAL")

		wantError(t, s.Query(w.staff.AccessToken, shipQ, map[string]any{"id": id, "c": "SF", "n": "SF0001"}),
			"BAD_USER_INPUT", map[string]string{"field": "orderID"})
		wantError(t, s.Query(w.staff.AccessToken, renderQ, map[string]any{"id": id}),
			"BAD_USER_INPUT", map[string]string{"field": "orderID"})

		content := map[string]any{"codes": []string{"GIFT-AAAA-1111", "GIFT-BBBB-2222"},
			"links": []string{"https://cdn.example.com/ebook.pdf"}, "message": "谢谢惠顾"}
		for _, c := range []struct{ who, token, code string }{
			{"anonymous", "", "UNAUTHENTICATED"},
			{"customer", w.customer.AccessToken, "FORBIDDEN"},
			{"another merchant", w.rival.Owner.AccessToken, "NOT_FOUND"},
		} {
			wantError(t, s.Query(c.token, deliverQ, map[string]any{"id": id, "c": content}), c.code, nil)
		}
		r := s.MustQuery(w.staff.AccessToken, deliverQ, map[string]any{"id": id, "c": content})
		if !strings.Contains(string(r.Data), `"status":"FULFILLED"`) {
			t.Fatalf("deliverVirtualGoods: %s", r.Raw)
		}
		wantError(t, s.Query(w.staff.AccessToken, deliverQ, map[string]any{"id": id, "c": content}),
			"INVALID_STATE", map[string]string{"currentState": "FULFILLED"})

		const readQ = `query($id: ID!) { order(id: $id) { status virtualContent { codes links message } } }`
		want := `{"order":{"status":"FULFILLED","virtualContent":{"codes":["GIFT-AAAA-1111","GIFT-BBBB-2222"],"links":["https://cdn.example.com/ebook.pdf"],"message":"谢谢惠顾"}}}`
		for _, token := range []string{w.customer.AccessToken, w.staff.AccessToken} {
			if r := s.MustQuery(token, readQ, map[string]any{"id": id}); string(r.Data) != want {
				t.Fatalf("content as buyer/merchant: %s", r.Raw)
			}
		}
		for _, token := range []string{w.stranger.AccessToken, w.rival.Owner.AccessToken} {
			r := s.Query(token, readQ, map[string]any{"id": id})
			if r.Contains("GIFT-AAAA") || string(r.Data) != `{"order":null}` {
				t.Fatalf("a stranger reads the order: %s", r.Raw)
			}
		}
		// node(id:) is no way round it either.
		r = s.Query(w.stranger.AccessToken, `query($id: ID!) { node(id: $id) { id ... on Order { virtualContent { codes } } } }`,
			map[string]any{"id": id})
		if r.Contains("GIFT-AAAA") {
			t.Fatalf("node leaks the content: %s", r.Raw)
		}
		// Nor does the timeline carry the codes.
		tl := w.timeline(t, id)
		if got := types(tl); !slices.Equal(got, []string{"CREATED", "ACCEPTED", "FULFILLED"}) {
			t.Fatalf("timeline %v", got)
		}
		if strings.Contains(tl[2].Reason, "GIFT") {
			t.Fatalf("timeline reason shows the codes: %q", tl[2].Reason)
		}

		r = s.MustQuery(w.customer.AccessToken, confirmQ, map[string]any{"id": id})
		if !strings.Contains(string(r.Data), `"status":"COMPLETED"`) {
			t.Fatalf("confirmReceipt: %s", r.Raw)
		}
	})
}

// A SERVICE order: the merchant marks it rendered with a note that becomes the timeline's
// reason; the customer confirms.
func TestServiceOrderLife(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		id := w.paidOrder(t, "SERVICE")
		w.accept(t, id)
		wantError(t, s.Query(w.staff.AccessToken, deliverQ, map[string]any{"id": id, "c": map[string]any{"message": "x"}}),
			"BAD_USER_INPUT", map[string]string{"field": "orderID"})
		wantError(t, s.Query(w.customer.AccessToken, renderQ, map[string]any{"id": id}), "FORBIDDEN", nil)
		wantError(t, s.Query(w.rival.Owner.AccessToken, renderQ, map[string]any{"id": id}), "NOT_FOUND", nil)
		wantError(t, s.Query(w.staff.AccessToken, renderQ, map[string]any{"id": id, "n": strings.Repeat("长", 501)}),
			"BAD_USER_INPUT", map[string]string{"field": "note"})

		r := s.MustQuery(w.admin.AccessToken, renderQ, map[string]any{"id": id, "n": "  上门安装完成，师傅：李  "})
		if !strings.Contains(string(r.Data), `"status":"FULFILLED"`) {
			t.Fatalf("markServiceRendered: %s", r.Raw)
		}
		tl := w.timeline(t, id)
		last := tl[len(tl)-1]
		if last.Type != "FULFILLED" || last.Reason != "上门安装完成，师傅：李" || last.ActorRole != "ADMIN" {
			t.Fatalf("timeline %+v", tl)
		}
		wantError(t, s.Query(w.staff.AccessToken, renderQ, map[string]any{"id": id}), "INVALID_STATE",
			map[string]string{"currentState": "FULFILLED"})
		s.MustQuery(w.customer.AccessToken, confirmQ, map[string]any{"id": id})
		if st := w.status(t, id); st != "COMPLETED" {
			t.Fatalf("status %s", st)
		}
	})
}

// Fulfilment moves only what the state machine allows, and says where the order stands.
func TestIllegalTransitions(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		unpaid := w.place(t, w.product(t, "PHYSICAL", 5), 1, true)
		unpaidVirtual := w.place(t, w.product(t, "VIRTUAL", 5), 1, false)
		unpaidService := w.place(t, w.product(t, "SERVICE", 5), 1, false)
		paid := w.paidOrder(t, "PHYSICAL")
		cancelled := w.place(t, w.product(t, "PHYSICAL", 5), 1, true)
		s.MustQuery(w.customer.AccessToken, `mutation($id: ID!) { cancelOrder(id: $id) { id } }`, map[string]any{"id": cancelled})

		for _, c := range []struct {
			name, token, query string
			vars               map[string]any
			state              string
		}{
			{"ship unpaid", w.staff.AccessToken, shipQ, map[string]any{"id": unpaid, "c": "SF", "n": "SF0001"}, "PENDING_PAYMENT"},
			{"ship cancelled", w.staff.AccessToken, shipQ, map[string]any{"id": cancelled, "c": "SF", "n": "SF0001"}, "CANCELLED"},
			{"deliver unpaid", w.staff.AccessToken, deliverQ, map[string]any{"id": unpaidVirtual, "c": map[string]any{"message": "hi"}}, "PENDING_PAYMENT"},
			{"render unpaid", w.staff.AccessToken, renderQ, map[string]any{"id": unpaidService}, "PENDING_PAYMENT"},
			{"confirm unpaid", w.customer.AccessToken, confirmQ, map[string]any{"id": unpaid}, "PENDING_PAYMENT"},
			{"confirm paid", w.customer.AccessToken, confirmQ, map[string]any{"id": paid}, "PAID"},
			{"confirm cancelled", w.customer.AccessToken, confirmQ, map[string]any{"id": cancelled}, "CANCELLED"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := s.Query(c.token, c.query, c.vars)
				wantError(t, r, "INVALID_STATE", map[string]string{"currentState": c.state})
				if !strings.Contains(r.Errors[0].Message, c.state) {
					t.Fatalf("the message does not name the state: %s", r.Raw)
				}
			})
		}
		if st := w.status(t, paid); st != "PAID" {
			t.Fatalf("paid order moved to %s", st)
		}
	})
}

// Bad input is BAD_USER_INPUT naming the field, before anything is written.
func TestFulfilmentValidation(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		physical := w.paidOrder(t, "PHYSICAL")
		virtual := w.paidOrder(t, "VIRTUAL")

		for _, c := range []struct{ name, carrier, number, field string }{
			{"empty carrier", "  ", "SF0001", "carrier"},
			{"long carrier", strings.Repeat("x", 65), "SF0001", "carrier"},
			{"short number", "SF", "SF1", "trackingNumber"},
			{"long number", "SF", strings.Repeat("1", 65), "trackingNumber"},
			{"space in number", "SF", "SF 0001", "trackingNumber"},
			{"non-ASCII number", "SF", "顺丰0001", "trackingNumber"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, s.Query(w.staff.AccessToken, shipQ, map[string]any{"id": physical, "c": c.carrier, "n": c.number}),
					"BAD_USER_INPUT", map[string]string{"field": c.field})
			})
		}

		many := make([]string, 101)
		for i := range many {
			many[i] = "CODE"
		}
		links := make([]string, 21)
		for i := range links {
			links[i] = "https://example.com/x"
		}
		for _, c := range []struct {
			name    string
			content map[string]any
			field   string
		}{
			{"nothing", map[string]any{"codes": []string{}, "message": "  "}, "content"},
			{"too many codes", map[string]any{"codes": many}, "content.codes"},
			{"empty code", map[string]any{"codes": []string{"A", " "}}, "content.codes[1]"},
			{"long code", map[string]any{"codes": []string{strings.Repeat("c", 257)}}, "content.codes[0]"},
			{"too many links", map[string]any{"links": links}, "content.links"},
			{"http link", map[string]any{"links": []string{"http://example.com/x"}}, "content.links[0]"},
			{"javascript link", map[string]any{"links": []string{"javascript:alert(1)"}}, "content.links[0]"},
			{"long message", map[string]any{"message": strings.Repeat("字", 2001)}, "content.message"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, s.Query(w.staff.AccessToken, deliverQ, map[string]any{"id": virtual, "c": c.content}),
					"BAD_USER_INPUT", map[string]string{"field": c.field})
			})
		}

		r := s.MustQuery(w.staff.AccessToken, shipQ, map[string]any{"id": physical, "c": "SF", "n": "SF0001"})
		var out struct{ ShipOrder struct{ ID string } }
		r.Decode(t, &out)
		now := time.Now()
		for _, c := range []struct {
			name  string
			in    map[string]any
			field string
		}{
			{"future", scan("IN_TRANSIT", now.Add(10*time.Minute), ""), "input.occurredAt"},
			{"before payment", scan("IN_TRANSIT", now.Add(-48*time.Hour), ""), "input.occurredAt"},
			{"long location", scan("IN_TRANSIT", now, strings.Repeat("地", 201)), "input.location"},
			{"long description", map[string]any{"status": "IN_TRANSIT", "occurredAt": now.Format(time.RFC3339),
				"description": strings.Repeat("d", 501)}, "input.description"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, s.Query(w.staff.AccessToken, trackQ, map[string]any{"id": out.ShipOrder.ID, "i": c.in}),
					"BAD_USER_INPUT", map[string]string{"field": c.field})
			})
		}
		// A carrier clock a little ahead is tolerated.
		track(t, w, w.staff.AccessToken, out.ShipOrder.ID, scan("PICKED_UP", now.Add(4*time.Minute), ""))
		// An unknown shipment is NOT_FOUND, like somebody else's.
		wantError(t, s.Query(w.staff.AccessToken, trackQ, map[string]any{"id": "999999", "i": scan("IN_TRANSIT", now, "")}),
			"NOT_FOUND", nil)
	})
}

// A mixed order delivers each line by its kind: the virtual lines of a PHYSICAL order get
// their codes (the order keeps its physical path), its service lines are rendered, and an
// order of virtual and service lines becomes FULFILLED only when both are.
func TestMixedOrderDeliversEachLineByItsKind(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		physical, virtual, service := w.product(t, "PHYSICAL", 5), w.product(t, "VIRTUAL", 5), w.product(t, "SERVICE", 5)
		const itemsQ = `query($id: ID!) { order(id: $id) { status fulfilment virtualContent { codes } items { kind fulfilledAt } } }`
		type items struct {
			Order struct {
				Status, Fulfilment string
				VirtualContent     *struct{ Codes []string }
				Items              []struct {
					Kind        string
					FulfilledAt *string
				}
			}
		}
		read := func(id string) items {
			var out items
			s.MustQuery(w.customer.AccessToken, itemsQ, map[string]any{"id": id}).Decode(t, &out)
			return out
		}

		// Tea, a gift card and an installation, from one shop: one PHYSICAL order.
		id := w.placeLines(t, true, physical, virtual, service)
		w.pay(t, id)
		if got := read(id).Order.Fulfilment; got != "PHYSICAL" {
			t.Fatalf("mixed order fulfilment %s", got)
		}
		r := s.MustQuery(w.staff.AccessToken, deliverQ, map[string]any{"id": id, "c": map[string]any{"codes": []string{"CARD-1234"}}})
		if !r.Contains(`"status":"ACCEPTED"`) {
			t.Fatalf("codes of a PAID mixed order: %s", r.Raw)
		}
		wantError(t, s.Query(w.staff.AccessToken, deliverQ, map[string]any{"id": id, "c": map[string]any{"codes": []string{"AGAIN"}}}),
			"INVALID_STATE", map[string]string{"currentState": "ACCEPTED"})
		s.MustQuery(w.staff.AccessToken, shipQ, map[string]any{"id": id, "c": "SF", "n": "SF0042"})
		// The service is rendered after the parcel left: the order stays SHIPPED.
		r = s.MustQuery(w.staff.AccessToken, renderQ, map[string]any{"id": id, "n": "installed"})
		if !r.Contains(`"status":"SHIPPED"`) {
			t.Fatalf("render a shipped mixed order: %s", r.Raw)
		}
		got := read(id)
		if got.Order.VirtualContent == nil || len(got.Order.VirtualContent.Codes) != 1 || got.Order.VirtualContent.Codes[0] != "CARD-1234" {
			t.Fatalf("the buyer reads the codes: %+v", got)
		}
		for _, it := range got.Order.Items {
			if (it.FulfilledAt != nil) != (it.Kind != "PHYSICAL") {
				t.Fatalf("items %+v", got.Order.Items)
			}
		}
		s.MustQuery(w.customer.AccessToken, confirmQ, map[string]any{"id": id})
		wantError(t, s.Query(w.customer.AccessToken, confirmQ, map[string]any{"id": id}), "INVALID_STATE",
			map[string]string{"currentState": "COMPLETED"})
		wantTL := []string{"CREATED", "ACCEPTED", "LINES_FULFILLED", "SHIPPED", "LINES_FULFILLED", "DELIVERED", "COMPLETED"}
		if tl := types(w.timeline(t, id)); !slices.Equal(tl, wantTL) {
			t.Fatalf("timeline %v, want %v", tl, wantTL)
		}
		// A completed order delivers nothing more; a kind the order lacks is the wrong call.
		wantError(t, s.Query(w.staff.AccessToken, renderQ, map[string]any{"id": id}), "INVALID_STATE",
			map[string]string{"currentState": "COMPLETED"})
		plain := w.paidOrder(t, "PHYSICAL")
		wantError(t, s.Query(w.staff.AccessToken, deliverQ, map[string]any{"id": plain, "c": map[string]any{"message": "x"}}),
			"BAD_USER_INPUT", map[string]string{"field": "orderID"})

		// Virtual and service lines: FULFILLED when both are delivered, in either order.
		for _, first := range []string{"deliver", "render"} {
			id := w.placeLines(t, false, w.product(t, "VIRTUAL", 5), w.product(t, "SERVICE", 5))
			w.pay(t, id)
			steps := []func() *apitest.Response{
				func() *apitest.Response {
					return s.MustQuery(w.staff.AccessToken, deliverQ, map[string]any{"id": id, "c": map[string]any{"message": "enjoy"}})
				},
				func() *apitest.Response { return s.MustQuery(w.staff.AccessToken, renderQ, map[string]any{"id": id}) },
			}
			if first == "render" {
				steps[0], steps[1] = steps[1], steps[0]
			}
			if r := steps[0](); !r.Contains(`"status":"ACCEPTED"`) {
				t.Fatalf("%s first: %s", first, r.Raw)
			}
			if r := steps[1](); !r.Contains(`"status":"FULFILLED"`) {
				t.Fatalf("%s second: %s", first, r.Raw)
			}
			if tl := types(w.timeline(t, id)); !slices.Equal(tl, []string{"CREATED", "ACCEPTED", "LINES_FULFILLED", "FULFILLED"}) {
				t.Fatalf("timeline %v", tl)
			}
		}
	})
}
