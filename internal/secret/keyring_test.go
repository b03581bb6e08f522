package secret_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/secret"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyringSealsOpensAndRotates(t *testing.T) {
	t.Parallel()
	k1, k2 := newKey(t), newKey(t)
	r1, err := secret.NewKeyring(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := r1.Seal([]byte("JBSWY3DPEHPK3PXP"), "row:1")
	if err != nil {
		t.Fatal(err)
	}
	if !secret.IsSealed(sealed) || secret.KeyOf(sealed) != secret.KeyID(k1) || strings.Contains(sealed, "JBSWY3DPEHPK3PXP") {
		t.Fatalf("sealed = %q", sealed)
	}
	again, _ := r1.Seal([]byte("JBSWY3DPEHPK3PXP"), "row:1")
	if again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
	plain, current, err := r1.Open(sealed, "row:1")
	if err != nil || string(plain) != "JBSWY3DPEHPK3PXP" || !current {
		t.Fatalf("Open = %q, %v, %v", plain, current, err)
	}
	if _, _, err := r1.Open(sealed, "row:2"); err == nil {
		t.Fatal("a value moved to another row opened")
	}
	damaged := sealed[:len(sealed)-2] + "AA"
	if _, _, err := r1.Open(damaged, "row:1"); err == nil {
		t.Fatal("a damaged value opened")
	}
	// Rotation: the new keyring opens the old key's values and says they are not current.
	r2, err := secret.NewKeyring(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	plain, current, err = r2.Open(sealed, "row:1")
	if err != nil || string(plain) != "JBSWY3DPEHPK3PXP" || current {
		t.Fatalf("Open under the rotated keyring = %q, %v, %v", plain, current, err)
	}
	// A keyring without the key says which key is missing.
	r3, _ := secret.NewKeyring(k2)
	if _, _, err := r3.Open(sealed, "row:1"); !errors.Is(err, secret.ErrUnknownKey) || !strings.Contains(err.Error(), secret.KeyID(k1)) {
		t.Fatalf("Open without the key: %v", err)
	}
	for _, bad := range []string{"", "JBSWY3DPEHPK3PXP", "enc1:", "enc1:" + secret.KeyID(k1) + ":!!"} {
		if _, _, err := r1.Open(bad, "row:1"); err == nil {
			t.Fatalf("Open(%q) succeeded", bad)
		}
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	k := newKey(t)
	for _, s := range []string{base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), hex.EncodeToString(k), " " + hex.EncodeToString(k) + "\n"} {
		got, err := secret.ParseKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Fatalf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "short", base64.StdEncoding.EncodeToString(k[:16]), hex.EncodeToString(append(k, 1))} {
		if _, err := secret.ParseKey(s); err == nil {
			t.Fatalf("ParseKey(%q) accepted", s)
		}
	}
}
