package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/ratelimit"
)

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash format: %s", h)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct horsE", false}, {"", false}} {
		ok, err := VerifyPassword(h, tc.pw)
		if err != nil || ok != tc.want {
			t.Fatalf("VerifyPassword(%q) = %v, %v", tc.pw, ok, err)
		}
	}
	if _, err := VerifyPassword("$2a$10$bcrypt", "x"); err == nil {
		t.Fatal("malformed hash accepted")
	}
}

func TestPasswordPolicyCountsCharacters(t *testing.T) {
	if CheckPasswordPolicy("密码密码密码密码") != nil { // 8 characters, 24 bytes
		t.Fatal("8 Chinese characters refused")
	}
	if CheckPasswordPolicy("密码密码密码密") == nil {
		t.Fatal("7 characters accepted")
	}
	if CheckPasswordPolicy(strings.Repeat("a", 129)) == nil {
		t.Fatal("129 characters accepted")
	}
}

// The limits themselves are tested in internal/ratelimit; Throttle and Quota pass their
// windows on.
func TestThrottleAndQuotaUseTheirWindows(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	l := ratelimit.NewMemory()
	th := NewThrottle(l, 15*time.Minute)
	th.SetClock(func() time.Time { return now })
	for range 5 {
		th.Fail(ctx, "k", 5)
	}
	if got := th.Blocked(ctx, "k"); got != time.Second {
		t.Fatalf("after 5 failures blocked %v, want 1s", got)
	}
	th.Reset(ctx, "k")
	if th.Blocked(ctx, "k") != 0 {
		t.Fatal("reset did not unblock")
	}
	q := NewQuota(l, time.Hour)
	for range 3 {
		q.Take(ctx, "a", 3)
	}
	now = now.Add(10 * time.Minute)
	if wait := q.Take(ctx, "a", 3); wait != 50*time.Minute {
		t.Fatalf("fourth event: wait %v, want the rest of the window", wait)
	}
}

func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	old, err := LoadKeySet("", nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadKeySet("", nil, dir)
	if err != nil || again.SigningKeyID() != old.SigningKeyID() {
		t.Fatal("development key not persisted across starts")
	}
	issuerOld := &TokenIssuer{Keys: old, Issuer: "x", Audience: "y", TTL: time.Minute}
	token, _, err := issuerOld.IssueUser("42", "session")
	if err != nil {
		t.Fatal(err)
	}
	// A new signing key with the old one kept for verification accepts the old token.
	newDir := t.TempDir()
	newer, err := LoadKeySet("", []string{dir + "/jwt-signing-key.pem"}, newDir)
	if err != nil {
		t.Fatal(err)
	}
	issuerNew := &TokenIssuer{Keys: newer, Issuer: "x", Audience: "y", TTL: time.Minute}
	if c, err := issuerNew.Verify(token); err != nil || c.Subject != "42" {
		t.Fatalf("old token after rotation: %v", err)
	}
	// Without the old key it is refused.
	alone, _ := LoadKeySet("", nil, newDir)
	if _, err := (&TokenIssuer{Keys: alone, Issuer: "x", Audience: "y", TTL: time.Minute}).Verify(token); err == nil {
		t.Fatal("token of an unknown key accepted")
	}
	if _, err := LoadKeySet("", nil, ""); err == nil {
		t.Fatal("no key and no dev directory accepted")
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":             "203.0.113.7",
		"::ffff:203.0.113.7":      "203.0.113.7",
		"2001:db8:1:2::1":         "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:0:0:9": "2001:db8:1:2::/64",
		"fe80::1%eth0":            "fe80::/64",
		"":                        "",
		"not an address":          "not an address",
	} {
		if got := AddressKey(in); got != want {
			t.Errorf("AddressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// The test-only parameters are recorded in the hash like the real ones, so hashes of both
// kinds verify, and the real ones stay the default.
func TestFastPasswordHashingInTests(t *testing.T) {
	real, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	UseFastPasswordHashingInTests()
	t.Cleanup(func() { fastHashing.Store(false) })
	fast, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(real, "$argon2id$v=19$m=19456,t=2,p=1$") || !strings.HasPrefix(fast, "$argon2id$v=19$m=8,t=1,p=1$") {
		t.Fatalf("hashes %q and %q", real, fast)
	}
	for _, h := range []string{real, fast} {
		if ok, err := VerifyPassword(h, "correct horse"); err != nil || !ok {
			t.Errorf("VerifyPassword(%q) = %v, %v", h, ok, err)
		}
		if ok, _ := VerifyPassword(h, "correct horsE"); ok {
			t.Errorf("VerifyPassword(%q) accepted a wrong password", h)
		}
	}
}
