package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/testdb"
)

// The order-event subscriptions, driven over real sockets with a client that speaks
// graphql-transport-ws exactly (apitest.WSClient), the legacy graphql-ws protocol, SSE,
// and the npm graphql-ws client (TestNodeGraphQLWSClient).

// evFields is what the tests select of an event.
const evFields = `id cursor sequence type fromStatus toStatus occurredAt actor { role userID } order { id number status }`

// evEvent is an event as the tests decode it.
type evEvent struct {
	ID, Cursor, Type, FromStatus, ToStatus, OccurredAt string
	Sequence                                           int64
	Actor                                              struct {
		Role   string
		UserID *string
	}
	Order struct{ ID, Number, Status string }
}

// evShop is two merchants, their products, and two buyers.
type evShop struct {
	s            *apitest.Server
	a, b         apitest.Merchant
	buyer, other apitest.Session
	tea, code    int // a's physical tea, b's virtual code
}

func newEvShop(t *testing.T, s *apitest.Server) *evShop {
	t.Helper()
	w := &evShop{s: s}
	w.a = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	w.b = s.NewMerchant(t, "game-codes", merchant.StatusACTIVE)
	w.buyer = s.Register("buyer@example.com", "Buyer")
	w.other = s.Register("other@example.com", "Other")
	w.tea = evVariant(t, s, w.a, product.KindPHYSICAL, "TEA-1", "Longjing tea")
	w.code = evVariant(t, s, w.b, product.KindVIRTUAL, "CODE-1", "Game code")
	return w
}

func evVariant(t *testing.T, s *apitest.Server, m apitest.Merchant, kind product.Kind, sku, title string) int {
	t.Helper()
	_, v := s.NewProduct(t, m, title, kind, sku, 3800, 100_000)
	return v
}

var evAddress = map[string]any{"recipientName": "王小明", "phone": "13800138000", "province": "上海市",
	"city": "上海市", "district": "浦东新区", "street": "世纪大道 100 号"}

// place places one order of variant as the holder of token and returns its id, number and
// checkout.
func (w *evShop) place(t *testing.T, token string, variant int, key string) (id, number, checkout string) {
	t.Helper()
	r := w.s.MustQuery(token, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID orders { id number } } }`,
		map[string]any{"i": map[string]any{"lines": []any{map[string]any{"variantID": strconv.Itoa(variant), "quantity": 1}},
			"shippingAddress": evAddress, "idempotencyKey": "place-" + key}})
	var out struct {
		PlaceOrder struct {
			CheckoutID string
			Orders     []struct{ ID, Number string }
		}
	}
	r.Decode(t, &out)
	if len(out.PlaceOrder.Orders) != 1 {
		t.Fatalf("placeOrder made %d orders: %s", len(out.PlaceOrder.Orders), r.Raw)
	}
	return out.PlaceOrder.Orders[0].ID, out.PlaceOrder.Orders[0].Number, out.PlaceOrder.CheckoutID
}

// pay pays a checkout through the sandbox, whose signed notification marks it PAID.
func (w *evShop) pay(t *testing.T, token, checkout, key string) {
	t.Helper()
	r := w.s.MustQuery(token, `mutation($i: PayOrderInput!) { payOrder(input: $i) { id } }`,
		map[string]any{"i": map[string]any{"checkoutID": checkout, "method": "WECHAT_PAY", "idempotencyKey": "pay-" + key}})
	var pay struct{ PayOrder struct{ ID string } }
	r.Decode(t, &pay)
	w.s.MustQuery(token, `mutation($id: ID!) { sandboxCompletePayment(paymentID: $id, outcome: SUCCEEDED) { status } }`,
		map[string]any{"id": pay.PayOrder.ID})
}

// ship accepts and ships a's order, returning the shipment.
func (w *evShop) acceptAndShip(t *testing.T, order string) string {
	t.Helper()
	owner := w.a.Owner.AccessToken
	w.s.MustQuery(owner, `mutation($id: ID!) { acceptOrder(id: $id) { status } }`, map[string]any{"id": order})
	r := w.s.MustQuery(owner, `mutation($id: ID!) { shipOrder(orderID: $id, carrier: "SF Express", trackingNumber: "SF1234567890") { id } }`,
		map[string]any{"id": order})
	var ship struct{ ShipOrder struct{ ID string } }
	r.Decode(t, &ship)
	return ship.ShipOrder.ID
}

// deliver records the carrier's DELIVERED scan (TRACKING_UPDATED, then DELIVERED).
func (w *evShop) deliver(t *testing.T, shipment string) {
	t.Helper()
	w.s.MustQuery(w.a.Owner.AccessToken, `mutation($id: ID!, $i: TrackingEventInput!) { addTrackingEvent(shipmentID: $id, input: $i) { status } }`,
		map[string]any{"id": shipment, "i": map[string]any{"status": "DELIVERED", "location": "上海",
			"occurredAt": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)}})
}

func (w *evShop) confirm(t *testing.T, order string) {
	t.Helper()
	w.s.MustQuery(w.buyer.AccessToken, `mutation($id: ID!) { confirmReceipt(orderID: $id) { status } }`, map[string]any{"id": order})
}

// evNext reads the next event of sub, failing on anything but a result without errors.
func evNext(t *testing.T, sub *apitest.WSSubscription) evEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "next" || len(ev.Response.Errors) > 0 {
		t.Fatalf("want an event, got %s: %s", ev.Type, ev.Response.Raw)
	}
	var data map[string]evEvent
	if err := json.Unmarshal(ev.Response.Data, &data); err != nil || len(data) != 1 {
		t.Fatalf("event data %s: %v", ev.Response.Data, err)
	}
	for _, e := range data {
		return e
	}
	panic("unreachable")
}

// evTake reads n events.
func evTake(t *testing.T, sub *apitest.WSSubscription, n int) []evEvent {
	t.Helper()
	out := make([]evEvent, 0, n)
	for range n {
		out = append(out, evNext(t, sub))
	}
	return out
}

// evQuiet asserts sub receives nothing for a while.
func evQuiet(t *testing.T, sub *apitest.WSSubscription, d time.Duration) {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if ok {
			t.Fatalf("unexpected %s: %s", ev.Type, ev.Response.Raw)
		}
	case <-time.After(d):
	}
}

// evFail reads the refusal of a subscription: gqlgen sends a resolver's error as a next
// whose payload has errors, then complete.
func evFail(t *testing.T, sub *apitest.WSSubscription) apitest.WSEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "next" || ev.Response == nil || len(ev.Response.Errors) == 0 {
		t.Fatalf("want a next with errors, got %s: %+v", ev.Type, ev.Response)
	}
	if end, err := sub.Next(ctx); err != nil || end.Type != "complete" {
		t.Fatalf("want complete after the refusal, got %+v %v", end, err)
	}
	return ev
}

func evTypes(evs []evEvent) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return strings.Join(s, " ")
}

// evCheckOrder asserts positions (cursors) and per-merchant sequences only increase.
func evCheckOrder(t *testing.T, evs []evEvent) {
	t.Helper()
	var lastPos, lastSeq int64
	for _, e := range evs {
		p, err := events.ParseCursor("cursor", e.Cursor)
		if err != nil {
			t.Fatalf("cursor %q: %v", e.Cursor, err)
		}
		if p <= lastPos || e.Sequence <= lastSeq {
			t.Fatalf("out of order: position %d after %d, sequence %d after %d (%s)", p, lastPos, e.Sequence, lastSeq, evTypes(evs))
		}
		lastPos, lastSeq = p, e.Sequence
	}
}

// TestOrderEventsFollowAWholeOrderLife: the merchant's staff, the buyer (all their orders)
// and the buyer (one order) each receive the events of a physical order's whole life, in
// order, with increasing sequences, and the order resolvable on each.
func TestOrderEventsFollowAWholeOrderLife(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newEvShop(t, s)
		staff := s.AddStaff(t, w.a, "staff@example.com")
		merchantSub := s.DialWS(t, staff.AccessToken).MustSubscribe(t,
			`subscription($m: ID!) { orderEvents(merchantID: $m) { `+evFields+` } }`, map[string]any{"m": w.a.ID})
		mineSub := s.DialWS(t, w.buyer.AccessToken).MustSubscribe(t, `subscription { myOrderEvents { `+evFields+` } }`, nil)
		waitSubscribers(t, s, 2)
		evQuiet(t, merchantSub, 100*time.Millisecond) // subscribed, nothing yet

		order, number, checkout := w.place(t, w.buyer.AccessToken, w.tea, "life-1")
		first := evNext(t, mineSub)
		orderSub := s.DialWS(t, w.buyer.AccessToken).MustSubscribe(t,
			`subscription($o: ID!) { orderStatusChanged(orderID: $o) { `+evFields+` } }`, map[string]any{"o": order})
		waitSubscribers(t, s, 3) // the subscription has started before the payment
		w.pay(t, w.buyer.AccessToken, checkout, "life-pay-1")
		shipment := w.acceptAndShip(t, order)
		w.deliver(t, shipment)
		w.confirm(t, order)

		life := "CREATED PAID ACCEPTED SHIPPED TRACKING_UPDATED DELIVERED COMPLETED"
		for name, got := range map[string][]evEvent{
			"orderEvents (staff)":        evTake(t, merchantSub, 7),
			"myOrderEvents (buyer)":      append([]evEvent{first}, evTake(t, mineSub, 6)...),
			"orderStatusChanged (buyer)": evTake(t, orderSub, 6),
		} {
			want := life
			if strings.HasPrefix(name, "orderStatusChanged") {
				want = strings.TrimPrefix(life, "CREATED ")
			}
			if evTypes(got) != want {
				t.Errorf("%s: got %s\nwant %s", name, evTypes(got), want)
			}
			evCheckOrder(t, got)
			for _, e := range got {
				if e.Order.ID != order || e.Order.Number != number || e.Order.Status == "" || e.OccurredAt == "" {
					t.Errorf("%s: %s resolves order %+v at %q", name, e.Type, e.Order, e.OccurredAt)
				}
			}
		}
		// The events say who acted.
		staffEvents := map[string]evEvent{}
		r := s.MustQuery(staff.AccessToken, `query($m: ID) { orderEventsSince(merchantID: $m, first: 500) { `+evFields+` } }`,
			map[string]any{"m": w.a.ID})
		var since struct{ OrderEventsSince []evEvent }
		r.Decode(t, &since)
		for _, e := range since.OrderEventsSince {
			staffEvents[e.Type] = e
		}
		if got := evTypes(since.OrderEventsSince); got != life {
			t.Errorf("orderEventsSince: %s", got)
		}
		if e := staffEvents["CREATED"]; e.Actor.Role != "CUSTOMER" || e.Actor.UserID == nil || *e.Actor.UserID != w.buyer.UserID {
			t.Errorf("CREATED actor: %+v", e.Actor)
		}
		if e := staffEvents["PAID"]; e.Actor.Role != "SYSTEM" || e.Actor.UserID != nil {
			t.Errorf("PAID actor: %+v", e.Actor)
		}
		if e := staffEvents["ACCEPTED"]; e.Actor.Role != "MERCHANT" || e.Actor.UserID == nil || *e.Actor.UserID != w.a.Owner.UserID {
			t.Errorf("ACCEPTED actor: %+v", e.Actor)
		}
	})
}

// TestResumeAfterADroppedConnection: a subscriber that loses its connection and comes
// back with the cursor of the last event it saw first receives exactly what it missed,
// then live events — no gap, no duplicate. The polling query agrees, and a cursor that
// names no event (expired) is refused with reason CURSOR_EXPIRED.
func TestResumeAfterADroppedConnection(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newEvShop(t, s)
		owner := w.a.Owner.AccessToken
		query := `subscription($m: ID!, $after: String) { orderEvents(merchantID: $m, after: $after) { ` + evFields + ` } }`
		ws := s.DialWS(t, owner)
		sub := ws.MustSubscribe(t, query, map[string]any{"m": w.a.ID})
		waitSubscribers(t, s, 1)

		order, _, checkout := w.place(t, w.buyer.AccessToken, w.tea, "resume-1")
		w.pay(t, w.buyer.AccessToken, checkout, "resume-pay-1")
		before := evTake(t, sub, 2) // CREATED PAID
		_ = ws.Drop()

		// While away: accepted and shipped, and an order at another merchant.
		shipment := w.acceptAndShip(t, order)
		w.place(t, w.buyer.AccessToken, w.code, "resume-elsewhere")
		waitPublished(t, s)

		sub = s.DialWS(t, owner).MustSubscribe(t, query, map[string]any{"m": w.a.ID, "after": before[1].Cursor})
		missed := evTake(t, sub, 2)
		w.deliver(t, shipment)
		w.confirm(t, order)
		live := evTake(t, sub, 3)
		evQuiet(t, sub, 200*time.Millisecond)

		got := append(append(before, missed...), live...)
		if want := "CREATED PAID ACCEPTED SHIPPED TRACKING_UPDATED DELIVERED COMPLETED"; evTypes(got) != want {
			t.Fatalf("across the reconnect: %s\nwant %s", evTypes(got), want)
		}
		evCheckOrder(t, got)
		for i := 1; i < len(got); i++ {
			if got[i].Sequence != got[i-1].Sequence+1 {
				t.Errorf("gap in the merchant's sequence: %d after %d", got[i].Sequence, got[i-1].Sequence)
			}
		}

		// Polling from the same cursor reads the same events.
		r := s.MustQuery(owner, `query($m: ID, $after: String) { orderEventsSince(merchantID: $m, after: $after, first: 2) { cursor type } }`,
			map[string]any{"m": w.a.ID, "after": before[1].Cursor})
		if !r.Contains(`"type":"ACCEPTED"`) || !r.Contains(`"type":"SHIPPED"`) || r.Contains(`"DELIVERED"`) {
			t.Errorf("orderEventsSince after PAID, first 2: %s", r.Raw)
		}

		// A cursor naming no event, a malformed one, a page too large.
		gone := events.Cursor(1 << 40)
		ev := evFail(t, s.DialWS(t, owner).MustSubscribe(t, query, map[string]any{"m": w.a.ID, "after": gone}))
		if ev.Code() != "BAD_USER_INPUT" || ev.Response.Errors[0].Extensions["reason"] != events.ReasonCursorExpired {
			t.Errorf("expired cursor: %s", ev.Response.Raw)
		}
		for _, c := range []struct {
			vars      map[string]any
			code, why string
		}{
			{map[string]any{"m": w.a.ID, "after": gone}, "BAD_USER_INPUT", events.ReasonCursorExpired},
			{map[string]any{"m": w.a.ID, "after": "not-a-cursor"}, "BAD_USER_INPUT", ""},
			{map[string]any{"m": w.a.ID, "first": 501}, "BAD_USER_INPUT", ""},
			{map[string]any{"m": w.a.ID, "first": 0}, "BAD_USER_INPUT", ""},
		} {
			r := s.Query(owner, `query($m: ID, $after: String, $first: Int) { orderEventsSince(merchantID: $m, after: $after, first: $first) { cursor } }`, c.vars)
			if r.Code() != c.code || (c.why != "" && r.Errors[0].Extensions["reason"] != c.why) {
				t.Errorf("orderEventsSince%v: %s", c.vars, r.Raw)
			}
		}
	})
}

// waitPublished waits until the relay has published every committed event.
func waitPublished(t *testing.T, s *apitest.Server) {
	t.Helper()
	client, ctx := s.Client()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n := client.OrderEvent.Query().CountX(ctx)
		p, err := s.App.Relay.PublishedPosition(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p >= int64(n) && s.App.Hub.Position() >= int64(n) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the relay did not publish every event in 10s")
}

// TestForeignSubscribersGetNothing: nobody follows what they may not read — another
// customer's order (NOT_FOUND, as if it did not exist), another merchant's orders
// (FORBIDDEN), anything without signing in (UNAUTHENTICATED) — and a customer's own
// stream never carries another customer's events. A bad token is refused at
// connection_init with close code 4403; a foreign Origin cannot even upgrade.
func TestForeignSubscribersGetNothing(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newEvShop(t, s)
		mine, _, _ := w.place(t, w.buyer.AccessToken, w.tea, "foreign-1")

		cases := []struct {
			name, token, query string
			vars               map[string]any
			code               string
		}{
			{"another customer, my order", w.other.AccessToken, `subscription($o: ID!) { orderStatusChanged(orderID: $o) { type } }`,
				map[string]any{"o": mine}, "NOT_FOUND"},
			{"another merchant's staff, my order", w.b.Owner.AccessToken, `subscription($o: ID!) { orderStatusChanged(orderID: $o) { type } }`,
				map[string]any{"o": mine}, "NOT_FOUND"},
			{"another merchant's staff, my merchant", w.b.Owner.AccessToken, `subscription($m: ID!) { orderEvents(merchantID: $m) { type } }`,
				map[string]any{"m": w.a.ID}, "FORBIDDEN"},
			{"a customer, a merchant", w.buyer.AccessToken, `subscription($m: ID!) { orderEvents(merchantID: $m) { type } }`,
				map[string]any{"m": w.a.ID}, "FORBIDDEN"},
			{"anonymous, an order", "", `subscription($o: ID!) { orderStatusChanged(orderID: $o) { type } }`,
				map[string]any{"o": mine}, "UNAUTHENTICATED"},
			{"anonymous, own events", "", `subscription { myOrderEvents { type } }`, nil, "UNAUTHENTICATED"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ev := evFail(t, s.DialWS(t, c.token).MustSubscribe(t, c.query, c.vars))
				if ev.Code() != c.code {
					t.Errorf("want %s: %s", c.code, ev.Response.Raw)
				}
			})
		}
		for _, c := range []struct {
			name, token string
			vars        map[string]any
			code        string
		}{
			{"another merchant's events", w.b.Owner.AccessToken, map[string]any{"m": w.a.ID}, "FORBIDDEN"},
			{"a customer, a merchant", w.other.AccessToken, map[string]any{"m": w.a.ID}, "FORBIDDEN"},
			{"anonymous", "", nil, "UNAUTHENTICATED"},
		} {
			r := s.Query(c.token, `query($m: ID) { orderEventsSince(merchantID: $m) { type } }`, c.vars)
			if r.Code() != c.code {
				t.Errorf("orderEventsSince, %s: want %s: %s", c.name, c.code, r.Raw)
			}
		}

		// B's own stream: A's order placed first never shows; B's own does.
		theirs := s.DialWS(t, w.other.AccessToken).MustSubscribe(t, `subscription { myOrderEvents { `+evFields+` } }`, nil)
		waitSubscribers(t, s, 1)
		w.place(t, w.buyer.AccessToken, w.tea, "foreign-2")
		w.place(t, w.buyer.AccessToken, w.code, "foreign-3")
		own, _, _ := w.place(t, w.other.AccessToken, w.code, "foreign-4")
		if e := evNext(t, theirs); e.Order.ID != own || e.Type != "CREATED" {
			t.Errorf("B's stream carried %s of order %s, want B's own order %s", e.Type, e.Order.ID, own)
		}
		evQuiet(t, theirs, 200*time.Millisecond)
		r := s.MustQuery(w.other.AccessToken, `query { orderEventsSince { order { id } } }`, nil)
		if r.Contains(`"`+mine+`"`) || !r.Contains(`"`+own+`"`) {
			t.Errorf("B polls: %s", r.Raw)
		}

		// A token that is not one: 4403 at connection_init.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := apitest.DialWS(ctx, s.WSURL(), apitest.WSOptions{Token: "not-a-token"})
		if websocket.CloseStatus(err) != 4403 {
			t.Errorf("a bad token: want close 4403, got %v", err)
		}
		// A page on another site cannot open a socket with the buyer's cookies or token.
		_, err = apitest.DialWS(ctx, s.WSURL(), apitest.WSOptions{Token: w.buyer.AccessToken, Origin: "https://evil.example"})
		if err == nil || !strings.Contains(err.Error(), "HTTP 403") {
			t.Errorf("a foreign Origin: want the upgrade refused with 403, got %v", err)
		}
		c, err := apitest.DialWS(ctx, s.WSURL(), apitest.WSOptions{Token: w.buyer.AccessToken, Origin: s.HTTP.URL})
		if err != nil {
			t.Errorf("the server's own origin is refused: %v", err)
		} else {
			_ = c.Close()
		}
	})
}

// TestAllowedOriginMayUpgrade: an origin listed in ALLOWED_ORIGINS may open a socket.
func TestAllowedOriginMayUpgrade(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t), func(c *config.Config) { c.CORS.AllowedOrigins = []string{"shop.example.com"} })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := apitest.DialWS(ctx, s.WSURL(), apitest.WSOptions{Origin: "https://shop.example.com"})
	if err != nil {
		t.Fatalf("an allowed origin: %v", err)
	}
	_ = c.Close()
	if _, err := apitest.DialWS(ctx, s.WSURL(), apitest.WSOptions{Origin: "https://evil.example.com"}); err == nil {
		t.Error("an origin not listed may upgrade")
	}
}

// TestLegacyGraphQLWSProtocol: subscriptions-transport-ws clients (subprotocol graphql-ws:
// start/data/stop) receive the same events.
func TestLegacyGraphQLWSProtocol(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newEvShop(t, s)
		ws := s.DialWS(t, w.buyer.AccessToken, apitest.WSOptions{Protocol: apitest.ProtocolLegacyWS})
		if ws.Protocol() != "graphql-ws" {
			t.Fatalf("protocol %s", ws.Protocol())
		}
		sub := ws.MustSubscribe(t, `subscription { myOrderEvents { `+evFields+` } }`, nil)
		waitSubscribers(t, s, 1)
		order, number, _ := w.place(t, w.buyer.AccessToken, w.tea, "legacy-1")
		if e := evNext(t, sub); e.Type != "CREATED" || e.Order.ID != order || e.Order.Number != number {
			t.Errorf("legacy data: %+v", e)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sub.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if ev, err := sub.Next(ctx); err != nil || ev.Type != "complete" {
			t.Errorf("after stop: %+v %v", ev, err)
		}
		// A refused subscription reads the same in the legacy protocol.
		ev := evFail(t, ws.MustSubscribe(t, `subscription($m: ID!) { orderEvents(merchantID: $m) { type } }`, map[string]any{"m": w.a.ID}))
		if ev.Code() != "FORBIDDEN" {
			t.Errorf("legacy refusal: %s", ev.Response.Raw)
		}
	})
}

// TestSubscriptionOverSSE: POST /graphql with Accept: text/event-stream streams each
// event as an SSE "next" event.
func TestSubscriptionOverSSE(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newEvShop(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		body, _ := json.Marshal(map[string]any{"query": `subscription { myOrderEvents { ` + evFields + ` } }`})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.HTTP.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+w.buyer.AccessToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("SSE answer: %d %s: %s (gqlgen's SSE transport needs every ResponseWriter wrapper "+
				"on the way to implement http.Flusher)", res.StatusCode, res.Header.Get("Content-Type"), b)
		}
		type sse struct{ event, data string }
		got := make(chan sse, 16)
		go func() {
			defer close(got)
			sc := bufio.NewScanner(res.Body)
			var cur sse
			for sc.Scan() {
				switch line := sc.Text(); {
				case strings.HasPrefix(line, "event:"):
					cur.event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
				case strings.HasPrefix(line, "data:"):
					cur.data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
				case line == "" && cur.event != "":
					got <- cur
					cur = sse{}
				}
			}
		}()
		waitSubscribers(t, s, 1)
		order, _, _ := w.place(t, w.buyer.AccessToken, w.tea, "sse-1")
		select {
		case e := <-got:
			var r struct {
				Data struct{ MyOrderEvents evEvent }
			}
			if e.event != "next" || json.Unmarshal([]byte(e.data), &r) != nil ||
				r.Data.MyOrderEvents.Type != "CREATED" || r.Data.MyOrderEvents.Order.ID != order {
				t.Errorf("SSE event %q: %s", e.event, e.data)
			}
		case <-ctx.Done():
			t.Fatal("no SSE event")
		}
		cancel() // the client goes away; the server ends the stream
	})
}

// TestTokenExpiryClosesTheSocket: a connection lives as long as its access token. At
// expiry each running subscription receives an error with reason TOKEN_EXPIRED and the
// socket closes with 4403; the same token then cannot reconnect (4403), a fresh one can,
// and resuming with after loses nothing.
//
// The server's tokens go by a manual clock, so the token expires when the test advances
// it, after the event has arrived, however slow the machine (a 2-second TTL used to run
// out first on a loaded one).
func TestTokenExpiryClosesTheSocket(t *testing.T) {
	t.Parallel()
	clock := apitest.NewClock(time.Now())
	s := apitest.NewWithClock(t, testdb.SQLiteURL(t), clock)
	w := newEvShop(t, s)
	ws := s.DialWS(t, w.buyer.AccessToken)
	sub := ws.MustSubscribe(t, `subscription { myOrderEvents { `+evFields+` } }`, nil)
	waitSubscribers(t, s, 1)
	w.place(t, w.buyer.AccessToken, w.tea, "expiry-1")
	last := evNext(t, sub)
	select {
	case <-ws.Done():
		t.Fatalf("the socket closed before its token expired: %v", ws.Err())
	default:
	}

	clock.Advance(s.Config.AccessTokenTTL + time.Second)
	if ev := wsNext(t, sub); ev.Type != "error" || ev.Code() != "UNAUTHENTICATED" ||
		ev.Response.Errors[0].Extensions["reason"] != "TOKEN_EXPIRED" {
		t.Errorf("the subscription at expiry: %s %s", ev.Type, ev.Response.Raw)
	}
	select {
	case <-ws.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the socket outlived its token")
	}
	if code := websocket.CloseStatus(ws.Err()); code != 4403 {
		t.Errorf("close at expiry: %v (status %d), want 4403", ws.Err(), code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := apitest.DialWS(ctx, s.WSURL(), apitest.WSOptions{Token: w.buyer.AccessToken}); websocket.CloseStatus(err) != 4403 {
		t.Errorf("reconnect with the expired token: want close 4403, got %v", err)
	}
	fresh := s.Login(w.buyer.Email)
	w.place(t, fresh.AccessToken, w.tea, "expiry-2") // while away
	again := s.DialWS(t, fresh.AccessToken).MustSubscribe(t,
		`subscription($after: String) { myOrderEvents(after: $after) { `+evFields+` } }`, map[string]any{"after": last.Cursor})
	if e := evNext(t, again); e.Type != "CREATED" || e.Cursor == last.Cursor {
		t.Errorf("resumed after expiry: %+v", e)
	}
}

// TestSlowSubscriberIsDropped: with a small per-subscriber queue, a subscriber that stops
// reading is dropped by the hub — the others keep receiving every event, and the slow one,
// when it reads again, finds its subscription ended with reason SLOW_SUBSCRIBER.
func TestSlowSubscriberIsDropped(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newEvShop(t, s)
		// Big orders and a query that asks for them many times, so the socket of the one
		// that does not read fills in a few events (loopback buffers hold megabytes).
		lines := bigOrderLines(t, s, w.a)
		var heavy strings.Builder
		heavy.WriteString(`subscription($m: ID!) { orderEvents(merchantID: $m) { cursor `)
		for i := range 40 {
			fmt.Fprintf(&heavy, "o%d: order { items { title sku quantity } } ", i)
		}
		heavy.WriteString(`} }`)

		// The reader subscribes with the default queue; the slow one with a queue of 4.
		reader := s.DialWS(t, w.a.Owner.AccessToken).MustSubscribe(t,
			`subscription($m: ID!) { orderEvents(merchantID: $m) { cursor sequence type } }`, map[string]any{"m": w.a.ID})
		waitSubscribers(t, s, 1)
		s.App.Hub.Buffer = 4
		// The server reads Buffer after its next database call (the slow client's sign-in);
		// this one orders that read after the write for the race detector.
		client, ctx := s.Client()
		client.OrderEvent.Query().CountX(ctx)
		slowWS := s.DialWS(t, w.a.Owner.AccessToken, apitest.WSOptions{Paused: true})
		slow := slowWS.MustSubscribe(t, heavy.String(), map[string]any{"m": w.a.ID})
		waitSubscribers(t, s, 2)

		const orders = 40
		received := make(chan []evEvent, 1)
		go func() {
			var evs []evEvent
			for range orders {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				ev, err := reader.Next(ctx)
				cancel()
				if err != nil || ev.Type != "next" {
					t.Logf("the reader stopped: %v %s %+v", err, ev.Type, ev.Response)
					break
				}
				var d struct{ OrderEvents evEvent }
				_ = json.Unmarshal(ev.Response.Data, &d)
				evs = append(evs, d.OrderEvents)
			}
			received <- evs
		}()
		dropped := false
		for i := range orders {
			s.MustQuery(w.buyer.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID } }`,
				map[string]any{"i": map[string]any{"lines": lines, "shippingAddress": evAddress, "idempotencyKey": fmt.Sprint("slow-order-", i)}})
			if !dropped && s.App.Hub.Subscribers() == 1 {
				dropped = true
				t.Logf("the slow subscriber was dropped after %d events", i+1)
			}
		}
		evs := <-received
		if len(evs) != orders {
			t.Fatalf("the reader received %d of %d events", len(evs), orders)
		}
		evCheckOrder(t, evs)
		if n := s.App.Hub.Subscribers(); n != 1 {
			t.Fatalf("hub has %d subscribers, want only the reader", n)
		}

		// The slow one reads again: some events, then the reason it was dropped.
		slowWS.Resume()
		n := 0
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			ev, err := slow.Next(ctx)
			cancel()
			if err != nil {
				t.Fatalf("after %d events: %v", n, err)
			}
			if ev.Type == "next" {
				n++
				continue
			}
			if ev.Type != "error" || len(ev.Response.Errors) == 0 || ev.Response.Errors[0].Extensions["reason"] != "SLOW_SUBSCRIBER" {
				t.Fatalf("the slow subscription ended with %s: %s", ev.Type, ev.Response.Raw)
			}
			break
		}
		if n >= orders {
			t.Errorf("the slow subscriber received all %d events: it was never slow", n)
		}
		t.Logf("the slow subscriber had %d events before its error", n)
	})
}

// waitSubscribers waits until the hub has n subscribers.
func waitSubscribers(t *testing.T, s *apitest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.App.Hub.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("the hub has %d subscribers, want %d", s.App.Hub.Subscribers(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bigOrderLines makes 50 products of m with long titles and returns order lines for them.
func bigOrderLines(t *testing.T, s *apitest.Server, m apitest.Merchant) []any {
	t.Helper()
	var lines []any
	title := strings.Repeat("龙井", 90)
	for i := range 50 {
		v := evVariant(t, s, m, product.KindPHYSICAL, fmt.Sprint("BIG-", i), fmt.Sprint(title, i))
		lines = append(lines, map[string]any{"variantID": strconv.Itoa(v), "quantity": 1})
	}
	return lines
}
