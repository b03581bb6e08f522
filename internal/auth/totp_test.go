package auth

import (
	"strings"
	"testing"
	"time"
)

// TestHOTPMatchesRFC6238: the SHA-1 test vectors of RFC 6238, appendix B (8 digits), and
// their 6-digit truncations, which authenticator apps show.
func TestHOTPMatchesRFC6238(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		if got := hotp(key, totpStep(time.Unix(tc.unix, 0)), 8); got != tc.want {
			t.Errorf("T=%d: %s, want %s", tc.unix, got, tc.want)
		}
		if got := hotp(key, totpStep(time.Unix(tc.unix, 0)), 6); got != tc.want[2:] {
			t.Errorf("T=%d (6 digits): %s, want %s", tc.unix, got, tc.want[2:])
		}
	}
	secret := secretEncoding.EncodeToString(key)
	if got, _ := TOTPCode(secret, time.Unix(59, 0)); got != "287082" {
		t.Errorf("TOTPCode: %s", got)
	}
	if step, ok := matchStep(key, "287082", time.Unix(59+30, 0)); !ok || step != 1 {
		t.Errorf("the previous step's code: step %d, %v", step, ok)
	}
	if _, ok := matchStep(key, "287082", time.Unix(59+60, 0)); ok {
		t.Error("a code two steps old was accepted")
	}
}

// TestRecoveryCodesNormalise: a recovery code typed in capitals, with spaces or without
// its dash, hashes like the code as given out.
func TestRecoveryCodesNormalise(t *testing.T) {
	c, err := newRecoveryCode()
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 11 || c[5] != '-' || isTOTPCode(c) {
		t.Fatalf("recovery code %q", c)
	}
	for _, typed := range []string{c, " " + c, strings.ToUpper(c[:5] + c[6:]), c[:5] + " " + c[6:]} {
		if normalizeRecoveryCode(typed) != normalizeRecoveryCode(c) {
			t.Errorf("%q does not match %q", typed, c)
		}
	}
}
