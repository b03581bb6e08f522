package payment

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/money"
)

func cnyM(minor int64) money.Money { return money.Money{Minor: minor, Currency: "CNY"} }

func TestParseYuanIsExact(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"0.01", 1}, {"0.1", 10}, {"0.10", 10}, {"1", 100}, {"12.5", 1250}, {"12.50", 1250},
		{"19.99", 1999}, {"0.29", 29}, {"0.57", 57}, {"1.13", 113}, // classic float64 traps
		{"100000000.00", 10_000_000_000}, {"999999999999.99", 99_999_999_999_999},
	}
	for _, tc := range good {
		got, err := ParseYuan(tc.in)
		if err != nil || got != cnyM(tc.want) {
			t.Errorf("ParseYuan(%q) = %v, %v; want %d fen", tc.in, got, err, tc.want)
		}
	}
	bad := []string{"", " 1", "1 ", "-1", "+1", "01", "00.10", "1.", ".5", "1.234", "1e3", "1,00",
		"0x10", "NaN", "１", "1.0.0", "1000000000000", "12.5\n"}
	for _, in := range bad {
		if got, err := ParseYuan(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseYuan(%q) = %v, %v; want ErrMalformed", in, got, err)
		}
	}
}

func TestYuanStringRoundTripsEveryFen(t *testing.T) {
	check := func(minor int64) {
		s, err := YuanString(cnyM(minor))
		if err != nil {
			t.Fatalf("YuanString(%d): %v", minor, err)
		}
		back, err := ParseYuan(s)
		if err != nil || back.Minor != minor {
			t.Fatalf("%d fen -> %q -> %v, %v", minor, s, back, err)
		}
	}
	for minor := int64(1); minor <= 100_000; minor++ {
		check(minor)
	}
	for _, minor := range []int64{123_456_789, 99_999_999_999_999} {
		check(minor)
	}
	if s, _ := YuanString(cnyM(1250)); s != "12.50" {
		t.Errorf("YuanString(1250) = %q, want 12.50", s)
	}
}

func TestYuanStringAndFenRefuseWhatProvidersCannotTake(t *testing.T) {
	cases := []struct {
		m    money.Money
		want error
	}{
		{money.Money{Minor: 100, Currency: "USD"}, ErrUnsupported},
		{cnyM(0), ErrInvalidRequest},
		{cnyM(-1), ErrInvalidRequest},
	}
	for _, tc := range cases {
		if _, err := YuanString(tc.m); !errors.Is(err, tc.want) {
			t.Errorf("YuanString(%v) = %v, want %v", tc.m, err, tc.want)
		}
		if _, err := Fen(tc.m); !errors.Is(err, tc.want) {
			t.Errorf("Fen(%v) = %v, want %v", tc.m, err, tc.want)
		}
	}
}

func TestParseFenIsExact(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1": 1, "1250": 1250, "99999999999999": 99_999_999_999_999} {
		if got, err := ParseFen(in); err != nil || got != cnyM(want) {
			t.Errorf("ParseFen(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "01", "-1", "+1", "1.0", "12.5", "1e2", " 1", "999999999999999"} {
		if _, err := ParseFen(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseFen(%q) = %v, want ErrMalformed", in, err)
		}
	}
	if _, err := FenMoney(-1); !errors.Is(err, ErrMalformed) {
		t.Errorf("FenMoney(-1) = %v", err)
	}
}

func validCreate() CreateRequest {
	return CreateRequest{
		PaymentRef: "PAY_2024_0001", Amount: cnyM(1250), Method: MethodAlipay, Subject: "Order 1",
		Channel: ChannelNativeQR, NotifyURL: "https://api.example.com/payments/notify/alipay",
	}
}

func TestCreateRequestValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(*CreateRequest)
		ok     bool
	}{
		{"valid", func(*CreateRequest) {}, true},
		{"short ref", func(r *CreateRequest) { r.PaymentRef = "P1" }, false},
		{"long ref", func(r *CreateRequest) { r.PaymentRef = strings.Repeat("A", 33) }, false},
		{"ref with dot", func(r *CreateRequest) { r.PaymentRef = "PAY.000001" }, false},
		{"zero amount", func(r *CreateRequest) { r.Amount.Minor = 0 }, false},
		{"lower-case currency", func(r *CreateRequest) { r.Amount.Currency = "cny" }, false},
		{"unknown method", func(r *CreateRequest) { r.Method = "CASH" }, false},
		{"unknown channel", func(r *CreateRequest) { r.Channel = "FAX" }, false},
		{"blank subject", func(r *CreateRequest) { r.Subject = "  " }, false},
		{"relative notify URL", func(r *CreateRequest) { r.NotifyURL = "/payments/notify/alipay" }, false},
		{"ftp return URL", func(r *CreateRequest) { r.ReturnURL = "ftp://x/y" }, false},
	}
	for _, tc := range cases {
		r := validCreate()
		tc.change(&r)
		err := r.Validate()
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: Validate() = %v", tc.name, err)
		}
	}
}

func TestRefundRequestValidate(t *testing.T) {
	base := RefundRequest{PaymentRef: "PAY_000001", RefundRef: "RF_000001", Amount: cnyM(500), Total: cnyM(1250)}
	if err := base.Validate(); err != nil {
		t.Fatalf("valid refund: %v", err)
	}
	for name, change := range map[string]func(*RefundRequest){
		"more than total":  func(r *RefundRequest) { r.Amount = cnyM(1251) },
		"zero":             func(r *RefundRequest) { r.Amount = cnyM(0) },
		"mixed currencies": func(r *RefundRequest) { r.Total.Currency = "USD" },
		"bad refund ref":   func(r *RefundRequest) { r.RefundRef = "x" },
	} {
		r := base
		change(&r)
		if err := r.Validate(); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: Validate() = %v", name, err)
		}
	}
}

type namedProvider struct{ name string }

func (p namedProvider) Name() string { return p.name }
func (namedProvider) Create(context.Context, CreateRequest) (*Instructions, error) {
	return nil, nil
}
func (namedProvider) ParseNotification(context.Context, *http.Request) (*Notification, error) {
	return nil, nil
}
func (namedProvider) Acknowledge(http.ResponseWriter, *Notification, error)        {}
func (namedProvider) Query(context.Context, string) (*Status, error)               { return nil, nil }
func (namedProvider) Refund(context.Context, RefundRequest) (*RefundResult, error) { return nil, nil }

func TestRegistryFallsBackToTheSandbox(t *testing.T) {
	sandbox, alipay := namedProvider{"SANDBOX"}, namedProvider{"ALIPAY"}
	r := NewRegistry(sandbox, map[Method]Provider{MethodAlipay: alipay})
	for m, want := range map[Method]string{MethodAlipay: "ALIPAY", MethodWeChatPay: "SANDBOX", MethodQQWallet: "SANDBOX", MethodBankCard: "SANDBOX"} {
		p, err := r.For(m)
		if err != nil || p.Name() != want {
			t.Errorf("For(%s) = %v, %v; want %s", m, p, err, want)
		}
	}
	if _, err := r.For("CASH"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("For(CASH) = %v", err)
	}
	if p, err := r.Named("alipay"); err != nil || p.Name() != "ALIPAY" {
		t.Errorf("Named(alipay) = %v, %v", p, err)
	}
	if p, err := r.Named("sandbox"); err != nil || p.Name() != "SANDBOX" {
		t.Errorf("Named(sandbox) = %v, %v", p, err)
	}

	noSandbox := NewRegistry(nil, map[Method]Provider{MethodAlipay: alipay})
	if _, err := noSandbox.For(MethodBankCard); !errors.Is(err, ErrUnsupported) {
		t.Errorf("without sandbox, For(BANK_CARD) = %v", err)
	}
	if got := noSandbox.Methods(); len(got) != 1 || got[0] != MethodAlipay {
		t.Errorf("Methods() = %v", got)
	}
	if _, err := noSandbox.Named("sandbox"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("without sandbox, Named(sandbox) = %v", err)
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnvDefaults(t *testing.T) {
	dev, err := ConfigFromEnv(env(nil), false)
	if err != nil {
		t.Fatal(err)
	}
	if !dev.Sandbox.Enabled || dev.Sandbox.Secret != DevelopmentSandboxSecret || dev.Sandbox.Tolerance != 5*time.Minute {
		t.Errorf("development sandbox = %+v", dev.Sandbox)
	}
	if dev.Alipay.Enabled() || dev.WeChat.Enabled() || dev.QQ.Enabled() {
		t.Error("real adapters must be off unless configured")
	}
	if got := dev.NotifyURL("SANDBOX"); got != "http://localhost:8080/payments/notify/sandbox" {
		t.Errorf("NotifyURL = %q", got)
	}

	prod, err := ConfigFromEnv(env(nil), true)
	if err != nil {
		t.Fatal(err)
	}
	if prod.Sandbox.Enabled || !prod.Alipay.Production {
		t.Errorf("production: sandbox %v, alipay production %v", prod.Sandbox.Enabled, prod.Alipay.Production)
	}
	if _, err := ConfigFromEnv(env(map[string]string{"PAYMENT_SANDBOX": "true"}), true); err == nil ||
		!strings.Contains(err.Error(), "PAYMENT_SANDBOX_SECRET") {
		t.Errorf("sandbox in production without a secret: %v", err)
	}
}

func TestConfigFromEnvNamesEveryBadVariable(t *testing.T) {
	_, err := ConfigFromEnv(env(map[string]string{
		"PAYMENT_SANDBOX":   "maybe",
		"ALIPAY_APP_ID":     "2021000000000000",
		"WECHAT_MCH_ID":     "1900000001",
		"WECHAT_API_V3_KEY": "short",
		"QQ_MCH_ID":         "1900000109",
		"QQ_SIGN_TYPE":      "SHA1",
		"QQ_CERT_FILE":      "/x.pem",
	}), false)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, name := range []string{"PAYMENT_SANDBOX"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	_, err = ConfigFromEnv(env(map[string]string{
		"ALIPAY_APP_ID": "2021000000000000", "WECHAT_MCH_ID": "1900000001", "WECHAT_API_V3_KEY": "short",
		"QQ_MCH_ID": "1900000109", "QQ_SIGN_TYPE": "SHA1", "QQ_CERT_FILE": "/x.pem",
	}), false)
	for _, name := range []string{"ALIPAY_PRIVATE_KEY_FILE", "ALIPAY_PUBLIC_KEY_FILE", "WECHAT_APP_ID",
		"WECHAT_SERIAL_NO", "WECHAT_PRIVATE_KEY_FILE", "WECHAT_PLATFORM_CERT_FILE", "WECHAT_API_V3_KEY",
		"QQ_APP_ID", "QQ_API_KEY", "QQ_SIGN_TYPE", "QQ_CERT_FILE"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	cfg, err := ConfigFromEnv(env(map[string]string{
		"PAYMENT_SANDBOX_SECRET": "sandbox-secret-sandbox-secret-sandbox-secret",
		"QQ_MCH_ID":              "1900000109", "QQ_APP_ID": "1104606711", "QQ_API_KEY": key,
		"WECHAT_MCH_ID": "1900000001", "WECHAT_APP_ID": "wx1", "WECHAT_API_V3_KEY": key,
		"WECHAT_SERIAL_NO": "ABC", "WECHAT_PRIVATE_KEY_FILE": "/k", "WECHAT_PLATFORM_CERT_FILE": "/c",
	}), false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.QQ.APIKey.Reveal() != key {
		t.Fatal("Reveal lost the value")
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "payment", cfg, "key", cfg.QQ.APIKey)
	js, _ := json.Marshal(cfg)
	for _, out := range []string{
		fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%s %q %x", cfg.QQ.APIKey, cfg.QQ.APIKey, cfg.QQ.APIKey),
		string(js), logged.String(),
	} {
		if strings.Contains(out, key) || strings.Contains(out, "sandbox-secret") {
			t.Errorf("secret printed: %s", out)
		}
	}
}

func TestRejection(t *testing.T) {
	cases := []struct {
		err    error
		status int
	}{
		{fmt.Errorf("x: %w", ErrInvalidSignature), 401},
		{fmt.Errorf("x: %w", ErrUnknownKey), 401},
		{fmt.Errorf("x: %w", ErrExpired), 401},
		{fmt.Errorf("x: %w", ErrMismatch), 400},
		{fmt.Errorf("x: %w", ErrMalformed), 400},
		{errors.New("database is down: password=hunter2"), 500},
	}
	for _, tc := range cases {
		status, reason := Rejection(tc.err)
		if status != tc.status || strings.Contains(reason, "hunter2") {
			t.Errorf("Rejection(%v) = %d %q", tc.err, status, reason)
		}
	}
}

func TestKeyFilesInEveryFormatProvidersUse(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(key)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	pkix, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5157F09EFDC096DE), Subject: pkixName(), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, content := range map[string][]byte{
		"pkcs1.pem": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: pkcs1}),
		"pkcs8.pem": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		"bare.txt":  []byte(base64.StdEncoding.EncodeToString(pkcs1) + "\n"),
	} {
		got, err := ReadRSAPrivateKey(write(name, content))
		if err != nil || !got.Equal(key) {
			t.Errorf("private %s: %v", name, err)
		}
	}
	for name, content := range map[string][]byte{
		"pub.pem":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"bare.pub": []byte(base64.StdEncoding.EncodeToString(pkix)),
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}),
	} {
		got, serial, err := ReadRSAPublicKey(write(name, content))
		if err != nil || !got.Equal(&key.PublicKey) {
			t.Errorf("public %s: %v", name, err)
		}
		if name == "cert.pem" && serial != "5157F09EFDC096DE" {
			t.Errorf("certificate serial = %q", serial)
		}
	}
	// A broken key file must not leak its content into the error.
	secret := "MIIEsecretsecretsecretsecret"
	_, err = ReadRSAPrivateKey(write("broken.pem", []byte("-----BEGIN RSA PRIVATE KEY-----\n"+secret+"\n-----END RSA PRIVATE KEY-----\n")))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("broken key: %v", err)
	}
}

func pkixName() pkix.Name { return pkix.Name{CommonName: "test platform"} }

func TestShorten(t *testing.T) {
	if got := ShortenRunes("订单支付测试", 4); got != "订单支付" {
		t.Errorf("ShortenRunes = %q", got)
	}
	if got := ShortenBytes("订单支付", 7); got != "订单" {
		t.Errorf("ShortenBytes = %q", got)
	}
	if got := ShortenBytes("abc", 32); got != "abc" {
		t.Errorf("ShortenBytes short = %q", got)
	}
}
