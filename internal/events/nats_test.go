package events_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/testdb"
)

// natsURL is the NATS server of the tests (NATS_TEST_URL, by default 127.0.0.1:4222).
// The tests are skipped, locally and in CI, when it does not answer: the NATS bus is an
// option of multi-replica deployments, and CI starts a server when it can.
func natsURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("NATS_TEST_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	host := u
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		host = p.Host
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		t.Skipf("no NATS server at %s (set NATS_TEST_URL, or start nats-server -js): %v", u, err)
	}
	_ = c.Close()
	return u
}

// testStream returns a stream name and subject prefix used by this test only, and
// deletes the stream when the test ends, so test runs sharing a server never see each
// other's events (their event ids, and so their message ids, overlap).
func testStream(t testing.TB, u string) events.NATSOption {
	t.Helper()
	id := strings.ToLower(rand.Text()[:10])
	stream, subject := "XIADAN_TEST_"+strings.ToUpper(id), "xiadan_test_"+id+".order_events"
	t.Cleanup(func() {
		nc, err := nats.Connect(u)
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
	})
	return events.NATSStream(stream, subject)
}

func newNATS(t testing.TB, u string, stream events.NATSOption) *events.NATS {
	t.Helper()
	n, err := events.NewNATS(u, slog.New(slog.DiscardHandler), stream, events.NATSRetention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// TestNATSCarriesEventsOnceInOrder: an event published on one replica's bus reaches
// another replica's hub with every field intact; a republish (a relay that crashed
// before committing) is dropped by the stream's message-id dedupe, and the hub delivers
// each position once, in order.
func TestNATSCarriesEventsOnceInOrder(t *testing.T) {
	u := natsURL(t)
	stream := testStream(t, u)
	a, b := newNATS(t, u, stream), newNATS(t, u, stream)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	hub := events.NewHub(nil, 0, slog.New(slog.DiscardHandler)) // no gap, so no database
	sub, _ := hub.Subscribe(events.Filter{})
	var mu sync.Mutex
	var received []int64 // positions as the bus handed them over, duplicates included
	if err := b.Start(ctx, func(evs []*ent.OrderEvent) {
		mu.Lock()
		for _, ev := range evs {
			received = append(received, *ev.Position)
		}
		mu.Unlock()
		hub.Deliver(evs)
	}); err != nil {
		t.Fatal(err)
	}

	at := time.Date(2025, 3, 1, 8, 30, 0, 123456789, time.UTC)
	actor := 7
	sent := make([]*ent.OrderEvent, 3)
	for i := range sent {
		p, s := int64(i+1), int64(10+i)
		sent[i] = &ent.OrderEvent{ID: 100 + i, OrderID: 40 + i, MerchantID: 3, CustomerID: 9,
			Type: orderevent.TypeCANCELLED, FromStatus: "CREATED", ToStatus: "CANCELLED",
			ActorID: &actor, ActorRole: orderevent.ActorRoleCUSTOMER, Reason: "changed my mind",
			CreatedAt: at, Position: &p, Sequence: &s}
	}
	if err := a.Publish(ctx, sent[:2]); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, sent); err != nil { // 1 and 2 again, then 3
		t.Fatal(err)
	}
	if err := b.Publish(ctx, sent[1:]); err != nil { // from another replica too
		t.Fatal(err)
	}

	for i, want := range sent {
		select {
		case got := <-sub.Events():
			if got.ID != want.ID || got.OrderID != want.OrderID || got.MerchantID != want.MerchantID ||
				got.CustomerID != want.CustomerID || got.Type != want.Type || got.FromStatus != want.FromStatus ||
				got.ToStatus != want.ToStatus || got.ActorID == nil || *got.ActorID != actor ||
				got.ActorRole != want.ActorRole || got.Reason != want.Reason || !got.CreatedAt.Equal(at) ||
				got.Position == nil || *got.Position != *want.Position ||
				got.Sequence == nil || *got.Sequence != *want.Sequence {
				t.Errorf("event %d arrived as %+v, sent %+v", i, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d did not arrive", i)
		}
	}
	select {
	case ev := <-sub.Events():
		t.Errorf("a duplicate reached the subscriber: position %d", *ev.Position)
	case <-time.After(500 * time.Millisecond):
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(received) != "[1 2 3]" {
		t.Errorf("the stream delivered positions %v, want [1 2 3]: republished messages were stored again", received)
	}
}

// TestNATSBusIsChosenByConfig: with NATS_URL the server fans events out over NATS; without
// it (the embedded SQLite binary) it keeps the in-process bus.
func TestNATSBusIsChosenByConfig(t *testing.T) {
	local := apitest.NewWithoutEvents(t, testdb.SQLiteURL(t))
	if _, ok := local.App.Bus.(*events.Local); !ok {
		t.Errorf("without NATS_URL the bus is %T, want *events.Local", local.App.Bus)
	}
	u := natsURL(t)
	s := apitest.NewWithoutEvents(t, testdb.SQLiteURL(t), func(c *config.Config) { c.NATSURL = u })
	defer s.App.Bus.Close()
	if _, ok := s.App.Bus.(*events.NATS); !ok {
		t.Errorf("with NATS_URL the bus is %T, want *events.NATS", s.App.Bus)
	}
}

// countingBus counts the events its relay published.
type countingBus struct {
	events.Bus
	n atomic.Int64
}

func (c *countingBus) Publish(ctx context.Context, evs []*ent.OrderEvent) error {
	err := c.Bus.Publish(ctx, evs)
	if err == nil {
		c.n.Add(int64(len(evs)))
	}
	return err
}

// replica starts a server on the database at dbURL whose events travel on the NATS
// stream of the test. (A server with NATS_URL set builds the same bus on the default
// stream; the test names its own so runs sharing a NATS server stay apart.)
func replica(t *testing.T, dbURL, u string, stream events.NATSOption, opts ...func(*config.Config)) (*apitest.Server, *countingBus) {
	t.Helper()
	s := apitest.NewWithoutEvents(t, dbURL, opts...)
	bus := &countingBus{Bus: newNATS(t, u, stream)}
	s.App.Bus, s.App.Relay.Bus = bus, bus
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := s.App.RunEvents(ctx); err != nil {
		t.Fatal(err)
	}
	return s, bus
}

// TestTwoReplicasOverNATS: two servers on one MySQL database, each with its relay and its
// NATS consumer. Orders placed through replica A and cancelled through replica B reach
// subscribers of both replicas — every event once, in position order, with per-merchant
// sequences without gaps — while both relays run at once.
func TestTwoReplicasOverNATS(t *testing.T) {
	u := natsURL(t)
	dbURL := testdb.MySQLURL(t)
	stream := testStream(t, u)
	a, busA := replica(t, dbURL, u, stream)
	// Replicas share their configuration, the token signing key (in DataDir) included.
	b, busB := replica(t, dbURL, u, stream, func(c *config.Config) { c.DataDir = a.Config.DataDir })
	w := newShop(t, a)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	all, err := b.App.Streamer.Stream(ctx, events.Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	teaOnB, err := b.App.Streamer.Stream(ctx, events.Filter{MerchantID: w.a.IntID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	allOnA, err := a.App.Streamer.Stream(ctx, events.Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}

	const workers, perWorker = 4, 5
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range perWorker {
				r := a.Query(w.buyer.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { id } } }`,
					map[string]any{"i": map[string]any{"lines": []any{
						map[string]any{"variantID": strconv.Itoa(w.tea), "quantity": 1},
						map[string]any{"variantID": strconv.Itoa(w.code), "quantity": 1}},
						"contact":        map[string]any{"name": "Li", "phone": "13800138000"},
						"idempotencyKey": fmt.Sprintf("replicas-%d-%d", g, i)}})
				if len(r.Errors) > 0 {
					t.Errorf("placeOrder on A: %s", r.Raw)
					return
				}
				var out struct {
					PlaceOrder struct{ Orders []struct{ ID string } }
				}
				r.Decode(t, &out)
				for _, o := range out.PlaceOrder.Orders {
					if r := b.Query(w.buyer.AccessToken, `mutation($id: ID!) { cancelOrder(id: $id) { status } }`,
						map[string]any{"id": o.ID}); len(r.Errors) > 0 {
						t.Errorf("cancelOrder on B: %s", r.Raw)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	const total = workers * perWorker * 2 * 2 // orders at two merchants, placed and cancelled
	check := func(name string, stream <-chan *ent.OrderEvent, want int) {
		t.Helper()
		var got []*ent.OrderEvent
		for len(got) < want {
			select {
			case ev := <-stream:
				got = append(got, ev)
			case <-time.After(15 * time.Second):
				t.Fatalf("%s: received %d of %d events", name, len(got), want)
			}
		}
		select {
		case ev := <-stream:
			t.Errorf("%s: an extra event at position %d", name, *ev.Position)
		case <-time.After(time.Second):
		}
		seq := map[int]int64{}
		created, cancelled := map[int]bool{}, map[int]bool{}
		for i, ev := range got {
			if i > 0 && *ev.Position <= *got[i-1].Position {
				t.Errorf("%s: position %d after %d", name, *ev.Position, *got[i-1].Position)
			}
			seq[ev.MerchantID]++
			if *ev.Sequence != seq[ev.MerchantID] {
				t.Errorf("%s: merchant %d sequence %d, want %d", name, ev.MerchantID, *ev.Sequence, seq[ev.MerchantID])
			}
			switch ev.Type {
			case orderevent.TypeCREATED:
				created[ev.OrderID] = true
			case orderevent.TypeCANCELLED:
				if !created[ev.OrderID] {
					t.Errorf("%s: order %d cancelled before it was created", name, ev.OrderID)
				}
				cancelled[ev.OrderID] = true
			default:
				t.Errorf("%s: unexpected %s event", name, ev.Type)
			}
		}
		if len(created) != want/2 || len(cancelled) != want/2 {
			t.Errorf("%s: %d orders created and %d cancelled, want %d each", name, len(created), len(cancelled), want/2)
		}
	}
	check("all events on B", all, total)
	check("tea-house events on B", teaOnB, total/2)
	check("all events on A", allOnA, total)

	// Between them the relays published each event once (no crash, so no republish).
	t.Logf("relay of A published %d events, relay of B %d", busA.n.Load(), busB.n.Load())
	if n := busA.n.Load() + busB.n.Load(); n != total {
		t.Errorf("the relays published %d events, want %d", n, total)
	}
	pa, _ := a.App.Relay.PublishedPosition(ctx)
	if pa != total || a.App.Hub.Position() != total || b.App.Hub.Position() != total {
		t.Errorf("published position %d, hub positions A %d, B %d; want %d", pa, a.App.Hub.Position(), b.App.Hub.Position(), total)
	}
}
