package events_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/testdb"
)

// failingBus fails every publish, as a server killed between numbering and publishing.
type failingBus struct{ events.Local }

func (*failingBus) Publish(context.Context, []*ent.OrderEvent) error { return errors.New("killed") }

type shop struct {
	s     *apitest.Server
	a, b  apitest.Merchant
	buyer apitest.Session
	tea   int
	code  int
}

func newShop(t *testing.T, s *apitest.Server) *shop {
	t.Helper()
	w := &shop{s: s}
	w.a = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	w.b = s.NewMerchant(t, "game-codes", merchant.StatusACTIVE)
	w.buyer = s.Register("buyer@example.com", "Buyer")
	_, w.tea = s.NewProduct(t, w.a, "P", product.KindVIRTUAL, "SKU-0", 1000, 1000)
	_, w.code = s.NewProduct(t, w.b, "P", product.KindVIRTUAL, "SKU-1", 1000, 1000)
	return w
}

// place places one order at each merchant and returns the two order ids.
func (w *shop) place(t *testing.T, key string) {
	t.Helper()
	w.s.MustQuery(w.buyer.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID } }`,
		map[string]any{"i": map[string]any{"lines": []any{
			map[string]any{"variantID": strconv.Itoa(w.tea), "quantity": 1},
			map[string]any{"variantID": strconv.Itoa(w.code), "quantity": 1}},
			"contact": map[string]any{"name": "Li", "phone": "13800138000"}, "idempotencyKey": key}})
}

// TestCrashBetweenCommitAndPublishLosesNothing: orders committed while no relay ran, and
// events numbered by a relay killed before it published, all reach a subscriber of the
// relay that runs next — once each, in order, with per-merchant sequences.
func TestCrashBetweenCommitAndPublishLosesNothing(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := apitest.NewWithoutEvents(t, d.URL(t))
			w := newShop(t, s)
			ctx := context.Background()
			logger := slog.New(slog.DiscardHandler)

			w.place(t, "before-crash-1") // committed, never numbered
			dead := events.NewRelay(s.DB.Client, &failingBus{}, logger)
			if _, _, err := dead.RunOnce(ctx); err == nil {
				t.Fatal("the killed relay published")
			}
			w.place(t, "before-crash-2") // committed after the numbering, before any publish

			// The restarted server: hub at the published position, a subscriber, a relay.
			bus := &events.Local{}
			relay := events.NewRelay(s.DB.Client, bus, logger)
			start, err := relay.PublishedPosition(ctx)
			if err != nil || start != 0 {
				t.Fatalf("published position after the crash: %d, %v", start, err)
			}
			hub := events.NewHub(s.DB.Client, start, logger)
			if err := bus.Start(ctx, hub.Deliver); err != nil {
				t.Fatal(err)
			}
			st := &events.Streamer{DB: s.DB.Client, Hub: hub, Retention: time.Hour}
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			stream, err := st.Stream(sctx, events.Filter{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := relay.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			var got []*ent.OrderEvent
			for len(got) < 4 {
				select {
				case ev := <-stream:
					got = append(got, ev)
				case <-time.After(5 * time.Second):
					t.Fatalf("received %d of 4 events", len(got))
				}
			}
			seq := map[int]int64{}
			for i, ev := range got {
				if ev.Type != orderevent.TypeCREATED || ev.Position == nil || *ev.Position != int64(i+1) {
					t.Errorf("event %d: %+v", i, ev)
				}
				seq[ev.MerchantID]++
				if ev.Sequence == nil || *ev.Sequence != seq[ev.MerchantID] {
					t.Errorf("event %d of merchant %d has sequence %v", i, ev.MerchantID, ev.Sequence)
				}
			}
			if p, _ := relay.PublishedPosition(ctx); p != 4 {
				t.Errorf("published position %d", p)
			}
			// Resuming after the second event replays the last two, then nothing more.
			two := int64(2)
			again, err := st.Stream(sctx, events.Filter{}, &two)
			if err != nil {
				t.Fatal(err)
			}
			for want := int64(3); want <= 4; want++ {
				select {
				case ev := <-again:
					if *ev.Position != want {
						t.Fatalf("resumed at %d, want %d", *ev.Position, want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("resume: no event %d", want)
				}
			}
			// A cursor older than the retention is refused with a reason.
			st.Retention = time.Nanosecond
			if _, err := st.Stream(sctx, events.Filter{}, &two); err == nil {
				t.Error("an expired cursor was accepted")
			}
		})
	}
}

// TestReplicasStartingTogetherCreateOneRelayState: relays of several replicas running their
// first step at once on an empty relay_states table all succeed. (Creating the row inside
// the locking transaction deadlocked on MySQL: each transaction's locking read of the
// missing row took a gap lock that the other's insert waited for.)
func TestReplicasStartingTogetherCreateOneRelayState(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := apitest.NewWithoutEvents(t, d.URL(t))
			logger := slog.New(slog.DiscardHandler)
			allow := privacy.DecisionContext(context.Background(), privacy.Allow)
			for round := range 30 {
				s.DB.Client.RelayState.Delete().ExecX(allow) // a fresh start for new replicas
				const replicas = 8
				start := make(chan struct{})
				errs := make(chan error, replicas)
				for range replicas {
					r := events.NewRelay(s.DB.Client, &events.Local{}, logger)
					go func() {
						<-start
						_, _, err := r.RunOnce(context.Background())
						errs <- err
					}()
				}
				close(start)
				for range replicas {
					if err := <-errs; err != nil {
						t.Fatalf("round %d: a replica's first relay step failed: %v", round, err)
					}
				}
				if n := s.DB.Client.RelayState.Query().CountX(allow); n != 1 {
					t.Fatalf("round %d: %d relay states, want 1", round, n)
				}
			}
		})
	}
}
