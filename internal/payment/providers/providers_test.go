package providers

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/payment"
)

type files struct{ privateKey, publicKey, certificate string }

func writeKeys(t *testing.T) files {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5157F09E), Subject: pkix.Name{CommonName: "Tenpay.com Root CA"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := files{filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem"), filepath.Join(dir, "cert.pem")}
	for path, block := range map[string]*pem.Block{
		f.privateKey:  {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)},
		f.publicKey:   {Type: "PUBLIC KEY", Bytes: pub},
		f.certificate: {Type: "CERTIFICATE", Bytes: cert},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func config(t *testing.T, vars map[string]string) payment.Config {
	t.Helper()
	cfg, err := payment.ConfigFromEnv(func(k string) string { return vars[k] }, false)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func names(t *testing.T, r *payment.Registry) map[payment.Method]string {
	out := map[payment.Method]string{}
	for _, m := range payment.Methods() {
		if p, err := r.For(m); err == nil {
			out[m] = p.Name()
		} else if !errors.Is(err, payment.ErrUnsupported) {
			t.Errorf("For(%s): %v", m, err)
		}
	}
	return out
}

func TestDevelopmentDefaultIsTheSandboxForEverything(t *testing.T) {
	r, sb, err := New(config(t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sb == nil {
		t.Fatal("no sandbox returned")
	}
	for m, name := range names(t, r) {
		if name != "SANDBOX" {
			t.Errorf("%s -> %s", m, name)
		}
	}
	if len(r.Methods()) != 4 {
		t.Errorf("methods %v", r.Methods())
	}
}

func TestConfiguredAdaptersServeTheirMethods(t *testing.T) {
	k := writeKeys(t)
	r, _, err := New(config(t, map[string]string{
		"ALIPAY_APP_ID": "2021000000000001", "ALIPAY_PRIVATE_KEY_FILE": k.privateKey, "ALIPAY_PUBLIC_KEY_FILE": k.publicKey,
		"WECHAT_MCH_ID": "1900000001", "WECHAT_APP_ID": "wxd678efh567hg6787", "WECHAT_API_V3_KEY": "a7cde1ef52d3f0d0b1a1c0e7f2a3b4c5",
		"WECHAT_SERIAL_NO": "ABC123", "WECHAT_PRIVATE_KEY_FILE": k.privateKey, "WECHAT_PLATFORM_CERT_FILE": k.certificate,
		"QQ_MCH_ID": "1900000109", "QQ_APP_ID": "1104606711", "QQ_API_KEY": "192006250b4c09247ec02edce69f6a2d",
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[payment.Method]string{payment.MethodAlipay: "ALIPAY", payment.MethodWeChatPay: "WECHAT", payment.MethodQQWallet: "QQ", payment.MethodBankCard: "SANDBOX"}
	got := names(t, r)
	for m, name := range want {
		if got[m] != name {
			t.Errorf("%s -> %s, want %s", m, got[m], name)
		}
	}
	for _, n := range []string{"alipay", "wechat", "qq", "sandbox"} {
		if _, err := r.Named(n); err != nil {
			t.Errorf("Named(%s): %v", n, err)
		}
	}
}

func TestWithoutTheSandboxUnconfiguredMethodsAreUnsupported(t *testing.T) {
	k := writeKeys(t)
	r, sb, err := New(config(t, map[string]string{
		"PAYMENT_SANDBOX": "false",
		"ALIPAY_APP_ID":   "2021000000000001", "ALIPAY_PRIVATE_KEY_FILE": k.privateKey, "ALIPAY_PUBLIC_KEY_FILE": k.publicKey,
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sb != nil {
		t.Error("sandbox returned while disabled")
	}
	if got := names(t, r); len(got) != 1 || got[payment.MethodAlipay] != "ALIPAY" {
		t.Errorf("methods %v", got)
	}
}

func TestBadKeyFilesAreReportedWithoutTheirContent(t *testing.T) {
	k := writeKeys(t)
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.pem")
	secret := "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCsecret"
	if err := os.WriteFile(broken, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := New(config(t, map[string]string{
		"ALIPAY_APP_ID": "2021000000000001", "ALIPAY_PRIVATE_KEY_FILE": broken, "ALIPAY_PUBLIC_KEY_FILE": k.publicKey,
		"WECHAT_MCH_ID": "1900000001", "WECHAT_APP_ID": "wx1", "WECHAT_API_V3_KEY": "a7cde1ef52d3f0d0b1a1c0e7f2a3b4c5",
		"WECHAT_SERIAL_NO": "ABC123", "WECHAT_PRIVATE_KEY_FILE": k.privateKey, "WECHAT_PLATFORM_CERT_FILE": k.publicKey,
	}), nil)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"ALIPAY_PRIVATE_KEY_FILE", "WECHAT_PLATFORM_SERIAL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), secret[10:30]) || strings.Contains(err.Error(), "a7cde1ef") {
		t.Errorf("error leaks a secret: %v", err)
	}
}
