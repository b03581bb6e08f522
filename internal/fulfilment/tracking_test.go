package fulfilment_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/trackingevent"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/fulfilment"
	"github.com/xiadan/xiadan/internal/viewer"
)

// shipped returns a shipped PHYSICAL order and its shipment's id.
func (w *world) shipped(t *testing.T) (orderID, shipmentID string) {
	t.Helper()
	orderID = w.paidOrder(t, "PHYSICAL")
	r := w.s.MustQuery(w.staff.AccessToken, shipQ, map[string]any{"id": orderID, "c": "ZTO", "n": "ZTO-778899"})
	var out struct{ ShipOrder struct{ ID string } }
	r.Decode(t, &out)
	return orderID, out.ShipOrder.ID
}

// inTx runs fn as viewer v in a transaction of its own, as the GraphQL handler would.
func inTx(t *testing.T, s *apitest.Server, v *viewer.Viewer, fn func(context.Context, *ent.Client) error) error {
	t.Helper()
	client, sys := s.Client()
	tx, err := client.Tx(sys)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ent.NewTxContext(viewer.NewContext(context.Background(), v), tx)
	if err := fn(ctx, tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// A partner client (a logistics integration) adds scans to shipments of the merchants it
// was granted, and is recorded as PARTNER; for other merchants' shipments it finds nothing.
// Partners have no sign-in through GraphQL yet, so this drives the service directly.
func TestPartnerAddsTrackingEvents(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		orderID, shipmentID := w.shipped(t)
		scanAt := time.Now().Add(-time.Hour)
		add := func(v *viewer.Viewer, status trackingevent.Status) error {
			return inTx(t, s, v, func(ctx context.Context, db *ent.Client) error {
				_, err := s.App.Fulfilment.AddTrackingEvent(ctx, db, atoi(t, shipmentID),
					fulfilment.Scan{Status: status, Location: "Hangzhou hub", OccurredAt: scanAt})
				return err
			})
		}
		other := &viewer.Viewer{Roles: []viewer.Role{viewer.RolePartner}, PartnerMerchantIDs: []int{w.rival.IntID}}
		if err := add(other, trackingevent.StatusIN_TRANSIT); apperror.CodeOf(err) != apperror.NotFound {
			t.Fatalf("partner of another merchant: %v", err)
		}
		unscoped := &viewer.Viewer{Roles: []viewer.Role{viewer.RolePartner}, PartnerMerchantIDs: []int{w.shop.IntID}, Scopes: []string{"orders:read"}}
		if err := add(unscoped, trackingevent.StatusIN_TRANSIT); apperror.CodeOf(err) != apperror.Forbidden {
			t.Fatalf("partner without tracking:write: %v", err)
		}
		granted := &viewer.Viewer{Roles: []viewer.Role{viewer.RolePartner}, PartnerMerchantIDs: []int{w.rival.IntID, w.shop.IntID},
			Scopes: []string{"tracking:write"}}
		if err := add(granted, trackingevent.StatusDELIVERED); err != nil {
			t.Fatal(err)
		}
		tl := w.timeline(t, orderID)
		last := tl[len(tl)-1]
		if last.Type != "DELIVERED" || last.ActorRole != "PARTNER" || tl[len(tl)-2].ActorRole != "PARTNER" {
			t.Fatalf("timeline %+v", tl)
		}
	})
}

// Carriers resend scans, sometimes at the same moment: every request succeeds, the scan is
// stored and recorded once. Different DELIVERED scans racing each other deliver the order
// once.
func TestConcurrentScans(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		orderID, shipmentID := w.shipped(t)
		at := time.Now().Add(-2 * time.Hour)

		const n = 8
		run := func(in func(i int) map[string]any) {
			var wg sync.WaitGroup
			errs := make(chan string, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := s.Query(w.staff.AccessToken, trackQ, map[string]any{"id": shipmentID, "i": in(i)})
					if len(r.Errors) > 0 {
						errs <- string(r.Raw)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Errorf("concurrent scan failed: %s", e)
			}
		}
		run(func(int) map[string]any { return scan("IN_TRANSIT", at, "杭州") })
		run(func(i int) map[string]any { return scan("DELIVERED", at.Add(time.Duration(i+1)*time.Minute), "前台") })

		client, ctx := s.Client()
		scans, err := client.TrackingEvent.Query().Where(trackingevent.ShipmentID(atoi(t, shipmentID))).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(scans) != 1+n {
			t.Fatalf("%d scans stored, want %d", len(scans), 1+n)
		}
		count := func(typ orderevent.Type) int {
			c, err := client.OrderEvent.Query().Where(orderevent.OrderID(atoi(t, orderID)), orderevent.TypeEQ(typ)).Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if got := count(orderevent.TypeTRACKING_UPDATED); got != 1+n {
			t.Fatalf("%d TRACKING_UPDATED events, want %d", got, 1+n)
		}
		if got := count(orderevent.TypeDELIVERED); got != 1 {
			t.Fatalf("%d DELIVERED events, want 1", got)
		}
		if st := w.status(t, orderID); st != "DELIVERED" {
			t.Fatalf("order %s", st)
		}
	})
}

// The generated Shipment.trackingEvents edge has no order of its own; with ScansInOrder
// registered on the client, an order's shipments list their scans by time however they
// are loaded.
func TestScansInOrderThroughTheOrder(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		s.DB.Client.TrackingEvent.Intercept(fulfilment.ScansInOrder())
		w := newWorld(t, s)
		orderID, shipmentID := w.shipped(t)
		t0 := time.Now().Add(-3 * time.Hour)
		for _, in := range []map[string]any{
			scan("OUT_FOR_DELIVERY", t0.Add(2*time.Hour), ""),
			scan("PICKED_UP", t0, ""),
			scan("IN_TRANSIT", t0.Add(time.Hour), ""),
		} {
			track(t, w, w.staff.AccessToken, shipmentID, in)
		}
		// The mutation's own answer is ordered under whatever alias the caller chose.
		r := s.MustQuery(w.staff.AccessToken, `mutation($id: ID!, $i: TrackingEventInput!) {
			addTrackingEvent(shipmentID: $id, input: $i) { scans: trackingEvents { status } ... on Shipment { latest: trackingEvents { status } } } }`,
			map[string]any{"id": shipmentID, "i": scan("OUT_FOR_DELIVERY", t0.Add(2*time.Hour), "")})
		const inOrder = `[{"status":"PICKED_UP"},{"status":"IN_TRANSIT"},{"status":"OUT_FOR_DELIVERY"}]`
		if string(r.Data) != `{"addTrackingEvent":{"scans":`+inOrder+`,"latest":`+inOrder+`}}` {
			t.Fatalf("aliased scans: %s", r.Raw)
		}

		r = s.MustQuery(w.customer.AccessToken,
			`query($id: ID!) { order(id: $id) { shipments { status trackingEvents { status } } } }`, map[string]any{"id": orderID})
		var out struct {
			Order struct{ Shipments []shipment }
		}
		r.Decode(t, &out)
		if len(out.Order.Shipments) != 1 {
			t.Fatalf("shipments: %s", r.Raw)
		}
		sh := out.Order.Shipments[0]
		if want := []string{"PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY"}; !slices.Equal(scanStatuses(sh), want) || sh.Status != "OUT_FOR_DELIVERY" {
			t.Fatalf("scans %v (status %s), want %v", scanStatuses(sh), sh.Status, want)
		}
	})
}
