package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Fixed keys and time, so the seed tokens stay valid for as long as the corpus is kept.
var (
	fuzzKey     = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	fuzzRetired = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize)) // still verifies
	fuzzStrange = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize)) // never configured
	fuzzNow     = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func fuzzIssuer() *TokenIssuer {
	return &TokenIssuer{Keys: NewKeySet(fuzzKey, fuzzRetired.Public().(ed25519.PublicKey)),
		Issuer: "xiadan", Audience: "xiadan-api", TTL: 15 * time.Minute, Now: func() time.Time { return fuzzNow }}
}

// fuzzToken signs claims with key under header fields, as an attacker or a bug might.
func fuzzToken(header map[string]any, claims map[string]any, sign func(input string) []byte) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(input))
}

// FuzzVerify feeds arbitrary strings — and mutations of genuine, expired, foreign, alg=none
// and HS256-with-the-public-key tokens — to Verify. Whatever it accepts must be a JWS
// whose header says EdDSA with a configured kid, whose signature verifies with that key
// by crypto/ed25519 directly, and whose claims are ours (issuer, audience, subject,
// unexpired within the leeway). Tokens Issue signs for any subject read back as issued.
func FuzzVerify(f *testing.F) {
	ti := fuzzIssuer()
	kid := func(k ed25519.PrivateKey) string { return KeyID(k.Public().(ed25519.PublicKey)) }
	ed := func(k ed25519.PrivateKey) func(string) []byte {
		return func(in string) []byte { return ed25519.Sign(k, []byte(in)) }
	}
	claims := func(change func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "xiadan", "sub": "42", "aud": []string{"xiadan-api"}, "exp": fuzzNow.Add(time.Minute).Unix(),
			"iat": fuzzNow.Unix(), "nbf": fuzzNow.Unix(), "jti": "seed"}
		if change != nil {
			change(c)
		}
		return c
	}
	good, _, _ := ti.IssueUser("42", "family-1")
	partner, _, _ := ti.IssuePartner("client-1", []string{"orders:read"}, []int{1, 2}, 7)
	f.Add(good)
	f.Add(partner)
	f.Add(fuzzToken(map[string]any{"alg": "EdDSA", "kid": kid(fuzzRetired)}, claims(nil), ed(fuzzRetired)))
	f.Add(fuzzToken(map[string]any{"alg": "EdDSA", "kid": kid(fuzzStrange)}, claims(nil), ed(fuzzStrange)))
	f.Add(fuzzToken(map[string]any{"alg": "EdDSA", "kid": kid(fuzzKey)}, claims(nil), ed(fuzzStrange)))
	f.Add(fuzzToken(map[string]any{"alg": "none", "kid": kid(fuzzKey)}, claims(nil), func(string) []byte { return nil }))
	f.Add(fuzzToken(map[string]any{"alg": "HS256", "kid": kid(fuzzKey)}, claims(nil), func(in string) []byte {
		m := hmac.New(sha256.New, fuzzKey.Public().(ed25519.PublicKey))
		m.Write([]byte(in))
		return m.Sum(nil)
	}))
	for _, change := range []func(map[string]any){
		func(c map[string]any) { c["exp"] = fuzzNow.Add(-time.Hour).Unix() },
		func(c map[string]any) { delete(c, "exp") },
		func(c map[string]any) { c["aud"] = "someone-else" },
		func(c map[string]any) { c["aud"] = []string{"someone-else", "xiadan-api"} },
		func(c map[string]any) { c["iss"] = "evil" },
		func(c map[string]any) { c["sub"] = "" },
		func(c map[string]any) { c["iat"] = fuzzNow.Add(time.Hour).Unix() },
		func(c map[string]any) { c["nbf"] = fuzzNow.Add(time.Hour).Unix() },
		func(c map[string]any) { c["exp"] = "tomorrow" },
		func(c map[string]any) { c["knd"] = KindPartner; c["mid"] = []int{1}; c["scope"] = "orders:read" },
	} {
		f.Add(fuzzToken(map[string]any{"alg": "EdDSA", "kid": kid(fuzzKey), "typ": "JWT"}, claims(change), ed(fuzzKey)))
	}
	for _, s := range []string{"", ".", "..", "a.b.c", "e30.e30.", strings.Repeat("A", 300)} {
		f.Add(s)
	}
	keys := map[string]ed25519.PublicKey{kid(fuzzKey): fuzzKey.Public().(ed25519.PublicKey),
		kid(fuzzRetired): fuzzRetired.Public().(ed25519.PublicKey)}

	f.Fuzz(func(t *testing.T, token string) {
		if c, err := ti.Verify(token); err == nil {
			checkAccepted(t, token, c, keys)
		}
		// Round trip: whatever the subject (Issue's callers pass ids), it reads back.
		if token == "" || !utf8.ValidString(token) {
			return
		}
		issued, _, err := ti.IssueUser(token, "family-1")
		if err != nil {
			t.Fatalf("IssueUser(%q): %v", token, err)
		}
		c, err := ti.Verify(issued)
		if err != nil || c.Subject != token || c.Kind != KindUser || c.SessionID != "family-1" {
			t.Fatalf("IssueUser(%q) then Verify: %+v, %v", token, c, err)
		}
	})
}

// checkAccepted checks, without golang-jwt, that an accepted token deserved it.
func checkAccepted(t *testing.T, token string, c *Claims, keys map[string]ed25519.PublicKey) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted %q: %d segments", token, len(parts))
	}
	seg := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			t.Fatalf("accepted %q: segment %q is not base64url: %v", token, s, err)
		}
		return b
	}
	var header struct {
		Alg, Kid string
	}
	if err := json.Unmarshal(seg(parts[0]), &header); err != nil {
		t.Fatalf("accepted %q: header: %v", token, err)
	}
	key, ok := keys[header.Kid]
	if header.Alg != jwt.SigningMethodEdDSA.Alg() || !ok {
		t.Fatalf("accepted %q: alg %q kid %q", token, header.Alg, header.Kid)
	}
	if !ed25519.Verify(key, []byte(parts[0]+"."+parts[1]), seg(parts[2])) {
		t.Fatalf("accepted %q: the signature does not verify", token)
	}
	leeway := 30 * time.Second
	switch {
	case c.Subject == "" || c.Issuer != "xiadan" || !slices.Contains(c.Audience, "xiadan-api"):
		t.Fatalf("accepted %q: claims %+v", token, c)
	case c.ExpiresAt == nil || !c.ExpiresAt.After(fuzzNow.Add(-leeway)):
		t.Fatalf("accepted %q: expiry %v", token, c.ExpiresAt)
	case c.IssuedAt != nil && c.IssuedAt.After(fuzzNow.Add(leeway)):
		t.Fatalf("accepted %q: issued in the future %v", token, c.IssuedAt)
	case c.NotBefore != nil && c.NotBefore.After(fuzzNow.Add(leeway)):
		t.Fatalf("accepted %q: not valid before %v", token, c.NotBefore)
	}
}
