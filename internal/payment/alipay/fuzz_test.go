package alipay

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/payment"
)

var (
	fuzzYuan  = regexp.MustCompile(`^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$`)
	fuzzKinds = []error{payment.ErrMalformed, payment.ErrInvalidSignature, payment.ErrMismatch}
)

// FuzzParseNotification drives ParseNotification two ways. With resign, the input is the
// notification's fields (a query string), RSA2-signed as Alipay signs them (independently
// of gopay): it must be accepted exactly when the fields meet the contract — our app_id
// and seller_id, trade_status_sync, a valid out_trade_no, a trade_no, a plain yuan
// total_amount with at most two decimals, a known trade_status and, when paid, a payment
// time — and then carry exactly those values, the amount converted to fen without
// rounding. Without, the input is the raw body: whatever is accepted must carry a
// signature that verifies independently over its own fields.
func FuzzParseNotification(f *testing.F) {
	keys(f)
	p, err := New(Options{AppID: appID, PrivateKey: appKey, AlipayPublicKey: &aliKey.PublicKey, SellerID: sellerID, GatewayURL: "https://example.invalid/gateway.do"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed(notification(), aliKey).Encode(), false)
	f.Add(notification().Encode(), true)
	for k, v := range map[string]string{"total_amount": "88.888", "trade_status": "TRADE_CLOSED", "refund_fee": "1.00",
		"app_id": "2021000000000999", "seller_id": "", "gmt_payment": "", "notify_type": "x", "out_trade_no": "短"} {
		changed := notification()
		changed.Set(k, v)
		f.Add(changed.Encode(), true)
	}
	f.Add("%zz", false)

	f.Fuzz(func(t *testing.T, in string, resign bool) {
		body := in
		if resign {
			q, err := url.ParseQuery(in)
			if err != nil {
				return
			}
			fields := url.Values{}
			for k, vs := range q {
				fields.Set(k, vs[0])
			}
			body = signed(fields, aliKey).Encode()
		}
		n, err := p.ParseNotification(context.Background(), post(body))
		if err != nil {
			known := false
			for _, kind := range fuzzKinds {
				known = known || errors.Is(err, kind)
			}
			if !known {
				t.Fatalf("refused with an error of no known kind: %v", err)
			}
		}
		form, perr := url.ParseQuery(body)
		if !resign {
			if err != nil {
				return
			}
			if perr != nil || form.Get("sign_type") != "RSA2" || rsaVerify(&aliKey.PublicKey, signContent(form, "sign", "sign_type"), form.Get("sign")) != nil {
				t.Fatalf("accepted a body whose signature does not verify: %q", body)
			}
		}
		checkContract(t, form, body, n, err)
	})
}

// checkContract checks ParseNotification's answer for the form against the contract.
func checkContract(t *testing.T, f url.Values, body string, n *payment.Notification, err error) {
	t.Helper()
	refund := f.Get("gmt_refund") != "" || f.Get("refund_fee") != "" || f.Get("out_biz_no") != ""
	var outcome payment.Outcome
	switch status := f.Get("trade_status"); {
	case refund && (status == "TRADE_SUCCESS" || status == "TRADE_FINISHED" || status == "TRADE_CLOSED"):
		outcome = payment.OutcomeRefunded
	case status == "TRADE_SUCCESS" || status == "TRADE_FINISHED":
		outcome = payment.OutcomeSucceeded
	case status == "TRADE_CLOSED":
		outcome = payment.OutcomeClosed
	case status == "WAIT_BUYER_PAY":
		outcome = payment.OutcomePending
	}
	paid := f.Get("gmt_payment")
	if paid == "" {
		paid = f.Get("notify_time")
	}
	paidAt, timeErr := time.ParseInLocation(timeLayout, paid, payment.Beijing())
	single := true
	for _, vs := range f {
		single = single && len(vs) == 1
	}
	ok := single && f.Get("app_id") == appID && f.Get("seller_id") == sellerID && f.Get("notify_type") == notifyTypeSync &&
		payment.ValidRef(f.Get("out_trade_no")) && f.Get("trade_no") != "" && fuzzYuan.MatchString(f.Get("total_amount")) &&
		outcome != "" && (outcome != payment.OutcomeSucceeded || timeErr == nil)
	switch {
	case ok && err != nil:
		t.Fatalf("refused a notification that meets the contract: %v\n%v", err, f)
	case !ok && err == nil:
		t.Fatalf("accepted a notification that breaks the contract: %+v\n%v", n, f)
	case err != nil:
		return
	}
	if n.PaymentRef != f.Get("out_trade_no") || n.ProviderRef != f.Get("trade_no") || n.AppID != appID || n.MerchantID != sellerID ||
		n.Amount.Currency != "CNY" || n.Amount.Amount() != canonicalYuan(f.Get("total_amount")) || n.Outcome != outcome ||
		(outcome == payment.OutcomeSucceeded) == n.PaidAt.IsZero() || (outcome == payment.OutcomeSucceeded && !n.PaidAt.Equal(paidAt)) ||
		string(n.Raw) != body {
		t.Fatalf("accepted %+v from %v", n, f)
	}
}

// canonicalYuan writes a yuan amount of the pattern with exactly two decimals.
func canonicalYuan(s string) string {
	whole, frac := s, ""
	for i := range s {
		if s[i] == '.' {
			whole, frac = s[:i], s[i+1:]
		}
	}
	for len(frac) < 2 {
		frac += "0"
	}
	return whole + "." + frac
}
