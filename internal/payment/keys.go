package payment

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// ReadRSAPrivateKey reads an RSA private key file: PEM (PKCS#1 or PKCS#8) or the bare
// base64 DER that Alipay's key tool writes. Errors name the file, never its content.
func ReadRSAPrivateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	k, err := ParseRSAPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParseRSAPrivateKey parses PEM (PKCS#1 or PKCS#8) or bare base64 DER.
func ParseRSAPrivateKey(b []byte) (*rsa.PrivateKey, error) {
	der, err := derOf(b)
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("not an RSA private key in PKCS#1 or PKCS#8")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("not an RSA private key")
	}
	return rk, nil
}

// ReadRSAPublicKey reads an RSA public key file: a PEM public key (PKIX or PKCS#1), a PEM
// certificate, or bare base64 PKIX DER as Alipay shows it. For a certificate it also
// returns its serial number in upper-case hex (WeChat Pay's platform certificate serial).
func ReadRSAPublicKey(path string) (key *rsa.PublicKey, certSerial string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading public key: %w", err)
	}
	key, certSerial, err = ParseRSAPublicKey(b)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return key, certSerial, nil
}

// ParseRSAPublicKey parses what ReadRSAPublicKey reads.
func ParseRSAPublicKey(b []byte) (key *rsa.PublicKey, certSerial string, err error) {
	if block, _ := pem.Decode(b); block != nil && block.Type == "CERTIFICATE" {
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, "", fmt.Errorf("invalid certificate: %v", err)
		}
		k, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, "", fmt.Errorf("certificate key is not RSA")
		}
		return k, strings.ToUpper(cert.SerialNumber.Text(16)), nil
	}
	der, err := derOf(b)
	if err != nil {
		return nil, "", err
	}
	if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return k, "", nil
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, "", fmt.Errorf("not an RSA public key")
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, "", fmt.Errorf("not an RSA public key")
	}
	return rk, "", nil
}

func derOf(b []byte) ([]byte, error) {
	if block, _ := pem.Decode(b); block != nil {
		return block.Bytes, nil
	}
	clean := strings.Join(strings.Fields(string(b)), "")
	der, err := base64.StdEncoding.DecodeString(clean)
	if err != nil || len(der) == 0 {
		return nil, fmt.Errorf("neither PEM nor base64 DER")
	}
	return der, nil
}

// ShortenRunes cuts s to at most n characters, for provider description limits.
func ShortenRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// ShortenBytes cuts s to at most n bytes without splitting a character.
func ShortenBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
