package wechat

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/payment"
)

var (
	fuzzKinds    = []error{payment.ErrMalformed, payment.ErrInvalidSignature, payment.ErrMismatch, payment.ErrUnknownKey, payment.ErrExpired}
	fuzzOutcomes = map[string]payment.Outcome{"SUCCESS": payment.OutcomeSucceeded, "REFUND": payment.OutcomeRefunded,
		"NOTPAY": payment.OutcomePending, "USERPAYING": payment.OutcomePending, "CLOSED": payment.OutcomeClosed,
		"REVOKED": payment.OutcomeClosed, "PAYERROR": payment.OutcomeFailed}
)

// FuzzParseNotification drives ParseNotification three ways, by mode:
//
//   - 0: the input is the decrypted resource (the transaction JSON), encrypted with the
//     API v3 key and signed with the platform key as WeChat Pay does: it must be accepted
//     exactly when the transaction meets the contract — our mchid and appid, a valid
//     out_trade_no, a transaction_id, an integer fen total that is not negative, CNY, a
//     known trade_state and, when paid, an RFC 3339 success_time — and then carry exactly
//     those values;
//   - 1: the input is the whole body, signed: what is accepted is a TRANSACTION.SUCCESS
//     envelope whose resource decrypts, by crypto/cipher directly, to Raw;
//   - 2: the input is the whole body, sent with the signature of a genuine one: it is
//     accepted only if it is that body.
func FuzzParseNotification(f *testing.F) {
	p := newProvider(f, "")
	good := envelopeFor(paidTransaction(nil), apiV3Key, resourceAlgorithm)
	f.Add(paidTransaction(nil), "", uint8(0))
	f.Add([]byte{}, good, uint8(1))
	f.Add([]byte{}, good, uint8(2))
	for _, change := range []func(map[string]any){
		func(tx map[string]any) { tx["trade_state"] = "NOTPAY"; delete(tx, "success_time") },
		func(tx map[string]any) { tx["amount"] = map[string]any{"total": -1, "currency": "CNY"} },
		func(tx map[string]any) { tx["amount"] = map[string]any{"total": 12.5, "currency": "CNY"} },
		func(tx map[string]any) { tx["amount"] = map[string]any{"total": 100, "currency": "USD"} },
		func(tx map[string]any) { tx["mchid"] = 1900000001 },
		func(tx map[string]any) { tx["success_time"] = "2025-03-01 20:00:00" },
		func(tx map[string]any) { tx["out_trade_no"] = "" },
	} {
		f.Add(paidTransaction(change), "", uint8(0))
	}
	f.Add([]byte(`null`), "", uint8(0))
	f.Add([]byte{}, `{"event_type":"TRANSACTION.SUCCESS","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"AAAA","nonce":"n","associated_data":""}}`, uint8(1))

	goodHeader := delivery{body: good}.request().Header // signed once: RSA signing is what makes this target slow

	f.Fuzz(func(t *testing.T, plain []byte, raw string, mode uint8) {
		var r *http.Request
		switch mode % 3 {
		case 0:
			r = delivery{body: envelopeFor(plain, apiV3Key, resourceAlgorithm)}.request()
		case 1:
			r = delivery{body: raw}.request()
		case 2:
			r = httptest.NewRequest(http.MethodPost, "/payments/notify/wechat", strings.NewReader(raw))
			r.Header = goodHeader.Clone()
		}
		n, err := p.ParseNotification(context.Background(), r)
		if err != nil {
			known := false
			for _, kind := range fuzzKinds {
				known = known || errors.Is(err, kind)
			}
			if !known {
				t.Fatalf("refused with an error of no known kind: %v", err)
			}
		}
		switch mode % 3 {
		case 0:
			checkContract(t, plain, n, err)
		case 1:
			if err == nil && !bytes.Equal(decrypt(t, raw), n.Raw) {
				t.Fatalf("accepted %q, whose resource does not decrypt to %q", raw, n.Raw)
			}
		case 2:
			if err == nil && raw != good {
				t.Fatalf("accepted %q under the signature of another body", raw)
			}
		}
	})
}

// decrypt opens an accepted envelope's resource with crypto/cipher, not gopay.
func decrypt(t *testing.T, body string) []byte {
	t.Helper()
	var env struct {
		EventType string `json:"event_type"`
		Resource  struct {
			Algorithm, Ciphertext, Nonce string
			AssociatedData               string `json:"associated_data"`
		} `json:"resource"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil || env.EventType != eventPaid || env.Resource.Algorithm != resourceAlgorithm {
		t.Fatalf("accepted %q: %+v %v", body, env, err)
	}
	ct, err := base64.StdEncoding.DecodeString(env.Resource.Ciphertext)
	if err != nil {
		t.Fatalf("accepted %q: ciphertext: %v", body, err)
	}
	block, _ := aes.NewCipher([]byte(apiV3Key))
	gcm, err := cipher.NewGCMWithNonceSize(block, len(env.Resource.Nonce))
	if err != nil {
		t.Fatalf("accepted %q: nonce of %d bytes: %v", body, len(env.Resource.Nonce), err)
	}
	plain, err := gcm.Open(nil, []byte(env.Resource.Nonce), ct, []byte(env.Resource.AssociatedData))
	if err != nil {
		t.Fatalf("accepted %q, which does not decrypt: %v", body, err)
	}
	return plain
}

// checkContract checks ParseNotification's answer for the transaction plain against the
// contract, reading plain as a generic JSON value.
func checkContract(t *testing.T, plain []byte, n *payment.Notification, err error) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	var tx map[string]any
	decoded := dec.Decode(&tx) == nil
	// encoding/json matches struct fields without regard to case; a key that is not
	// lower-case could land on a field the generic reading does not see. Judge only the
	// transactions whose keys are written as the contract writes them.
	if decoded && !lowerKeys(tx) {
		return
	}
	if amount, isMap := tx["amount"].(map[string]any); isMap && !lowerKeys(amount) {
		return
	}
	str := func(m map[string]any, k string) (string, bool) {
		switch v := m[k].(type) {
		case nil:
			return "", true
		case string:
			return v, true
		}
		return "", false
	}
	typed := decoded && tx != nil
	fields := map[string]string{}
	for _, k := range []string{"appid", "mchid", "out_trade_no", "transaction_id", "trade_state", "success_time"} {
		v, ok := str(tx, k)
		typed = typed && ok
		fields[k] = v
	}
	var total int64
	hasTotal, currency := false, ""
	switch amount := tx["amount"].(type) {
	case nil:
	case map[string]any:
		switch v := amount["total"].(type) {
		case nil:
		case json.Number:
			var perr error
			total, perr = strconv.ParseInt(string(v), 10, 64)
			hasTotal, typed = perr == nil, typed && perr == nil
		default:
			typed = false
		}
		var ok bool
		currency, ok = str(amount, "currency")
		typed = typed && ok
	default:
		typed = false
	}
	outcome, knownState := fuzzOutcomes[fields["trade_state"]]
	paidAt, timeErr := time.Parse(time.RFC3339, fields["success_time"])
	ok := typed && fields["mchid"] == mchID && fields["appid"] == appID && payment.ValidRef(fields["out_trade_no"]) &&
		fields["transaction_id"] != "" && hasTotal && total >= 0 && currency == "CNY" && knownState &&
		(outcome != payment.OutcomeSucceeded || timeErr == nil)
	switch {
	case ok && err != nil:
		t.Fatalf("refused a transaction that meets the contract: %v\n%s", err, plain)
	case !ok && err == nil:
		t.Fatalf("accepted a transaction that breaks the contract: %+v\n%s", n, plain)
	case err != nil:
		return
	}
	if n.PaymentRef != fields["out_trade_no"] || n.ProviderRef != fields["transaction_id"] || n.AppID != appID || n.MerchantID != mchID ||
		n.Amount != yuan(total) || n.Outcome != outcome || !bytes.Equal(n.Raw, plain) ||
		(outcome == payment.OutcomeSucceeded) == n.PaidAt.IsZero() || (outcome == payment.OutcomeSucceeded && !n.PaidAt.Equal(paidAt)) {
		t.Fatalf("accepted %+v from %s", n, plain)
	}
}

// lowerKeys reports whether every key is lower-case ASCII (encoding/json also folds the
// Kelvin sign and the long s onto k and s).
func lowerKeys(m map[string]any) bool {
	for k := range m {
		for i := 0; i < len(k); i++ {
			if k[i] >= 0x80 || (k[i] >= 'A' && k[i] <= 'Z') {
				return false
			}
		}
	}
	return true
}
