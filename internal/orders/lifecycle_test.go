package orders_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestOrderLives walks a physical, a virtual and a service order through their whole
// lives over GraphQL, paid in one payment through the sandbox's signed notification:
// place → pay → accept → ship/deliver/render → confirm → completed, with the timeline.
func TestOrderLives(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		c := s.NewMerchant(t, "spa-services", merchant.StatusACTIVE)
		tea := w.variant(t, w.a, product.KindPHYSICAL, "TEA-1", 3800, 10)
		code := w.variant(t, w.b, product.KindVIRTUAL, "CODE-1", 6000, 3)
		massage := w.variant(t, c, product.KindSERVICE, "SPA-1", 19900, 5)
		buyer := w.buyer.AccessToken

		var out placed
		s.MustQuery(buyer, placeMutation, map[string]any{"i": map[string]any{
			"lines": []any{line(tea, 1), line(code, 1), line(massage, 1)}, "shippingAddress": address,
			"idempotencyKey": "lives-0001"}}).Decode(t, &out)
		if len(out.PlaceOrder.Orders) != 3 {
			t.Fatalf("want 3 orders: %+v", out.PlaceOrder)
		}
		physical, virtual, service := out.PlaceOrder.Orders[0], out.PlaceOrder.Orders[1], out.PlaceOrder.Orders[2]
		if physical.Fulfilment != "PHYSICAL" || virtual.Fulfilment != "VIRTUAL" || service.Fulfilment != "SERVICE" {
			t.Fatalf("fulfilments: %s %s %s", physical.Fulfilment, virtual.Fulfilment, service.Fulfilment)
		}

		// One payment for the whole checkout, completed by the sandbox's notification.
		r := s.MustQuery(buyer, `mutation($i: PayOrderInput!) { payOrder(input: $i) { id status amount { amount } instructions } }`,
			map[string]any{"i": map[string]any{"checkoutID": out.PlaceOrder.CheckoutID, "method": "WECHAT_PAY",
				"idempotencyKey": "pay-lives-0001"}})
		var pay struct {
			PayOrder struct {
				ID, Status string
				Amount     struct{ Amount string }
			}
		}
		r.Decode(t, &pay)
		if pay.PayOrder.Status != "PENDING" || pay.PayOrder.Amount.Amount != out.PlaceOrder.Total.Amount {
			t.Fatalf("payment: %s", r.Raw)
		}
		s.MustQuery(buyer, `mutation($id: ID!) { sandboxCompletePayment(paymentID: $id, outcome: SUCCEEDED) { status } }`,
			map[string]any{"id": pay.PayOrder.ID})
		for _, o := range out.PlaceOrder.Orders {
			if st := status(t, s, buyer, o.ID); st != "PAID" {
				t.Fatalf("order %s after payment: %s", o.Number, st)
			}
		}

		// Each merchant accepts its order.
		for _, m := range []struct {
			token, id string
		}{{w.a.Owner.AccessToken, physical.ID}, {w.b.Owner.AccessToken, virtual.ID}, {c.Owner.AccessToken, service.ID}} {
			s.MustQuery(m.token, `mutation($id: ID!) { acceptOrder(id: $id) { status } }`, map[string]any{"id": m.id})
		}

		// Physical: ship, scans, delivered by the carrier, confirmed by the customer.
		r = s.MustQuery(w.a.Owner.AccessToken, `mutation($id: ID!) { shipOrder(orderID: $id, carrier: "SF Express", trackingNumber: "SF1234567890") { id } }`,
			map[string]any{"id": physical.ID})
		var ship struct{ ShipOrder struct{ ID string } }
		r.Decode(t, &ship)
		at := time.Now().UTC().Add(-2 * time.Minute)
		for i, st := range []string{"PICKED_UP", "IN_TRANSIT", "DELIVERED"} {
			s.MustQuery(w.a.Owner.AccessToken, `mutation($id: ID!, $i: TrackingEventInput!) { addTrackingEvent(shipmentID: $id, input: $i) { status } }`,
				map[string]any{"id": ship.ShipOrder.ID, "i": map[string]any{"status": st, "location": "杭州",
					"occurredAt": at.Add(time.Duration(i) * 30 * time.Second).Format(time.RFC3339)}})
		}
		if st := status(t, s, buyer, physical.ID); st != "DELIVERED" {
			t.Fatalf("physical after the DELIVERED scan: %s", st)
		}
		// Virtual: the merchant delivers codes, which only the buyer and the merchant read.
		s.MustQuery(w.b.Owner.AccessToken, `mutation($id: ID!) { deliverVirtualGoods(orderID: $id, content: {codes: ["AAAA-BBBB"], message: "enjoy"}) { status } }`,
			map[string]any{"id": virtual.ID})
		r = s.MustQuery(buyer, `query($id: ID!) { order(id: $id) { status virtualContent { codes message } } }`, map[string]any{"id": virtual.ID})
		if !r.Contains(`"codes":["AAAA-BBBB"]`) || !r.Contains(`"status":"FULFILLED"`) {
			t.Fatalf("buyer reads the content: %s", r.Raw)
		}
		// Service: rendered by the merchant.
		s.MustQuery(c.Owner.AccessToken, `mutation($id: ID!) { markServiceRendered(orderID: $id, note: "60 minutes, room 3") { status } }`,
			map[string]any{"id": service.ID})

		// The customer confirms all three.
		for _, o := range out.PlaceOrder.Orders {
			s.MustQuery(buyer, `mutation($id: ID!) { confirmReceipt(orderID: $id) { status } }`, map[string]any{"id": o.ID})
			if st := status(t, s, buyer, o.ID); st != "COMPLETED" {
				t.Errorf("order %s (%s) ends %s", o.Number, o.Fulfilment, st)
			}
		}
		want := map[string]string{
			physical.ID: "CREATED PAID ACCEPTED SHIPPED TRACKING_UPDATED TRACKING_UPDATED TRACKING_UPDATED DELIVERED COMPLETED",
			virtual.ID:  "CREATED PAID ACCEPTED FULFILLED COMPLETED",
			service.ID:  "CREATED PAID ACCEPTED FULFILLED COMPLETED",
		}
		for id, types := range want {
			r := s.MustQuery(buyer, `query($id: ID!) { order(id: $id) { timeline { type actorRole } } }`, map[string]any{"id": id})
			var tl struct {
				Order struct {
					Timeline []struct{ Type, ActorRole string }
				}
			}
			r.Decode(t, &tl)
			var got []string
			for _, e := range tl.Order.Timeline {
				got = append(got, e.Type)
			}
			if strings.Join(got, " ") != types {
				t.Errorf("timeline of %s:\n got %s\nwant %s", id, strings.Join(got, " "), types)
			}
			if tl.Order.Timeline[1].ActorRole != "SYSTEM" {
				t.Errorf("PAID is recorded by the system (the notification): %+v", tl.Order.Timeline[1])
			}
		}
		// A completed order moves no more.
		r = s.Query(w.a.Owner.AccessToken, `mutation($id: ID!) { cancelOrder(id: $id, reason: "late") { status } }`, map[string]any{"id": physical.ID})
		if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "COMPLETED" {
			t.Errorf("cancel a completed order: %s", r.Raw)
		}
	})
}

func status(t *testing.T, s *apitest.Server, token, id string) string {
	t.Helper()
	r := s.MustQuery(token, `query($id: ID!) { order(id: $id) { status } }`, map[string]any{"id": id})
	var out struct{ Order struct{ Status string } }
	if err := json.Unmarshal(r.Data, &out); err != nil {
		t.Fatal(err)
	}
	return out.Order.Status
}
