package aftersales_test

import (
	"context"

	"fmt"
	"github.com/xiadan/xiadan/ent"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// world is a server with a shop selling a ¥25.50 tea and a ¥40.00 cup, its staff, a
// buyer, a stranger, a rival shop and an admin, and a manual clock for deadlines.
type world struct {
	s            *apitest.Server
	clock        *apitest.Clock
	shop, rival  apitest.Merchant
	tea, cup     string
	buyer, other apitest.Session
	admin        string
	seq          atomic.Int64
}

func newWorld(t *testing.T, s *apitest.Server) *world {
	t.Helper()
	w := &world{s: s, clock: apitest.NewClock(time.Now().UTC())}
	s.App.AfterSales.Now = w.clock.Now
	s.App.Orders.Now = w.clock.Now
	w.shop = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	w.rival = s.NewMerchant(t, "rival", merchant.StatusACTIVE)
	_, tea := s.NewProduct(t, w.shop, "Longjing tea", product.KindPHYSICAL, "tea-1", 2550, 1000)
	_, cup := s.NewProduct(t, w.shop, "Celadon cup", product.KindPHYSICAL, "cup-1", 4000, 1000)
	w.tea, w.cup = strconv.Itoa(tea), strconv.Itoa(cup)
	w.buyer = s.Register("buyer@example.com", "Buyer")
	w.other = s.Register("other@example.com", "Other")
	w.admin = s.NewAdmin(t, "admin@example.com").AccessToken
	return w
}

func (w *world) key(p string) string { return fmt.Sprintf("%s-key-%04d", p, w.seq.Add(1)) }

// must sends a query as token and fails the test on errors.
func (w *world) must(t *testing.T, token, q string, vars map[string]any, out any) {
	t.Helper()
	r := w.s.Query(token, q, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s", q, r.Raw)
	}
	if out != nil {
		r.Decode(t, out)
	}
}

// order is an order the buyer placed and paid: two teas (¥51.00) and a cup (¥40.00),
// ¥10.00 shipping, ¥101.00 in all; shipped when ship is true.
type order struct {
	ID      string
	TeaLine string
	CupLine string
}

func (w *world) paidOrder(t *testing.T, ship bool) order {
	t.Helper()
	var placed struct {
		PlaceOrder struct {
			CheckoutID string
			Orders     []struct {
				ID    string
				Items []struct{ ID, Sku string }
			}
		}
	}
	w.must(t, w.buyer.AccessToken, `mutation($i: PlaceOrderInput!) {
  placeOrder(input: $i) { checkoutID orders { id items { id sku } } } }`, map[string]any{"i": map[string]any{
		"lines": []map[string]any{{"variantID": w.tea, "quantity": 2}, {"variantID": w.cup, "quantity": 1}},
		"shippingAddress": map[string]any{"recipientName": "Li Lei", "phone": "13800138000",
			"province": "Zhejiang", "city": "Hangzhou", "street": "1 West Lake Road"},
		"idempotencyKey": w.key("place"),
	}}, &placed)
	po := placed.PlaceOrder.Orders[0]
	o := order{ID: po.ID}
	for _, it := range po.Items {
		if it.Sku == "tea-1" {
			o.TeaLine = it.ID
		} else {
			o.CupLine = it.ID
		}
	}
	var pay struct{ PayOrder struct{ ID string } }
	w.must(t, w.buyer.AccessToken, `mutation($i: PayOrderInput!) { payOrder(input: $i) { id } }`,
		map[string]any{"i": map[string]any{"checkoutID": placed.PlaceOrder.CheckoutID, "method": "BANK_CARD", "idempotencyKey": w.key("pay")}}, &pay)
	w.must(t, w.buyer.AccessToken, `mutation($id: ID!) { sandboxCompletePayment(paymentID: $id, outcome: SUCCEEDED) { id } }`,
		map[string]any{"id": pay.PayOrder.ID}, nil)
	if ship {
		w.must(t, w.shop.Owner.AccessToken, `mutation($id: ID!) { acceptOrder(id: $id) { status } }`, map[string]any{"id": o.ID}, nil)
		w.must(t, w.shop.Owner.AccessToken, `mutation($id: ID!, $n: String!) { shipOrder(orderID: $id, carrier: "SF Express", trackingNumber: $n) { id } }`,
			map[string]any{"id": o.ID, "n": w.key("SF")}, nil)
	}
	return o
}

// request is an AfterSalesRequest as the tests read it.
type request struct {
	ID, Number, Status, Type   string
	MerchantReason, Resolution string
	DueAt                      *string
	Amount, RefundedAmount     struct{ Amount string }
	ProposedAmount             *struct{ Amount string }
	Timeline                   []struct {
		Type, ActorRole, Message string
		Amount                   *struct{ Amount string }
	}
	Order struct {
		AfterSalesStatus string
		RefundedAmount   struct{ Amount string }
		Status           string
		Items            []struct{ ID, AfterSalesStatus string }
	}
}

const requestFields = `id number status type merchantReason resolution dueAt amount { amount } refundedAmount { amount }
  proposedAmount { amount } timeline { type actorRole message amount { amount } }
  order { status afterSalesStatus refundedAmount { amount } items { id afterSalesStatus } }`

// step runs a mutation named name that returns an AfterSalesRequest, as token.
func (w *world) step(t *testing.T, token, name, args string, vars map[string]any) request {
	t.Helper()
	var out map[string]request
	w.must(t, token, `mutation`+sig(vars)+` { `+name+`(`+args+`) { `+requestFields+` } }`, vars, &out)
	return out[name]
}

// try is step that returns the response, for error paths.
func (w *world) try(token, name, args string, vars map[string]any) *apitest.Response {
	return w.s.Query(token, `mutation`+sig(vars)+` { `+name+`(`+args+`) { id status } }`, vars)
}

// sig declares the variables the tests use, by name.
func sig(vars map[string]any) string {
	types := map[string]string{"id": "ID!", "i": "RequestAfterSalesInput!", "m": "String", "r": "String!", "a": "String",
		"c": "String!", "n": "String!", "d": "ArbitrationDecision!", "e": "[ID!]"}
	s := ""
	for k := range vars {
		if s != "" {
			s += ", "
		}
		s += "$" + k + ": " + types[k]
	}
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

// read reads a request as token through node(id:).
func (w *world) read(t *testing.T, token, id string) *request {
	t.Helper()
	var out struct{ Node *request }
	w.must(t, token, `query($id: ID!) { node(id: $id) { ... on AfterSalesRequest { `+requestFields+` } } }`, map[string]any{"id": id}, &out)
	return out.Node
}

// open asks for after-sales on order o as the buyer.
func (w *world) open(t *testing.T, in map[string]any) request {
	t.Helper()
	return w.step(t, w.buyer.AccessToken, "requestAfterSales", "input: $i", map[string]any{"i": in})
}

func wantCode(t *testing.T, r *apitest.Response, code, field string) {
	t.Helper()
	if r.Code() != code || (field != "" && r.Field() != field) {
		t.Fatalf("want %s %s, got %s %s: %s", code, field, r.Code(), r.Field(), r.Raw)
	}
}

func types(r request) []string {
	var out []string
	for _, e := range r.Timeline {
		out = append(out, e.Type)
	}
	return out
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// orderOf is the order id of request id.
func orderOf(t *testing.T, client *ent.Client, ctx context.Context, id string) int {
	t.Helper()
	r, err := client.AfterSalesRequest.Get(ctx, mustAtoi(t, id))
	if err != nil {
		t.Fatal(err)
	}
	return r.OrderID
}
