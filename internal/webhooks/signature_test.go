package webhooks_test

import (
	"errors"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/webhooks"
)

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"42","type":"PAID"}`)
	sent := time.Unix(1_700_000_000, 0)
	header := webhooks.Sign(sent, body, "whsec_new", "whsec_old")
	cases := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"new secret", "whsec_new", header, body, sent.Add(time.Minute), nil},
		{"previous secret during the overlap", "whsec_old", header, body, sent, nil},
		{"unknown secret", "whsec_other", header, body, sent, webhooks.ErrSignatureMismatch},
		{"changed body", "whsec_new", header, []byte(`{"id":"43","type":"PAID"}`), sent, webhooks.ErrSignatureMismatch},
		{"older than five minutes", "whsec_new", header, body, sent.Add(5*time.Minute + time.Second), webhooks.ErrSignatureExpired},
		{"from the future", "whsec_new", header, body, sent.Add(-10 * time.Minute), webhooks.ErrSignatureExpired},
		{"unknown schemes are ignored", "whsec_new", header + ",v2=abc", body, sent, nil},
		{"no v1", "whsec_new", "t=1700000000", body, sent, webhooks.ErrMalformedSignature},
		{"no timestamp", "whsec_new", "v1=00", body, sent, webhooks.ErrMalformedSignature},
		{"not hex", "whsec_new", "t=1700000000,v1=zz", body, sent, webhooks.ErrMalformedSignature},
		{"empty", "whsec_new", "", body, sent, webhooks.ErrMalformedSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := webhooks.Verify(c.secret, c.header, c.body, c.now, 0); !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
		})
	}
	if err := webhooks.Verify("whsec_new", header, body, sent.Add(9*time.Minute), 10*time.Minute); err != nil {
		t.Errorf("a wider tolerance: %v", err)
	}
}
