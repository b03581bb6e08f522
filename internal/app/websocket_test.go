package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// The graphql-transport-ws protocol to the letter
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md), message by message
// on a raw socket, and the server's own additions: token expiry and in-band refresh
// (docs/EVENTS.md#websocket-protocol).

// rawWS is a websocket that says exactly what a test writes.
type rawWS struct {
	t *testing.T
	c *websocket.Conn
}

func dialRaw(t *testing.T, s *apitest.Server, protocol string) *rawWS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.WSURL(), &websocket.DialOptions{Subprotocols: []string{protocol}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Subprotocol() != protocol {
		t.Fatalf("negotiated %q, want %q", c.Subprotocol(), protocol)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return &rawWS{t: t, c: c}
}

func (r *rawWS) send(msg string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
	defer cancel()
	if err := r.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		r.t.Fatalf("sending %s: %v", msg, err)
	}
}

// read returns the next message, answering the server's pings on the way.
func (r *rawWS) read() apitest.WSMessage {
	r.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
		_, b, err := r.c.Read(ctx)
		cancel()
		if err != nil {
			r.t.Fatalf("reading: %v", err)
		}
		var m apitest.WSMessage
		if err := json.Unmarshal(b, &m); err != nil {
			r.t.Fatalf("not JSON: %s", b)
		}
		if m.Type == "ping" && len(m.Payload) == 0 {
			r.send(`{"type":"pong"}`)
			continue
		}
		return m
	}
}

// init sends connection_init (with token, when given) and waits for connection_ack.
func (r *rawWS) init(token string) {
	r.t.Helper()
	payload := `{}`
	if token != "" {
		payload = `{"Authorization":"Bearer ` + token + `"}`
	}
	r.send(`{"type":"connection_init","payload":` + payload + `}`)
	if m := r.read(); m.Type != "connection_ack" {
		r.t.Fatalf("want connection_ack, got %+v", m)
	}
}

// closedWith waits for the server to close the socket and checks the code and reason.
func (r *rawWS) closedWith(code websocket.StatusCode, reason string) {
	r.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
		_, b, err := r.c.Read(ctx)
		cancel()
		if err == nil {
			if strings.Contains(string(b), `"ping"`) {
				continue
			}
			r.t.Fatalf("want close %d, got message %s", code, b)
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code || !strings.HasPrefix(ce.Reason, reason) {
			r.t.Fatalf("want close %d %q, got %v", code, reason, err)
		}
		return
	}
}

// alive checks that the socket still answers: a ping gets its pong.
func (r *rawWS) alive() {
	r.t.Helper()
	r.send(`{"type":"ping","payload":{"alive":true}}`)
	if m := r.read(); m.Type != "pong" || string(m.Payload) != `{"alive":true}` {
		r.t.Fatalf("want the pong echoing the ping, got %+v", m)
	}
}

// TestTransportWSInvalidMessagesClose4400: a message the protocol does not describe closes
// the socket with 4400, before connection_init and after it.
func TestTransportWSInvalidMessagesClose4400(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	for _, tc := range []struct{ name, msg string }{
		{"not JSON", `{"type":`},
		{"not an object", `["connection_init"]`},
		{"no type", `{"payload":{}}`},
		{"unknown type", `{"type":"subscribe_please","id":"1"}`},
		{"subscribe without id", `{"type":"subscribe","payload":{"query":"{ __typename }"}}`},
		{"subscribe with an empty id", `{"id":"","type":"subscribe","payload":{"query":"{ __typename }"}}`},
		{"subscribe with a number id", `{"id":1,"type":"subscribe","payload":{"query":"{ __typename }"}}`},
		{"subscribe without payload", `{"id":"1","type":"subscribe"}`},
		{"subscribe without query", `{"id":"1","type":"subscribe","payload":{"variables":{}}}`},
		{"subscribe with variables not an object", `{"id":"1","type":"subscribe","payload":{"query":"{ __typename }","variables":[1]}}`},
		{"complete without id", `{"type":"complete"}`},
		{"ping with a payload not an object", `{"type":"ping","payload":"hello"}`},
		{"a server's message", `{"id":"1","type":"next","payload":{"data":{}}}`},
		{"connection_ack from the client", `{"type":"connection_ack"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, acked := range []bool{false, true} {
				ws := dialRaw(t, s, apitest.ProtocolTransportWS)
				if acked {
					ws.init("")
				}
				ws.send(tc.msg)
				ws.closedWith(4400, "Invalid message received")
			}
		})
	}
	t.Run("connection_init payload not an object", func(t *testing.T) {
		ws := dialRaw(t, s, apitest.ProtocolTransportWS)
		ws.send(`{"type":"connection_init","payload":[]}`)
		ws.closedWith(4400, "Invalid message received")
	})
	t.Run("binary message", func(t *testing.T) {
		ws := dialRaw(t, s, apitest.ProtocolTransportWS)
		ws.init("")
		if err := ws.c.Write(context.Background(), websocket.MessageBinary, []byte(`{"type":"ping"}`)); err != nil {
			t.Fatal(err)
		}
		ws.closedWith(4400, "Invalid message received")
	})
}

// TestTransportWSSubscribeBeforeAckCloses4401: subscribe before connection_ack is
// Unauthorized.
func TestTransportWSSubscribeBeforeAckCloses4401(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	ws := dialRaw(t, s, apitest.ProtocolTransportWS)
	ws.send(`{"id":"1","type":"subscribe","payload":{"query":"{ __typename }"}}`)
	ws.closedWith(4401, "Unauthorized")
}

// TestTransportWSInitTimeoutCloses4408: a client that does not send connection_init within
// WS_INIT_TIMEOUT is closed with 4408; one that did is not. The timeout goes by the
// server's clock, which the test advances.
func TestTransportWSInitTimeoutCloses4408(t *testing.T) {
	t.Parallel()
	clock := apitest.NewClock(time.Now())
	s := apitest.NewWithClock(t, testdb.SQLiteURL(t), clock)
	silent := dialRaw(t, s, apitest.ProtocolTransportWS)
	talker := dialRaw(t, s, apitest.ProtocolTransportWS)
	talker.init("")
	clock.Advance(s.Config.WSInitTimeout + time.Second)
	silent.closedWith(4408, "Connection initialisation timeout")
	talker.alive()
}

// TestTransportWSSecondInitCloses4429: a second connection_init is one too many.
func TestTransportWSSecondInitCloses4429(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	ws := dialRaw(t, s, apitest.ProtocolTransportWS)
	ws.init("")
	ws.send(`{"type":"connection_init","payload":{}}`)
	ws.closedWith(4429, "Too many initialisation requests")
}

// TestTransportWSDuplicateIDCloses4409: subscribe with the id of a running operation closes
// the socket with 4409 (so no two operations share an id that one complete could not tell
// apart); once an operation has completed, its id may be used again.
func TestTransportWSDuplicateIDCloses4409(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	w := newEvShop(t, s)
	ws := dialRaw(t, s, apitest.ProtocolTransportWS)
	ws.init(w.buyer.AccessToken)
	// A query completes, and its id is free again.
	for range 2 {
		ws.send(`{"id":"q","type":"subscribe","payload":{"query":"{ me { email } }"}}`)
		if m := ws.read(); m.Type != "next" || m.ID != "q" || !strings.Contains(string(m.Payload), "buyer@example.com") {
			t.Fatalf("query result: %+v", m)
		}
		if m := ws.read(); m.Type != "complete" || m.ID != "q" {
			t.Fatalf("after the query: %+v", m)
		}
	}
	ws.send(`{"id":"s","type":"subscribe","payload":{"query":"subscription { myOrderEvents { type } }"}}`)
	waitSubscribers(t, s, 1)
	ws.send(`{"id":"s","type":"subscribe","payload":{"query":"subscription { myOrderEvents { type } }"}}`)
	ws.closedWith(4409, "Subscriber for s already exists")
	waitSubscribers(t, s, 0) // the running one ended with the socket
}

// TestTransportWSCompleteStopsTheSubscription: complete from the client ends the operation
// on the server, nothing more is sent for it, and its id is free.
func TestTransportWSCompleteStopsTheSubscription(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	w := newEvShop(t, s)
	ws := dialRaw(t, s, apitest.ProtocolTransportWS)
	ws.init(w.buyer.AccessToken)
	sub := `{"id":"1","type":"subscribe","payload":{"query":"subscription { myOrderEvents { type order { id } } }"}}`
	ws.send(sub)
	waitSubscribers(t, s, 1)
	ws.send(`{"id":"1","type":"complete"}`)
	waitSubscribers(t, s, 0)
	w.place(t, w.buyer.AccessToken, w.tea, "complete-1") // no one follows it now
	waitPublished(t, s)                                  // nor will: it is past
	ws.send(sub)                                         // the same id again
	waitSubscribers(t, s, 1)
	order, _, _ := w.place(t, w.buyer.AccessToken, w.tea, "complete-2")
	m := ws.read()
	var got struct {
		Data struct{ MyOrderEvents evEvent }
	}
	if m.Type != "next" || m.ID != "1" || json.Unmarshal(m.Payload, &got) != nil || got.Data.MyOrderEvents.Order.ID != order {
		t.Fatalf("the renewed subscription's first message: %+v (want the second order %s only)", m, order)
	}
	ws.alive()
}

// TestTransportWSValidationErrorsAreErrorMessages: an operation that does not validate is
// answered with one error message whose payload is the list of GraphQL errors, and no
// complete; a resolver's refusal is a result (next with errors, then complete); the socket
// stays open.
func TestTransportWSValidationErrorsAreErrorMessages(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	w := newEvShop(t, s)
	ws := dialRaw(t, s, apitest.ProtocolTransportWS)
	ws.init(w.buyer.AccessToken)
	for _, q := range []string{
		`subscription { noSuchField }`,
		`subscription { myOrderEvents { type `, // does not parse
		`subscription($after: String) { myOrderEvents(after: $after) { type } }`,
	} {
		vars := `{}`
		if strings.Contains(q, "$after") {
			vars = `{"after": {"x": 1}}` // an object for a String
		}
		payload, _ := json.Marshal(map[string]any{"query": q, "variables": json.RawMessage(vars)})
		ws.send(`{"id":"v","type":"subscribe","payload":` + string(payload) + `}`)
		m := ws.read()
		var errs []apitest.Error
		if m.Type != "error" || m.ID != "v" || json.Unmarshal(m.Payload, &errs) != nil || len(errs) == 0 || errs[0].Message == "" {
			t.Fatalf("%s: want an error message with a list of errors, got %+v", q, m)
		}
		if code := errs[0].Extensions["code"]; code != "GRAPHQL_VALIDATION_FAILED" && code != "GRAPHQL_PARSE_FAILED" && code != "BAD_USER_INPUT" {
			t.Errorf("%s: code %v: %s", q, code, m.Payload)
		}
	}
	// A refusal by the resolver: a result with errors, then complete.
	ws.send(`{"id":"f","type":"subscribe","payload":{"query":"subscription($m: ID!) { orderEvents(merchantID: $m) { type } }","variables":{"m":"` + w.a.ID + `"}}}`)
	if m := ws.read(); m.Type != "next" || !strings.Contains(string(m.Payload), "FORBIDDEN") {
		t.Fatalf("refusal: %+v", m)
	}
	if m := ws.read(); m.Type != "complete" || m.ID != "f" {
		t.Fatalf("after the refusal: %+v", m)
	}
	ws.alive() // no complete after the error messages either: the pong comes next
}

// TestTransportWSPingPong: a ping is answered with a pong carrying its payload, before
// connection_init too; a pong is taken silently.
func TestTransportWSPingPong(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	ws := dialRaw(t, s, apitest.ProtocolTransportWS)
	ws.send(`{"type":"ping"}`)
	if m := ws.read(); m.Type != "pong" || len(m.Payload) != 0 {
		t.Fatalf("pong: %+v", m)
	}
	ws.init("")
	ws.send(`{"type":"pong","payload":{"x":1}}`)
	ws.alive()
}

// TestLegacyProtocolKeepAlive: subscriptions-transport-ws (subprotocol graphql-ws) answers
// connection_init with connection_ack and keeps the connection alive with ka.
func TestLegacyProtocolKeepAlive(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	ws := dialRaw(t, s, apitest.ProtocolLegacyWS)
	ws.send(`{"type":"connection_init","payload":{}}`)
	if m := ws.read(); m.Type != "connection_ack" {
		t.Fatalf("want connection_ack, got %+v", m)
	}
	if m := ws.read(); m.Type != "ka" {
		t.Fatalf("want ka, got %+v", m)
	}
	ws.send(`{"id":"1","type":"start","payload":{"query":"{ __typename }"}}`)
	for _, want := range []string{"data", "complete"} {
		m := ws.read()
		for m.Type == "ka" {
			m = ws.read()
		}
		if m.Type != want || m.ID != "1" {
			t.Fatalf("want %s, got %+v", want, m)
		}
	}
}

// refresh sends a refresh ping with token and returns the pong's payload.
func refresh(t *testing.T, ws *apitest.WSClient, token string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
	defer cancel()
	payload, _ := json.Marshal(map[string]any{"type": "refresh", "token": token})
	if err := ws.Send(ctx, apitest.WSMessage{Type: "ping", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case m := <-ws.ConnectionMessages():
			if m.Type != "pong" {
				continue
			}
			var out map[string]any
			if err := json.Unmarshal(m.Payload, &out); err != nil || out["type"] != "refresh" {
				t.Fatalf("refresh pong: %s", m.Payload)
			}
			return out
		case <-ws.Done():
			t.Fatalf("the socket closed: %v", ws.Err())
		case <-ctx.Done():
			t.Fatal("no pong to the refresh")
		}
	}
}

// refusedWith checks a refresh's pong refuses it with code.
func refusedWith(t *testing.T, what string, pong map[string]any, code string) {
	t.Helper()
	e, _ := pong["error"].(map[string]any)
	ext, _ := e["extensions"].(map[string]any)
	if ext["code"] != code || pong["expiresAt"] != nil {
		t.Errorf("%s: want refused with %s, got %v", what, code, pong)
	}
}

// TestTokenRefreshKeepsTheStream: a client renews its token in-band with a refresh ping
// before it expires, and its subscription lives on past the old expiry; a token of another
// account, or an invalid one, is refused in the pong and changes nothing; without another
// refresh, the new expiry ends the subscription with TOKEN_EXPIRED and closes 4403.
func TestTokenRefreshKeepsTheStream(t *testing.T) {
	t.Parallel()
	clock := apitest.NewClock(time.Now())
	s := apitest.NewWithClock(t, testdb.SQLiteURL(t), clock)
	w := newEvShop(t, s)
	ttl := s.Config.AccessTokenTTL
	ws := s.DialWS(t, w.buyer.AccessToken)
	sub := ws.MustSubscribe(t, `subscription { myOrderEvents { `+evFields+` } }`, nil)
	waitSubscribers(t, s, 1)

	clock.Advance(ttl - time.Minute)
	refusedWith(t, "another account's token", refresh(t, ws, w.other.AccessToken), "FORBIDDEN")
	refusedWith(t, "not a token", refresh(t, ws, "eyJnot.a.token"), "UNAUTHENTICATED")
	refusedWith(t, "no token", refresh(t, ws, ""), "BAD_USER_INPUT")
	fresh := s.Login(w.buyer.Email) // a new session of the same account
	pong := refresh(t, ws, fresh.AccessToken)
	exp, err := time.Parse(time.RFC3339, pong["expiresAt"].(string))
	if err != nil || exp.Before(clock.Now().Add(ttl-time.Minute)) {
		t.Fatalf("refresh: %v (%v)", pong, err)
	}

	clock.Advance(2 * time.Minute) // past the first token's expiry
	w.place(t, fresh.AccessToken, w.tea, "refresh-1")
	if e := evNext(t, sub); e.Type != "CREATED" {
		t.Errorf("after the old expiry: %+v", e)
	}
	select {
	case <-ws.Done():
		t.Fatalf("the refreshed socket closed: %v", ws.Err())
	default:
	}

	clock.Advance(ttl)
	if ev := wsNext(t, sub); ev.Type != "error" || ev.Code() != "UNAUTHENTICATED" || ev.Response.Errors[0].Extensions["reason"] != "TOKEN_EXPIRED" {
		t.Errorf("at the new expiry: %s %s", ev.Type, ev.Response.Raw)
	}
	<-ws.Done()
	var ce websocket.CloseError
	if !errors.As(ws.Err(), &ce) || ce.Code != 4403 || ce.Reason != "Forbidden: access token expired" {
		t.Errorf("close at expiry: %v", ws.Err())
	}
}

// TestRefreshAfterLogoutIsRefused: a token whose session has ended (signed out) cannot
// renew a connection.
func TestRefreshAfterLogoutIsRefused(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	w := newEvShop(t, s)
	ws := s.DialWS(t, w.buyer.AccessToken)
	fresh := s.Login(w.buyer.Email)
	s.MustQuery(fresh.AccessToken, `mutation($t: String!) { logout(refreshToken: $t) }`, map[string]any{"t": fresh.RefreshToken})
	refusedWith(t, "a signed-out session's token", refresh(t, ws, fresh.AccessToken), "UNAUTHENTICATED")
	anon := s.DialWS(t, "")
	refusedWith(t, "an anonymous connection", refresh(t, anon, fresh.AccessToken), "BAD_USER_INPUT")
}

// wsNext waits for the subscription's next event, whatever its type.
func wsNext(t *testing.T, sub *apitest.WSSubscription) apitest.WSEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestMutationOverWebsocket: a mutation sent over either websocket protocol runs in its
// transaction and answers one result, then complete (the transports ask for a second
// response, which the transaction must not answer with a panic).
func TestMutationOverWebsocket(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	w := newEvShop(t, s)
	for _, p := range []struct{ protocol, start, result string }{
		{apitest.ProtocolTransportWS, "subscribe", "next"},
		{apitest.ProtocolLegacyWS, "start", "data"},
	} {
		ws := dialRaw(t, s, p.protocol)
		ws.init(w.buyer.AccessToken)
		ws.send(`{"id":"m","type":"` + p.start + `","payload":{"query":"mutation($v: ID!) { addToCart(variantID: $v, quantity: 1) { quantity } }","variables":{"v":"` + strconv.Itoa(w.tea) + `"}}}`)
		var got []apitest.WSMessage
		for len(got) < 2 {
			if m := ws.read(); m.Type != "ka" {
				got = append(got, m)
			}
		}
		if got[0].Type != p.result || !strings.Contains(string(got[0].Payload), `"addToCart":{"quantity":`) || got[1].Type != "complete" {
			t.Errorf("%s: %s %s, then %s", p.protocol, got[0].Type, got[0].Payload, got[1].Type)
		}
	}
	r := s.MustQuery(w.buyer.AccessToken, `{ cart { quantity } }`, nil)
	if !strings.Contains(string(r.Raw), `"quantity":2`) {
		t.Errorf("both mutations committed: %s", r.Raw)
	}
}
