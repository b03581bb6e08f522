package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/payment"
)

var (
	secret = []byte("test-sandbox-secret-0123456789-abcdef")
	now    = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	yuan   = func(minor int64) money.Money { return money.Money{Minor: minor, Currency: "CNY"} }
)

func newSandbox(t *testing.T, o Options) *Sandbox {
	t.Helper()
	if o.Secret == nil {
		o.Secret = secret
	}
	if o.PublicURL == "" {
		o.PublicURL = "https://shop.example.com"
	}
	if o.Now == nil {
		o.Now = func() time.Time { return now }
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func request(ch payment.Channel) payment.CreateRequest {
	return payment.CreateRequest{
		PaymentRef: "PAY_000001", Amount: yuan(1250), Method: payment.MethodBankCard, Subject: "Order #1 — 两件 T 恤",
		Channel: ch, NotifyURL: "https://shop.example.com/payments/notify/sandbox", ReturnURL: "https://shop.example.com/orders/1",
		ExpiresAt: now.Add(15 * time.Minute),
	}
}

// deliver posts n as the provider would and returns what ParseNotification made of it.
func deliver(t *testing.T, s *Sandbox, n *Signed) (*payment.Notification, error) {
	t.Helper()
	r, err := n.Request(context.Background(), "https://shop.example.com/payments/notify/sandbox")
	if err != nil {
		t.Fatal(err)
	}
	return s.ParseNotification(context.Background(), r)
}

func TestCreateGivesEachChannelItsKindAndAPayPage(t *testing.T) {
	s := newSandbox(t, Options{})
	cases := map[payment.Channel]payment.Kind{
		payment.ChannelNativeQR:     payment.KindQRCode,
		payment.ChannelH5Redirect:   payment.KindRedirect,
		payment.ChannelPageRedirect: payment.KindRedirect,
		payment.ChannelMiniProgram:  payment.KindMiniProgram,
		payment.ChannelApp:          payment.KindApp,
	}
	for ch, kind := range cases {
		in, err := s.Create(context.Background(), request(ch))
		if err != nil {
			t.Fatalf("%s: %v", ch, err)
		}
		if in.Kind != kind || in.ProviderRef != s.ProviderRef("PAY_000001") {
			t.Errorf("%s: kind %s ref %s", ch, in.Kind, in.ProviderRef)
		}
		u, err := url.Parse(in.RedirectURL)
		if err != nil || u.Host != "shop.example.com" || u.Path != PayPath {
			t.Fatalf("%s: pay page URL %q", ch, in.RedirectURL)
		}
		tk, err := s.ParseTicket(u.Query())
		if err != nil {
			t.Fatalf("%s: ticket: %v", ch, err)
		}
		if tk.Amount != yuan(1250) || tk.PaymentRef != "PAY_000001" || tk.NotifyURL != request(ch).NotifyURL || !tk.ExpiresAt.Equal(now.Add(15*time.Minute)) {
			t.Errorf("%s: ticket %+v", ch, tk)
		}
		if ch == payment.ChannelNativeQR && in.QRCodeURL != in.RedirectURL {
			t.Errorf("QR code %q", in.QRCodeURL)
		}
		if ch == payment.ChannelMiniProgram {
			p := in.MiniProgramParams
			for _, k := range []string{"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} {
				if p[k] == "" {
					t.Errorf("mini-program param %s missing: %v", k, p)
				}
			}
			if p["paySign"] != s.mac(p["appId"], p["timeStamp"], p["nonceStr"], p["package"]) {
				t.Error("mini-program paySign does not verify")
			}
		}
	}
	bad := request(payment.ChannelNativeQR)
	bad.PaymentRef = "x"
	if _, err := s.Create(context.Background(), bad); !errors.Is(err, payment.ErrInvalidRequest) {
		t.Errorf("invalid request: %v", err)
	}
}

func TestNotificationsVerifyOnAnyReplicaWithTheSameSecret(t *testing.T) {
	a, b := newSandbox(t, Options{}), newSandbox(t, Options{})
	n, err := a.BuildNotification(Event{PaymentRef: "PAY_000001", Amount: yuan(1250), Outcome: payment.OutcomeSucceeded})
	if err != nil {
		t.Fatal(err)
	}
	got, err := deliver(t, b, n)
	if err != nil {
		t.Fatal(err)
	}
	want := payment.Notification{
		Provider: Name, PaymentRef: "PAY_000001", ProviderRef: a.ProviderRef("PAY_000001"), Amount: yuan(1250),
		Outcome: payment.OutcomeSucceeded, AppID: AccountID, MerchantID: AccountID, PaidAt: now,
	}
	got.Raw = nil
	if !got.PaidAt.Equal(want.PaidAt) {
		t.Errorf("paid at %v", got.PaidAt)
	}
	got.PaidAt = now
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got %+v\nwant %+v", *got, want)
	}
	if a.ProviderRef("PAY_000001") != b.ProviderRef("PAY_000001") {
		t.Error("replicas derive different provider refs")
	}

	other := newSandbox(t, Options{Secret: []byte("another-secret-another-secret-another")})
	if _, err := deliver(t, other, n); !errors.Is(err, payment.ErrInvalidSignature) {
		t.Errorf("other secret: %v", err)
	}
}

func TestParseNotificationRejects(t *testing.T) {
	s := newSandbox(t, Options{})
	good, _ := s.BuildNotification(Event{PaymentRef: "PAY_000001", Amount: yuan(1250), Outcome: payment.OutcomeSucceeded})
	signedWith := func(body string) *Signed { // correctly signed, whatever it says
		ts, n := strconv.FormatInt(now.Unix(), 10), "0123456789abcdef"
		return &Signed{Body: []byte(body), Signature: "t=" + ts + ",n=" + n + ",v1=" + s.mac(notifyContext, ts, n, body)}
	}
	stale, _ := s.BuildNotification(Event{PaymentRef: "PAY_000001", Amount: yuan(1250), Outcome: payment.OutcomeSucceeded, SignedAt: now.Add(-6 * time.Minute)})
	future, _ := s.BuildNotification(Event{PaymentRef: "PAY_000001", Amount: yuan(1250), Outcome: payment.OutcomeSucceeded, SignedAt: now.Add(6 * time.Minute)})
	cases := []struct {
		name string
		n    *Signed
		want error
	}{
		{"tampered amount", &Signed{Body: bytes.Replace(good.Body, []byte(`"amount":1250`), []byte(`"amount":1`), 1), Signature: good.Signature}, payment.ErrInvalidSignature},
		{"tampered timestamp", &Signed{Body: good.Body, Signature: strings.Replace(good.Signature, "t=", "t=1", 1)}, payment.ErrInvalidSignature},
		{"no signature", &Signed{Body: good.Body}, payment.ErrInvalidSignature},
		{"garbage signature header", &Signed{Body: good.Body, Signature: "sha256=abc"}, payment.ErrInvalidSignature},
		{"newline in nonce", &Signed{Body: good.Body, Signature: "t=1,n=a\nb,v1=00"}, payment.ErrInvalidSignature},
		{"signed too long ago", stale, payment.ErrExpired},
		{"signed in the future", future, payment.ErrExpired},
		{"another merchant", signedWith(`{"payment_ref":"PAY_000001","provider_ref":"SBX1","amount":1250,"currency":"CNY","outcome":"SUCCEEDED","paid_at":"2025-03-01T12:00:00Z","app_id":"someone","merchant_id":"sandbox"}`), payment.ErrMismatch},
		{"not JSON", signedWith(`amount=1250`), payment.ErrMalformed},
		{"float amount", signedWith(`{"payment_ref":"PAY_000001","provider_ref":"SBX1","amount":12.5,"currency":"CNY","outcome":"SUCCEEDED","paid_at":"2025-03-01T12:00:00Z","app_id":"sandbox","merchant_id":"sandbox"}`), payment.ErrMalformed},
		{"unknown outcome", signedWith(`{"payment_ref":"PAY_000001","provider_ref":"SBX1","amount":1250,"currency":"CNY","outcome":"MAYBE","app_id":"sandbox","merchant_id":"sandbox"}`), payment.ErrMalformed},
		{"unknown field", signedWith(`{"payment_ref":"PAY_000001","provider_ref":"SBX1","amount":1250,"currency":"CNY","outcome":"FAILED","app_id":"sandbox","merchant_id":"sandbox","extra":1}`), payment.ErrMalformed},
		{"succeeded without paid_at", signedWith(`{"payment_ref":"PAY_000001","provider_ref":"SBX1","amount":1250,"currency":"CNY","outcome":"SUCCEEDED","app_id":"sandbox","merchant_id":"sandbox"}`), payment.ErrMalformed},
	}
	for _, tc := range cases {
		if _, err := deliver(t, s, tc.n); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestLateDuplicateAndOutOfOrderNotificationsStillVerify(t *testing.T) {
	s := newSandbox(t, Options{})
	// Paid two days after the payment expired, notified now: the tolerance is about the
	// signing time only, so it verifies and keeps the real payment time.
	late, _ := s.BuildNotification(Event{PaymentRef: "PAY_000001", Amount: yuan(1250), Outcome: payment.OutcomeSucceeded, PaidAt: now.Add(-48 * time.Hour)})
	got, err := deliver(t, s, late)
	if err != nil || !got.PaidAt.Equal(now.Add(-48*time.Hour)) {
		t.Fatalf("late payment: %+v, %v", got, err)
	}
	// The same delivery twice parses twice, identically: deduplication is the caller's.
	again, err := deliver(t, s, late)
	if err != nil || again.PaymentRef != got.PaymentRef || !bytes.Equal(again.Raw, got.Raw) {
		t.Fatalf("duplicate: %+v, %v", again, err)
	}
	// FAILED after SUCCEEDED is delivered as sent; ordering is the caller's business rule.
	failed, _ := s.BuildNotification(Event{PaymentRef: "PAY_000001", Amount: yuan(1250), Outcome: payment.OutcomeFailed})
	if got, err := deliver(t, s, failed); err != nil || got.Outcome != payment.OutcomeFailed || !got.PaidAt.IsZero() {
		t.Fatalf("failed: %+v, %v", got, err)
	}
	if _, err := s.BuildNotification(Event{PaymentRef: "PAY_000001", Amount: yuan(1), Outcome: payment.OutcomePending}); !errors.Is(err, payment.ErrInvalidRequest) {
		t.Errorf("pending outcome: %v", err)
	}
}

// shop is a stand-in for the server's notify endpoint.
type shop struct {
	s        *Sandbox
	mu       sync.Mutex
	received []*payment.Notification
	fail     bool
}

func (h *shop) got() []*payment.Notification {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*payment.Notification(nil), h.received...)
}

func (h *shop) setFail(fail bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = fail
}

func (h *shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, err := h.s.ParseNotification(r.Context(), r)
	if err == nil {
		h.mu.Lock()
		h.received = append(h.received, n)
		if h.fail {
			err = errors.New("database unavailable")
		}
		h.mu.Unlock()
	}
	h.s.Acknowledge(w, n, err)
}

func TestNotifyPostsToTheShop(t *testing.T) {
	s := newSandbox(t, Options{Now: time.Now})
	h := &shop{s: s}
	srv := httptest.NewServer(h)
	defer srv.Close()

	if err := s.Notify(context.Background(), "PAY_000001", yuan(1250), payment.OutcomeSucceeded, srv.URL+"/payments/notify/sandbox"); err != nil {
		t.Fatal(err)
	}
	if got := h.got(); len(got) != 1 || got[0].Amount != yuan(1250) || got[0].Outcome != payment.OutcomeSucceeded {
		t.Fatalf("received %+v", got)
	}
	h.setFail(true)
	if err := s.Notify(context.Background(), "PAY_000001", yuan(1250), payment.OutcomeSucceeded, srv.URL); !errors.Is(err, payment.ErrProvider) {
		t.Errorf("shop failure: %v", err)
	}
}

func TestAcknowledge(t *testing.T) {
	s := newSandbox(t, Options{})
	cases := []struct {
		err    error
		status int
		body   string
	}{
		{nil, 200, `{"received":true}`},
		{payment.ErrInvalidSignature, 401, `{"error":"invalid signature"}`},
		{payment.ErrMalformed, 400, `{"error":"malformed notification"}`},
		{errors.New("secret internal detail"), 500, `{"error":"internal error"}`},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		s.Acknowledge(w, nil, tc.err)
		if w.Code != tc.status || strings.TrimSpace(w.Body.String()) != tc.body {
			t.Errorf("%v: %d %s", tc.err, w.Code, w.Body)
		}
	}
}

func TestQueryKnowsNothing(t *testing.T) {
	s := newSandbox(t, Options{})
	st, err := s.Query(context.Background(), "PAY_000001")
	if err != nil || st.Outcome != payment.OutcomeUnknown || st.ProviderRef != s.ProviderRef("PAY_000001") {
		t.Errorf("Query = %+v, %v", st, err)
	}
}

func TestRefund(t *testing.T) {
	s := newSandbox(t, Options{})
	req := payment.RefundRequest{PaymentRef: "PAY_000001", RefundRef: "RF_000001", Amount: yuan(500), Total: yuan(1250)}
	res, err := s.Refund(context.Background(), req)
	if err != nil || res.Outcome != payment.OutcomeSucceeded || res.Amount != yuan(500) || !strings.HasPrefix(res.ProviderRefundRef, "SBXR") {
		t.Fatalf("Refund = %+v, %v", res, err)
	}
	again, _ := s.Refund(context.Background(), req)
	if again.ProviderRefundRef != res.ProviderRefundRef {
		t.Error("repeating a refund gave another refund id")
	}
	req.Amount = yuan(199)
	if _, err := s.Refund(context.Background(), req); !errors.Is(err, payment.ErrDeclined) {
		t.Errorf("simulated failure: %v", err)
	}
	req.Amount = yuan(1251)
	if _, err := s.Refund(context.Background(), req); !errors.Is(err, payment.ErrInvalidRequest) {
		t.Errorf("over-refund: %v", err)
	}
}

func TestPayPage(t *testing.T) {
	var clock atomic.Int64 // seconds; read by the shop's goroutine too
	clock.Store(now.Unix())
	s := newSandbox(t, Options{Now: func() time.Time { return time.Unix(clock.Load(), 0) }})
	h := &shop{s: s}
	notify := httptest.NewServer(h)
	defer notify.Close()
	req := request(payment.ChannelH5Redirect)
	req.NotifyURL = notify.URL + "/payments/notify/sandbox"
	in, err := s.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	page := s.PayPage()
	u, _ := url.Parse(in.RedirectURL)

	get := httptest.NewRecorder()
	page.ServeHTTP(get, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil))
	if get.Code != 200 || !strings.Contains(get.Body.String(), "¥12.50") || strings.Contains(get.Body.String(), "expired") {
		t.Fatalf("GET: %d %s", get.Code, get.Body)
	}

	tampered := u.Query()
	tampered.Set("amount", "1")
	bad := httptest.NewRecorder()
	page.ServeHTTP(bad, httptest.NewRequest(http.MethodGet, PayPath+"?"+tampered.Encode(), nil))
	if bad.Code != http.StatusBadRequest {
		t.Errorf("tampered ticket: %d", bad.Code)
	}

	clock.Add(3600) // past ExpiresAt: the page still lets you pay, late
	late := httptest.NewRecorder()
	page.ServeHTTP(late, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil))
	if !strings.Contains(late.Body.String(), "expired") {
		t.Errorf("expired page does not say so: %s", late.Body)
	}

	form := u.Query()
	form.Set("outcome", "SUCCEEDED")
	post := httptest.NewRequest(http.MethodPost, PayPath, strings.NewReader(form.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	page.ServeHTTP(w, post)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != req.ReturnURL {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	if got := h.got(); len(got) != 1 || got[0].PaymentRef != "PAY_000001" || got[0].Amount != yuan(1250) {
		t.Fatalf("shop received %+v", got)
	}

	form.Set("amount", "1")
	post = httptest.NewRequest(http.MethodPost, PayPath, strings.NewReader(form.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	page.ServeHTTP(w, post)
	if w.Code != http.StatusBadRequest || len(h.got()) != 1 {
		t.Errorf("tampered POST: %d, shop received %d", w.Code, len(h.got()))
	}
	_, _ = io.Copy(io.Discard, w.Body)
}

func TestNewRefusesWeakSetup(t *testing.T) {
	if _, err := New(Options{Secret: []byte("short"), PublicURL: "https://x"}); err == nil {
		t.Error("short secret accepted")
	}
	if _, err := New(Options{Secret: secret, PublicURL: "/relative"}); err == nil {
		t.Error("relative public URL accepted")
	}
}
