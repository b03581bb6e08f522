package payments_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/payment/sandbox"
)

// shop is a merchant with one ACTIVE product of one variant.
type shop struct {
	apitest.Merchant
	ProductID int
	VariantID string
}

// fixture is a server with two shops and a customer.
type fixture struct {
	s          *apitest.Server
	buyer      apitest.Session
	tea, cups  shop
	seq        atomic.Int64
	client     *ent.Client
	adminToken string
}

// newFixture arranges two shops selling a ¥25.50 tea and a ¥40.00 cup, and a buyer.
func newFixture(t *testing.T, s *apitest.Server) *fixture {
	t.Helper()
	f := &fixture{s: s}
	f.client, _ = s.Client()
	f.tea = f.newShop(t, "tea-house", "Longjing tea", 2550)
	f.cups = f.newShop(t, "cup-works", "Celadon cup", 4000)
	f.buyer = s.Register("buyer@example.com", "Buyer")
	return f
}

func (f *fixture) newShop(t *testing.T, slug, title string, price int64) shop {
	t.Helper()
	m := f.s.NewMerchant(t, slug, merchant.StatusACTIVE)
	p, v := f.s.NewProduct(t, m, title, product.KindPHYSICAL, slug+"-1", price, 100)
	return shop{Merchant: m, ProductID: p, VariantID: strconv.Itoa(v)}
}

// admin returns an admin's token, created on first use.
func (f *fixture) admin(t *testing.T) string {
	t.Helper()
	if f.adminToken == "" {
		f.adminToken = f.s.NewAdmin(t, "admin@example.com").AccessToken
	}
	return f.adminToken
}

// key returns a fresh idempotency key.
func (f *fixture) key(prefix string) string {
	return fmt.Sprintf("%s-key-%04d", prefix, f.seq.Add(1))
}

// placed is a placeOrder result.
type placed struct {
	CheckoutID string
	Orders     []struct {
		ID     string
		Number string
		Status string
		Total  struct{ Amount string }
	}
	Total struct{ Amount string }
}

func (p placed) orderIDs() []string {
	ids := make([]string, len(p.Orders))
	for i, o := range p.Orders {
		ids[i] = o.ID
	}
	return ids
}

// place buys qty of each shop's variant (a shop with 0 is left out) as the buyer.
func (f *fixture) place(t *testing.T, tea, cups int) placed {
	t.Helper()
	var lines []map[string]any
	if tea > 0 {
		lines = append(lines, map[string]any{"variantID": f.tea.VariantID, "quantity": tea})
	}
	if cups > 0 {
		lines = append(lines, map[string]any{"variantID": f.cups.VariantID, "quantity": cups})
	}
	r := f.s.MustQuery(f.buyer.AccessToken, `mutation($i: PlaceOrderInput!) {
  placeOrder(input: $i) { checkoutID total { amount } orders { id number status total { amount } } }
}`, map[string]any{"i": map[string]any{
		"lines": lines,
		"shippingAddress": map[string]any{"recipientName": "Li Lei", "phone": "13800138000",
			"province": "Zhejiang", "city": "Hangzhou", "street": "1 West Lake Road"},
		"idempotencyKey": f.key("place"),
	}})
	var out struct{ PlaceOrder placed }
	r.Decode(t, &out)
	return out.PlaceOrder
}

// paymentResult is a Payment as the tests read it.
type paymentResult struct {
	ID             string
	Status         string
	PaymentRef     string
	Provider       string
	FailureReason  string
	Instructions   map[string]any
	Amount         struct{ Amount, Currency string }
	RefundedAmount struct{ Amount string }
	Orders         []struct{ ID string }
	Refunds        []struct {
		Status, Reason string
		Amount         struct{ Amount string }
	}
}

const paymentFields = `id status paymentRef provider failureReason instructions
  amount { amount currency } refundedAmount { amount } orders { id }
  refunds { status reason amount { amount } }`

// payInput is a payOrder input for the checkout, with a fresh key.
func (f *fixture) payInput(checkoutID string) map[string]any {
	return map[string]any{"checkoutID": checkoutID, "method": "BANK_CARD", "idempotencyKey": f.key("pay")}
}

// pay sends payOrder as token and returns the response.
func (f *fixture) pay(token string, in map[string]any) *apitest.Response {
	return f.s.Query(token, `mutation($i: PayOrderInput!) { payOrder(input: $i) { `+paymentFields+` } }`,
		map[string]any{"i": in})
}

// mustPay is pay as the buyer that fails the test on errors.
func (f *fixture) mustPay(t *testing.T, in map[string]any) paymentResult {
	t.Helper()
	r := f.pay(f.buyer.AccessToken, in)
	if len(r.Errors) > 0 {
		t.Fatalf("payOrder: %s", r.Raw)
	}
	var out struct{ PayOrder paymentResult }
	r.Decode(t, &out)
	return out.PayOrder
}

// complete plays the customer at the sandbox as token.
func (f *fixture) complete(token, paymentID, outcome string) *apitest.Response {
	return f.s.Query(token, `mutation($id: ID!, $o: PaymentOutcome!) { sandboxCompletePayment(paymentID: $id, outcome: $o) { id status } }`,
		map[string]any{"id": paymentID, "o": outcome})
}

func (f *fixture) mustComplete(t *testing.T, paymentID, outcome string) {
	t.Helper()
	r := f.complete(f.buyer.AccessToken, paymentID, outcome)
	if len(r.Errors) > 0 {
		t.Fatalf("sandboxCompletePayment: %s", r.Raw)
	}
	// The notification has been processed by the time the mutation answers.
	if r.Contains(`"status":"PENDING"`) {
		t.Fatalf("sandboxCompletePayment answered before processing: %s", r.Raw)
	}
}

// payment reads a payment as the buyer.
func (f *fixture) payment(t *testing.T, id string) paymentResult {
	t.Helper()
	r := f.s.MustQuery(f.buyer.AccessToken, `query($id: ID!) { node(id: $id) { ... on Payment { `+paymentFields+` } } }`,
		map[string]any{"id": id})
	var out struct{ Node paymentResult }
	r.Decode(t, &out)
	return out.Node
}

// orderResult is an Order as the tests read it.
type orderResult struct {
	ID             string
	Status         string
	RefundedAmount struct{ Amount string }
	Timeline       []struct {
		Type, ActorRole, Reason string
	}
}

// order reads an order as the buyer.
func (f *fixture) order(t *testing.T, id string) orderResult {
	t.Helper()
	r := f.s.MustQuery(f.buyer.AccessToken, `query($id: ID!) { order(id: $id) {
  id status refundedAmount { amount } timeline { type actorRole reason } } }`, map[string]any{"id": id})
	var out struct{ Order orderResult }
	r.Decode(t, &out)
	return out.Order
}

// events counts the order's timeline events of a type.
func (o orderResult) events(typ string) int {
	n := 0
	for _, e := range o.Timeline {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// post delivers a notification to the sandbox notify endpoint and returns the status.
func (f *fixture) post(t *testing.T, n *sandbox.Signed) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.s.HTTP.URL+"/payments/notify/sandbox", bytes.NewReader(n.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(sandbox.SignatureHeader, n.Signature)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// wantCode fails the test unless r failed with code (and field, when given).
func wantCode(t *testing.T, r *apitest.Response, code, field string) {
	t.Helper()
	if r.Code() != code || (field != "" && r.Field() != field) {
		t.Fatalf("want %s %s, got %s %s: %s", code, field, r.Code(), r.Field(), r.Raw)
	}
}
