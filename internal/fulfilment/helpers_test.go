package fulfilment_test

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/apitest"
)

// world is a shop with its staff, a customer, a stranger, a rival shop and an admin.
type world struct {
	s        *apitest.Server
	shop     apitest.Merchant
	staff    apitest.Session
	customer apitest.Session
	stranger apitest.Session
	rival    apitest.Merchant
	admin    apitest.Session
}

func newWorld(t *testing.T, s *apitest.Server) *world {
	t.Helper()
	w := &world{s: s}
	w.shop = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	w.staff = s.AddStaff(t, w.shop, "packer@example.com")
	w.customer = s.Register("buyer@example.com", "Buyer")
	w.stranger = s.Register("stranger@example.com", "Stranger")
	w.rival = s.NewMerchant(t, "coffee-bar", merchant.StatusACTIVE)
	w.admin = s.NewAdmin(t, "admin@example.com")
	return w
}

// product creates and publishes a product of kind with one variant and returns the
// variant's id.
func (w *world) product(t *testing.T, kind string, stock int) string {
	t.Helper()
	sku := kind + "-" + strings.ToUpper(rand.Text()[:6])
	r := w.s.MustQuery(w.shop.Owner.AccessToken,
		`mutation($i: CreateProductInput!) { createProduct(input: $i) { id variants { id } } }`,
		map[string]any{"i": map[string]any{"title": "龙井 " + sku, "kind": kind,
			"variants": []any{map[string]any{"sku": sku, "price": "50.00", "stock": stock}}}})
	var out struct {
		CreateProduct struct {
			ID       string
			Variants []struct{ ID string }
		}
	}
	r.Decode(t, &out)
	w.s.MustQuery(w.shop.Owner.AccessToken, `mutation($id: ID!) { publishProduct(id: $id) { id } }`,
		map[string]any{"id": out.CreateProduct.ID})
	return out.CreateProduct.Variants[0].ID
}

// place has the customer buy quantity of a variant and returns the order's id.
func (w *world) place(t *testing.T, variantID string, quantity int, physical bool) string {
	t.Helper()
	in := map[string]any{
		"lines":          []any{map[string]any{"variantID": variantID, "quantity": quantity}},
		"contact":        map[string]any{"name": "Buyer", "phone": "13800000000"},
		"idempotencyKey": "key-" + rand.Text(),
	}
	if physical {
		in["shippingAddress"] = map[string]any{"recipientName": "Buyer", "phone": "13800000000",
			"province": "浙江", "city": "杭州", "street": "西湖路 1 号"}
	}
	r := w.s.MustQuery(w.customer.AccessToken,
		`mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { id status } } }`, map[string]any{"i": in})
	var out struct {
		PlaceOrder struct{ Orders []struct{ ID, Status string } }
	}
	r.Decode(t, &out)
	if len(out.PlaceOrder.Orders) != 1 || out.PlaceOrder.Orders[0].Status != "PENDING_PAYMENT" {
		t.Fatalf("placeOrder: %s", r.Raw)
	}
	return out.PlaceOrder.Orders[0].ID
}

// pay marks an order PAID directly, as the payment service does on a provider's
// notification, a day ago so carrier scans of the last hours are plausible.
func (w *world) pay(t *testing.T, orderID string) {
	t.Helper()
	client, ctx := w.s.Client()
	err := client.Order.UpdateOneID(atoi(t, orderID)).
		SetStatus(order.StatusPAID).SetPaidAt(time.Now().UTC().Add(-24 * time.Hour)).ClearPaymentDeadline().Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
}

// accept has the merchant's staff accept a PAID order.
func (w *world) accept(t *testing.T, orderID string) {
	t.Helper()
	w.s.MustQuery(w.staff.AccessToken, `mutation($id: ID!) { acceptOrder(id: $id) { id } }`, map[string]any{"id": orderID})
}

// paidOrder places a paid order of one item of a new product of kind.
func (w *world) paidOrder(t *testing.T, kind string) string {
	t.Helper()
	id := w.place(t, w.product(t, kind, 10), 1, kind == "PHYSICAL")
	w.pay(t, id)
	return id
}

// event is one entry of an order's timeline.
type event struct {
	Type, FromStatus, ToStatus, ActorRole, Reason string
}

// timeline reads an order's timeline as its merchant's owner.
func (w *world) timeline(t *testing.T, orderID string) []event {
	t.Helper()
	r := w.s.MustQuery(w.shop.Owner.AccessToken,
		`query($id: ID!) { order(id: $id) { timeline { type fromStatus toStatus actorRole reason } } }`,
		map[string]any{"id": orderID})
	var out struct{ Order struct{ Timeline []event } }
	r.Decode(t, &out)
	return out.Order.Timeline
}

// status reads an order's status as its customer.
func (w *world) status(t *testing.T, orderID string) string {
	t.Helper()
	r := w.s.MustQuery(w.customer.AccessToken, `query($id: ID!) { order(id: $id) { status } }`, map[string]any{"id": orderID})
	var out struct{ Order struct{ Status string } }
	r.Decode(t, &out)
	return out.Order.Status
}

// wantError fails unless r's first error has code and, when given, the field or current
// state named (keys of extensions).
func wantError(t *testing.T, r *apitest.Response, code string, ext map[string]string) {
	t.Helper()
	if r.Code() != code {
		t.Fatalf("code %q, want %q: %s", r.Code(), code, r.Raw)
	}
	for k, v := range ext {
		if got := fmt.Sprint(r.Errors[0].Extensions[k]); got != v {
			t.Fatalf("extensions.%s = %q, want %q: %s", k, got, v, r.Raw)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func types(events []event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

// placeLines has the customer buy one of each variant in one checkout (one order, as they
// are all the shop's) and returns the order's id.
func (w *world) placeLines(t *testing.T, physical bool, variantIDs ...string) string {
	t.Helper()
	var lines []any
	for _, v := range variantIDs {
		lines = append(lines, map[string]any{"variantID": v, "quantity": 1})
	}
	in := map[string]any{
		"lines":          lines,
		"contact":        map[string]any{"name": "Buyer", "phone": "13800000000"},
		"idempotencyKey": "key-" + rand.Text(),
	}
	if physical {
		in["shippingAddress"] = map[string]any{"recipientName": "Buyer", "phone": "13800000000",
			"province": "浙江", "city": "杭州", "street": "西湖路 1 号"}
	}
	r := w.s.MustQuery(w.customer.AccessToken,
		`mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { id } } }`, map[string]any{"i": in})
	var out struct {
		PlaceOrder struct{ Orders []struct{ ID string } }
	}
	r.Decode(t, &out)
	if len(out.PlaceOrder.Orders) != 1 {
		t.Fatalf("placeOrder: %s", r.Raw)
	}
	return out.PlaceOrder.Orders[0].ID
}
