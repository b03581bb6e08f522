package qq

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/payment"
)

const (
	mchID  = "1900000109"
	appID  = "1104606711"
	apiKey = "192006250b4c09247ec02edce69f6a2d"
)

func yuan(minor int64) money.Money { return money.Money{Minor: minor, Currency: "CNY"} }

// signOf is QQ Wallet's signature, written independently of gopay: non-empty fields but
// sign, sorted, k=v joined by &, then &key=API key; MD5 or HMAC-SHA256, upper-case hex.
func signOf(fields map[string]string, signType string) string {
	var keys []string
	for k, v := range fields {
		if k != "sign" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + fields[k] + "&")
	}
	b.WriteString("key=" + apiKey)
	if signType == SignHMACSHA256 {
		m := hmac.New(sha256.New, []byte(apiKey))
		m.Write([]byte(b.String()))
		return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
	}
	sum := md5.Sum([]byte(b.String()))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// render writes fields as QQ does: flat <xml> with CDATA values, in a fixed order.
func render(fields map[string]string) string {
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("<xml>")
	for _, k := range keys {
		b.WriteString("<" + k + "><![CDATA[" + fields[k] + "]]></" + k + ">")
	}
	b.WriteString("</xml>")
	return b.String()
}

func decode(t *testing.T, body []byte) map[string]string {
	var doc struct {
		Fields []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Errorf("server: request is not XML: %v", err)
	}
	out := map[string]string{}
	for _, f := range doc.Fields {
		out[f.XMLName.Local] = f.Value
	}
	return out
}

// server is a fake qpay.qq.com: it verifies each request's sign and answers signed XML.
type server struct {
	t        *testing.T
	signType string
	mu       sync.Mutex
	requests map[string]map[string]string // by path
	answer   func(path string, req map[string]string) map[string]string
	badSign  bool
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := decode(s.t, body)
	if got := signOf(req, s.signType); req["sign"] != got {
		s.t.Errorf("server: request sign %q, want %q", req["sign"], got)
	}
	if req["mch_id"] != mchID || len(req["nonce_str"]) < 16 {
		s.t.Errorf("server: request %v", req)
	}
	s.mu.Lock()
	if s.requests == nil {
		s.requests = map[string]map[string]string{}
	}
	s.requests[r.URL.Path] = req
	s.mu.Unlock()
	ans := s.answer(r.URL.Path, req)
	ans["nonce_str"] = "0bb5c5b0b81da5f2b2d6c3bb2b6f7f0e"
	ans["sign"] = signOf(ans, s.signType)
	if s.badSign {
		ans["sign"] = strings.Repeat("0", 32)
	}
	_, _ = io.WriteString(w, render(ans))
}

func (s *server) request(path string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

func ok(extra map[string]string) map[string]string {
	m := map[string]string{"return_code": "SUCCESS", "result_code": "SUCCESS", "appid": appID, "mch_id": mchID}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func start(t *testing.T, s *server, o Options) *Provider {
	t.Helper()
	s.t = t
	if s.signType == "" {
		s.signType = SignMD5
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	o.MchID, o.AppID, o.APIKey, o.SignType, o.GatewayURL, o.HTTPClient = mchID, appID, apiKey, s.signType, srv.URL, srv.Client()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func createRequest(ch payment.Channel) payment.CreateRequest {
	return payment.CreateRequest{
		PaymentRef: "PAY_000001", Amount: yuan(1250), Method: payment.MethodQQWallet, Subject: "订单 #1：两件 T 恤和一双袜子",
		Channel: ch, ClientIP: "203.0.113.7", NotifyURL: "https://shop.example.com/payments/notify/qq",
		ExpiresAt: time.Date(2025, 3, 1, 12, 15, 0, 0, time.UTC),
	}
}

func TestUnifiedOrder(t *testing.T) {
	for _, signType := range []string{SignMD5, SignHMACSHA256} {
		s := &server{signType: signType, answer: func(_ string, req map[string]string) map[string]string {
			if req["trade_type"] == "NATIVE" {
				return ok(map[string]string{"trade_type": "NATIVE", "prepay_id": "6V2dc3c3a2b5bbf1ae7ba14f7e1", "code_url": "https://qpay.qq.com/qr/5f3b0b4a"})
			}
			return ok(map[string]string{"trade_type": "MINIAPP", "prepay_id": "6V2dc3c3a2b5bbf1ae7ba14f7e1"})
		}}
		p := start(t, s, Options{})
		in, err := p.Create(context.Background(), createRequest(payment.ChannelNativeQR))
		if err != nil || in.Kind != payment.KindQRCode || in.QRCodeURL != "https://qpay.qq.com/qr/5f3b0b4a" {
			t.Fatalf("%s native: %+v, %v", signType, in, err)
		}
		req := s.request(unifiedOrderPath)
		want := map[string]string{"appid": appID, "out_trade_no": "PAY_000001", "fee_type": "CNY", "total_fee": "1250",
			"spbill_create_ip": "203.0.113.7", "trade_type": "NATIVE", "notify_url": createRequest("").NotifyURL, "time_expire": "20250301201500"}
		for k, v := range want {
			if req[k] != v {
				t.Errorf("%s: %s = %q, want %q", signType, k, req[k], v)
			}
		}
		if len(req["body"]) > 32 || !strings.HasPrefix(createRequest("").Subject, req["body"]) {
			t.Errorf("body %q is not a ≤32-byte prefix of the subject", req["body"])
		}
		if (signType == SignHMACSHA256) != (req["sign_type"] == SignHMACSHA256) {
			t.Errorf("%s: sign_type %q", signType, req["sign_type"])
		}

		in, err = p.Create(context.Background(), createRequest(payment.ChannelMiniProgram))
		if err != nil || in.MiniProgramParams["package"] != "prepay_id=6V2dc3c3a2b5bbf1ae7ba14f7e1" || in.MiniProgramParams["bargainor_id"] != mchID {
			t.Errorf("%s mini program: %+v, %v", signType, in, err)
		}
	}
}

func TestCreateRefuses(t *testing.T) {
	p := start(t, &server{answer: func(string, map[string]string) map[string]string { return ok(nil) }}, Options{})
	noIP := createRequest(payment.ChannelNativeQR)
	noIP.ClientIP = ""
	if _, err := p.Create(context.Background(), noIP); !errors.Is(err, payment.ErrInvalidRequest) {
		t.Errorf("without ClientIP: %v", err)
	}
	if _, err := p.Create(context.Background(), createRequest(payment.ChannelH5Redirect)); !errors.Is(err, payment.ErrUnsupported) {
		t.Errorf("H5: %v", err)
	}
}

func TestAnswersAreVerified(t *testing.T) {
	var answer map[string]string
	s := &server{answer: func(string, map[string]string) map[string]string { return answer }}
	p := start(t, s, Options{})

	answer = ok(map[string]string{"code_url": "https://qpay.qq.com/qr/x"})
	s.badSign = true
	if _, err := p.Create(context.Background(), createRequest(payment.ChannelNativeQR)); !errors.Is(err, payment.ErrInvalidSignature) {
		t.Errorf("bad sign: %v", err)
	}
	s.badSign = false
	answer = ok(map[string]string{"mch_id": "1900000999", "code_url": "https://qpay.qq.com/qr/x"})
	if _, err := p.Create(context.Background(), createRequest(payment.ChannelNativeQR)); !errors.Is(err, payment.ErrMismatch) {
		t.Errorf("another merchant: %v", err)
	}
	answer = map[string]string{"return_code": "FAIL", "return_msg": "签名失败"}
	if _, err := p.Create(context.Background(), createRequest(payment.ChannelNativeQR)); !errors.Is(err, payment.ErrProvider) {
		t.Errorf("return_code FAIL: %v", err)
	}
	answer = ok(map[string]string{"result_code": "FAIL", "err_code": "ORDERNOTEXIST", "err_code_des": "订单不存在"})
	if _, err := p.Query(context.Background(), "PAY_000001"); !errors.Is(err, payment.ErrNotFound) {
		t.Errorf("unknown order: %v", err)
	}
	answer = ok(map[string]string{"out_trade_no": "PAY_000001", "transaction_id": "1900000109471503011234567890",
		"trade_state": "SUCCESS", "total_fee": "1250", "fee_type": "CNY", "time_end": "20250301200000"})
	st, err := p.Query(context.Background(), "PAY_000001")
	if err != nil || st.Outcome != payment.OutcomeSucceeded || st.Amount != yuan(1250) || !st.PaidAt.Equal(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("Query = %+v, %v", st, err)
	}
}

func selfSigned(t *testing.T) *tls.Certificate {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: mchID}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	if err != nil {
		t.Fatal(err)
	}
	return &cert
}

func TestRefund(t *testing.T) {
	refund := payment.RefundRequest{PaymentRef: "PAY_000001", RefundRef: "RF_000001", Amount: yuan(500), Total: yuan(1250)}
	noCert := start(t, &server{answer: func(string, map[string]string) map[string]string { return ok(nil) }}, Options{})
	if _, err := noCert.Refund(context.Background(), refund); !errors.Is(err, payment.ErrUnsupported) {
		t.Errorf("without certificate: %v", err)
	}

	// The refund server demands our client certificate; we verify its certificate.
	s := &server{t: t, signType: SignMD5, answer: func(string, map[string]string) map[string]string {
		return ok(map[string]string{"out_trade_no": "PAY_000001", "out_refund_no": "RF_000001", "refund_id": "1091234567890", "refund_fee": "500"})
	}}
	var clientCN string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clientCN = r.TLS.PeerCertificates[0].Subject.CommonName
		s.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	o := Options{MchID: mchID, AppID: appID, APIKey: apiKey, GatewayURL: srv.URL, ClientCert: selfSigned(t),
		OpUserID: "1900000109", OpUserPassword: "operator-password", RootCAs: roots}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Refund(context.Background(), refund)
	if err != nil || res.Outcome != payment.OutcomePending || res.ProviderRefundRef != "1091234567890" {
		t.Fatalf("Refund = %+v, %v", res, err)
	}
	sum := md5.Sum([]byte("operator-password"))
	req := s.request(refundPath)
	if req["refund_fee"] != "500" || req["out_refund_no"] != "RF_000001" || req["op_user_id"] != "1900000109" || req["op_user_passwd"] != hex.EncodeToString(sum[:]) {
		t.Errorf("refund request %v", req)
	}
	if clientCN != mchID {
		t.Errorf("client certificate CN %q", clientCN)
	}
	o.RootCAs = nil // the system roots do not know the test server: refuse to talk to it
	untrusting, _ := New(o)
	if _, err := untrusting.Refund(context.Background(), refund); !errors.Is(err, payment.ErrProvider) {
		t.Errorf("unverified server: %v", err)
	}
	if _, err := New(Options{MchID: mchID, AppID: appID, APIKey: apiKey, ClientCert: selfSigned(t)}); err == nil {
		t.Error("certificate without operator accepted")
	}
}

// notification is a payment notification as QQ Wallet documents it, signed with signType.
func notification(signType string, change func(map[string]string)) map[string]string {
	f := map[string]string{
		"appid": appID, "mch_id": mchID, "nonce_str": "5d2b6c2a8db53831f7eda20af46e531c", "device_info": "",
		"trade_type": "NATIVE", "trade_state": "SUCCESS", "bank_type": "BALANCE", "fee_type": "CNY",
		"total_fee": "1250", "cash_fee": "1250", "coupon_fee": "0", "transaction_id": "1900000109471503011234567890",
		"out_trade_no": "PAY_000001", "attach": "", "time_end": "20250301200000", "openid": "1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D",
	}
	if change != nil {
		change(f)
	}
	f["sign"] = signOf(f, signType)
	return f
}

func post(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/payments/notify/qq", strings.NewReader(body))
	r.Header.Set("Content-Type", "text/xml")
	return r
}

func TestParseNotification(t *testing.T) {
	for _, signType := range []string{SignMD5, SignHMACSHA256} {
		p, err := New(Options{MchID: mchID, AppID: appID, APIKey: apiKey, SignType: signType})
		if err != nil {
			t.Fatal(err)
		}
		body := render(notification(signType, nil))
		n, err := p.ParseNotification(context.Background(), post(body))
		if err != nil {
			t.Fatalf("%s: %v", signType, err)
		}
		if n.Provider != Name || n.PaymentRef != "PAY_000001" || n.ProviderRef != "1900000109471503011234567890" || n.Amount != yuan(1250) ||
			n.Outcome != payment.OutcomeSucceeded || n.AppID != appID || n.MerchantID != mchID ||
			!n.PaidAt.Equal(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) || string(n.Raw) != body {
			t.Errorf("%s: notification %+v", signType, n)
		}
	}
}

func TestParseNotificationRejects(t *testing.T) {
	p, err := New(Options{MchID: mchID, AppID: appID, APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	tampered := notification(SignMD5, nil)
	tampered["total_fee"] = "1"
	hmacSigned := notification(SignHMACSHA256, nil)
	good := render(notification(SignMD5, nil))
	cases := []struct {
		name, body string
		want       error
	}{
		{"tampered total_fee", render(tampered), payment.ErrInvalidSignature},
		{"signed with the other algorithm", render(hmacSigned), payment.ErrInvalidSignature},
		{"unsigned", strings.NewReplacer("<sign>", "<unsigned>", "</sign>", "</unsigned>").Replace(good), payment.ErrInvalidSignature},
		{"another app", render(notification(SignMD5, func(f map[string]string) { f["appid"] = "1100000000" })), payment.ErrMismatch},
		{"another merchant", render(notification(SignMD5, func(f map[string]string) { f["mch_id"] = "1900000999" })), payment.ErrMismatch},
		{"yuan in total_fee", render(notification(SignMD5, func(f map[string]string) { f["total_fee"] = "12.50" })), payment.ErrMalformed},
		{"foreign currency", render(notification(SignMD5, func(f map[string]string) { f["fee_type"] = "USD" })), payment.ErrMalformed},
		{"repeated field", strings.Replace(good, "</xml>", "<total_fee>1</total_fee></xml>", 1), payment.ErrMalformed},
		{"nested element", strings.Replace(good, "<attach><![CDATA[]]></attach>", "<attach><x>1</x></attach>", 1), payment.ErrMalformed},
		{"other root", strings.Replace(strings.Replace(good, "<xml>", "<doc>", 1), "</xml>", "</doc>", 1), payment.ErrMalformed},
		{"not XML", `{"total_fee":1250}`, payment.ErrMalformed},
	}
	for _, tc := range cases {
		if _, err := p.ParseNotification(context.Background(), post(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestAcknowledge(t *testing.T) {
	p, _ := New(Options{MchID: mchID, AppID: appID, APIKey: apiKey})
	w := httptest.NewRecorder()
	p.Acknowledge(w, nil, nil)
	if w.Code != 200 || w.Body.String() != "<xml><return_code>SUCCESS</return_code></xml>" {
		t.Errorf("success: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	p.Acknowledge(w, nil, payment.ErrInvalidSignature)
	if w.Code != 401 || w.Body.String() != "<xml><return_code>FAIL</return_code><return_msg>invalid signature</return_msg></xml>" {
		t.Errorf("failure: %d %s", w.Code, w.Body)
	}
}
