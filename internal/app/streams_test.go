package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/testdb"
)

// signalGuard bounds a wait for something the server does on a signal; it only turns a broken
// server into a failure instead of a hang, so it is generous.
const signalGuard = 20 * time.Second

// dialWS connects as the holder of token ("" for none) and returns the client, or the
// refusal.
func dialWS(s *apitest.Server, token string) (*apitest.WSClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
	defer cancel()
	return apitest.DialWS(ctx, s.WSURL(), apitest.WSOptions{Token: token})
}

// openSSE opens a GraphQL-over-SSE subscription and returns the HTTP status and, when it
// was refused, the body.
func openSSE(t *testing.T, s *apitest.Server, token string) (int, []byte, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	body, _ := json.Marshal(map[string]any{"query": `subscription { myOrderEvents { id } }`})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.HTTP.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode == http.StatusOK {
		return res.StatusCode, nil, func() { cancel(); res.Body.Close() }
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	cancel()
	return res.StatusCode, raw, func() {}
}

// eventually retries try until it succeeds, within signalGuard: for what the server does after
// a connection ends, which it is not told synchronously.
func eventually(t *testing.T, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(signalGuard)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOpenStreamsAreCappedPerAccount: an account holds at most WS_MAX_PER_USER websockets
// and event streams at once (without a token, an address does); one more is refused with
// close code 4429 (HTTP 429 RATE_LIMITED for SSE), and a slot frees when a connection ends.
func TestOpenStreamsAreCappedPerAccount(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t), func(c *config.Config) { c.WSMaxPerUser = 2 })
	alice := s.Register("alice@example.com", "Alice")
	bob := s.Register("bob@example.com", "Bob")

	first := s.DialWS(t, alice.AccessToken)
	s.DialWS(t, s.Login(alice.Email).AccessToken) // another session of the same account counts too
	if _, err := dialWS(s, alice.AccessToken); websocket.CloseStatus(err) != 4429 {
		t.Fatalf("a third websocket: want close 4429, got %v", err)
	}
	if status, body, _ := openSSE(t, s, alice.AccessToken); status != http.StatusTooManyRequests ||
		!bytes.Contains(body, []byte(`"RATE_LIMITED"`)) || !bytes.Contains(body, []byte(`"limit":2`)) {
		t.Fatalf("an event stream over the cap: %d %s", status, body)
	}
	s.DialWS(t, bob.AccessToken) // someone else is not concerned

	// Anonymous connections count against their address.
	s.DialWS(t, "")
	s.DialWS(t, "")
	if _, err := dialWS(s, ""); websocket.CloseStatus(err) != 4429 {
		t.Fatalf("a third anonymous websocket: want close 4429, got %v", err)
	}

	// Closing one frees its slot once the server has seen it go.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a websocket after one was closed", func() error {
		c, err := dialWS(s, alice.AccessToken)
		if err == nil {
			t.Cleanup(func() { _ = c.Drop() })
		}
		return err
	})
}

// accessWorld is a shop with its owner and staff, another shop, a customer and an admin,
// each with a websocket subscribed to what they may follow.
type accessWorld struct {
	shop, other            apitest.Merchant
	staff, buyer, admin    apitest.Session
	staffWS, ownerWS       *apitest.WSClient
	otherWS, buyerWS, anon *apitest.WSClient
}

func newAccessWorld(t *testing.T, s, ws *apitest.Server) *accessWorld {
	t.Helper()
	w := &accessWorld{}
	w.shop = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	w.other = s.NewMerchant(t, "coffee-bar", merchant.StatusACTIVE)
	w.staff = s.AddStaff(t, w.shop, "packer@example.com")
	w.buyer = s.Register("buyer@example.com", "Buyer")
	w.admin = s.NewAdmin(t, "admin@example.com")
	follow := func(token string, m apitest.Merchant) *apitest.WSClient {
		c := ws.DialWS(t, token)
		c.MustSubscribe(t, `subscription($m: ID!) { orderEvents(merchantID: $m) { id } }`, map[string]any{"m": m.ID})
		return c
	}
	w.staffWS = follow(w.staff.AccessToken, w.shop)
	w.ownerWS = follow(w.shop.Owner.AccessToken, w.shop)
	w.otherWS = follow(w.other.Owner.AccessToken, w.other)
	w.buyerWS = ws.DialWS(t, w.buyer.AccessToken)
	w.buyerWS.MustSubscribe(t, `subscription { myOrderEvents { id } }`, nil)
	w.anon = ws.DialWS(t, "")
	return w
}

// closed waits, within signalGuard, for c to be closed by the server.
func closed(t *testing.T, what string, c *apitest.WSClient) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(signalGuard):
		t.Fatalf("%s: the connection is still open (the periodic re-check is an hour away)", what)
	}
	var ce websocket.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != 4403 || ce.Reason != "Forbidden: access changed" {
		t.Errorf("%s: closed with %v, want 4403 Forbidden: access changed", what, c.Err())
	}
}

// open checks that c has not been closed.
func open(t *testing.T, what string, cs ...*apitest.WSClient) {
	t.Helper()
	for _, c := range cs {
		select {
		case <-c.Done():
			t.Fatalf("%s: a connection the change does not concern was closed: %v", what, c.Err())
		default:
		}
	}
}

// checkAccessChangesCloseStreams makes the changes through s and watches the connections
// of ws (the same server, or another replica).
func checkAccessChangesCloseStreams(t *testing.T, s, ws *apitest.Server) {
	w := newAccessWorld(t, s, ws)

	s.MustQuery(w.shop.Owner.AccessToken, `mutation($m: ID!, $u: ID!) { removeMerchantStaff(merchantID: $m, userID: $u) { id } }`,
		map[string]any{"m": w.shop.ID, "u": w.staff.UserID})
	closed(t, "staff removed", w.staffWS)
	open(t, "staff removed", w.ownerWS, w.otherWS, w.buyerWS, w.anon)

	s.MustQuery(w.admin.AccessToken, `mutation($u: ID!) { setUserStatus(id: $u, status: DISABLED, reason: "fraud") { id } }`,
		map[string]any{"u": w.buyer.UserID})
	closed(t, "user disabled", w.buyerWS)
	open(t, "user disabled", w.ownerWS, w.otherWS, w.anon)

	s.MustQuery(w.admin.AccessToken, `mutation($m: ID!) { setMerchantStatus(id: $m, status: RESTRICTED, reason: "review") { id } }`,
		map[string]any{"m": w.shop.ID})
	closed(t, "merchant restricted", w.ownerWS)
	open(t, "merchant restricted", w.otherWS, w.anon)

	// A change that is rolled back closes nothing: the second field fails, so the first
	// one's suspension never commits.
	r := s.Query(w.admin.AccessToken, `mutation($m: ID!) {
		a: setMerchantStatus(id: $m, status: SUSPENDED, reason: "x") { id }
		b: setMerchantStatus(id: "0", status: SUSPENDED, reason: "x") { id } }`, map[string]any{"m": w.other.ID})
	if len(r.Errors) == 0 {
		t.Fatalf("the second field should fail: %s", r.Raw)
	}
	// The owner of the other shop is re-checked after an unrelated committed change that
	// closes someone else: by then a rolled-back change would have closed it too.
	third := s.NewMerchant(t, "noodle-bar", merchant.StatusACTIVE)
	thirdWS := ws.DialWS(t, third.Owner.AccessToken)
	s.MustQuery(w.admin.AccessToken, `mutation($m: ID!) { setMerchantStatus(id: $m, status: SUSPENDED, reason: "x") { id } }`,
		map[string]any{"m": third.ID})
	closed(t, "a later suspension", thirdWS)
	open(t, "a rolled-back suspension", w.otherWS, w.anon)
}

// TestAccessChangesCloseStreamsAtOnce: removing a staff member, disabling a user or
// restricting a merchant closes the websockets opened on the old rights at once — the
// periodic re-check is set an hour away — and leaves everyone else's open.
func TestAccessChangesCloseStreamsAtOnce(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		s.App.AccessRecheck = time.Hour
		checkAccessChangesCloseStreams(t, s, s)
	})
}

// TestAccessChangesReachOtherReplicas: a change made through replica A closes the
// connections held by replica B, through the NATS bus.
func TestAccessChangesReachOtherReplicas(t *testing.T) {
	t.Parallel()
	u := natsURL(t)
	dbURL := testdb.MySQLURL(t)
	id := strings.ToLower(rand.Text()[:10])
	stream, subject := "XIADAN_TEST_"+strings.ToUpper(id), "xiadan_test_"+id+".order_events"
	t.Cleanup(func() { deleteStream(t, u, stream) })
	replica := func(opts ...func(*config.Config)) *apitest.Server {
		s := apitest.NewWithoutEvents(t, dbURL, opts...)
		bus, err := events.NewNATS(u, s.App.Logger, events.NATSStream(stream, subject))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bus.Close() })
		s.App.Bus, s.App.Relay.Bus = bus, bus
		s.App.AccessRecheck = time.Hour
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := s.App.RunEvents(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := replica()
	b := replica(func(c *config.Config) { c.DataDir = a.Config.DataDir }) // the same signing key
	checkAccessChangesCloseStreams(t, a, b)
}

// deleteStream removes a test's JetStream stream.
func deleteStream(t *testing.T, u, stream string) {
	nc, err := natsgo.Connect(u)
	if err != nil {
		t.Errorf("deleting stream %s: %v", stream, err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, stream); err != nil {
		t.Errorf("deleting stream %s: %v", stream, err)
	}
}
