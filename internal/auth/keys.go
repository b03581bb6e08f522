package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// KeySet signs access tokens with one Ed25519 key and verifies them with any of several,
// so a new signing key can be rolled out while tokens signed by the old one still verify.
type KeySet struct {
	signingKID string
	signing    ed25519.PrivateKey
	verify     map[string]ed25519.PublicKey
}

// KeyID derives a key's `kid` from its public key, so ids never need configuring.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// NewKeySet returns a key set that signs with signing and also verifies with extra.
func NewKeySet(signing ed25519.PrivateKey, extra ...ed25519.PublicKey) *KeySet {
	pub := signing.Public().(ed25519.PublicKey)
	ks := &KeySet{signingKID: KeyID(pub), signing: signing, verify: map[string]ed25519.PublicKey{KeyID(pub): pub}}
	for _, k := range extra {
		ks.verify[KeyID(k)] = k
	}
	return ks
}

// SigningKeyID is the kid of the key that signs new tokens.
func (ks *KeySet) SigningKeyID() string { return ks.signingKID }

// LoadKeySet reads the signing key (PKCS#8 PEM) and extra verification keys (PKIX PEM
// public keys, or PKCS#8 private keys of retired signers). When signingFile is empty and
// generateDir is not, a development key is created in generateDir on first use and reused
// afterwards; it is never hard-coded.
func LoadKeySet(signingFile string, verifyFiles []string, generateDir string) (*KeySet, error) {
	if signingFile == "" {
		if generateDir == "" {
			return nil, errors.New("auth: no JWT signing key configured")
		}
		signingFile = filepath.Join(generateDir, "jwt-signing-key.pem")
		if _, err := os.Stat(signingFile); errors.Is(err, fs.ErrNotExist) {
			if err := writeNewKey(signingFile); err != nil {
				return nil, err
			}
		}
	}
	priv, err := readPrivateKey(signingFile)
	if err != nil {
		return nil, err
	}
	var extra []ed25519.PublicKey
	for _, f := range verifyFiles {
		pub, err := readPublicKey(f)
		if err != nil {
			return nil, err
		}
		extra = append(extra, pub)
	}
	return NewKeySet(priv, extra...), nil
}

func writeNewKey(path string) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("auth: creating key directory: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return os.WriteFile(path, data, 0o600)
}

func readPEM(path string) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: reading key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("auth: %s holds no PEM block", path)
	}
	return block, nil
}

func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: %s is not an Ed25519 key", path)
	}
	return priv, nil
}

func readPublicKey(path string) (ed25519.PublicKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	var k crypto.PublicKey
	if block.Type == "PRIVATE KEY" {
		priv, err := readPrivateKey(path)
		if err != nil {
			return nil, err
		}
		k = priv.Public()
	} else if k, err = x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("auth: %s is not an Ed25519 key", path)
	}
	return pub, nil
}

// The kinds of access token.
const (
	KindUser    = "user"
	KindPartner = "partner"
)

// Claims are the claims of an access token.
type Claims struct {
	jwt.RegisteredClaims
	// Kind is "user" for people and "partner" for API clients.
	Kind string `json:"knd,omitempty"`
	// Scope is a partner token's space-separated scopes (RFC 8693's "scope" claim).
	Scope string `json:"scope,omitempty"`
	// MerchantIDs are the merchants a partner token acts for.
	MerchantIDs []int `json:"mid,omitempty"`
	// SecretVersion is the partner client's secret version when the token was issued (the
	// time of its last rotation in microseconds, 0 before any): a rotation ends exactly
	// the tokens issued with the old secret, whatever second they were issued in.
	SecretVersion int64 `json:"sv,omitempty"`
	// SessionID is a user token's session: the refresh-token family it was issued with.
	// Each request checks that the session still has an unrevoked refresh token, so
	// logging out, changing the password or a detected refresh-token reuse ends the
	// session's access tokens at once rather than at expiry.
	SessionID string `json:"sid,omitempty"`
}

// TokenIssuer issues and verifies access tokens.
type TokenIssuer struct {
	Keys     *KeySet
	Issuer   string
	Audience string
	TTL      time.Duration
	Now      func() time.Time
}

func (ti *TokenIssuer) now() time.Time {
	if ti.Now != nil {
		return ti.Now()
	}
	return time.Now()
}

// IssueUser signs an access token for the user with id userID in session sessionID (a
// refresh-token family) and returns it with its expiry.
func (ti *TokenIssuer) IssueUser(userID, sessionID string) (string, time.Time, error) {
	return ti.issue(userID, KindUser, "", nil, 0, sessionID)
}

// IssuePartner signs an access token for the API client clientID (its client_id), acting
// for merchantIDs with scopes, and returns it with its expiry.
// secretVersion is the client's secret version (see Claims.SecretVersion).
func (ti *TokenIssuer) IssuePartner(clientID string, scopes []string, merchantIDs []int, secretVersion int64) (string, time.Time, error) {
	return ti.issue(clientID, KindPartner, strings.Join(scopes, " "), merchantIDs, secretVersion, "")
}

func (ti *TokenIssuer) issue(subject, kind, scope string, merchantIDs []int, secretVersion int64, sessionID string) (string, time.Time, error) {
	now := ti.now().UTC().Truncate(time.Second)
	exp := now.Add(ti.TTL)
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return "", time.Time{}, err
	}
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    ti.Issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{ti.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ID:        base64.RawURLEncoding.EncodeToString(id),
		},
		Kind:          kind,
		Scope:         scope,
		MerchantIDs:   merchantIDs,
		SecretVersion: secretVersion,
		SessionID:     sessionID,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = ti.Keys.signingKID
	s, err := tok.SignedString(ti.Keys.signing)
	return s, exp, err
}

// Verify checks an access token: only EdDSA, a known kid, our issuer and audience, and a
// present, unexpired exp. The error says why a token was refused, for logs only.
func (ti *TokenIssuer) Verify(token string) (*Claims, error) {
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(ti.Issuer),
		jwt.WithAudience(ti.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(ti.now),
	)
	claims := &Claims{}
	_, err := parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, ok := ti.Keys.verify[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return key, nil
	})
	if err != nil {
		return nil, err
	}
	if claims.Subject == "" {
		return nil, errors.New("token has no subject")
	}
	return claims, nil
}

// Sign signs tok with the current signing key, setting its kid.
func (ks *KeySet) Sign(tok *jwt.Token) (string, error) {
	tok.Header["kid"] = ks.signingKID
	return tok.SignedString(ks.signing)
}
