package wechat

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/payment"
)

const (
	mchID          = "1900000001"
	appID          = "wxd678efh567hg6787"
	merchantSerial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	platformSerial = "PUB_KEY_ID_0114232134912410000000000000"
	apiV3Key       = "a7cde1ef52d3f0d0b1a1c0e7f2a3b4c5"
)

var (
	keysOnce                  sync.Once
	merchantKey, platformKey  *rsa.PrivateKey
	now                       = time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)
	yuan                      = func(minor int64) money.Money { return money.Money{Minor: minor, Currency: "CNY"} }
	authorizationParamPattern = regexp.MustCompile(`(\w+)="([^"]*)"`)
)

func keys() {
	keysOnce.Do(func() {
		var err error
		if merchantKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if platformKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
}

func sign(k *rsa.PrivateKey, msg string) string {
	sum := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func verify(k *rsa.PublicKey, msg, sig string) error {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(msg))
	return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], raw)
}

// api is a fake WeChat Pay API v3: it checks every request's Authorization header the
// way WeChat does and signs its answers with the platform key.
type api struct {
	t      *testing.T
	mu     sync.Mutex
	bodies map[string]map[string]any // by path
	answer func(path string) (int, string)
	serial string // signs answers as this serial (default platformSerial)
	tamper bool
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "WECHATPAY2-SHA256-RSA2048 ") {
		a.t.Errorf("api: Authorization %q", auth)
	}
	p := map[string]string{}
	for _, m := range authorizationParamPattern.FindAllStringSubmatch(auth, -1) {
		p[m[1]] = m[2]
	}
	if p["mchid"] != mchID || p["serial_no"] != merchantSerial || len(p["nonce_str"]) < 16 {
		a.t.Errorf("api: Authorization params %v", p)
	}
	if ts, err := strconv.ParseInt(p["timestamp"], 10, 64); err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		a.t.Errorf("api: Authorization timestamp %q", p["timestamp"])
	}
	msg := r.Method + "\n" + r.URL.RequestURI() + "\n" + p["timestamp"] + "\n" + p["nonce_str"] + "\n" + string(body) + "\n"
	if err := verify(&merchantKey.PublicKey, msg, p["signature"]); err != nil {
		a.t.Errorf("api: Authorization signature does not verify: %v", err)
	}
	if r.Header.Get("Wechatpay-Serial") != platformSerial {
		a.t.Errorf("api: Wechatpay-Serial %q", r.Header.Get("Wechatpay-Serial"))
	}
	if len(body) > 0 {
		var b map[string]any
		if err := json.Unmarshal(body, &b); err != nil {
			a.t.Errorf("api: body: %v", err)
		}
		a.mu.Lock()
		if a.bodies == nil {
			a.bodies = map[string]map[string]any{}
		}
		a.bodies[r.URL.Path] = b
		a.mu.Unlock()
	}
	status, out := a.answer(r.URL.Path)
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "593BEC0C930BF1AFEB40B4A08C8FB242"
	serial := a.serial
	if serial == "" {
		serial = platformSerial
	}
	w.Header().Set(HeaderTimestamp, ts)
	w.Header().Set(HeaderNonce, nonce)
	w.Header().Set(HeaderSerial, serial)
	w.Header().Set(HeaderSignature, sign(platformKey, ts+"\n"+nonce+"\n"+out+"\n"))
	if a.tamper {
		out = strings.Replace(out, "weixin", "evil", 1)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, out)
}

func (a *api) body(path string) map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bodies[path]
}

func newProvider(t testing.TB, baseURL string) *Provider {
	t.Helper()
	keys()
	p, err := New(Options{
		MchID: mchID, AppID: appID, APIv3Key: []byte(apiV3Key), SerialNo: merchantSerial, PrivateKey: merchantKey,
		PlatformKeys: map[string]*rsa.PublicKey{platformSerial: &platformKey.PublicKey}, BaseURL: baseURL,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func start(t *testing.T, a *api) *Provider {
	t.Helper()
	a.t = t
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return newProvider(t, srv.URL)
}

func createRequest(ch payment.Channel) payment.CreateRequest {
	return payment.CreateRequest{
		PaymentRef: "PAY_000001", Amount: yuan(1250), Method: payment.MethodWeChatPay, Subject: "Order #1 — 两件 T 恤",
		Channel: ch, ClientIP: "203.0.113.7", OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		NotifyURL: "https://shop.example.com/payments/notify/wechat", ReturnURL: "https://shop.example.com/orders/1",
		ExpiresAt: time.Date(2025, 3, 1, 12, 15, 0, 0, time.UTC),
	}
}

func TestNativeSendsASignedOrder(t *testing.T) {
	a := &api{answer: func(string) (int, string) {
		return 200, `{"code_url":"weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00"}`
	}}
	p := start(t, a)
	in, err := p.Create(context.Background(), createRequest(payment.ChannelNativeQR))
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != payment.KindQRCode || in.QRCodeURL != "weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00" {
		t.Errorf("instructions %+v", in)
	}
	b := a.body("/v3/pay/transactions/native")
	amount, _ := b["amount"].(map[string]any)
	if b["appid"] != appID || b["mchid"] != mchID || b["out_trade_no"] != "PAY_000001" || b["notify_url"] != createRequest("").NotifyURL ||
		amount["total"] != float64(1250) || amount["currency"] != "CNY" || b["time_expire"] != "2025-03-01T20:15:00+08:00" {
		t.Errorf("order body %v", b)
	}
}

func TestMiniProgramParamsCarryAValidPaySign(t *testing.T) {
	p := start(t, &api{answer: func(string) (int, string) { return 200, `{"prepay_id":"wx201410272009395522657a690389285100"}` }})
	in, err := p.Create(context.Background(), createRequest(payment.ChannelMiniProgram))
	if err != nil {
		t.Fatal(err)
	}
	m := in.MiniProgramParams
	if in.Kind != payment.KindMiniProgram || m["appId"] != appID || m["package"] != "prepay_id=wx201410272009395522657a690389285100" || m["signType"] != "RSA" {
		t.Fatalf("params %v", m)
	}
	msg := m["appId"] + "\n" + m["timeStamp"] + "\n" + m["nonceStr"] + "\n" + m["package"] + "\n"
	if err := verify(&merchantKey.PublicKey, msg, m["paySign"]); err != nil {
		t.Errorf("paySign does not verify: %v", err)
	}
	noOpenID := createRequest(payment.ChannelMiniProgram)
	noOpenID.OpenID = ""
	if _, err := p.Create(context.Background(), noOpenID); !errors.Is(err, payment.ErrInvalidRequest) {
		t.Errorf("without OpenID: %v", err)
	}
}

func TestH5AndAppInstructions(t *testing.T) {
	a := &api{answer: func(path string) (int, string) {
		if strings.HasSuffix(path, "/h5") {
			return 200, `{"h5_url":"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016121516420242444321ca0631331346&package=1405458241"}`
		}
		return 200, `{"prepay_id":"wx201410272009395522657a690389285100"}`
	}}
	p := start(t, a)
	in, err := p.Create(context.Background(), createRequest(payment.ChannelH5Redirect))
	if err != nil || in.Kind != payment.KindRedirect || !strings.HasSuffix(in.RedirectURL, "&redirect_url=https%3A%2F%2Fshop.example.com%2Forders%2F1") {
		t.Errorf("h5: %+v, %v", in, err)
	}
	scene, _ := a.body("/v3/pay/transactions/h5")["scene_info"].(map[string]any)
	if scene["payer_client_ip"] != "203.0.113.7" {
		t.Errorf("h5 scene_info %v", scene)
	}
	in, err = p.Create(context.Background(), createRequest(payment.ChannelApp))
	if err != nil {
		t.Fatal(err)
	}
	m := in.AppParams
	if m["partnerid"] != mchID || m["package"] != "Sign=WXPay" {
		t.Errorf("app params %v", m)
	}
	if err := verify(&merchantKey.PublicKey, m["appid"]+"\n"+m["timestamp"]+"\n"+m["noncestr"]+"\n"+m["prepayid"]+"\n", m["sign"]); err != nil {
		t.Errorf("app sign does not verify: %v", err)
	}
	if _, err := p.Create(context.Background(), createRequest(payment.ChannelPageRedirect)); !errors.Is(err, payment.ErrUnsupported) {
		t.Errorf("page redirect: %v", err)
	}
}

func TestAnswersMustBeSignedByAConfiguredPlatformKey(t *testing.T) {
	a := &api{answer: func(string) (int, string) { return 200, `{"code_url":"weixin://wxpay/bizpayurl/up?pr=NwY5Mz9"}` }}
	p := start(t, a)
	a.tamper = true
	if _, err := p.Create(context.Background(), createRequest(payment.ChannelNativeQR)); !errors.Is(err, payment.ErrInvalidSignature) {
		t.Errorf("tampered answer: %v", err)
	}
	a.tamper, a.serial = false, "PUB_KEY_ID_OTHER"
	if _, err := p.Create(context.Background(), createRequest(payment.ChannelNativeQR)); !errors.Is(err, payment.ErrUnknownKey) {
		t.Errorf("unknown serial: %v", err)
	}
}

func TestErrorAnswersAreClassified(t *testing.T) {
	var status int
	var body string
	p := start(t, &api{answer: func(string) (int, string) { return status, body }})
	cases := []struct {
		status int
		body   string
		want   error
	}{
		{400, `{"code":"PARAM_ERROR","message":"参数错误"}`, payment.ErrDeclined},
		{403, `{"code":"ORDERPAID","message":"该订单已支付"}`, payment.ErrDeclined},
		{429, `{"code":"FREQUENCY_LIMITED","message":"频率超限"}`, payment.ErrProvider},
		{500, `{"code":"SYSTEM_ERROR","message":"系统错误"}`, payment.ErrProvider},
	}
	for _, tc := range cases {
		status, body = tc.status, tc.body
		if _, err := p.Create(context.Background(), createRequest(payment.ChannelNativeQR)); !errors.Is(err, tc.want) {
			t.Errorf("HTTP %d: %v, want %v", tc.status, err, tc.want)
		}
	}
	status, body = 404, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`
	if _, err := p.Query(context.Background(), "PAY_000001"); !errors.Is(err, payment.ErrNotFound) {
		t.Errorf("query unknown order: %v", err)
	}
}

func TestQueryAndRefund(t *testing.T) {
	var body string
	a := &api{answer: func(string) (int, string) { return 200, body }}
	p := start(t, a)
	body = `{"appid":"` + appID + `","mchid":"` + mchID + `","out_trade_no":"PAY_000001","transaction_id":"4200000001202503011234567890","trade_type":"NATIVE","trade_state":"SUCCESS","trade_state_desc":"支付成功","success_time":"2025-03-01T20:00:00+08:00","payer":{"openid":"o1"},"amount":{"total":1250,"payer_total":1250,"currency":"CNY","payer_currency":"CNY"}}`
	st, err := p.Query(context.Background(), "PAY_000001")
	if err != nil || st.Outcome != payment.OutcomeSucceeded || st.Amount != yuan(1250) || st.ProviderRef != "4200000001202503011234567890" ||
		!st.PaidAt.Equal(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("Query = %+v, %v", st, err)
	}
	body = strings.Replace(body, mchID, "1900000999", 1)
	if _, err := p.Query(context.Background(), "PAY_000001"); !errors.Is(err, payment.ErrMismatch) {
		t.Errorf("query for another merchant: %v", err)
	}

	refund := payment.RefundRequest{PaymentRef: "PAY_000001", RefundRef: "RF_000001", Amount: yuan(500), Total: yuan(1250), Reason: "尺码不合适"}
	for status, want := range map[string]payment.Outcome{"SUCCESS": payment.OutcomeSucceeded, "PROCESSING": payment.OutcomePending} {
		body = `{"refund_id":"50000000382019052709732678859","out_refund_no":"RF_000001","transaction_id":"4200000001202503011234567890","out_trade_no":"PAY_000001","channel":"ORIGINAL","status":"` + status + `","amount":{"total":1250,"refund":500,"payer_total":1250,"payer_refund":500,"currency":"CNY"}}`
		res, err := p.Refund(context.Background(), refund)
		if err != nil || res.Outcome != want || res.ProviderRefundRef != "50000000382019052709732678859" {
			t.Errorf("refund %s: %+v, %v", status, res, err)
		}
	}
	amount, _ := a.body("/v3/refund/domestic/refunds")["amount"].(map[string]any)
	if amount["refund"] != float64(500) || amount["total"] != float64(1250) || amount["currency"] != "CNY" {
		t.Errorf("refund amount %v", amount)
	}
}

// paidTransaction is a decrypted payment notification resource as WeChat documents it.
func paidTransaction(change func(map[string]any)) []byte {
	tx := map[string]any{
		"mchid": mchID, "appid": appID, "out_trade_no": "PAY_000001", "transaction_id": "4200000001202503011234567890",
		"trade_type": "JSAPI", "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "CMC", "attach": "",
		"success_time": "2025-03-01T20:00:00+08:00", "payer": map[string]any{"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
		"amount": map[string]any{"total": 1, "payer_total": 1, "currency": "CNY", "payer_currency": "CNY"},
	}
	if change != nil {
		change(tx)
	}
	b, _ := json.Marshal(tx)
	return b
}

// envelopeFor encrypts plaintext with key as WeChat does and wraps it in the notify body.
func envelopeFor(plaintext []byte, key string, algorithm string) string {
	block, _ := aes.NewCipher([]byte(key))
	gcm, _ := cipher.NewGCM(block)
	nonce, ad := "fdasflkja484", "transaction"
	ct := base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(nonce), plaintext, []byte(ad)))
	return `{"id":"EV-2018022511223320873","create_time":"2025-03-01T20:00:01+08:00","resource_type":"encrypt-resource",` +
		`"event_type":"TRANSACTION.SUCCESS","summary":"支付成功","resource":{"original_type":"transaction","algorithm":"` + algorithm +
		`","ciphertext":"` + ct + `","associated_data":"` + ad + `","nonce":"` + nonce + `"}}`
}

type delivery struct {
	body, serial string
	signedAt     time.Time
	key          *rsa.PrivateKey
}

func (d delivery) request() *http.Request {
	if d.serial == "" {
		d.serial = platformSerial
	}
	if d.signedAt.IsZero() {
		d.signedAt = now
	}
	if d.key == nil {
		d.key = platformKey
	}
	ts, nonce := strconv.FormatInt(d.signedAt.Unix(), 10), "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
	r := httptest.NewRequest(http.MethodPost, "/payments/notify/wechat", strings.NewReader(d.body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderNonce, nonce)
	r.Header.Set(HeaderSerial, d.serial)
	r.Header.Set(HeaderSignature, sign(d.key, ts+"\n"+nonce+"\n"+d.body+"\n"))
	return r
}

func TestParseNotification(t *testing.T) {
	p := newProvider(t, "")
	n, err := p.ParseNotification(context.Background(), delivery{body: envelopeFor(paidTransaction(nil), apiV3Key, "AEAD_AES_256_GCM")}.request())
	if err != nil {
		t.Fatal(err)
	}
	if n.Provider != Name || n.PaymentRef != "PAY_000001" || n.ProviderRef != "4200000001202503011234567890" || n.Amount != yuan(1) ||
		n.Outcome != payment.OutcomeSucceeded || n.AppID != appID || n.MerchantID != mchID ||
		!n.PaidAt.Equal(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) || string(n.Raw) != string(paidTransaction(nil)) {
		t.Errorf("notification %+v", n)
	}
	for _, fen := range []int64{1, 29, 1999, 10_000_000_00} {
		body := envelopeFor(paidTransaction(func(tx map[string]any) { tx["amount"].(map[string]any)["total"] = fen }), apiV3Key, "AEAD_AES_256_GCM")
		if n, err := p.ParseNotification(context.Background(), delivery{body: body}.request()); err != nil || n.Amount != yuan(fen) {
			t.Errorf("total %d: %v, %v", fen, n, err)
		}
	}
}

func TestParseNotificationRejects(t *testing.T) {
	p := newProvider(t, "")
	good := envelopeFor(paidTransaction(nil), apiV3Key, "AEAD_AES_256_GCM")
	tampered := delivery{body: good}.request()
	tamperedBody := strings.Replace(good, `"summary":"支付成功"`, `"summary":"支付成功!"`, 1)
	tampered.Body = io.NopCloser(strings.NewReader(tamperedBody))
	cases := []struct {
		name string
		r    *http.Request
		want error
	}{
		{"tampered body", tampered, payment.ErrInvalidSignature},
		{"signed by the merchant key", delivery{body: good, key: merchantKey}.request(), payment.ErrInvalidSignature},
		{"unknown serial", delivery{body: good, serial: "PUB_KEY_ID_OTHER"}.request(), payment.ErrUnknownKey},
		{"signed 6 minutes ago", delivery{body: good, signedAt: now.Add(-6 * time.Minute)}.request(), payment.ErrExpired},
		{"signed 6 minutes ahead", delivery{body: good, signedAt: now.Add(6 * time.Minute)}.request(), payment.ErrExpired},
		{"another merchant", delivery{body: envelopeFor(paidTransaction(func(tx map[string]any) { tx["mchid"] = "1900000999" }), apiV3Key, "AEAD_AES_256_GCM")}.request(), payment.ErrMismatch},
		{"another app", delivery{body: envelopeFor(paidTransaction(func(tx map[string]any) { tx["appid"] = "wx0000000000000000" }), apiV3Key, "AEAD_AES_256_GCM")}.request(), payment.ErrMismatch},
		{"encrypted with another API v3 key", delivery{body: envelopeFor(paidTransaction(nil), "00000000000000000000000000000000", "AEAD_AES_256_GCM")}.request(), payment.ErrInvalidSignature},
		{"other algorithm", delivery{body: envelopeFor(paidTransaction(nil), apiV3Key, "AES_128_CBC")}.request(), payment.ErrMalformed},
		{"fractional amount", delivery{body: envelopeFor(paidTransaction(func(tx map[string]any) { tx["amount"].(map[string]any)["total"] = 12.5 }), apiV3Key, "AEAD_AES_256_GCM")}.request(), payment.ErrMalformed},
		{"foreign currency", delivery{body: envelopeFor(paidTransaction(func(tx map[string]any) { tx["amount"].(map[string]any)["currency"] = "USD" }), apiV3Key, "AEAD_AES_256_GCM")}.request(), payment.ErrMalformed},
		{"not JSON", delivery{body: "<xml/>"}.request(), payment.ErrMalformed},
	}
	noHeaders := delivery{body: good}.request()
	noHeaders.Header.Del(HeaderSignature)
	cases = append(cases, struct {
		name string
		r    *http.Request
		want error
	}{"no signature header", noHeaders, payment.ErrInvalidSignature})
	for _, tc := range cases {
		if _, err := p.ParseNotification(context.Background(), tc.r); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestAcknowledge(t *testing.T) {
	p := newProvider(t, "")
	w := httptest.NewRecorder()
	p.Acknowledge(w, nil, nil)
	if w.Code != 200 || w.Body.String() != `{"code":"SUCCESS","message":"成功"}` {
		t.Errorf("success: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	p.Acknowledge(w, nil, payment.ErrInvalidSignature)
	var rsp struct{ Code, Message string }
	if err := json.Unmarshal(w.Body.Bytes(), &rsp); err != nil || w.Code != 401 || rsp.Code != "FAIL" || rsp.Message == "" {
		t.Errorf("failure: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	p.Acknowledge(w, nil, errors.New("db password=hunter2"))
	if w.Code != 500 || strings.Contains(w.Body.String(), "hunter2") {
		t.Errorf("internal failure: %d %s", w.Code, w.Body)
	}
}
