package payments_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/paymentnotification"
	"github.com/xiadan/xiadan/ent/refund"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/payment"
	"github.com/xiadan/xiadan/internal/payment/sandbox"
	"github.com/xiadan/xiadan/internal/viewer"
)

func TestOneSandboxPaymentPaysEveryOrderOfACheckout(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		co := f.place(t, 2, 1) // 2 × 25.50 + 10.00 shipping; 40.00 + 10.00 shipping
		if len(co.Orders) != 2 || co.Total.Amount != "111.00" {
			t.Fatalf("placed %+v", co)
		}
		p := f.mustPay(t, f.payInput(co.CheckoutID))
		if p.Status != "PENDING" || p.Provider != "SANDBOX" || p.Amount.Amount != "111.00" || p.Amount.Currency != "CNY" || len(p.Orders) != 2 {
			t.Fatalf("payment %+v", p)
		}
		if p.Instructions["kind"] != "QR_CODE" || !strings.Contains(p.Instructions["qrCodeURL"].(string), sandbox.PayPath) {
			t.Fatalf("instructions %v", p.Instructions)
		}
		if n := len(p.PaymentRef); n < 24 || n > 32 || !payment.ValidRef(p.PaymentRef) {
			t.Fatalf("payment ref %q", p.PaymentRef)
		}

		stranger := s.Register("stranger@example.com", "Stranger")
		wantCode(t, f.complete(stranger.AccessToken, p.ID, "SUCCEEDED"), "NOT_FOUND", "")
		wantCode(t, f.pay(stranger.AccessToken, f.payInput(co.CheckoutID)), "NOT_FOUND", "")

		f.mustComplete(t, p.ID, "SUCCEEDED")
		if got := f.payment(t, p.ID); got.Status != "SUCCEEDED" {
			t.Fatalf("payment after success: %+v", got)
		}
		for _, o := range co.Orders {
			got := f.order(t, o.ID)
			if got.Status != "PAID" || got.events("PAID") != 1 {
				t.Fatalf("order %s: %+v", o.Number, got)
			}
		}
		client, ctx := s.Client()
		if tea := client.Product.GetX(ctx, f.tea.ProductID); tea.SalesCount != 2 {
			t.Errorf("tea sales = %d, want 2", tea.SalesCount)
		}
		// Paid orders cannot be paid again.
		wantCode(t, f.pay(f.buyer.AccessToken, f.payInput(co.CheckoutID)), "INVALID_STATE", "")
		in := f.payInput("")
		delete(in, "checkoutID")
		in["orderIDs"] = co.orderIDs()
		wantCode(t, f.pay(f.buyer.AccessToken, in), "INVALID_STATE", "")
	})
}

func TestFailedPaymentLeavesOrdersPayable(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		co := f.place(t, 1, 0)
		first := f.mustPay(t, f.payInput(co.CheckoutID))
		f.mustComplete(t, first.ID, "FAILED")
		if got := f.payment(t, first.ID); got.Status != "FAILED" || got.FailureReason == "" {
			t.Fatalf("failed payment: %+v", got)
		}
		o := f.order(t, co.Orders[0].ID)
		if o.Status != "PENDING_PAYMENT" || o.events("PAYMENT_FAILED") != 1 {
			t.Fatalf("order after failure: %+v", o)
		}

		in := f.payInput(co.CheckoutID)
		in["method"], in["channel"] = "WECHAT_PAY", "H5_REDIRECT"
		second := f.mustPay(t, in)
		if second.ID == first.ID || second.Instructions["kind"] != "REDIRECT" {
			t.Fatalf("second payment %+v", second)
		}
		f.mustComplete(t, second.ID, "SUCCEEDED")
		if o := f.order(t, co.Orders[0].ID); o.Status != "PAID" {
			t.Fatalf("order after retry: %+v", o)
		}
		// A late failure of the paid payment changes nothing.
		f.mustComplete(t, second.ID, "FAILED")
		if got := f.payment(t, second.ID); got.Status != "SUCCEEDED" {
			t.Fatalf("payment after a late failure: %+v", got)
		}
	})
}

func TestNotificationDeliveries(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		sb := s.App.Payments.Sandbox
		client, ctx := s.Client()
		logged := func(verified bool) int {
			return client.PaymentNotification.Query().Where(paymentnotification.Verified(verified)).CountX(ctx)
		}
		co := f.place(t, 1, 0)
		p := f.mustPay(t, f.payInput(co.CheckoutID))
		amount := money.Money{Minor: 3550, Currency: "CNY"}

		forged, err := sb.BuildNotification(sandbox.Event{PaymentRef: p.PaymentRef, Amount: amount, Outcome: payment.OutcomeSucceeded})
		if err != nil {
			t.Fatal(err)
		}
		forged.Signature = strings.Replace(forged.Signature, "v1=", "v1=00", 1)
		if status, _ := f.post(t, forged); status != 401 {
			t.Fatalf("forged notification answered %d", status)
		}
		if logged(false) != 1 {
			t.Fatalf("forged notification not logged as unverified")
		}

		tampered, _ := sb.BuildNotification(sandbox.Event{PaymentRef: p.PaymentRef, Amount: amount, Outcome: payment.OutcomeSucceeded})
		tampered.Body = []byte(strings.Replace(string(tampered.Body), `"amount":3550`, `"amount":1`, 1))
		if status, _ := f.post(t, tampered); status != 401 {
			t.Fatalf("tampered notification answered %d", status)
		}

		cheap, _ := sb.BuildNotification(sandbox.Event{PaymentRef: p.PaymentRef, Amount: money.Money{Minor: 1, Currency: "CNY"}, Outcome: payment.OutcomeSucceeded})
		if status, _ := f.post(t, cheap); status != 400 {
			t.Fatalf("a notification for another amount answered %d", status)
		}
		if n := client.PaymentNotification.Query().Where(paymentnotification.Verified(true), paymentnotification.ErrorContains("amount")).CountX(ctx); n != 1 {
			t.Fatalf("amount mismatch logged %d times", n)
		}

		unknown, _ := sb.BuildNotification(sandbox.Event{PaymentRef: "PNOSUCHPAYMENT000000000000", Amount: amount, Outcome: payment.OutcomeSucceeded})
		if status, _ := f.post(t, unknown); status != 400 {
			t.Fatalf("a notification for an unknown payment answered %d", status)
		}
		if o := f.order(t, co.Orders[0].ID); o.Status != "PENDING_PAYMENT" {
			t.Fatalf("order paid by a rejected notification: %+v", o)
		}

		good, _ := sb.BuildNotification(sandbox.Event{PaymentRef: p.PaymentRef, Amount: amount, Outcome: payment.OutcomeSucceeded})
		for range 2 {
			if status, body := f.post(t, good); status != 200 {
				t.Fatalf("genuine notification answered %d %s", status, body)
			}
		}
		o := f.order(t, co.Orders[0].ID)
		if o.Status != "PAID" || o.events("PAID") != 1 {
			t.Fatalf("order after a duplicate notification: %+v", o)
		}
		if got := f.payment(t, p.ID); got.Status != "SUCCEEDED" || len(got.Refunds) != 0 {
			t.Fatalf("payment after a duplicate notification: %+v", got)
		}
		if logged(true) != 4 || logged(false) != 2 { // the amount mismatch, the unknown payment, twice the genuine one
			t.Fatalf("logged %d verified and %d unverified notifications", logged(true), logged(false))
		}
	})
}

func TestLatePaymentOfACancelledOrderIsRefunded(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		co := f.place(t, 1, 1)
		p := f.mustPay(t, f.payInput(co.CheckoutID))
		// The tea order is cancelled while the customer pays both.
		f.s.MustQuery(f.buyer.AccessToken, `mutation($id: ID!) { cancelOrder(id: $id) { status } }`,
			map[string]any{"id": co.Orders[0].ID})
		f.mustComplete(t, p.ID, "SUCCEEDED")

		got := f.payment(t, p.ID)
		if got.Status != "PARTIALLY_REFUNDED" || got.RefundedAmount.Amount != co.Orders[0].Total.Amount || len(got.Refunds) != 1 || got.Refunds[0].Status != "SUCCEEDED" {
			t.Fatalf("payment after a late payment: %+v", got)
		}
		cancelled := f.order(t, co.Orders[0].ID)
		if cancelled.Status != "CANCELLED" || cancelled.events("REFUNDED") != 1 || cancelled.RefundedAmount.Amount != "0.00" {
			t.Fatalf("cancelled order: %+v", cancelled)
		}
		if paid := f.order(t, co.Orders[1].ID); paid.Status != "PAID" {
			t.Fatalf("other order: %+v", paid)
		}
		// The refund returns the share of the cancelled order only; the rest can be refunded
		// for the paid order, and no more.
		m := f.cups.Owner.AccessToken
		wantCode(t, f.refund(m, co.Orders[1].ID, ptr("50.01")), "BAD_USER_INPUT", "amount")
		if r := f.mustRefund(t, m, co.Orders[1].ID, nil); r.Amount.Amount != "50.00" {
			t.Fatalf("refund %+v", r)
		}
		if got := f.payment(t, p.ID); got.Status != "REFUNDED" {
			t.Fatalf("payment after refunding the rest: %+v", got)
		}
	})
}

func TestASecondSuccessfulPaymentIsRefunded(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		co := f.place(t, 1, 1)
		first := f.mustPay(t, f.payInput(co.CheckoutID))
		in := f.payInput(co.CheckoutID)
		in["method"] = "ALIPAY"
		second := f.mustPay(t, in) // the customer switched method; both get paid
		f.mustComplete(t, second.ID, "SUCCEEDED")
		f.mustComplete(t, first.ID, "SUCCEEDED")

		if got := f.payment(t, second.ID); got.Status != "SUCCEEDED" || got.RefundedAmount.Amount != "0.00" {
			t.Fatalf("paying payment: %+v", got)
		}
		got := f.payment(t, first.ID)
		if got.Status != "REFUNDED" || got.RefundedAmount.Amount != "85.50" || len(got.Refunds) != 2 {
			t.Fatalf("double payment: %+v", got)
		}
		for _, o := range co.Orders {
			if o := f.order(t, o.ID); o.Status != "PAID" || o.events("PAID") != 1 || o.events("REFUNDED") != 1 || o.RefundedAmount.Amount != "0.00" {
				t.Fatalf("order: %+v", o)
			}
		}
		// Refunds of the order come from the payment that paid it.
		r := f.mustRefund(t, f.tea.Owner.AccessToken, co.Orders[0].ID, ptr("5.00"))
		if r.Payment.ID != second.ID {
			t.Fatalf("refund from payment %s, want %s", r.Payment.ID, second.ID)
		}
	})
}

func TestPayOrderIdempotencyAndInput(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		co := f.place(t, 1, 1)
		other := f.place(t, 1, 0)

		in := f.payInput(co.CheckoutID)
		first := f.mustPay(t, in)
		if again := f.mustPay(t, in); again.ID != first.ID || again.PaymentRef != first.PaymentRef {
			t.Fatalf("retry returned %s, want %s", again.ID, first.ID)
		}
		changed := map[string]any{"checkoutID": co.CheckoutID, "method": "ALIPAY", "idempotencyKey": in["idempotencyKey"]}
		wantCode(t, f.pay(f.buyer.AccessToken, changed), "CONFLICT", "idempotencyKey")

		// Concurrent duplicates make one payment.
		in = f.payInput(co.CheckoutID)
		ids := make([]string, 6)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Go(func() {
				r := f.pay(f.buyer.AccessToken, in)
				var out struct{ PayOrder paymentResult }
				_ = json.Unmarshal(r.Data, &out)
				ids[i] = out.PayOrder.ID + r.Code()
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] || id == "" {
				t.Fatalf("concurrent duplicates returned %v", ids)
			}
		}

		byIDs := func(ids ...string) map[string]any {
			return map[string]any{"orderIDs": ids, "method": "BANK_CARD", "idempotencyKey": f.key("pay")}
		}
		cases := []struct {
			name, code, field string
			in                map[string]any
		}{
			{"two checkouts", "BAD_USER_INPUT", "orderIDs", byIDs(co.Orders[0].ID, other.Orders[0].ID)},
			{"no orders", "BAD_USER_INPUT", "orderIDs", map[string]any{"method": "BANK_CARD", "idempotencyKey": f.key("pay")}},
			{"both", "BAD_USER_INPUT", "orderIDs", map[string]any{"orderIDs": co.orderIDs(), "checkoutID": co.CheckoutID, "method": "BANK_CARD", "idempotencyKey": f.key("pay")}},
			{"missing order", "NOT_FOUND", "", byIDs("999999")},
			{"unknown checkout", "NOT_FOUND", "", f.payInput("co_nosuchcheckout")},
			{"short key", "BAD_USER_INPUT", "idempotencyKey", map[string]any{"checkoutID": co.CheckoutID, "method": "BANK_CARD", "idempotencyKey": "short"}},
			{"bad return URL", "BAD_USER_INPUT", "returnURL", map[string]any{"checkoutID": co.CheckoutID, "method": "BANK_CARD", "returnURL": "javascript:alert(1)", "idempotencyKey": f.key("pay")}},
			{"bank card in a mini program", "BAD_USER_INPUT", "channel", map[string]any{"checkoutID": co.CheckoutID, "method": "BANK_CARD", "channel": "MINI_PROGRAM", "idempotencyKey": f.key("pay")}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantCode(t, f.pay(f.buyer.AccessToken, c.in), c.code, c.field)
			})
		}
		wantCode(t, f.pay("", f.payInput(co.CheckoutID)), "UNAUTHENTICATED", "")
		// Some orders of a checkout can be paid alone.
		one := f.mustPay(t, byIDs(co.Orders[1].ID))
		if one.Amount.Amount != co.Orders[1].Total.Amount || len(one.Orders) != 1 {
			t.Fatalf("payment of one order: %+v", one)
		}
	})
}

func TestRefunds(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		co := f.place(t, 2, 0) // 61.00
		id := co.Orders[0].ID
		m := f.tea.Owner.AccessToken
		wantCode(t, f.refund(m, id, nil), "INVALID_STATE", "")
		p := f.mustPay(t, f.payInput(co.CheckoutID))
		f.mustComplete(t, p.ID, "SUCCEEDED")

		staff := s.AddStaff(t, f.tea.Merchant, "staff@tea.example.com")
		cases := []struct {
			name, token, code, field string
			amount                   *string
		}{
			{"rival merchant", f.cups.Owner.AccessToken, "NOT_FOUND", "", nil},
			{"customer", f.buyer.AccessToken, "FORBIDDEN", "", nil},
			{"anonymous", "", "UNAUTHENTICATED", "", nil},
			{"more than paid", m, "BAD_USER_INPUT", "amount", ptr("61.01")},
			{"not an amount", m, "BAD_USER_INPUT", "amount", ptr("ten")},
			{"three decimals", m, "BAD_USER_INPUT", "amount", ptr("1.001")},
			{"negative", m, "BAD_USER_INPUT", "amount", ptr("-1.00")},
			{"declined by the provider", m, "INVALID_STATE", "", ptr("0.99")},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantCode(t, f.refund(c.token, id, c.amount), c.code, c.field)
			})
		}
		wantCode(t, f.s.Query(m, `mutation($id: ID!) { refundOrder(orderID: $id, reason: " ") { id } }`, map[string]any{"id": id}), "BAD_USER_INPUT", "reason")
		// A refund must be its mutation's only field: a failing sibling would roll back the
		// record of money the provider already returned. Refused before anything runs.
		wantCode(t, f.s.Query(m, `mutation($id: ID!) { refundOrder(orderID: $id, amount: "1.00", reason: "x") { id } b: refundOrder(orderID: "0", reason: "x") { id } }`,
			map[string]any{"id": id}), "BAD_USER_INPUT", "refundOrder")

		if r := f.mustRefund(t, staff.AccessToken, id, ptr("10.00")); r.Amount.Amount != "10.00" || r.Status != "SUCCEEDED" {
			t.Fatalf("partial refund %+v", r)
		}
		if got := f.payment(t, p.ID); got.Status != "PARTIALLY_REFUNDED" || got.RefundedAmount.Amount != "10.00" {
			t.Fatalf("payment after a partial refund: %+v", got)
		}
		wantCode(t, f.refund(m, id, ptr("51.01")), "BAD_USER_INPUT", "amount")
		if r := f.mustRefund(t, f.admin(t), id, nil); r.Amount.Amount != "51.00" {
			t.Fatalf("refund of the rest %+v", r)
		}
		o := f.order(t, id)
		if o.Status != "PAID" || o.RefundedAmount.Amount != "61.00" || o.events("REFUNDED") != 2 {
			t.Fatalf("order after refunds: %+v", o)
		}
		if got := f.payment(t, p.ID); got.Status != "REFUNDED" || got.RefundedAmount.Amount != "61.00" {
			t.Fatalf("payment after a full refund: %+v", got)
		}
		wantCode(t, f.refund(m, id, nil), "INVALID_STATE", "")
		// Nothing is left to refund, whatever the amount: the order's state says no.
		wantCode(t, f.refund(m, id, ptr("0.01")), "INVALID_STATE", "")
		client, ctx := s.Client()
		if n := client.Refund.Query().Where(refund.StatusEQ(refund.StatusFAILED)).CountX(viewer.SystemContext(ctx)); n != 0 {
			t.Fatalf("%d failed refunds kept from rolled-back requests", n)
		}
	})
}

func TestCancellingAPaidOrderRefundsIt(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		co := f.place(t, 1, 1)
		p := f.mustPay(t, f.payInput(co.CheckoutID))
		f.mustComplete(t, p.ID, "SUCCEEDED")
		f.mustRefund(t, f.tea.Owner.AccessToken, co.Orders[0].ID, ptr("5.00"))
		r := f.s.MustQuery(f.tea.Owner.AccessToken, `mutation($id: ID!) { cancelOrder(id: $id, reason: "out of stock") { status refundedAmount { amount } } }`,
			map[string]any{"id": co.Orders[0].ID})
		var out struct {
			CancelOrder struct {
				Status         string
				RefundedAmount struct{ Amount string }
			}
		}
		r.Decode(t, &out)
		if out.CancelOrder.Status != "CANCELLED" || out.CancelOrder.RefundedAmount.Amount != co.Orders[0].Total.Amount {
			t.Fatalf("cancelled order %+v", out.CancelOrder)
		}
		got := f.payment(t, p.ID)
		if got.Status != "PARTIALLY_REFUNDED" || got.RefundedAmount.Amount != co.Orders[0].Total.Amount || len(got.Refunds) != 2 {
			t.Fatalf("payment after cancelling one order: %+v", got)
		}
	})
}

// refundResult is a Refund as the tests read it.
type refundResult struct {
	ID, Status, Reason string
	Amount             struct{ Amount string }
	Payment            struct{ ID string }
}

func (f *fixture) refund(token, orderID string, amount *string) *apitest.Response {
	vars := map[string]any{"id": orderID, "reason": "customer returned it"}
	if amount != nil {
		vars["amount"] = *amount
	}
	return f.s.Query(token, `mutation($id: ID!, $amount: String, $reason: String!) {
  refundOrder(orderID: $id, amount: $amount, reason: $reason) { id status reason amount { amount } payment { id } } }`, vars)
}

func (f *fixture) mustRefund(t *testing.T, token, orderID string, amount *string) refundResult {
	t.Helper()
	r := f.refund(token, orderID, amount)
	if len(r.Errors) > 0 {
		t.Fatalf("refundOrder: %s", r.Raw)
	}
	var out struct{ RefundOrder refundResult }
	r.Decode(t, &out)
	return out.RefundOrder
}

func ptr(s string) *string { return &s }

func TestSandboxPayPagePaysLikeACustomer(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		co := f.place(t, 1, 0)
		p := f.mustPay(t, f.payInput(co.CheckoutID))
		page, _ := p.Instructions["redirectURL"].(string)
		if !strings.HasPrefix(page, s.HTTP.URL+sandbox.PayPath+"?") {
			t.Fatalf("pay page %q", page)
		}
		res, err := http.Get(page)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("GET pay page: %d", res.StatusCode)
		}
		u, _ := url.Parse(page)
		form := u.Query()
		form.Set("outcome", "SUCCEEDED")
		res, err = http.PostForm(s.HTTP.URL+sandbox.PayPath, form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("POST pay page: %d", res.StatusCode)
		}
		if o := f.order(t, co.Orders[0].ID); o.Status != "PAID" {
			t.Fatalf("order after paying on the pay page: %+v", o)
		}
	})
}

func TestCompleteSandboxOutsideARequestTransaction(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		co := f.place(t, 0, 1)
		p := f.mustPay(t, f.payInput(co.CheckoutID))
		id, _ := strconv.Atoi(p.ID)
		uid, _ := strconv.Atoi(f.buyer.UserID)
		ctx := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: uid, Roles: []viewer.Role{viewer.RoleCustomer}})
		got, err := s.App.Payments.CompleteSandbox(ctx, id, payment.OutcomeSucceeded)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != "SUCCEEDED" || got.SucceededAt == nil {
			t.Fatalf("payment returned after the notification: %+v", got)
		}
		other := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: uid + 1000})
		if _, err := s.App.Payments.CompleteSandbox(other, id, payment.OutcomeSucceeded); apperror.CodeOf(err) != apperror.NotFound {
			t.Fatalf("a stranger completing the payment: %v", err)
		}
	})
}

func TestPayOrderAfterTheDeadline(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		co := f.place(t, 1, 0)
		client, ctx := s.Client()
		id, _ := strconv.Atoi(co.Orders[0].ID)
		client.Order.UpdateOneID(id).SetPaymentDeadline(time.Now().Add(-time.Minute)).ExecX(ctx)
		wantCode(t, f.pay(f.buyer.AccessToken, f.payInput(co.CheckoutID)), "INVALID_STATE", "")
		in := map[string]any{"orderIDs": co.orderIDs(), "method": "BANK_CARD", "idempotencyKey": f.key("pay")}
		wantCode(t, f.pay(f.buyer.AccessToken, in), "INVALID_STATE", "")
	})
}

// TestANotificationPaidAtAnImpossibleTimeStillPays: a genuine success notification whose
// paid time no database column holds (year 0000 or 0999 — a provider's bug) pays the
// order, stamped with the time it arrived; it was answered 500 and redelivered forever.
func TestANotificationPaidAtAnImpossibleTimeStillPays(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		sb := s.App.Payments.Sandbox
		for _, paid := range []time.Time{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(999, 12, 31, 0, 0, 0, 0, time.UTC)} {
			co := f.place(t, 1, 0)
			p := f.mustPay(t, f.payInput(co.CheckoutID))
			n, err := sb.BuildNotification(sandbox.Event{PaymentRef: p.PaymentRef, Amount: money.Money{Minor: 3550, Currency: "CNY"},
				Outcome: payment.OutcomeSucceeded, PaidAt: paid})
			if err != nil {
				t.Fatal(err)
			}
			if status, body := f.post(t, n); status != 200 {
				t.Fatalf("paid at %v: answered %d %s", paid, status, body)
			}
			if got := f.payment(t, p.ID); got.Status != "SUCCEEDED" {
				t.Fatalf("paid at %v: payment %+v", paid, got)
			}
			for _, id := range co.orderIDs() {
				if o := f.order(t, id); o.Status != "PAID" {
					t.Fatalf("paid at %v: order %s", paid, o.Status)
				}
			}
		}
	})
}
