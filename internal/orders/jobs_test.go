package orders_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/testdb"
)

// jobsShop is a merchant with one PHYSICAL and one VIRTUAL variant, and a customer.
type jobsShop struct {
	s                  *apitest.Server
	client             *ent.Client
	ctx                context.Context
	buyer              apitest.Session
	physical, virtual  int // variant ids
	physicalProductID  int
	physicalStockStart int
}

func newJobsShop(t *testing.T, s *apitest.Server, stock int) *jobsShop {
	t.Helper()
	m := s.NewMerchant(t, "jobs-shop", merchant.StatusACTIVE)
	client, ctx := s.Client()
	j := &jobsShop{s: s, client: client, ctx: ctx, buyer: s.Register("jobs-buyer@example.com", "Buyer"), physicalStockStart: stock}
	for _, kind := range []product.Kind{product.KindPHYSICAL, product.KindVIRTUAL} {
		pid, vid := s.NewProduct(t, m, "Jobs "+string(kind), kind, "JOBS-"+string(kind), 1990, stock)
		if kind == product.KindPHYSICAL {
			j.physical, j.physicalProductID = vid, pid
		} else {
			j.virtual = vid
		}
	}
	return j
}

// place has the customer buy quantity of a variant through placeOrder; the order waits
// for payment.
func (j *jobsShop) place(t *testing.T, variantID, quantity int) *ent.Order {
	t.Helper()
	in := map[string]any{
		"lines":          []any{map[string]any{"variantID": variantID, "quantity": quantity}},
		"contact":        map[string]any{"name": "王小明", "phone": "13800138000"},
		"idempotencyKey": "jobs-" + rand.Text(),
	}
	if variantID == j.physical {
		in["shippingAddress"] = map[string]any{"recipientName": "王小明", "phone": "13800138000",
			"province": "上海市", "city": "上海市", "street": "世纪大道 100 号"}
	}
	r := j.s.MustQuery(j.buyer.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { number } } }`,
		map[string]any{"i": in})
	var out struct {
		PlaceOrder struct{ Orders []struct{ Number string } }
	}
	r.Decode(t, &out)
	return j.client.Order.Query().Where(order.Number(out.PlaceOrder.Orders[0].Number)).OnlyX(j.ctx)
}

// move sets an order's status directly, with the time it entered the status.
func (j *jobsShop) move(t *testing.T, o *ent.Order, status order.Status, at time.Time) {
	t.Helper()
	u := j.client.Order.UpdateOne(o).SetStatus(status).ClearPaymentDeadline().SetPaidAt(at)
	switch status {
	case order.StatusDELIVERED:
		u.SetDeliveredAt(at)
	case order.StatusFULFILLED:
		u.SetFulfilledAt(at)
	case order.StatusSHIPPED:
		u.SetShippedAt(at)
	}
	if err := u.Exec(j.ctx); err != nil {
		t.Fatal(err)
	}
}

func (j *jobsShop) reload(o *ent.Order) *ent.Order { return j.client.Order.GetX(j.ctx, o.ID) }

func (j *jobsShop) events(o *ent.Order, typ orderevent.Type) []*ent.OrderEvent {
	return j.client.OrderEvent.Query().Where(orderevent.OrderID(o.ID), orderevent.TypeEQ(typ)).AllX(j.ctx)
}

func (j *jobsShop) variantStock(id int) int {
	return j.client.ProductVariant.Query().Where(productvariant.ID(id)).OnlyX(j.ctx).Stock
}

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

// Unpaid orders past their deadline are cancelled by the system, and their stock goes back
// to the shelf with a ledger row per order. Orders still in time, and paid ones, are left
// alone, and a second run finds nothing to do.
func TestJobsExpireUnpaidOrders(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		j := newJobsShop(t, s, 10)
		late1, late2 := j.place(t, j.physical, 3), j.place(t, j.physical, 2)
		paid := j.place(t, j.physical, 1)
		j.move(t, paid, order.StatusPAID, time.Now())
		if got := j.variantStock(j.physical); got != 4 {
			t.Fatalf("stock after placing %d, want 4", got)
		}

		now := time.Now()
		svc := &orders.Service{AutoCompleteAfter: 7 * 24 * time.Hour, Now: clock(now)}
		if expired, completed, err := svc.RunJobsOnce(context.Background(), s.DB.Client); err != nil || expired != 0 || completed != 0 {
			t.Fatalf("before the deadline: expired %d, completed %d, %v", expired, completed, err)
		}

		svc.Now = clock(now.Add(s.Config.OrderPaymentTimeout + time.Minute))
		expired, completed, err := svc.RunJobsOnce(context.Background(), s.DB.Client)
		if err != nil || expired != 2 || completed != 0 {
			t.Fatalf("after the deadline: expired %d, completed %d, %v", expired, completed, err)
		}
		if got := j.variantStock(j.physical); got != 9 {
			t.Fatalf("stock after expiry %d, want 9", got)
		}
		if got := j.client.Product.GetX(j.ctx, j.physicalProductID).TotalStock; got != 9 {
			t.Fatalf("product total stock %d, want 9", got)
		}
		for _, c := range []struct {
			o     *ent.Order
			delta int
		}{{late1, 3}, {late2, 2}} {
			o := j.reload(c.o)
			if o.Status != order.StatusCANCELLED || o.CancelledAt == nil || o.CancelReason != "not paid in time" || o.PaymentDeadline != nil {
				t.Fatalf("order %s: %s, cancelled at %v, reason %q", o.Number, o.Status, o.CancelledAt, o.CancelReason)
			}
			evs := j.events(o, orderevent.TypeCANCELLED)
			if len(evs) != 1 || evs[0].ActorRole != orderevent.ActorRoleSYSTEM || evs[0].FromStatus != "PENDING_PAYMENT" || evs[0].ActorID != nil {
				t.Fatalf("order %s: CANCELLED events %+v", o.Number, evs)
			}
			moves := j.client.StockMovement.Query().
				Where(stockmovement.OrderID(o.ID), stockmovement.KindEQ(stockmovement.KindORDER_RELEASED)).AllX(j.ctx)
			if len(moves) != 1 || moves[0].Delta != c.delta || moves[0].VariantID != j.physical || moves[0].StockAfter != moves[0].StockBefore+c.delta {
				t.Fatalf("order %s: released %+v, want one row of +%d", o.Number, moves, c.delta)
			}
		}
		if o := j.reload(paid); o.Status != order.StatusPAID {
			t.Fatalf("a paid order was touched: %s", o.Status)
		}

		if expired, completed, err := svc.RunJobsOnce(context.Background(), s.DB.Client); err != nil || expired != 0 || completed != 0 {
			t.Fatalf("second run: expired %d, completed %d, %v", expired, completed, err)
		}
		if got := j.variantStock(j.physical); got != 9 {
			t.Fatalf("stock after the second run %d, want 9", got)
		}
	})
}

// Orders delivered (physical) or fulfilled (virtual) longer than AutoCompleteAfter ago
// complete by themselves, as the system; newer ones and orders still under way wait. A
// zero AutoCompleteAfter turns the job off.
func TestJobsAutoComplete(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		j := newJobsShop(t, s, 10)
		now := time.Now().UTC()
		week := 7 * 24 * time.Hour
		oldDelivered, newDelivered := j.place(t, j.physical, 1), j.place(t, j.physical, 1)
		oldFulfilled, shipped := j.place(t, j.virtual, 1), j.place(t, j.physical, 1)
		j.move(t, oldDelivered, order.StatusDELIVERED, now.Add(-week-time.Hour))
		j.move(t, newDelivered, order.StatusDELIVERED, now.Add(-week+time.Hour))
		j.move(t, oldFulfilled, order.StatusFULFILLED, now.Add(-week-time.Minute))
		j.move(t, shipped, order.StatusSHIPPED, now.Add(-30*24*time.Hour))

		off := &orders.Service{Now: clock(now)}
		if _, completed, err := off.RunJobsOnce(context.Background(), s.DB.Client); err != nil || completed != 0 {
			t.Fatalf("with auto-completion off: completed %d, %v", completed, err)
		}

		svc := &orders.Service{AutoCompleteAfter: week, Now: clock(now)}
		expired, completed, err := svc.RunJobsOnce(context.Background(), s.DB.Client)
		if err != nil || expired != 0 || completed != 2 {
			t.Fatalf("expired %d, completed %d, %v", expired, completed, err)
		}
		for _, c := range []struct {
			o    *ent.Order
			from order.Status
		}{{oldDelivered, order.StatusDELIVERED}, {oldFulfilled, order.StatusFULFILLED}} {
			o := j.reload(c.o)
			if o.Status != order.StatusCOMPLETED || o.CompletedAt == nil {
				t.Fatalf("order %s: %s", o.Number, o.Status)
			}
			evs := j.events(o, orderevent.TypeCOMPLETED)
			if len(evs) != 1 || evs[0].ActorRole != orderevent.ActorRoleSYSTEM || evs[0].FromStatus != string(c.from) ||
				!strings.HasPrefix(evs[0].Reason, "completed automatically") {
				t.Fatalf("order %s: COMPLETED events %+v", o.Number, evs)
			}
		}
		if o := j.reload(newDelivered); o.Status != order.StatusDELIVERED {
			t.Fatalf("a recent delivery completed: %s", o.Status)
		}
		if o := j.reload(shipped); o.Status != order.StatusSHIPPED {
			t.Fatalf("a shipped order completed: %s", o.Status)
		}
	})
}

// Several replicas run the jobs at the same moment: every order is expired or completed
// exactly once — one event each, stock released once — and neither replica reports an
// error for the orders the other took.
func TestJobsOnSeveralReplicas(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		j := newJobsShop(t, s, 20)
		var unpaid, delivered []*ent.Order
		for range 6 {
			unpaid = append(unpaid, j.place(t, j.physical, 1))
		}
		for range 4 {
			o := j.place(t, j.physical, 1)
			j.move(t, o, order.StatusDELIVERED, time.Now().Add(-30*24*time.Hour))
			delivered = append(delivered, o)
		}
		later := clock(time.Now().Add(24 * time.Hour))

		type result struct {
			expired, completed int
			err                error
		}
		results := make([]result, 3)
		var wg sync.WaitGroup
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replica := &orders.Service{AutoCompleteAfter: 7 * 24 * time.Hour, Now: later}
				e, c, err := replica.RunJobsOnce(context.Background(), s.DB.Client)
				results[i] = result{e, c, err}
			}()
		}
		wg.Wait()
		expired, completed := 0, 0
		for _, r := range results {
			if r.err != nil {
				t.Fatalf("replica failed: %v", r.err)
			}
			expired += r.expired
			completed += r.completed
		}
		if expired != len(unpaid) || completed != len(delivered) {
			t.Fatalf("expired %d, completed %d; want %d and %d", expired, completed, len(unpaid), len(delivered))
		}
		for _, o := range unpaid {
			if n := len(j.events(o, orderevent.TypeCANCELLED)); n != 1 {
				t.Fatalf("order %s cancelled %d times", o.Number, n)
			}
		}
		for _, o := range delivered {
			if n := len(j.events(o, orderevent.TypeCOMPLETED)); n != 1 {
				t.Fatalf("order %s completed %d times", o.Number, n)
			}
		}
		released := j.client.StockMovement.Query().Where(stockmovement.KindEQ(stockmovement.KindORDER_RELEASED)).CountX(j.ctx)
		if released != len(unpaid) {
			t.Fatalf("%d release rows, want %d", released, len(unpaid))
		}
		if got, want := j.variantStock(j.physical), 20-len(delivered); got != want {
			t.Fatalf("stock %d, want %d", got, want)
		}
	})
}

// syncBuffer is a log sink safe for the job goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The loop runs the jobs every interval and logs what it did, keeps going when the
// database fails, and stops as soon as its context ends.
func TestRunJobsLoop(t *testing.T) {
	t.Parallel()
	t.Run("works and stops", func(t *testing.T) {
		s := apitest.New(t, testdb.SQLiteURL(t))
		j := newJobsShop(t, s, 5)
		o := j.place(t, j.physical, 1)
		var logs syncBuffer
		svc := &orders.Service{AutoCompleteAfter: time.Hour, Now: clock(time.Now().Add(24 * time.Hour))}
		stopped := runJobsInBackground(t, svc, s.DB.Client, &logs)
		waitFor(t, func() bool { return j.reload(o).Status == order.StatusCANCELLED })
		waitFor(t, func() bool { return strings.Contains(logs.String(), "expired=1") })
		stopped()
	})
	t.Run("survives a broken database", func(t *testing.T) {
		db := testdb.Open(t, testdb.SQLiteURL(t), database.Options{})
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		var logs syncBuffer
		svc := &orders.Service{AutoCompleteAfter: time.Hour}
		stopped := runJobsInBackground(t, svc, db.Client, &logs)
		waitFor(t, func() bool { return strings.Count(logs.String(), "order jobs failed") >= 2 })
		stopped()
	})
}

// runJobsInBackground starts RunJobs every 10ms; the returned func cancels it and fails
// the test unless it returns promptly.
func runJobsInBackground(t *testing.T, svc *orders.Service, db *ent.Client, logs *syncBuffer) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	go func() {
		defer close(done)
		svc.RunJobs(ctx, db, 10*time.Millisecond, logger)
	}()
	return func() {
		t.Helper()
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatal("RunJobs did not stop within 2s of cancellation")
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
