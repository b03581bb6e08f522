package alipay

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/payment"
)

const (
	appID    = "2021000000000001"
	sellerID = "2088102119685838"
)

var (
	keysOnce       sync.Once
	appKey, aliKey *rsa.PrivateKey // ours, and the one "Alipay" signs with
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if appKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if aliKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
}

func yuan(minor int64) money.Money { return money.Money{Minor: minor, Currency: "CNY"} }

// signContent is Alipay's string-to-sign, written independently of gopay: every non-empty
// parameter except those excluded, sorted by name, as k=v joined by &.
func signContent(v url.Values, exclude ...string) string {
	var keys []string
	for k := range v {
		skip := false
		for _, e := range exclude {
			skip = skip || k == e
		}
		if !skip && v.Get(k) != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + v.Get(k)
	}
	return strings.Join(parts, "&")
}

func rsaSign(k *rsa.PrivateKey, content string) string {
	sum := sha256.Sum256([]byte(content))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func rsaVerify(k *rsa.PublicKey, content, sig string) error {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(content))
	return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], raw)
}

// gateway is a fake Alipay OpenAPI gateway: it checks each request the way Alipay does
// and answers with a response object signed by aliKey over its exact text.
type gateway struct {
	t       *testing.T
	mu      sync.Mutex
	calls   []url.Values
	answer  func(method string, biz map[string]any) string // the response object's JSON text
	tamper  bool                                           // change the object after signing
	status  int
	signKey *rsa.PrivateKey
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.URL.Query().Get("charset") != "utf-8" {
		g.t.Errorf("gateway: form %v, charset %q", err, r.URL.Query().Get("charset"))
	}
	form := r.PostForm
	if err := rsaVerify(&appKey.PublicKey, signContent(form, "sign"), form.Get("sign")); err != nil {
		g.t.Errorf("gateway: request signature does not verify: %v", err)
	}
	for k, want := range map[string]string{"app_id": appID, "sign_type": "RSA2", "charset": "utf-8", "format": "JSON", "version": "1.0"} {
		if form.Get(k) != want {
			g.t.Errorf("gateway: %s = %q, want %q", k, form.Get(k), want)
		}
	}
	if _, err := time.Parse("2006-01-02 15:04:05", form.Get("timestamp")); err != nil {
		g.t.Errorf("gateway: timestamp %q", form.Get("timestamp"))
	}
	var biz map[string]any
	if err := json.Unmarshal([]byte(form.Get("biz_content")), &biz); err != nil {
		g.t.Errorf("gateway: biz_content: %v", err)
	}
	g.mu.Lock()
	g.calls = append(g.calls, form)
	g.mu.Unlock()
	if g.status != 0 {
		w.WriteHeader(g.status)
		return
	}
	method := form.Get("method")
	obj := g.answer(method, biz)
	key := g.signKey
	if key == nil {
		key = aliKey
	}
	sig := rsaSign(key, obj)
	if g.tamper {
		obj = strings.Replace(obj, "bax", "evil", 1)
	}
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	_, _ = w.Write([]byte(`{"` + strings.ReplaceAll(method, ".", "_") + `_response":` + obj + `,"sign":"` + sig + `"}`))
}

func (g *gateway) last() url.Values {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[len(g.calls)-1]
}

func newProvider(t *testing.T, gatewayURL string) *Provider {
	t.Helper()
	keys(t)
	p, err := New(Options{AppID: appID, PrivateKey: appKey, AlipayPublicKey: &aliKey.PublicKey, SellerID: sellerID, GatewayURL: gatewayURL})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func start(t *testing.T, g *gateway) *Provider {
	t.Helper()
	g.t = t
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return newProvider(t, srv.URL+"/gateway.do")
}

func createRequest(ch payment.Channel) payment.CreateRequest {
	return payment.CreateRequest{
		PaymentRef: "PAY_000001", Amount: yuan(1250), Method: payment.MethodAlipay, Subject: "订单 #1 & T恤+袜子",
		Channel: ch, OpenID: "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5", NotifyURL: "https://shop.example.com/payments/notify/alipay",
		ReturnURL: "https://shop.example.com/orders/1", ExpiresAt: time.Date(2025, 3, 1, 12, 15, 0, 0, time.UTC),
	}
}

func TestPrecreateSendsASignedRequestAndVerifiesTheAnswer(t *testing.T) {
	g := &gateway{answer: func(method string, biz map[string]any) string {
		// Alipay escapes slashes; the signature covers this exact text.
		return `{"code":"10000","msg":"Success","out_trade_no":"` + biz["out_trade_no"].(string) + `","qr_code":"https:\/\/qr.alipay.com\/bax03206ug0kulveptzu6087"}`
	}}
	p := start(t, g)
	in, err := p.Create(context.Background(), createRequest(payment.ChannelNativeQR))
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != payment.KindQRCode || in.QRCodeURL != "https://qr.alipay.com/bax03206ug0kulveptzu6087" {
		t.Errorf("instructions %+v", in)
	}
	form := g.last()
	var biz map[string]any
	_ = json.Unmarshal([]byte(form.Get("biz_content")), &biz)
	want := map[string]any{"out_trade_no": "PAY_000001", "total_amount": "12.50", "subject": "订单 #1 & T恤+袜子", "time_expire": "2025-03-01 20:15:00"}
	for k, v := range want {
		if biz[k] != v {
			t.Errorf("biz_content %s = %v, want %v", k, biz[k], v)
		}
	}
	if form.Get("method") != "alipay.trade.precreate" || form.Get("notify_url") != createRequest("").NotifyURL {
		t.Errorf("method %q notify_url %q", form.Get("method"), form.Get("notify_url"))
	}

	g.tamper = true
	if _, err := p.Create(context.Background(), createRequest(payment.ChannelNativeQR)); !errors.Is(err, payment.ErrInvalidSignature) {
		t.Errorf("tampered answer: %v", err)
	}
	g.tamper, g.signKey = false, appKey // signed, but not by Alipay
	if _, err := p.Create(context.Background(), createRequest(payment.ChannelNativeQR)); !errors.Is(err, payment.ErrInvalidSignature) {
		t.Errorf("answer signed by another key: %v", err)
	}
}

func TestRedirectAndAppPayAreSignedForTheGateway(t *testing.T) {
	p := newProvider(t, "https://openapi.alipay.com/gateway.do")
	cases := []struct {
		ch      payment.Channel
		method  string
		product string
	}{
		{payment.ChannelPageRedirect, "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"},
		{payment.ChannelH5Redirect, "alipay.trade.wap.pay", "QUICK_WAP_WAY"},
		{payment.ChannelApp, "alipay.trade.app.pay", "QUICK_MSECURITY_PAY"},
	}
	for _, tc := range cases {
		in, err := p.Create(context.Background(), createRequest(tc.ch))
		if err != nil {
			t.Fatalf("%s: %v", tc.ch, err)
		}
		var params url.Values
		if tc.ch == payment.ChannelApp {
			params, err = url.ParseQuery(in.AppParams["orderStr"])
		} else {
			u, perr := url.Parse(in.RedirectURL)
			if perr != nil || u.Scheme+"://"+u.Host+u.Path != "https://openapi.alipay.com/gateway.do" {
				t.Fatalf("%s: redirect %q", tc.ch, in.RedirectURL)
			}
			params = u.Query()
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := rsaVerify(&appKey.PublicKey, signContent(params, "sign"), params.Get("sign")); err != nil {
			t.Errorf("%s: sign does not verify with the app public key: %v", tc.ch, err)
		}
		var biz map[string]any
		_ = json.Unmarshal([]byte(params.Get("biz_content")), &biz)
		if params.Get("method") != tc.method || biz["product_code"] != tc.product || biz["total_amount"] != "12.50" || params.Get("app_id") != appID {
			t.Errorf("%s: method %q biz %v", tc.ch, params.Get("method"), biz)
		}
		if tc.ch != payment.ChannelApp && params.Get("return_url") != createRequest("").ReturnURL {
			t.Errorf("%s: return_url %q", tc.ch, params.Get("return_url"))
		}
	}
}

func TestMiniProgramCreatesATrade(t *testing.T) {
	g := &gateway{answer: func(_ string, biz map[string]any) string {
		if biz["buyer_open_id"] == nil || biz["product_code"] != "JSAPI_PAY" {
			t.Errorf("trade.create biz %v", biz)
		}
		return `{"code":"10000","msg":"Success","out_trade_no":"PAY_000001","trade_no":"2025030122001424330501234567"}`
	}}
	p := start(t, g)
	in, err := p.Create(context.Background(), createRequest(payment.ChannelMiniProgram))
	if err != nil || in.MiniProgramParams["tradeNO"] != "2025030122001424330501234567" || in.ProviderRef != in.MiniProgramParams["tradeNO"] {
		t.Fatalf("%+v, %v", in, err)
	}
	noOpenID := createRequest(payment.ChannelMiniProgram)
	noOpenID.OpenID = ""
	if _, err := p.Create(context.Background(), noOpenID); !errors.Is(err, payment.ErrInvalidRequest) {
		t.Errorf("without OpenID: %v", err)
	}
}

func TestCreateRefusesWhatAlipayCannotTake(t *testing.T) {
	p := newProvider(t, "https://example.invalid/gateway.do")
	usd := createRequest(payment.ChannelNativeQR)
	usd.Amount = money.Money{Minor: 100, Currency: "USD"}
	wx := createRequest(payment.ChannelNativeQR)
	wx.Method = payment.MethodWeChatPay
	for name, req := range map[string]payment.CreateRequest{"USD": usd, "WeChat method": wx} {
		if _, err := p.Create(context.Background(), req); !errors.Is(err, payment.ErrUnsupported) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestQueryAndRefund(t *testing.T) {
	var answer string
	g := &gateway{answer: func(string, map[string]any) string { return answer }}
	p := start(t, g)

	answer = `{"code":"10000","msg":"Success","trade_no":"2025030122001424330501234567","out_trade_no":"PAY_000001","trade_status":"TRADE_SUCCESS","total_amount":"12.50","send_pay_date":"2025-03-01 20:00:00"}`
	st, err := p.Query(context.Background(), "PAY_000001")
	if err != nil || st.Outcome != payment.OutcomeSucceeded || st.Amount != yuan(1250) || !st.PaidAt.Equal(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("Query = %+v, %v", st, err)
	}
	answer = `{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}`
	if _, err := p.Query(context.Background(), "PAY_000001"); !errors.Is(err, payment.ErrNotFound) {
		t.Errorf("unknown trade: %v", err)
	}

	refund := payment.RefundRequest{PaymentRef: "PAY_000001", RefundRef: "RF_000001", Amount: yuan(500), Total: yuan(1250), Reason: "尺码不合适"}
	answer = `{"code":"10000","msg":"Success","trade_no":"2025030122001424330501234567","out_trade_no":"PAY_000001","fund_change":"Y","refund_fee":"5.00"}`
	res, err := p.Refund(context.Background(), refund)
	if err != nil || res.Outcome != payment.OutcomeSucceeded || res.Amount != yuan(500) {
		t.Fatalf("Refund = %+v, %v", res, err)
	}
	var biz map[string]any
	_ = json.Unmarshal([]byte(g.last().Get("biz_content")), &biz)
	if biz["refund_amount"] != "5.00" || biz["out_request_no"] != "RF_000001" || g.last().Get("method") != "alipay.trade.refund" {
		t.Errorf("refund biz %v", biz)
	}
	answer = `{"code":"10000","msg":"Success","trade_no":"2025030122001424330501234567","out_trade_no":"PAY_000001","fund_change":"N"}`
	if res, err := p.Refund(context.Background(), refund); err != nil || res.Outcome != payment.OutcomePending {
		t.Errorf("fund_change N: %+v, %v", res, err)
	}
	answer = `{"code":"40004","msg":"Business Failed","sub_code":"ACQ.SELLER_BALANCE_NOT_ENOUGH","sub_msg":"卖家余额不足"}`
	if _, err := p.Refund(context.Background(), refund); !errors.Is(err, payment.ErrDeclined) {
		t.Errorf("declined: %v", err)
	}
	answer = `{"code":"20000","msg":"Service Currently Unavailable","sub_code":"aop.unknow-error"}`
	if _, err := p.Refund(context.Background(), refund); !errors.Is(err, payment.ErrProvider) {
		t.Errorf("unavailable: %v", err)
	}
	g.status = http.StatusBadGateway
	if _, err := p.Refund(context.Background(), refund); !errors.Is(err, payment.ErrProvider) {
		t.Errorf("HTTP 502: %v", err)
	}
}

// notification is an asynchronous notify form as Alipay documents it
// (https://opendocs.alipay.com/open/203/105286), before signing.
func notification() url.Values {
	return url.Values{
		"gmt_create":       {"2025-03-01 19:59:58"},
		"charset":          {"utf-8"},
		"seller_email":     {"shop@example.com"},
		"subject":          {"订单 #1 & T恤+袜子=2"},
		"buyer_id":         {"2088102122524333"},
		"invoice_amount":   {"88.88"},
		"notify_id":        {"2025030100222195958024751420956436"},
		"fund_bill_list":   {`[{"amount":"88.88","fundChannel":"ALIPAYACCOUNT"}]`},
		"notify_type":      {"trade_status_sync"},
		"trade_status":     {"TRADE_SUCCESS"},
		"receipt_amount":   {"88.88"},
		"buyer_pay_amount": {"88.88"},
		"app_id":           {appID},
		"seller_id":        {sellerID},
		"gmt_payment":      {"2025-03-01 20:00:00"},
		"notify_time":      {"2025-03-01 20:00:01"},
		"version":          {"1.0"},
		"out_trade_no":     {"PAY_000001"},
		"total_amount":     {"88.88"},
		"trade_no":         {"2025030122001424330501234567"},
		"auth_app_id":      {appID},
		"buyer_logon_id":   {"csq***@sandbox.com"},
		"point_amount":     {"0.00"},
	}
}

// signed signs v as Alipay does (every field but sign and sign_type) with key.
func signed(v url.Values, key *rsa.PrivateKey) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	out.Set("sign_type", "RSA2")
	out.Set("sign", rsaSign(key, signContent(out, "sign", "sign_type")))
	return out
}

func post(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/payments/notify/alipay", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}

func TestParseNotification(t *testing.T) {
	p := newProvider(t, "")
	body := signed(notification(), aliKey).Encode()
	n, err := p.ParseNotification(context.Background(), post(body))
	if err != nil {
		t.Fatal(err)
	}
	if n.Provider != Name || n.PaymentRef != "PAY_000001" || n.ProviderRef != "2025030122001424330501234567" ||
		n.Amount != yuan(8888) || n.Outcome != payment.OutcomeSucceeded || n.AppID != appID || n.MerchantID != sellerID ||
		!n.PaidAt.Equal(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) || string(n.Raw) != body {
		t.Errorf("notification %+v", n)
	}
}

func TestParseNotificationConvertsAmountsExactly(t *testing.T) {
	p := newProvider(t, "")
	for amount, fen := range map[string]int64{"0.01": 1, "0.10": 10, "0.29": 29, "19.99": 1999, "100000.00": 10_000_000, "1234567.89": 123_456_789} {
		v := notification()
		v.Set("total_amount", amount)
		n, err := p.ParseNotification(context.Background(), post(signed(v, aliKey).Encode()))
		if err != nil || n.Amount != yuan(fen) {
			t.Errorf("total_amount %s: %v, %v; want %d fen", amount, n, err, fen)
		}
	}
}

func TestParseNotificationRejects(t *testing.T) {
	p := newProvider(t, "")
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	with := func(change func(url.Values)) url.Values { v := notification(); change(v); return v }
	tampered := signed(notification(), aliKey)
	tampered.Set("total_amount", "0.01")
	rsa1 := signed(notification(), aliKey)
	rsa1.Set("sign_type", "RSA")
	unsigned := signed(notification(), aliKey)
	unsigned.Del("sign")
	cases := []struct {
		name string
		body string
		want error
	}{
		{"tampered amount", tampered.Encode(), payment.ErrInvalidSignature},
		{"signed by another key", signed(notification(), other).Encode(), payment.ErrInvalidSignature},
		{"sign_type RSA (SHA-1)", rsa1.Encode(), payment.ErrInvalidSignature},
		{"no sign", unsigned.Encode(), payment.ErrInvalidSignature},
		{"another app", signed(with(func(v url.Values) { v.Set("app_id", "2021000000000999") }), aliKey).Encode(), payment.ErrMismatch},
		{"another seller", signed(with(func(v url.Values) { v.Set("seller_id", "2088000000000000") }), aliKey).Encode(), payment.ErrMismatch},
		{"three decimals", signed(with(func(v url.Values) { v.Set("total_amount", "88.888") }), aliKey).Encode(), payment.ErrMalformed},
		{"unknown status", signed(with(func(v url.Values) { v.Set("trade_status", "TRADE_MAYBE") }), aliKey).Encode(), payment.ErrMalformed},
		{"other notify type", signed(with(func(v url.Values) { v.Set("notify_type", "fund_auth_freeze") }), aliKey).Encode(), payment.ErrMalformed},
		{"repeated field", signed(notification(), aliKey).Encode() + "&total_amount=0.01", payment.ErrMalformed},
		{"not a form", "%zz", payment.ErrMalformed},
	}
	for _, tc := range cases {
		if _, err := p.ParseNotification(context.Background(), post(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestParseNotificationReportsRefundsAndClosures(t *testing.T) {
	p := newProvider(t, "")
	refund := notification()
	refund.Set("refund_fee", "8.88")
	refund.Set("gmt_refund", "2025-03-02 10:00:00.000")
	refund.Set("out_biz_no", "RF_000001")
	closed := notification()
	closed.Set("trade_status", "TRADE_CLOSED")
	closed.Del("gmt_payment")
	for name, c := range map[string]struct {
		v    url.Values
		want payment.Outcome
	}{"refund": {refund, payment.OutcomeRefunded}, "closed": {closed, payment.OutcomeClosed}} {
		n, err := p.ParseNotification(context.Background(), post(signed(c.v, aliKey).Encode()))
		if err != nil || n.Outcome != c.want {
			t.Errorf("%s: %+v, %v", name, n, err)
		}
	}
}

func TestAcknowledge(t *testing.T) {
	p := newProvider(t, "")
	w := httptest.NewRecorder()
	p.Acknowledge(w, nil, nil)
	if w.Code != 200 || w.Body.String() != "success" {
		t.Errorf("success: %d %q", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	p.Acknowledge(w, nil, errors.New("db down"))
	if w.Body.String() != "fail" {
		t.Errorf("failure: %d %q", w.Code, w.Body)
	}
}
