package orders_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/orderitem"
	entpayment "github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/refund"
	"github.com/xiadan/xiadan/ent/shipment"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/orders"
)

// The concurrency suite races the state changes of an order over the real HTTP handler
// — payments completing, cancellations, the expiry and auto-complete jobs, accepting,
// shipping, refunding, carrier scans — for many rounds each, and after every round checks
// the invariants that must hold whatever the interleaving:
//
//   - the charges kept are the order total for paid orders and nothing for cancelled ones
//     (every other charge refunded), and each payment's refunded amount is its refunds';
//   - each status appears at most once on the timeline, and only along the state machine;
//   - stock is reserved once and released at most once (only for cancelled orders), and
//     the variant's ledger adds up to its stock;
//   - a product's sales count each paid order once;
//   - one shipment per successful shipOrder, and only for shipped orders.
//
// It runs on SQLite and on MySQL at REPEATABLE READ (InnoDB's default) and READ COMMITTED:
// SQLite serialises writers and hides the races that MySQL shows. Each scenario runs 6
// rounds on each MySQL isolation level and 2 on SQLite (apitest.RaceRounds); RACE_ROUNDS=n
// runs n everywhere.
func TestConcurrentOrderChanges(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		rounds := apitest.RaceRounds(d, 6)
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newRaceWorld(t, apitest.NewReachable(t, d.URL(t)))
			for _, sc := range raceScenarios {
				t.Run(sc.name, func(t *testing.T) {
					broken := 0
					for round := range rounds {
						if !t.Run(fmt.Sprintf("round %d", round+1), func(t *testing.T) { sc.run(w, t, round) }) {
							broken++
						}
					}
					if broken > 0 {
						t.Errorf("%s: %d of %d rounds broke", sc.name, broken, rounds)
					}
				})
			}
			w.checkLedger(t)
		})
	}
}

// raceScenarios are the races of the suite, each run for many rounds on one server.
var raceScenarios = []struct {
	name string
	run  func(w *raceWorld, t *testing.T, round int)
}{
	{"two payments of one checkout", func(w *raceWorld, t *testing.T, round int) { w.racePayments(t, round, 2) }},
	{"five payments of one checkout", func(w *raceWorld, t *testing.T, round int) { w.racePayments(t, round, 5) }},
	{"payment vs customer cancel", (*raceWorld).racePaymentCancel},
	{"payment vs expiry job", (*raceWorld).racePaymentExpiry},
	{"merchant cancel vs ship", (*raceWorld).raceCancelShip},
	{"accept x10", (*raceWorld).raceAccept},
	{"ship x10", (*raceWorld).raceShip},
	{"partial refund x10", func(w *raceWorld, t *testing.T, round int) { w.raceRefund(t, round, true) }},
	{"full refund x10", func(w *raceWorld, t *testing.T, round int) { w.raceRefund(t, round, false) }},
	{"confirm receipt vs confirm, delivered scan, auto-complete job", (*raceWorld).raceConfirmComplete},
	{"delivered scans x5", (*raceWorld).raceDeliveredScans},
	{"mixed order: ship vs deliver codes", (*raceWorld).raceShipDeliver},
	{"mixed order: deliver codes x5", (*raceWorld).raceDeliverCodes},
	{"two-shop checkout: payment vs one shop cancelling", (*raceWorld).racePaymentShopCancel},
	{"second payment vs refund", func(w *raceWorld, t *testing.T, round int) { w.raceSecondPayment(t, round, false) }},
	{"second payment vs merchant cancel", func(w *raceWorld, t *testing.T, round int) { w.raceSecondPayment(t, round, true) }},
}

// raceWorld is one server with a shop selling one physical product, and its buyer.
type raceWorld struct {
	s       *apitest.Server
	shop    apitest.Merchant
	buyer   apitest.Session
	variant int
	product int
	// codes is a virtual product's variant (a gift card), for mixed orders.
	codes, codesProduct int
	// other is a second shop selling puer, for checkouts split between two shops.
	other             apitest.Merchant
	puer, puerProduct int
	client            *ent.Client
	ctx               context.Context
}

const (
	racePrice = 3800 // 38.00, plus the shop's 10.00 shipping: 48.00 an order
	raceTotal = 4800
	raceStock = 100000
)

func newRaceWorld(t *testing.T, s *apitest.Server) *raceWorld {
	t.Helper()
	w := &raceWorld{s: s}
	w.shop = s.NewMerchant(t, "race-shop", merchant.StatusACTIVE)
	w.buyer = s.Register("race-buyer@example.com", "Racer")
	w.product, w.variant = s.NewProduct(t, w.shop, "Longjing tea", product.KindPHYSICAL, "LJ-RACE", racePrice, raceStock)
	w.codesProduct, w.codes = s.NewProduct(t, w.shop, "Tea club card", product.KindVIRTUAL, "CARD-RACE", 10000, raceStock)
	w.other = s.NewMerchant(t, "race-other-shop", merchant.StatusACTIVE)
	w.puerProduct, w.puer = s.NewProduct(t, w.other, "Puer cake", product.KindPHYSICAL, "PUER-RACE", 5000, raceStock)
	w.client, w.ctx = s.Client()
	return w
}

// raceOrder is an order placed for a round.
type raceOrder struct {
	id, number, checkout string
	intID                int
}

// place buys one unit of tea now and returns the order.
func (w *raceWorld) place(t *testing.T, key string) raceOrder {
	t.Helper()
	return w.placeLines(t, key, "48.00", line(w.variant, 1))
}

// placeLines buys lines and returns the order, whose total must be total.
func (w *raceWorld) placeLines(t *testing.T, key, total string, lines ...any) raceOrder {
	t.Helper()
	key = "race-" + key
	var out placed
	w.must(t, w.buyer.AccessToken, placeMutation, map[string]any{"i": map[string]any{
		"lines": lines, "shippingAddress": address, "idempotencyKey": key}}).Decode(t, &out)
	o := out.PlaceOrder.Orders[0]
	if o.Total.Amount != total {
		t.Fatalf("order total %s, want %s", o.Total.Amount, total)
	}
	id, _ := strconv.Atoi(o.ID)
	return raceOrder{id: o.ID, number: o.Number, checkout: out.PlaceOrder.CheckoutID, intID: id}
}

// pay starts a payment of the order's checkout and returns its id.
func (w *raceWorld) pay(t *testing.T, o raceOrder, key, method string) string {
	t.Helper()
	key = "race-" + key
	r := w.must(t, w.buyer.AccessToken, `mutation($i: PayOrderInput!) { payOrder(input: $i) { id status } }`,
		map[string]any{"i": map[string]any{"checkoutID": o.checkout, "method": method, "idempotencyKey": key}})
	var out struct{ PayOrder struct{ ID, Status string } }
	r.Decode(t, &out)
	if out.PayOrder.Status != "PENDING" {
		t.Fatalf("new payment: %s", r.Raw)
	}
	return out.PayOrder.ID
}

const completePayment = `mutation($id: ID!) { sandboxCompletePayment(paymentID: $id, outcome: SUCCEEDED) { status } }`

// paid places an order of tea and pays it, one step after the other.
func (w *raceWorld) paid(t *testing.T, key string) raceOrder {
	t.Helper()
	return w.payNow(t, key, w.place(t, key))
}

// paidMixed places an order of tea and a club card (one PHYSICAL order) and pays it.
func (w *raceWorld) paidMixed(t *testing.T, key string) raceOrder {
	t.Helper()
	// 38.00 + 100.00, free shipping from 99.00.
	return w.payNow(t, key, w.placeLines(t, key, "138.00", line(w.variant, 1), line(w.codes, 1)))
}

func (w *raceWorld) payNow(t *testing.T, key string, o raceOrder) raceOrder {
	t.Helper()
	p := w.pay(t, o, "pay-"+key, "WECHAT_PAY")
	w.must(t, w.buyer.AccessToken, completePayment, map[string]any{"id": p})
	if st := w.status(t, o); st != order.StatusPAID {
		t.Fatalf("order after payment: %s", st)
	}
	return o
}

func (w *raceWorld) status(t *testing.T, o raceOrder) order.Status {
	t.Helper()
	return w.client.Order.GetX(w.ctx, o.intID).Status
}

// request returns a racer making one GraphQL request.
func (w *raceWorld) request(token, query string, vars map[string]any) apitest.Racer {
	return w.s.Request(token, query, vars)
}

// job returns a racer running the background jobs once, as a replica's ticker does.
func (w *raceWorld) job() apitest.Racer {
	return func() (*apitest.Response, error) {
		_, _, err := w.s.App.Orders.RunJobsOnce(context.Background(), w.s.DB.Client)
		return &apitest.Response{Raw: []byte(`{"job":"done"}`)}, err
	}
}

func (w *raceWorld) racePayments(t *testing.T, round, n int) {
	o := w.place(t, fmt.Sprintf("pay%d-%d", n, round))
	methods := []string{"WECHAT_PAY", "ALIPAY", "QQ_WALLET", "BANK_CARD"}
	var racers []apitest.Racer
	for i := range n {
		p := w.pay(t, o, fmt.Sprintf("pay%d-%d-%d", n, round, i), methods[i%len(methods)])
		racers = append(racers, w.request(w.buyer.AccessToken, completePayment, map[string]any{"id": p}))
	}
	outs := apitest.Race(racers...)
	if got := apitest.Successes(t, "completing payments", outs); got != n {
		t.Errorf("every notification is accepted: %d of %d", got, n)
	}
	if st := w.status(t, o); st != order.StatusPAID {
		t.Errorf("order after %d payments: %s", n, st)
	}
	w.check(t, o, 0)
}

func (w *raceWorld) racePaymentCancel(t *testing.T, round int) {
	o := w.place(t, fmt.Sprintf("paycancel-%d", round))
	p := w.pay(t, o, fmt.Sprintf("paycancel-p-%d", round), "ALIPAY")
	outs := apitest.Race(
		w.request(w.buyer.AccessToken, completePayment, map[string]any{"id": p}),
		w.request(w.buyer.AccessToken, `mutation($id: ID!) { cancelOrder(id: $id) { status } }`, map[string]any{"id": o.id}),
	)
	if outs[0].Code() != "" {
		t.Errorf("the notification is accepted either way: %s", outs[0])
	}
	cancelled := apitest.Successes(t, "cancel", outs[1:], "INVALID_STATE") == 1
	switch st := w.status(t, o); {
	case cancelled && st != order.StatusCANCELLED:
		t.Errorf("cancel succeeded but the order is %s", st)
	case !cancelled && st != order.StatusPAID:
		t.Errorf("cancel lost but the order is %s", st)
	}
	w.check(t, o, 0)
}

func (w *raceWorld) racePaymentExpiry(t *testing.T, round int) {
	o := w.place(t, fmt.Sprintf("payexpiry-%d", round))
	p := w.pay(t, o, fmt.Sprintf("payexpiry-p-%d", round), "WECHAT_PAY")
	// The deadline passes while the customer pays.
	w.client.Order.UpdateOneID(o.intID).SetPaymentDeadline(time.Now().Add(-time.Minute)).ExecX(w.ctx)
	outs := apitest.Race(w.request(w.buyer.AccessToken, completePayment, map[string]any{"id": p}), w.job())
	for _, out := range outs {
		if out.Code() != "" {
			t.Errorf("racer failed: %s", out)
		}
	}
	if st := w.status(t, o); st != order.StatusPAID && st != order.StatusCANCELLED {
		t.Errorf("order after payment vs expiry: %s", st)
	}
	w.check(t, o, 0)
}

func (w *raceWorld) raceCancelShip(t *testing.T, round int) {
	o := w.paid(t, fmt.Sprintf("cancelship-%d", round))
	outs := apitest.Race(
		w.request(w.shop.Owner.AccessToken, `mutation($id: ID!) { cancelOrder(id: $id, reason: "out of tea") { status } }`, map[string]any{"id": o.id}),
		w.request(w.shop.Owner.AccessToken, shipMutation, map[string]any{"id": o.id, "n": fmt.Sprintf("SF%08d", round)}),
	)
	won := apitest.Successes(t, "cancel vs ship", outs, "INVALID_STATE")
	if won != 1 {
		t.Errorf("exactly one of cancel and ship wins, %d did: %v", won, outs)
	}
	shipped := outs[1].Code() == ""
	switch st := w.status(t, o); {
	case shipped && st != order.StatusSHIPPED:
		t.Errorf("ship won but the order is %s", st)
	case !shipped && st != order.StatusCANCELLED:
		t.Errorf("cancel won but the order is %s", st)
	}
	w.check(t, o, b2i(shipped))
}

const shipMutation = `mutation($id: ID!, $n: String!) { shipOrder(orderID: $id, carrier: "SF Express", trackingNumber: $n) { id } }`

func (w *raceWorld) raceAccept(t *testing.T, round int) {
	o := w.paid(t, fmt.Sprintf("accept-%d", round))
	var racers []apitest.Racer
	for range 10 {
		racers = append(racers, w.request(w.shop.Owner.AccessToken, `mutation($id: ID!) { acceptOrder(id: $id) { status } }`, map[string]any{"id": o.id}))
	}
	if won := apitest.Successes(t, "accept", apitest.Race(racers...), "INVALID_STATE"); won != 1 {
		t.Errorf("exactly one acceptOrder succeeds, %d did", won)
	}
	w.check(t, o, 0)
}

func (w *raceWorld) raceShip(t *testing.T, round int) {
	o := w.paid(t, fmt.Sprintf("ship-%d", round))
	if round%2 == 1 {
		// Every other round from ACCEPTED, the other from PAID (accepted on the way).
		w.must(t, w.shop.Owner.AccessToken, `mutation($id: ID!) { acceptOrder(id: $id) { status } }`, map[string]any{"id": o.id})
	}
	var racers []apitest.Racer
	for i := range 10 {
		racers = append(racers, w.request(w.shop.Owner.AccessToken, shipMutation, map[string]any{"id": o.id, "n": fmt.Sprintf("YT%04d%04d", round, i)}))
	}
	won := apitest.Successes(t, "ship", apitest.Race(racers...), "INVALID_STATE")
	if won != 1 {
		t.Errorf("exactly one shipOrder succeeds, %d did", won)
	}
	w.check(t, o, won)
}

// raceSecondPayment: the customer paid twice; the first payment paid the order, and the
// second one's notification (to be refunded as unapplied) arrives while the merchant
// refunds or cancels the order (which refunds it). Both succeed, whichever goes first: the
// notification once locked the payment before its orders, the refund the order before
// every payment of it, and MySQL answered one of them with a deadlock.
func (w *raceWorld) raceSecondPayment(t *testing.T, round int, cancel bool) {
	key := fmt.Sprintf("second-%t-%d", cancel, round)
	o := w.place(t, key)
	first := w.pay(t, o, key+"-1", "WECHAT_PAY")
	second := w.pay(t, o, key+"-2", "ALIPAY")
	w.must(t, w.buyer.AccessToken, completePayment, map[string]any{"id": first})
	q := `mutation($id: ID!) { refundOrder(orderID: $id, reason: "damaged") { id } }`
	if cancel {
		q = `mutation($id: ID!) { cancelOrder(id: $id, reason: "out of tea") { status } }`
	}
	outs := apitest.Race(
		w.request(w.buyer.AccessToken, completePayment, map[string]any{"id": second}),
		w.request(w.shop.Owner.AccessToken, q, map[string]any{"id": o.id}),
	)
	for _, out := range outs {
		if out.Code() != "" {
			t.Errorf("racer failed: %s", out)
		}
	}
	w.check(t, o, 0)
	if got := w.client.Order.GetX(w.ctx, o.intID).RefundedAmount; got != raceTotal {
		t.Errorf("the order's refunded amount is %d, want %d", got, raceTotal)
	}
}

func (w *raceWorld) raceRefund(t *testing.T, round int, partial bool) {
	o := w.paid(t, fmt.Sprintf("refund-%t-%d", partial, round))
	vars := map[string]any{"id": o.id}
	q := `mutation($id: ID!) { refundOrder(orderID: $id, reason: "damaged") { id status } }`
	want := 1
	if partial {
		// A quarter of the total each: four fit.
		q = `mutation($id: ID!) { refundOrder(orderID: $id, amount: "12.00", reason: "damaged") { id status } }`
		want = 4
	}
	var racers []apitest.Racer
	for range 10 {
		racers = append(racers, w.request(w.shop.Owner.AccessToken, q, vars))
	}
	outs := apitest.Race(racers...)
	if won := apitest.Successes(t, "refund", outs, "INVALID_STATE"); won != want {
		t.Errorf("%d refunds succeed, want %d: %v", won, want, outs)
	}
	w.check(t, o, 0)
	if got := w.client.Order.GetX(w.ctx, o.intID).RefundedAmount; got != raceTotal {
		t.Errorf("refunded %d in all, want %d", got, raceTotal)
	}
}

// raceConfirmComplete races the customer's one-tap confirmation of a SHIPPED order
// (DELIVERED and COMPLETED in one transaction) against a second tap, the carrier's
// DELIVERED scan, and — on a delivered order — the auto-complete job. The order ends
// COMPLETED, each status once on the timeline.
func (w *raceWorld) raceConfirmComplete(t *testing.T, round int) {
	o := w.paid(t, fmt.Sprintf("confirm-%d", round))
	r := w.must(t, w.shop.Owner.AccessToken, shipMutation, map[string]any{"id": o.id, "n": fmt.Sprintf("ZT%08d", round)})
	var ship struct{ ShipOrder struct{ ID string } }
	r.Decode(t, &ship)
	confirm := w.request(w.buyer.AccessToken, `mutation($id: ID!) { confirmReceipt(orderID: $id) { status } }`, map[string]any{"id": o.id})
	scanQ := `mutation($id: ID!, $i: TrackingEventInput!) { addTrackingEvent(shipmentID: $id, input: $i) { status } }`
	scanVars := map[string]any{"id": ship.ShipOrder.ID, "i": map[string]any{"status": "DELIVERED",
		"occurredAt": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)}}
	switch round % 3 {
	case 0: // two taps from SHIPPED: one completes, the other finds it COMPLETED
		if won := apitest.Successes(t, "confirm vs confirm", apitest.Race(confirm, confirm), "INVALID_STATE"); won != 1 {
			t.Errorf("exactly one confirmation succeeds, %d did", won)
		}
	case 1: // the tap vs the carrier's DELIVERED scan: the confirmation always succeeds
		outs := apitest.Race(confirm, w.request(w.shop.Owner.AccessToken, scanQ, scanVars))
		apitest.Successes(t, "confirm vs delivered scan", outs, "INVALID_STATE")
		if c := outs[0].Code(); c != "" {
			t.Errorf("confirmReceipt racing a DELIVERED scan: %s", outs[0])
		}
	default: // delivered long enough ago for the auto-complete job to take it
		w.must(t, w.shop.Owner.AccessToken, scanQ, scanVars)
		w.client.Order.UpdateOneID(o.intID).SetDeliveredAt(time.Now().Add(-w.s.Config.OrderAutoCompleteAfter - time.Hour)).ExecX(w.ctx)
		apitest.Successes(t, "confirm vs job", apitest.Race(confirm, w.job()), "INVALID_STATE")
	}
	if st := w.status(t, o); st != order.StatusCOMPLETED {
		t.Errorf("order after the race: %s", st)
	}
	w.check(t, o, 1)
}

func (w *raceWorld) raceDeliveredScans(t *testing.T, round int) {
	o := w.paid(t, fmt.Sprintf("scans-%d", round))
	r := w.must(t, w.shop.Owner.AccessToken, shipMutation, map[string]any{"id": o.id, "n": fmt.Sprintf("JD%08d", round)})
	var ship struct{ ShipOrder struct{ ID string } }
	r.Decode(t, &ship)
	at := time.Now().UTC().Add(-time.Minute)
	scan := `mutation($id: ID!, $i: TrackingEventInput!) { addTrackingEvent(shipmentID: $id, input: $i) { status } }`
	var racers []apitest.Racer
	for i := range 5 {
		racers = append(racers, w.request(w.shop.Owner.AccessToken, scan, map[string]any{"id": ship.ShipOrder.ID,
			"i": map[string]any{"status": "DELIVERED", "occurredAt": at.Add(time.Duration(i) * time.Second).Format(time.RFC3339)}}))
	}
	apitest.Successes(t, "delivered scans", apitest.Race(racers...), "INVALID_STATE")
	if st := w.status(t, o); st != order.StatusDELIVERED {
		t.Errorf("order after DELIVERED scans: %s", st)
	}
	// Once delivered, a parcel does not go back on the road.
	late, err := w.s.Try(apitest.Request{Token: w.shop.Owner.AccessToken, Query: scan, Variables: map[string]any{"id": ship.ShipOrder.ID,
		"i": map[string]any{"status": "IN_TRANSIT", "occurredAt": at.Add(10 * time.Second).Format(time.RFC3339)}}})
	if err != nil {
		t.Fatal(err)
	}
	if late.Code() != "INVALID_STATE" || late.Errors[0].Extensions["currentState"] != "DELIVERED" {
		t.Errorf("IN_TRANSIT after DELIVERED: %s", late.Raw)
	}
	if st := w.client.Shipment.Query().Where(shipment.OrderID(o.intID)).OnlyX(w.ctx).Status; st != shipment.StatusDELIVERED {
		t.Errorf("shipment after an IN_TRANSIT scan following DELIVERED: %s", st)
	}
	w.check(t, o, 1)
}

func (w *raceWorld) raceShipDeliver(t *testing.T, round int) {
	o := w.paidMixed(t, fmt.Sprintf("shipdeliver-%d", round))
	outs := apitest.Race(
		w.request(w.shop.Owner.AccessToken, shipMutation, map[string]any{"id": o.id, "n": fmt.Sprintf("EMS%08d", round)}),
		w.request(w.shop.Owner.AccessToken, deliverCodes, map[string]any{"id": o.id}),
	)
	// Both concern the order, neither undoes the other: both succeed, in either order.
	if won := apitest.Successes(t, "ship vs deliver", outs); won != 2 {
		t.Errorf("ship and deliver both succeed, %d did", won)
	}
	if st := w.status(t, o); st != order.StatusSHIPPED {
		t.Errorf("mixed order after ship and deliver: %s", st)
	}
	w.check(t, o, 1)
}

func (w *raceWorld) racePaymentShopCancel(t *testing.T, round int) {
	key := fmt.Sprintf("twoshops-%d", round)
	// Tea from the first shop (48.00), puer from the other (50.00 + 10.00 shipping).
	o := w.placeLines(t, key, "48.00", line(w.variant, 1), line(w.puer, 1))
	puer := w.client.Order.Query().Where(order.CheckoutID(o.checkout), order.MerchantID(w.other.IntID)).OnlyX(w.ctx)
	p := w.pay(t, o, "pay-"+key, "ALIPAY")
	outs := apitest.Race(
		w.request(w.buyer.AccessToken, completePayment, map[string]any{"id": p}),
		w.request(w.other.Owner.AccessToken, `mutation($id: ID!) { cancelOrder(id: $id, reason: "sold out") { status } }`,
			map[string]any{"id": strconv.Itoa(puer.ID)}),
	)
	// The shop may cancel before or after the payment: both succeed either way.
	if won := apitest.Successes(t, "payment vs shop cancel", outs); won != 2 {
		t.Errorf("payment and cancel both succeed, %d did", won)
	}
	if st := w.status(t, o); st != order.StatusPAID {
		t.Errorf("the first shop's order: %s", st)
	}
	if st := w.client.Order.GetX(w.ctx, puer.ID).Status; st != order.StatusCANCELLED {
		t.Errorf("the cancelled shop's order: %s", st)
	}
	w.check(t, o, 0)
}

const deliverCodes = `mutation($id: ID!) { deliverVirtualGoods(orderID: $id, content: {codes: ["CLUB-0001"]}) { status } }`

func (w *raceWorld) raceDeliverCodes(t *testing.T, round int) {
	o := w.paidMixed(t, fmt.Sprintf("deliver-%d", round))
	var racers []apitest.Racer
	for range 5 {
		racers = append(racers, w.request(w.shop.Owner.AccessToken, deliverCodes, map[string]any{"id": o.id}))
	}
	if won := apitest.Successes(t, "deliver", apitest.Race(racers...), "INVALID_STATE"); won != 1 {
		t.Errorf("exactly one deliverVirtualGoods succeeds, %d did", won)
	}
	ro := w.client.Order.Query().Where(order.ID(o.intID)).WithEvents().OnlyX(w.ctx)
	if n := countEvents(ro, orderevent.TypeLINES_FULFILLED); n != 1 || ro.Status != order.StatusACCEPTED {
		t.Errorf("order %s: %s with %d LINES_FULFILLED events", ro.Number, ro.Status, n)
	}
	w.check(t, o, 0)
}

// must makes a request in the current (sub)test and fails it on any error.
func (w *raceWorld) must(t *testing.T, token, query string, vars map[string]any) *apitest.Response {
	t.Helper()
	r, err := w.s.Try(apitest.Request{Query: query, Token: token, Variables: vars})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %s", r.Raw)
	}
	return r
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// check verifies the invariants of order o and its checkout after a round; shipments is
// how many shipOrder calls succeeded for o.
func (w *raceWorld) check(t *testing.T, ro raceOrder, shipments int) {
	t.Helper()
	all := w.client.Order.Query().Where(order.CheckoutID(ro.checkout)).
		WithEvents(func(q *ent.OrderEventQuery) { q.Order(orderevent.ByID()) }).
		WithShipments().WithItems().
		AllX(w.ctx)
	w.checkMoney(t, ro.checkout, all)
	for _, o := range all {
		w.checkOrder(t, o)
		if o.ID == ro.intID && len(o.Edges.Shipments) != shipments {
			t.Errorf("order %s: %d shipments, %d shipOrder succeeded", o.Number, len(o.Edges.Shipments), shipments)
		}
	}
}

// checkMoney verifies that the charges kept for a checkout are what its orders are owed:
// the total of each paid order less what was refunded on purpose, nothing for cancelled
// ones; every other charge refunded.
func (w *raceWorld) checkMoney(t *testing.T, checkout string, all []*ent.Order) {
	t.Helper()
	payments := w.client.Payment.Query().Where(entpayment.HasOrdersWith(order.CheckoutID(checkout))).WithRefunds().AllX(w.ctx)
	var kept int64
	for _, p := range payments {
		var refunded int64
		for _, r := range p.Edges.Refunds {
			if r.Status != refund.StatusSUCCEEDED {
				t.Errorf("payment %s has a %s refund", p.PaymentRef, r.Status)
			}
			refunded += r.Amount
		}
		if refunded != p.RefundedAmount {
			t.Errorf("payment %s: refunded_amount %d, its refunds add up to %d", p.PaymentRef, p.RefundedAmount, refunded)
		}
		switch p.Status {
		case entpayment.StatusSUCCEEDED, entpayment.StatusPARTIALLY_REFUNDED, entpayment.StatusREFUNDED:
			kept += p.Amount - p.RefundedAmount
		default:
			if p.RefundedAmount != 0 {
				t.Errorf("payment %s is %s with %d refunded", p.PaymentRef, p.Status, p.RefundedAmount)
			}
		}
	}
	var owed int64
	for _, o := range all {
		if o.PaidAt != nil && o.Status != order.StatusCANCELLED {
			owed += o.Total - o.RefundedAmount
		}
		if o.Status == order.StatusCANCELLED && o.PaidAt != nil && o.RefundedAmount != o.Total {
			t.Errorf("order %s cancelled after payment, refunded %d of %d", o.Number, o.RefundedAmount, o.Total)
		}
	}
	if kept != owed {
		t.Errorf("checkout %s: charges kept %d, owed %d", checkout, kept, owed)
	}
}

// checkOrder verifies one order's timeline, stock and shipments.
func (w *raceWorld) checkOrder(t *testing.T, o *ent.Order) {
	t.Helper()
	defer func() {
		if t.Failed() {
			var tl []string
			for _, e := range o.Edges.Events {
				tl = append(tl, string(e.Type))
			}
			t.Logf("order %s timeline: %s", o.Number, strings.Join(tl, ", "))
		}
	}()
	// Timeline: each status once, along the state machine.
	seen := map[string]bool{}
	prev := ""
	for _, e := range o.Edges.Events {
		if e.ToStatus == "" {
			continue
		}
		if seen[e.ToStatus] {
			t.Errorf("order %s: %s twice on the timeline", o.Number, e.ToStatus)
		}
		seen[e.ToStatus] = true
		if e.FromStatus != prev {
			t.Errorf("order %s: %s→%s follows %s", o.Number, e.FromStatus, e.ToStatus, prev)
		}
		if prev != "" && !orders.CanMove(orders.Fulfilment(o.Fulfilment), order.Status(e.FromStatus), order.Status(e.ToStatus)) {
			t.Errorf("order %s: %s→%s is not a move of the state machine", o.Number, e.FromStatus, e.ToStatus)
		}
		prev = e.ToStatus
	}
	if prev != string(o.Status) {
		t.Errorf("order %s is %s but its timeline ends at %s", o.Number, o.Status, prev)
	}
	if paidEvents := countEvents(o, orderevent.TypePAID); paidEvents != b2i(o.PaidAt != nil) {
		t.Errorf("order %s: %d PAID events, paid_at %v", o.Number, paidEvents, o.PaidAt)
	}

	// Stock: each line reserved once, released once only when cancelled.
	moves := w.client.StockMovement.Query().Where(stockmovement.OrderID(o.ID)).AllX(w.ctx)
	reserved, released := map[int]int{}, map[int]int{}
	for _, m := range moves {
		switch m.Kind {
		case stockmovement.KindORDER_RESERVED:
			reserved[m.VariantID]++
		case stockmovement.KindORDER_RELEASED:
			released[m.VariantID]++
		}
	}
	for _, it := range o.Edges.Items {
		if reserved[*it.VariantID] != 1 || released[*it.VariantID] != b2i(o.Status == order.StatusCANCELLED) {
			t.Errorf("order %s (%s): %s reserved %d times, released %d times", o.Number, o.Status, it.Sku,
				reserved[*it.VariantID], released[*it.VariantID])
		}
	}

	// Shipments: only for shipped orders, one each.
	wantShipped := slices.Contains([]order.Status{order.StatusSHIPPED, order.StatusDELIVERED, order.StatusCOMPLETED}, o.Status) &&
		o.Fulfilment == order.FulfilmentPHYSICAL
	if got := len(o.Edges.Shipments); got != b2i(wantShipped) {
		t.Errorf("order %s is %s with %d shipments", o.Number, o.Status, got)
	}
}

func countEvents(o *ent.Order, typ orderevent.Type) int {
	n := 0
	for _, e := range o.Edges.Events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// checkLedger verifies, after all rounds, that each variant's ledger is one unbroken
// chain from its first stock to its stock now, and that sales count each paid order once.
func (w *raceWorld) checkLedger(t *testing.T) {
	t.Helper()
	for _, v := range []int{w.variant, w.codes, w.puer} {
		moves := w.client.StockMovement.Query().Where(stockmovement.VariantID(v)).
			Order(stockmovement.ByID()).AllX(w.ctx)
		level := raceStock
		for _, m := range moves {
			if m.StockBefore != level || m.StockAfter != m.StockBefore+m.Delta {
				t.Errorf("ledger row %d: %d%+d=%d after %d", m.ID, m.StockBefore, m.Delta, m.StockAfter, level)
			}
			level = m.StockAfter
		}
		if now := w.client.ProductVariant.Query().Where(productvariant.ID(v)).OnlyX(w.ctx).Stock; now != level {
			t.Errorf("variant %d: stock %d, ledger ends at %d", v, now, level)
		}
	}
	for _, p := range []int{w.product, w.codesProduct, w.puerProduct} {
		paid := w.client.OrderItem.Query().
			Where(orderitem.ProductID(p), orderitem.HasOrderWith(order.PaidAtNotNil())).
			AllX(w.ctx)
		sold := 0
		for _, it := range paid {
			sold += it.Quantity
		}
		if sales := w.client.Product.GetX(w.ctx, p).SalesCount; sales != sold {
			t.Errorf("product %d: sales count %d, sold in paid orders %d", p, sales, sold)
		}
	}
}
