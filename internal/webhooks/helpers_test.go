package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
	"github.com/xiadan/xiadan/internal/webhooks"
)

// env is a server without its event relay (the tests number events and enqueue their
// deliveries themselves) and a webhook service on its database with a hand-driven clock.
type env struct {
	s      *apitest.Server
	db     *ent.Client
	sys    context.Context
	svc    *webhooks.Service
	clock  *clock
	shop   apitest.Merchant
	rival  apitest.Merchant
	buyer  apitest.Session
	nextID int64
}

// forEachDialect runs fn on SQLite and on MySQL, with private webhook targets allowed
// (the receivers are httptest servers on 127.0.0.1).
func forEachDialect(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := apitest.NewWithoutEvents(t, d.URL(t), func(c *config.Config) { c.WebhookAllowPrivate = true })
			db, sys := s.Client()
			e := &env{s: s, db: db, sys: sys, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
			e.svc = e.service(true)
			e.shop = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
			e.rival = s.NewMerchant(t, "rival", merchant.StatusACTIVE)
			e.buyer = s.Register("buyer@example.com", "Buyer")
			fn(t, e)
		})
	}
}

// service is a webhook service on the env's database and clock.
func (e *env) service(allowPrivate bool) *webhooks.Service {
	svc := webhooks.New(e.db, slog.New(slog.DiscardHandler), allowPrivate)
	svc.Now = e.clock.Now
	return svc
}

// clock is a test clock moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Viewers for service-level calls.
func staffOf(m apitest.Merchant) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 9000 + m.IntID,
		Roles: []viewer.Role{viewer.RoleMerchant}, MerchantID: m.IntID, MerchantRole: viewer.MerchantStaff})
}

func partner(clientID int, scopes []string, merchants ...int) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{Roles: []viewer.Role{viewer.RolePartner},
		APIClientID: clientID, PartnerMerchantIDs: merchants, Scopes: scopes})
}

func customer() context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 4242, Roles: []viewer.Role{viewer.RoleCustomer}})
}

func admin() context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 1, Roles: []viewer.Role{viewer.RoleAdmin}})
}

// hook registers a webhook of m for url as its staff.
func (e *env) hook(t *testing.T, m apitest.Merchant, url string, types ...orderevent.Type) (*ent.Webhook, string) {
	t.Helper()
	w, secret, err := e.svc.Create(staffOf(m), webhooks.CreateInput{MerchantID: m.IntID, URL: url, Types: types})
	if err != nil {
		t.Fatal(err)
	}
	return w, secret
}

// order places an order of one virtual item at m as the buyer and returns its CREATED
// event, numbered as the relay would.
func (e *env) order(t *testing.T, m apitest.Merchant) *ent.OrderEvent {
	t.Helper()
	p := e.db.Product.Create().SetMerchantID(m.IntID).SetTitle("Code").SetKind(product.KindVIRTUAL).
		SetStatus(product.StatusACTIVE).SaveX(e.sys)
	v := e.db.ProductVariant.Create().SetProductID(p.ID).SetMerchantID(m.IntID).
		SetSku("SKU-" + strconv.Itoa(p.ID)).SetPrice(1000).SetStock(100).SaveX(e.sys)
	r := e.s.MustQuery(e.buyer.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { id } } }`,
		map[string]any{"i": map[string]any{
			"lines":          []any{map[string]any{"variantID": strconv.Itoa(v.ID), "quantity": 1}},
			"contact":        map[string]any{"name": "Li", "phone": "13800138000"},
			"idempotencyKey": "order-key-" + strconv.Itoa(v.ID)}})
	var out struct {
		PlaceOrder struct{ Orders []struct{ ID string } }
	}
	r.Decode(t, &out)
	id, _ := strconv.Atoi(out.PlaceOrder.Orders[0].ID)
	ev := e.db.OrderEvent.Query().Where(orderevent.OrderID(id)).OnlyX(e.sys)
	return e.number(t, ev)
}

// event adds an event of type typ to the order of ev, numbered.
func (e *env) event(t *testing.T, of *ent.OrderEvent, typ orderevent.Type) *ent.OrderEvent {
	t.Helper()
	ev := e.db.OrderEvent.Create().SetOrderID(of.OrderID).SetMerchantID(of.MerchantID).SetCustomerID(of.CustomerID).
		SetType(typ).SetFromStatus("PENDING_PAYMENT").SetToStatus("PAID").SetActorRole(orderevent.ActorRoleSYSTEM).
		SaveX(e.sys)
	return e.number(t, ev)
}

func (e *env) number(t *testing.T, ev *ent.OrderEvent) *ent.OrderEvent {
	t.Helper()
	e.nextID++
	// Events are append-only to everyone but the relay, which decides as we do here.
	return e.db.OrderEvent.UpdateOne(ev).SetPosition(e.nextID).SetSequence(e.nextID).
		SaveX(privacy.DecisionContext(e.sys, privacy.Allow))
}

// enqueue creates the deliveries of evs as the relay does, in a transaction.
func (e *env) enqueue(t *testing.T, evs ...*ent.OrderEvent) {
	t.Helper()
	tx, err := e.db.Tx(e.sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EnqueueDeliveries(e.sys, tx.Client(), evs); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// runOnce runs the worker once and returns how many deliveries it attempted.
func (e *env) runOnce(t *testing.T) int {
	t.Helper()
	n, err := e.svc.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is a webhook endpoint answering with the given status codes in turn (the last
// one from then on), recording what it got.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	codes []int
	got   []received
	delay time.Duration
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{Header: req.Header.Clone(), Body: body, At: time.Now()})
		code := http.StatusOK
		if len(r.codes) > 0 {
			code = r.codes[0]
			if len(r.codes) > 1 {
				r.codes = r.codes[1:]
			}
		}
		delay := r.delay
		r.mu.Unlock()
		time.Sleep(delay)
		w.WriteHeader(code)
		_, _ = w.Write([]byte("ack"))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return m
}
