// Package alipay is the Alipay adapter (OpenAPI v2 gateway, public-key mode, RSA2): gopay
// signs the requests and verifies the signatures; this package speaks the payment.Provider
// interface, checks that messages are for our app, and converts yuan strings exactly.
package alipay

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // gopay reads Asia/Shanghai for the request timestamp

	"github.com/go-pay/gopay"
	gopayalipay "github.com/go-pay/gopay/alipay"

	"github.com/xiadan/xiadan/internal/payment"
)

const (
	// Name is the provider's name.
	Name = "ALIPAY"
	// ProductionGateway is Alipay's OpenAPI gateway.
	ProductionGateway = "https://openapi.alipay.com/gateway.do"
	// SandboxGateway is the gateway of Alipay's sandbox environment.
	SandboxGateway = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
)

const (
	maxBody        = 1 << 20
	timeLayout     = "2006-01-02 15:04:05"
	subjectRunes   = 256
	successCode    = "10000"
	notifyTypeSync = "trade_status_sync"
)

// Options configure the adapter.
type Options struct {
	AppID           string
	PrivateKey      *rsa.PrivateKey // the app's private key, which signs requests
	AlipayPublicKey *rsa.PublicKey  // Alipay's public key, which verifies responses and notifications
	// SellerID, when set, is the 2088… merchant id every notification must name.
	SellerID string
	// Production selects ProductionGateway over SandboxGateway.
	Production bool
	// GatewayURL overrides the gateway (tests, egress proxies).
	GatewayURL string
	// HTTPClient calls the gateway (a client with a 15s timeout by default).
	HTTPClient *http.Client
}

// Provider is the Alipay adapter. It is safe for concurrent use.
type Provider struct {
	appID, sellerID string
	client          *gopayalipay.Client
	publicKey       string // base64 PKIX DER, the form gopay verifies with
	gateway         string
	hc              *http.Client
}

var _ payment.Provider = (*Provider)(nil)

// New returns the adapter.
func New(o Options) (*Provider, error) {
	if o.AppID == "" || o.PrivateKey == nil || o.AlipayPublicKey == nil {
		return nil, errors.New("alipay: app id, private key and Alipay public key are required")
	}
	priv := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(o.PrivateKey))
	c, err := gopayalipay.NewClient(o.AppID, priv, o.Production)
	if err != nil {
		return nil, errors.New("alipay: the private key was refused") // gopay's error would quote the key
	}
	c.SetLocation("Asia/Shanghai")
	pub, err := x509.MarshalPKIXPublicKey(o.AlipayPublicKey)
	if err != nil {
		return nil, fmt.Errorf("alipay: public key: %w", err)
	}
	p := &Provider{
		appID:     o.AppID,
		sellerID:  o.SellerID,
		client:    c,
		publicKey: base64.StdEncoding.EncodeToString(pub),
		gateway:   o.GatewayURL,
		hc:        o.HTTPClient,
	}
	if p.gateway == "" {
		p.gateway = SandboxGateway
		if o.Production {
			p.gateway = ProductionGateway
		}
	}
	if p.hc == nil {
		p.hc = &http.Client{Timeout: 15 * time.Second}
	}
	return p, nil
}

// FromConfig reads the key files named in c and returns the adapter.
func FromConfig(c payment.AlipayConfig, hc *http.Client) (*Provider, error) {
	priv, err := payment.ReadRSAPrivateKey(c.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("ALIPAY_PRIVATE_KEY_FILE: %w", err)
	}
	pub, _, err := payment.ReadRSAPublicKey(c.PublicKeyFile)
	if err != nil {
		return nil, fmt.Errorf("ALIPAY_PUBLIC_KEY_FILE: %w", err)
	}
	return New(Options{
		AppID: c.AppID, PrivateKey: priv, AlipayPublicKey: pub, SellerID: c.SellerID,
		Production: c.Production, GatewayURL: c.GatewayURL, HTTPClient: hc,
	})
}

// Name returns "ALIPAY".
func (p *Provider) Name() string { return Name }

// Create starts an Alipay trade:
//
//	NATIVE_QR      alipay.trade.precreate  → QR_CODE (qr_code)
//	H5_REDIRECT    alipay.trade.wap.pay    → REDIRECT (signed gateway URL)
//	PAGE_REDIRECT  alipay.trade.page.pay   → REDIRECT (signed gateway URL)
//	APP            alipay.trade.app.pay    → APP (AppParams orderStr)
//	MINI_PROGRAM   alipay.trade.create     → MINI_PROGRAM (MiniProgramParams tradeNO), needs OpenID
func (p *Provider) Create(ctx context.Context, req payment.CreateRequest) (*payment.Instructions, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if req.Method != payment.MethodAlipay {
		return nil, fmt.Errorf("%w: alipay does not serve %s", payment.ErrUnsupported, req.Method)
	}
	total, err := payment.YuanString(req.Amount)
	if err != nil {
		return nil, err
	}
	biz := gopay.BodyMap{
		"out_trade_no": req.PaymentRef,
		"total_amount": total,
		"subject":      payment.ShortenRunes(req.Subject, subjectRunes),
	}
	if !req.ExpiresAt.IsZero() {
		biz["time_expire"] = req.ExpiresAt.In(payment.Beijing()).Format(timeLayout)
	}
	switch req.Channel {
	case payment.ChannelNativeQR:
		var r struct {
			OutTradeNo string `json:"out_trade_no"`
			QRCode     string `json:"qr_code"`
		}
		if err := p.call(ctx, "alipay.trade.precreate", biz, req.NotifyURL, &r); err != nil {
			return nil, err
		}
		if r.OutTradeNo != req.PaymentRef || r.QRCode == "" {
			return nil, fmt.Errorf("%w: alipay precreate answered for %q without a QR code", payment.ErrProvider, r.OutTradeNo)
		}
		return &payment.Instructions{Kind: payment.KindQRCode, QRCodeURL: r.QRCode}, nil
	case payment.ChannelH5Redirect, payment.ChannelPageRedirect:
		method, product := "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"
		if req.Channel == payment.ChannelH5Redirect {
			method, product = "alipay.trade.wap.pay", "QUICK_WAP_WAY"
			if req.ReturnURL != "" {
				biz["quit_url"] = req.ReturnURL
			}
		}
		biz["product_code"] = product
		params, err := p.sign(method, biz, req.NotifyURL, req.ReturnURL)
		if err != nil {
			return nil, err
		}
		return &payment.Instructions{Kind: payment.KindRedirect, RedirectURL: p.gateway + "?" + params}, nil
	case payment.ChannelApp:
		biz["product_code"] = "QUICK_MSECURITY_PAY"
		params, err := p.sign("alipay.trade.app.pay", biz, req.NotifyURL, "")
		if err != nil {
			return nil, err
		}
		return &payment.Instructions{Kind: payment.KindApp, AppParams: map[string]string{"orderStr": params}}, nil
	case payment.ChannelMiniProgram:
		if req.OpenID == "" {
			return nil, fmt.Errorf("%w: alipay mini-program pay needs the buyer's OpenID", payment.ErrInvalidRequest)
		}
		biz["product_code"] = "JSAPI_PAY"
		// Older apps know buyers by a 16-digit 2088… user id, newer ones by an open id.
		if len(req.OpenID) == 16 && strings.HasPrefix(req.OpenID, "2088") {
			biz["buyer_id"] = req.OpenID
		} else {
			biz["buyer_open_id"] = req.OpenID
		}
		var r struct {
			OutTradeNo string `json:"out_trade_no"`
			TradeNo    string `json:"trade_no"`
		}
		if err := p.call(ctx, "alipay.trade.create", biz, req.NotifyURL, &r); err != nil {
			return nil, err
		}
		if r.OutTradeNo != req.PaymentRef || r.TradeNo == "" {
			return nil, fmt.Errorf("%w: alipay trade.create answered for %q without a trade_no", payment.ErrProvider, r.OutTradeNo)
		}
		return &payment.Instructions{
			Kind: payment.KindMiniProgram, MiniProgramParams: map[string]string{"tradeNO": r.TradeNo}, ProviderRef: r.TradeNo,
		}, nil
	}
	return nil, fmt.Errorf("%w: alipay channel %s", payment.ErrUnsupported, req.Channel)
}

// sign returns the complete, signed, URL-encoded request parameters of method.
func (p *Provider) sign(method string, biz gopay.BodyMap, notifyURL, returnURL string) (string, error) {
	bm := gopay.BodyMap{"biz_content": biz}
	if notifyURL != "" {
		bm["notify_url"] = notifyURL
	}
	if returnURL != "" {
		bm["return_url"] = returnURL
	}
	params, err := p.client.RequestParam(bm, method)
	if err != nil {
		return "", fmt.Errorf("alipay: signing %s: %w", method, err)
	}
	return params, nil
}

// call posts a signed request to the gateway, checks the business code, verifies the
// response signature over the exact response text and decodes it into out.
func (p *Provider) call(ctx context.Context, method string, biz gopay.BodyMap, notifyURL string, out any) error {
	params, err := p.sign(method, biz, notifyURL, "")
	if err != nil {
		return err
	}
	u := p.gateway + "?charset=utf-8"
	if strings.Contains(p.gateway, "?") {
		u = p.gateway + "&charset=utf-8"
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(params))
	if err != nil {
		return fmt.Errorf("alipay: %w", err)
	}
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	res, err := p.hc.Do(hr)
	if err != nil {
		return fmt.Errorf("%w: alipay %s: %v", payment.ErrProvider, method, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%w: alipay %s: %v", payment.ErrProvider, method, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: alipay %s: HTTP %d", payment.ErrProvider, method, res.StatusCode)
	}
	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(body, &envelope); err != nil {
		return fmt.Errorf("%w: alipay %s: response is not JSON", payment.ErrProvider, method)
	}
	raw, ok := envelope[strings.ReplaceAll(method, ".", "_")+"_response"]
	if !ok {
		raw, ok = envelope["error_response"]
	}
	if !ok {
		return fmt.Errorf("%w: alipay %s: no response object", payment.ErrProvider, method)
	}
	var status struct {
		Code    string `json:"code"`
		Msg     string `json:"msg"`
		SubCode string `json:"sub_code"`
		SubMsg  string `json:"sub_msg"`
	}
	if err := json.Unmarshal(raw, &status); err != nil {
		return fmt.Errorf("%w: alipay %s: response object: %v", payment.ErrProvider, method, err)
	}
	if status.Code != successCode {
		return bizError(method, status.Code, status.SubCode, status.SubMsg)
	}
	var sign string
	if err := json.Unmarshal(envelope["sign"], &sign); err != nil || sign == "" {
		return fmt.Errorf("%w: alipay %s: response is unsigned", payment.ErrInvalidSignature, method)
	}
	if ok, err := gopayalipay.VerifySyncSign(p.publicKey, string(raw), sign); !ok || err != nil {
		return fmt.Errorf("%w: alipay %s response", payment.ErrInvalidSignature, method)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%w: alipay %s: %v", payment.ErrProvider, method, err)
	}
	return nil
}

// bizError classifies a business error: unknown trades are ErrNotFound, Alipay's own
// failures ErrProvider (retry), everything else ErrDeclined.
func bizError(method, code, subCode, subMsg string) error {
	sentinel := payment.ErrDeclined
	switch {
	case subCode == "ACQ.TRADE_NOT_EXIST":
		sentinel = payment.ErrNotFound
	case code == "20000" || subCode == "ACQ.SYSTEM_ERROR" || subCode == "aop.ACQ.SYSTEM_ERROR":
		sentinel = payment.ErrProvider
	}
	return fmt.Errorf("%w: alipay %s: code %s %s %s", sentinel, method, code, subCode, subMsg)
}

// Query reports the trade's state from alipay.trade.query.
func (p *Provider) Query(ctx context.Context, paymentRef string) (*payment.Status, error) {
	if !payment.ValidRef(paymentRef) {
		return nil, fmt.Errorf("%w: invalid payment ref", payment.ErrInvalidRequest)
	}
	var r struct {
		TradeNo     string `json:"trade_no"`
		OutTradeNo  string `json:"out_trade_no"`
		TradeStatus string `json:"trade_status"`
		TotalAmount string `json:"total_amount"`
		SendPayDate string `json:"send_pay_date"`
	}
	if err := p.call(ctx, "alipay.trade.query", gopay.BodyMap{"out_trade_no": paymentRef}, "", &r); err != nil {
		return nil, err
	}
	if r.OutTradeNo != paymentRef {
		return nil, fmt.Errorf("%w: alipay query answered for %q", payment.ErrMismatch, r.OutTradeNo)
	}
	s := &payment.Status{PaymentRef: r.OutTradeNo, ProviderRef: r.TradeNo}
	switch r.TradeStatus {
	case "WAIT_BUYER_PAY":
		s.Outcome = payment.OutcomePending
	case "TRADE_SUCCESS", "TRADE_FINISHED":
		s.Outcome = payment.OutcomeSucceeded
	case "TRADE_CLOSED":
		s.Outcome = payment.OutcomeClosed
	default:
		return nil, fmt.Errorf("%w: alipay trade_status %q", payment.ErrMalformed, r.TradeStatus)
	}
	var err error
	if s.Amount, err = payment.ParseYuan(r.TotalAmount); err != nil {
		return nil, err
	}
	if r.SendPayDate != "" {
		s.PaidAt, _ = time.ParseInLocation(timeLayout, r.SendPayDate, payment.Beijing())
	}
	return s, nil
}

// Refund calls alipay.trade.refund with out_request_no = RefundRef, which makes repeats
// safe. fund_change=Y means the money moved (SUCCEEDED); otherwise Alipay asks to confirm
// later (PENDING).
func (p *Provider) Refund(ctx context.Context, req payment.RefundRequest) (*payment.RefundResult, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	amount, err := payment.YuanString(req.Amount)
	if err != nil {
		return nil, err
	}
	biz := gopay.BodyMap{"out_trade_no": req.PaymentRef, "refund_amount": amount, "out_request_no": req.RefundRef}
	if req.Reason != "" {
		biz["refund_reason"] = payment.ShortenRunes(req.Reason, 256)
	}
	var r struct {
		TradeNo    string `json:"trade_no"`
		OutTradeNo string `json:"out_trade_no"`
		FundChange string `json:"fund_change"`
	}
	if err := p.call(ctx, "alipay.trade.refund", biz, "", &r); err != nil {
		return nil, err
	}
	if r.OutTradeNo != req.PaymentRef {
		return nil, fmt.Errorf("%w: alipay refund answered for %q", payment.ErrMismatch, r.OutTradeNo)
	}
	res := &payment.RefundResult{RefundRef: req.RefundRef, ProviderRefundRef: r.TradeNo, Amount: req.Amount, Outcome: payment.OutcomePending}
	if r.FundChange == "Y" {
		res.Outcome = payment.OutcomeSucceeded
	}
	return res, nil
}

// ParseNotification verifies an asynchronous notification (a form POST signed with RSA2
// over every field but sign and sign_type) and checks it is for our app (and seller).
// Alipay puts no signing time in it, so replays are possible: handle them idempotently.
func (p *Provider) ParseNotification(_ context.Context, r *http.Request) (*payment.Notification, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, fmt.Errorf("%w: alipay notify: unreadable or oversized body", payment.ErrMalformed)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: alipay notify: not a form: %v", payment.ErrMalformed, err)
	}
	bm := gopay.BodyMap{}
	for k, vs := range form {
		if len(vs) != 1 {
			return nil, fmt.Errorf("%w: alipay notify: field %q repeated", payment.ErrMalformed, k)
		}
		bm[k] = vs[0]
	}
	if form.Get("sign") == "" || form.Get("sign_type") != gopayalipay.RSA2 {
		return nil, fmt.Errorf("%w: alipay notify: unsigned or sign_type %q is not RSA2", payment.ErrInvalidSignature, form.Get("sign_type"))
	}
	if ok, err := gopayalipay.VerifySign(p.publicKey, bm); !ok || err != nil {
		return nil, fmt.Errorf("%w: alipay notify", payment.ErrInvalidSignature)
	}
	if got := form.Get("app_id"); got != p.appID {
		return nil, fmt.Errorf("%w: alipay notify for app %q", payment.ErrMismatch, got)
	}
	if got := form.Get("seller_id"); p.sellerID != "" && got != p.sellerID {
		return nil, fmt.Errorf("%w: alipay notify for seller %q", payment.ErrMismatch, got)
	}
	if got := form.Get("notify_type"); got != notifyTypeSync {
		return nil, fmt.Errorf("%w: alipay notify_type %q", payment.ErrMalformed, got)
	}
	n := &payment.Notification{
		Provider:    Name,
		PaymentRef:  form.Get("out_trade_no"),
		ProviderRef: form.Get("trade_no"),
		AppID:       form.Get("app_id"),
		MerchantID:  form.Get("seller_id"),
		Raw:         body,
	}
	if !payment.ValidRef(n.PaymentRef) || n.ProviderRef == "" {
		return nil, fmt.Errorf("%w: alipay notify: missing out_trade_no or trade_no", payment.ErrMalformed)
	}
	if n.Amount, err = payment.ParseYuan(form.Get("total_amount")); err != nil {
		return nil, fmt.Errorf("alipay notify total_amount: %w", err)
	}
	// After a refund Alipay notifies the payment's notify_url again, with refund fields.
	refund := form.Get("gmt_refund") != "" || form.Get("refund_fee") != "" || form.Get("out_biz_no") != ""
	switch status := form.Get("trade_status"); {
	case refund && (status == "TRADE_SUCCESS" || status == "TRADE_FINISHED" || status == "TRADE_CLOSED"):
		n.Outcome = payment.OutcomeRefunded
	case status == "TRADE_SUCCESS" || status == "TRADE_FINISHED":
		n.Outcome = payment.OutcomeSucceeded
	case status == "TRADE_CLOSED":
		n.Outcome = payment.OutcomeClosed
	case status == "WAIT_BUYER_PAY":
		n.Outcome = payment.OutcomePending
	default:
		return nil, fmt.Errorf("%w: alipay trade_status %q", payment.ErrMalformed, status)
	}
	if n.Outcome == payment.OutcomeSucceeded {
		paid := form.Get("gmt_payment")
		if paid == "" {
			paid = form.Get("notify_time")
		}
		if n.PaidAt, err = time.ParseInLocation(timeLayout, paid, payment.Beijing()); err != nil {
			return nil, fmt.Errorf("%w: alipay gmt_payment %q", payment.ErrMalformed, paid)
		}
	}
	return n, nil
}

// Acknowledge answers the plain text Alipay expects: "success", or "fail" (with the
// Rejection status), after which Alipay redelivers for about a day.
func (p *Provider) Acknowledge(w http.ResponseWriter, _ *payment.Notification, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err == nil {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "success")
		return
	}
	status, _ := payment.Rejection(err)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "fail")
}
