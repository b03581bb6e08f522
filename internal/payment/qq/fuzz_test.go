package qq

import (
	"context"
	"encoding/xml"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xiadan/xiadan/internal/payment"
)

var (
	fuzzFen      = regexp.MustCompile(`^(0|[1-9][0-9]{0,13})$`)
	fuzzXMLName  = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	fuzzKinds    = []error{payment.ErrMalformed, payment.ErrInvalidSignature, payment.ErrMismatch}
	fuzzOutcomes = map[string]payment.Outcome{"SUCCESS": payment.OutcomeSucceeded, "REFUND": payment.OutcomeRefunded,
		"NOTPAY": payment.OutcomePending, "USERPAYING": payment.OutcomePending, "CLOSED": payment.OutcomeClosed,
		"REVOKED": payment.OutcomeClosed, "PAYERROR": payment.OutcomeFailed}
)

// renderEscaped writes fields as flat XML with escaped text (render uses CDATA, which a
// value containing "]]>" would end early).
func renderEscaped(fields map[string]string) string {
	var b strings.Builder
	b.WriteString("<xml>")
	for k, v := range fields {
		b.WriteString("<" + k + ">")
		_ = xml.EscapeText(&b, []byte(v))
		b.WriteString("</" + k + ">")
	}
	b.WriteString("</xml>")
	return b.String()
}

// xmlSafe reports whether v survives an XML round trip unchanged (valid UTF-8, XML
// characters only, no carriage return, which XML normalises).
func xmlSafe(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r == '\r' || (r < 0x20 && r != '\t' && r != '\n') || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF) {
			return false
		}
	}
	return true
}

// FuzzParseNotification drives ParseNotification two ways. With resign, the input is a
// set of fields (a query string), signed as QQ Wallet signs (independently of gopay) and
// rendered as XML: the notification must be accepted exactly when the fields meet the
// contract — our appid and mch_id, a valid out_trade_no, a transaction_id, CNY, a plain
// integer total_fee, a known trade_state and, when paid, a time_end — and then carry
// exactly those values. Without, the input is the raw body: whatever is accepted must be
// signed, by an independent reading of the XML and of the signature.
func FuzzParseNotification(f *testing.F) {
	good := notification(SignMD5, nil)
	fields := url.Values{}
	for k, v := range good {
		if k != "sign" {
			fields.Set(k, v)
		}
	}
	f.Add(render(good), false, false)
	f.Add(render(notification(SignHMACSHA256, nil)), false, true)
	f.Add(fields.Encode(), true, false)
	f.Add(fields.Encode(), true, true)
	for k, v := range map[string]string{"total_fee": "12.50", "fee_type": "USD", "trade_state": "NOTPAY", "appid": "1", "time_end": "2025", "out_trade_no": "x"} {
		changed := url.Values{}
		for kk, vv := range fields {
			changed[kk] = vv
		}
		changed.Set(k, v)
		f.Add(changed.Encode(), true, false)
	}
	f.Add(`<xml><a>1</a></xml>`, false, false)

	providers := map[bool]*Provider{}
	for _, hmacSign := range []bool{false, true} {
		st := SignMD5
		if hmacSign {
			st = SignHMACSHA256
		}
		p, err := New(Options{MchID: mchID, AppID: appID, APIKey: apiKey, SignType: st})
		if err != nil {
			f.Fatal(err)
		}
		providers[hmacSign] = p
	}

	f.Fuzz(func(t *testing.T, in string, resign, hmacSign bool) {
		p, signType := providers[hmacSign], SignMD5
		if hmacSign {
			signType = SignHMACSHA256
		}
		body, want := in, (*map[string]string)(nil)
		if resign {
			q, err := url.ParseQuery(in)
			if err != nil {
				return
			}
			m := map[string]string{}
			safe := true
			for k, vs := range q {
				m[k] = vs[0]
				safe = safe && fuzzXMLName.MatchString(k) && !strings.HasPrefix(k, "xml") && xmlSafe(vs[0])
			}
			delete(m, "sign")
			m["sign"] = signOf(m, signType)
			body = renderEscaped(m)
			if safe {
				want = &m
			}
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
		if want != nil {
			checkContract(t, *want, n, err)
			return
		}
		if err == nil {
			got := readXML(t, body)
			if got["sign"] == "" || strings.ToUpper(got["sign"]) != signOf(got, signType) {
				t.Fatalf("accepted a body whose signature does not verify: %q", body)
			}
			checkContract(t, got, n, err)
		}
	})
}

// checkContract checks ParseNotification's answer for fields against the contract.
func checkContract(t *testing.T, f map[string]string, n *payment.Notification, err error) {
	t.Helper()
	outcome, knownState := fuzzOutcomes[f["trade_state"]]
	paidAt, timeErr := time.ParseInLocation(timeLayout, f["time_end"], payment.Beijing())
	ok := f["appid"] == appID && f["mch_id"] == mchID && payment.ValidRef(f["out_trade_no"]) && f["transaction_id"] != "" &&
		(f["fee_type"] == "" || f["fee_type"] == "CNY") && fuzzFen.MatchString(f["total_fee"]) && knownState &&
		(outcome != payment.OutcomeSucceeded || timeErr == nil)
	switch {
	case ok && err != nil:
		t.Fatalf("refused a notification that meets the contract: %v\n%v", err, f)
	case !ok && err == nil:
		t.Fatalf("accepted a notification that breaks the contract: %+v\n%v", n, f)
	case err != nil:
		return
	}
	if n.PaymentRef != f["out_trade_no"] || n.ProviderRef != f["transaction_id"] || n.AppID != appID || n.MerchantID != mchID ||
		n.Amount.Currency != "CNY" || n.Amount.MinorUnits() != f["total_fee"] || n.Outcome != outcome ||
		(outcome == payment.OutcomeSucceeded && !n.PaidAt.Equal(paidAt)) || (outcome != payment.OutcomeSucceeded && !n.PaidAt.IsZero()) {
		t.Fatalf("accepted %+v from %v", n, f)
	}
}

// readXML reads a flat XML message with encoding/xml's unmarshalling, not parseFlatXML.
func readXML(t *testing.T, body string) map[string]string {
	t.Helper()
	var doc struct {
		Fields []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("accepted %q, which encoding/xml cannot read: %v", body, err)
	}
	out := map[string]string{}
	for _, f := range doc.Fields {
		out[f.XMLName.Local] = f.Value
	}
	return out
}
