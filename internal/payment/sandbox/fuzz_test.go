package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/payment"
)

// notificationErrors are the kinds ParseNotification may refuse with.
var notificationErrors = []error{payment.ErrMalformed, payment.ErrInvalidSignature, payment.ErrExpired, payment.ErrMismatch}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// fuzzSign is the sandbox's notification signature, written independently of s.mac.
func fuzzSign(ts, nonce string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(notifyContext + "\n" + ts + "\n" + nonce + "\n"))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// FuzzParseNotification posts arbitrary bodies with arbitrary signature headers — or, with
// resign, bodies signed correctly now — to ParseNotification. A refusal wraps one of the
// payment errors; an acceptance carries a v1 signature that an independent HMAC over its
// own t and n confirms, signed within the tolerance, and a notification as the contract
// says: a valid payment ref, a positive amount in an upper-case currency code, SUCCEEDED
// (with a payment time) or FAILED, our account, and the exact body.
func FuzzParseNotification(f *testing.F) {
	s, err := New(Options{Secret: secret, PublicURL: "https://shop.example.com", Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range []Event{
		{PaymentRef: "PAY_000001", Amount: yuan(1250), Outcome: payment.OutcomeSucceeded},
		{PaymentRef: "PAY_000002", Amount: yuan(1), Outcome: payment.OutcomeFailed},
		{PaymentRef: "PAY_000003", Amount: yuan(99), Outcome: payment.OutcomeSucceeded, SignedAt: now.Add(-10 * time.Minute)},
	} {
		n, err := s.BuildNotification(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(n.Body, n.Signature, false)
		f.Add(n.Body, "", true)
	}
	f.Add([]byte(`{"payment_ref":"PAY_000001","provider_ref":"x","amount":-1,"currency":"CNY","outcome":"SUCCEEDED","app_id":"sandbox","merchant_id":"sandbox"}`), "", true)
	f.Add([]byte(`not json`), "t=1,n=abcdefgh,v1=00", false)

	f.Fuzz(func(t *testing.T, body []byte, header string, resign bool) {
		if resign {
			ts, nonce := strconv.FormatInt(now.Unix(), 10), "fuzznonce01"
			header = "t=" + ts + ",n=" + nonce + ",v1=" + fuzzSign(ts, nonce, body)
		}
		r := httptest.NewRequest(http.MethodPost, "/payments/notify/sandbox", bytes.NewReader(body))
		r.Header.Set(SignatureHeader, header)
		n, err := s.ParseNotification(context.Background(), r)
		if err != nil {
			for _, kind := range notificationErrors {
				if errors.Is(err, kind) {
					return
				}
			}
			t.Fatalf("refused with an error of no known kind: %v", err)
		}
		var ts, nonce string
		var sigs []string
		for part := range strings.SplitSeq(header, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "t":
				ts = v
			case "n":
				nonce = v
			case "v1":
				sigs = append(sigs, v)
			}
		}
		signedAt, perr := strconv.ParseInt(ts, 10, 64)
		genuine := false
		for _, sig := range sigs {
			genuine = genuine || sig == fuzzSign(ts, nonce, body)
		}
		switch d := now.Sub(time.Unix(signedAt, 0)); {
		case !genuine || perr != nil:
			t.Fatalf("accepted a notification without a genuine signature: %q", header)
		case d > DefaultTolerance || d < -DefaultTolerance:
			t.Fatalf("accepted a notification signed %s from now", d)
		case !payment.ValidRef(n.PaymentRef) || n.ProviderRef == "":
			t.Fatalf("accepted refs %q %q", n.PaymentRef, n.ProviderRef)
		case n.Amount.Minor <= 0 || !currencyCode.MatchString(n.Amount.Currency):
			t.Fatalf("accepted amount %+v", n.Amount)
		case n.Outcome != payment.OutcomeSucceeded && n.Outcome != payment.OutcomeFailed:
			t.Fatalf("accepted outcome %q", n.Outcome)
		case (n.Outcome == payment.OutcomeSucceeded) == n.PaidAt.IsZero():
			t.Fatalf("outcome %s paid at %v", n.Outcome, n.PaidAt)
		case n.AppID != AccountID || n.MerchantID != AccountID || n.Provider != Name || !bytes.Equal(n.Raw, body):
			t.Fatalf("accepted %+v", n)
		}
	})
}
