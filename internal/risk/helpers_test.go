package risk_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/risk"
)

// quiet is a configuration in which no rule fires: tests turn on the ones they check.
func quiet(c *config.Config) {
	c.Risk = risk.Config{Mode: risk.ModeHold, HoldScore: 1000, VelocityWindow: risk.DefaultConfig().VelocityWindow,
		LinkWindow: risk.DefaultConfig().LinkWindow}
}

// fixture is a shop selling a ¥25.50 tea, an admin, and a supply of buyers.
type fixture struct {
	s       *apitest.Server
	shop    apitest.Merchant
	variant string
	admin   apitest.Session
	seq     atomic.Int64
}

func newFixture(t *testing.T, s *apitest.Server) *fixture {
	t.Helper()
	f := &fixture{s: s}
	f.shop = s.NewMerchant(t, "risk-tea", merchant.StatusACTIVE)
	_, v := s.NewProduct(t, f.shop, "Longjing tea", product.KindPHYSICAL, "TEA-1", 2550, 100000)
	f.variant = strconv.Itoa(v)
	f.admin = s.NewAdmin(t, "risk-admin@example.com")
	return f
}

func (f *fixture) buyer(t *testing.T) apitest.Session {
	t.Helper()
	return f.s.Register(fmt.Sprintf("risk-buyer-%d@example.com", f.seq.Add(1)), "Buyer")
}

func (f *fixture) key(p string) string { return fmt.Sprintf("%s-key-%06d", p, f.seq.Add(1)) }

// buy is an order's shape: who, from which device, to which street and phone, how many.
type buy struct {
	token, device, street, phone string
	qty                          int
}

const placeOrder = `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID orders { id number status } } }`

func (f *fixture) placeRequest(b buy) apitest.Request {
	if b.qty == 0 {
		b.qty = 1
	}
	if b.street == "" {
		b.street = "1 West Lake Road"
	}
	if b.phone == "" {
		b.phone = "13800138000"
	}
	req := apitest.Request{Query: placeOrder, Token: b.token, Variables: map[string]any{"i": map[string]any{
		"lines": []map[string]any{{"variantID": f.variant, "quantity": b.qty}},
		"shippingAddress": map[string]any{"recipientName": "Li Lei", "phone": b.phone,
			"province": "Zhejiang", "city": "Hangzhou", "street": b.street},
		"idempotencyKey": f.key("place"),
	}}}
	if b.device != "" {
		req.Header = map[string]string{"X-Device-Id": b.device}
	}
	return req
}

type placed struct {
	CheckoutID string
	Orders     []struct{ ID, Number, Status string }
}

// place places b's order and returns the checkout.
func (f *fixture) place(t *testing.T, b buy) placed {
	t.Helper()
	r := f.s.Do(f.placeRequest(b))
	if len(r.Errors) > 0 {
		t.Fatalf("placeOrder: %s", r.Raw)
	}
	var out struct{ PlaceOrder placed }
	r.Decode(t, &out)
	return out.PlaceOrder
}

// pay pays a checkout as token at the sandbox with outcome (SUCCEEDED or FAILED) and
// returns the payment's id.
func (f *fixture) pay(t *testing.T, token, checkoutID, outcome string) string {
	t.Helper()
	r := f.s.MustQuery(token, `mutation($i: PayOrderInput!) { payOrder(input: $i) { id } }`,
		map[string]any{"i": map[string]any{"checkoutID": checkoutID, "method": "BANK_CARD", "idempotencyKey": f.key("pay")}})
	var out struct{ PayOrder struct{ ID string } }
	r.Decode(t, &out)
	f.s.MustQuery(token, `mutation($id: ID!, $o: PaymentOutcome!) { sandboxCompletePayment(paymentID: $id, outcome: $o) { id status } }`,
		map[string]any{"id": out.PayOrder.ID, "o": outcome})
	return out.PayOrder.ID
}

// order places and pays b's order and returns its id.
func (f *fixture) order(t *testing.T, b buy) string {
	t.Helper()
	p := f.place(t, b)
	f.pay(t, b.token, p.CheckoutID, "SUCCEEDED")
	return p.Orders[0].ID
}

type orderView struct {
	ID, Status     string
	RefundedAmount struct{ Amount string }
	Timeline       []struct{ Type, Reason, ToStatus string }
	Payments       []struct {
		Status  string
		Refunds []struct{ Status string }
	}
}

// readOrder reads an order as token.
func (f *fixture) readOrder(t *testing.T, token, id string) orderView {
	t.Helper()
	r := f.s.MustQuery(token, `query($id: ID!) { order(id: $id) { id status refundedAmount { amount }
  timeline { type reason toStatus } payments { status refunds { status } } } }`, map[string]any{"id": id})
	var out struct{ Order orderView }
	r.Decode(t, &out)
	return out.Order
}

func (o orderView) has(typ string) (string, bool) {
	for _, e := range o.Timeline {
		if e.Type == typ {
			return e.Reason, true
		}
	}
	return "", false
}

type assessment struct {
	ID, Status, DeviceID, DecisionNote string
	Score                              int
	Rules                              []struct {
		Code, Explanation string
		Score             int
	}
}

func (a assessment) rule(code string) (string, bool) {
	for _, r := range a.Rules {
		if r.Code == code {
			return r.Explanation, true
		}
	}
	return "", false
}

func (a assessment) codes() string {
	var c []string
	for _, r := range a.Rules {
		c = append(c, r.Code)
	}
	return strings.Join(c, ",")
}

const assessmentFields = `id status deviceID decisionNote score rules { code score explanation }`

// assessment reads the assessment of order id as the admin.
func (f *fixture) assessment(t *testing.T, orderID string) assessment {
	t.Helper()
	r := f.s.MustQuery(f.admin.AccessToken, `query($id: ID!) { riskAssessments(first: 1, where: {hasOrderWith: {id: $id}}) { nodes { `+
		assessmentFields+` } } }`, map[string]any{"id": orderID})
	var out struct {
		RiskAssessments struct{ Nodes []assessment }
	}
	r.Decode(t, &out)
	if len(out.RiskAssessments.Nodes) != 1 {
		t.Fatalf("order %s: want one assessment: %s", orderID, r.Raw)
	}
	return out.RiskAssessments.Nodes[0]
}

// wantCode fails the test unless r failed with code.
func wantCode(t *testing.T, r *apitest.Response, code string) {
	t.Helper()
	if r.Code() != code {
		t.Fatalf("want %s, got %q: %s", code, r.Code(), r.Raw)
	}
}

const (
	approve = `mutation($id: ID!, $n: String) { approveRiskReview(orderID: $id, note: $n) { ` + assessmentFields + ` } }`
	reject  = `mutation($id: ID!, $r: String!) { rejectRiskReview(orderID: $id, reason: $r) { ` + assessmentFields + ` } }`
	cancel  = `mutation($id: ID!) { cancelOrder(id: $id) { id status } }`
	accept  = `mutation($id: ID!) { acceptOrder(id: $id) { id status } }`
	addList = `mutation($i: AddRiskListEntryInput!) { addRiskListEntry(input: $i) { id kind label } }`
)
