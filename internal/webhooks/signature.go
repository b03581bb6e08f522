package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header carrying a delivery's signatures.
const SignatureHeader = "X-Xiadan-Signature"

// DefaultTolerance is how old a signature receivers should still accept.
const DefaultTolerance = 5 * time.Minute

// The reasons Verify refuses a request.
var (
	ErrMalformedSignature = errors.New("webhooks: malformed signature header")
	ErrSignatureExpired   = errors.New("webhooks: signature timestamp outside the tolerance")
	ErrSignatureMismatch  = errors.New("webhooks: no signature matches the secret")
)

// Sign returns the X-Xiadan-Signature value for body sent at t: one v1 per secret, so a
// receiver holding either the new or the previous secret accepts it during a rotation.
func Sign(t time.Time, body []byte, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		if s != "" {
			b.WriteString(",v1=" + hex.EncodeToString(mac(s, ts, body)))
		}
	}
	return b.String()
}

// Verify checks an X-Xiadan-Signature header against the raw request body: the timestamp
// must be within tolerance of now (DefaultTolerance when tolerance is 0), which stops
// replays of old requests, and one v1 must be the HMAC-SHA256 of "<t>.<body>" keyed with
// secret. Pass the body exactly as received, before any JSON decoding.
func Verify(secret string, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformedSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil {
				return ErrMalformedSignature
			}
			sigs = append(sigs, sig)
		}
		// Unknown schemes are skipped, so new ones can be added without breaking receivers.
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformedSignature
	}
	if age := now.Sub(time.Unix(unix, 0)); age > tolerance || age < -tolerance {
		return ErrSignatureExpired
	}
	want := mac(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}
