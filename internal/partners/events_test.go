package partners_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/apitest"
)

// TestPartnerSubscribesWithinItsScope: a partner app connects with its access token,
// subscribes to its merchant's order events and receives them; without orders:read, or
// for another merchant, it is refused.
func TestPartnerSubscribesWithinItsScope(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		reader := w.create(t, w.shop.Owner.AccessToken, "ERP", []string{w.shop.ID}, []string{"orders:read"})
		tracker := w.create(t, w.shop.Owner.AccessToken, "Courier", []string{w.shop.ID}, []string{"tracking:write"})
		readerToken := w.token(t, reader, reader.Secret, "")
		trackerToken := w.token(t, tracker, tracker.Secret, "")
		const sub = `subscription($m: ID!) { orderEvents(merchantID: $m) { type sequence cursor order { id number } } }`
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()

		// Another merchant, and a client without orders:read, are refused.
		c := s.DialWS(t, readerToken)
		other, err := c.Subscribe(ctx, sub, map[string]any{"m": w.rival.ID})
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := other.Next(ctx); err != nil || ev.Code() != "FORBIDDEN" {
			t.Errorf("another merchant's events: %+v %v", ev, err)
		}
		tc := s.DialWS(t, trackerToken)
		unscoped, err := tc.Subscribe(ctx, sub, map[string]any{"m": w.shop.ID})
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := unscoped.Next(ctx); err != nil || ev.Code() != "FORBIDDEN" {
			t.Errorf("without orders:read: %+v %v", ev, err)
		}
		// A tracking-only client does not read orders either.
		if r := s.Query(trackerToken, readOrder, map[string]any{"id": w.shopOrder}); string(r.Data) != `{"order":null}` {
			t.Errorf("tracking-only client read an order: %s", r.Raw)
		}

		// The reader receives its merchant's next event, with the order resolvable.
		mine := c.MustSubscribe(t, sub, map[string]any{"m": w.shop.ID})
		time.Sleep(200 * time.Millisecond) // the subscription is registered before the change
		s.MustQuery(w.shop.Owner.AccessToken, `mutation($id: ID!) { cancelOrder(id: $id, reason: "out of season") { status } }`,
			map[string]any{"id": w.shopOrder})
		// (The CREATED events of the world's orders may still be on their way.)
		for {
			ev, err := mine.Next(ctx)
			if err != nil || ev.Type != "next" || len(ev.Response.Errors) > 0 {
				t.Fatalf("partner event: %+v %v", ev, err)
			}
			if ev.Response.Contains(w.rivalOrder) {
				t.Fatalf("the rival's event reached the partner: %s", ev.Response.Raw)
			}
			if ev.Response.Contains(`"type":"CANCELLED"`) {
				if !ev.Response.Contains(w.shopOrder) {
					t.Fatalf("event without its order: %s", ev.Response.Raw)
				}
				break
			}
		}
	})
}

// TestRevokedClientLosesItsOpenSubscriptions: revoking a client, rotating its secret or
// changing its scopes closes the websockets it has open at once — the periodic access
// re-check is an hour away — rather than at its tokens' expiry; other clients keep theirs.
func TestRevokedClientLosesItsOpenSubscriptions(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		s.App.AccessRecheck = time.Hour
		w := newWorld(t, s)
		const sub = `subscription($m: ID!) { orderEvents(merchantID: $m) { type } }`
		open := func(c client) *apitest.WSClient {
			ws := s.DialWS(t, w.token(t, c, c.Secret, ""))
			ws.MustSubscribe(t, sub, map[string]any{"m": w.shop.ID})
			return ws
		}
		closed := func(what string, ws *apitest.WSClient) {
			t.Helper()
			select {
			case <-ws.Done():
			case <-time.After(20 * time.Second): // a failure guard: the close follows the change at once
				t.Fatalf("%s: the client's connection stayed open", what)
			}
		}
		clients := map[string]client{}
		sockets := map[string]*apitest.WSClient{}
		for _, name := range []string{"revoked", "rotated", "rescoped", "bystander"} {
			clients[name] = w.create(t, w.shop.Owner.AccessToken, name, []string{w.shop.ID}, []string{"orders:read"})
			sockets[name] = open(clients[name])
		}

		s.MustQuery(w.shop.Owner.AccessToken, revokeClient, map[string]any{"id": clients["revoked"].ID})
		closed("revoked", sockets["revoked"])
		s.MustQuery(w.shop.Owner.AccessToken, rotateSecret, map[string]any{"id": clients["rotated"].ID})
		closed("rotated", sockets["rotated"])
		// There is no mutation for scopes yet; a change written through Ent (an operator's
		// tool) is noticed all the same.
		db, ctx := s.Client()
		id, _ := strconv.Atoi(clients["rescoped"].ID)
		db.ApiClient.UpdateOneID(id).SetScopes([]string{"tracking:write"}).ExecX(ctx)
		closed("scopes changed", sockets["rescoped"])

		select {
		case <-sockets["bystander"].Done():
			t.Fatalf("another client's connection was closed: %v", sockets["bystander"].Err())
		default:
		}
	})
}
