package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Keyring seals small values for storage at rest with AES-256-GCM under its current key,
// and opens values sealed under the current key or any of its old ones (so that a key can
// be rotated: values sealed under an old key are opened, then sealed again under the new
// one). A sealed value reads
//
//	enc1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>
//
// where the key id is the first 8 hex digits of the key's SHA-256, and the additional
// data binds it to its row (a value copied to another row does not open there).
type Keyring struct {
	current string
	keys    map[string]cipher.AEAD
}

// sealedPrefix starts every sealed value.
const sealedPrefix = "enc1:"

// ErrUnknownKey is returned by Open for a value sealed under a key the keyring lacks.
var ErrUnknownKey = errors.New("sealed under a key that is not configured")

// ParseKey decodes a key given as standard or URL-safe base64 (padded or not) or as hex;
// it must hold 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("must be 32 bytes in base64 or hex (openssl rand -base64 32)")
}

// NewKeyring returns a keyring sealing under current and opening under current and old.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{current}, old...) {
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(key)
		if i == 0 {
			k.current = id
		}
		k.keys[id] = aead
	}
	return k, nil
}

// KeyID names key in sealed values.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// IsSealed reports whether stored is a sealed value (of any key).
func IsSealed(stored string) bool { return strings.HasPrefix(stored, sealedPrefix) }

// Seal seals plain under the current key, bound to aad.
func (k *Keyring) Seal(plain []byte, aad string) (string, error) {
	aead := k.keys[k.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, plain, []byte(aad))
	return sealedPrefix + k.current + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open opens a value Seal returned for aad; current reports whether it was sealed under
// the current key (false: seal it again).
func (k *Keyring) Open(stored, aad string) (plain []byte, current bool, err error) {
	rest, ok := strings.CutPrefix(stored, sealedPrefix)
	id, body, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return nil, false, errors.New("not a sealed value")
	}
	aead := k.keys[id]
	if aead == nil {
		return nil, false, fmt.Errorf("key %s: %w", id, ErrUnknownKey)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, false, errors.New("sealed value is damaged")
	}
	n := aead.NonceSize()
	plain, err = aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return nil, false, fmt.Errorf("sealed value does not open under key %s (damaged, or moved from another row)", id)
	}
	return plain, id == k.current, nil
}

// KeyOf returns the key id a sealed value names ("" when stored is not sealed).
func KeyOf(stored string) string {
	rest, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}
