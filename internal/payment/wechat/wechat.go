// Package wechat is the WeChat Pay API v3 adapter (direct merchant): gopay signs the
// requests (WECHATPAY2-SHA256-RSA2048) and builds wx.requestPayment's paySign; this package
// verifies platform signatures against the configured platform keys (never fetching keys
// on its own), decrypts notifications, checks they are for our mchid and appid, and
// speaks the payment.Provider interface.
package wechat

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/pkg/xhttp"
	wxv3 "github.com/go-pay/gopay/wechat/v3"

	"github.com/xiadan/xiadan/internal/payment"
)

const (
	// Name is the provider's name.
	Name = "WECHAT"
	// DefaultBaseURL is WeChat Pay's API host.
	DefaultBaseURL = "https://api.mch.weixin.qq.com"
	// DefaultTolerance is how far a notification's Wechatpay-Timestamp may be from now.
	DefaultTolerance = 5 * time.Minute
)

// The headers of a signed notification or response.
const (
	HeaderSerial    = "Wechatpay-Serial"
	HeaderSignature = "Wechatpay-Signature"
	HeaderTimestamp = "Wechatpay-Timestamp"
	HeaderNonce     = "Wechatpay-Nonce"
)

const (
	maxBody           = 1 << 20
	descriptionRunes  = 127
	reasonRunes       = 80
	resourceAlgorithm = "AEAD_AES_256_GCM"
	eventPaid         = "TRANSACTION.SUCCESS"
)

// Options configure the adapter.
type Options struct {
	MchID string
	AppID string
	// APIv3Key (32 bytes) decrypts notification resources.
	APIv3Key []byte
	// SerialNo is the serial of the merchant API certificate whose PrivateKey signs requests.
	SerialNo   string
	PrivateKey *rsa.PrivateKey
	// PlatformKeys are the WeChat Pay platform keys by serial (certificate serial or
	// PUB_KEY_ID_…); notifications and responses must be signed by one of them.
	PlatformKeys map[string]*rsa.PublicKey
	// BaseURL overrides DefaultBaseURL (tests, egress proxies).
	BaseURL string
	// HTTPClient calls the API (a client with a 15s timeout by default).
	HTTPClient *http.Client
	// Tolerance bounds the age of a notification's timestamp (DefaultTolerance).
	Tolerance time.Duration
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// Provider is the WeChat Pay adapter. It is safe for concurrent use.
type Provider struct {
	mchID, appID string
	apiV3Key     string
	client       *wxv3.ClientV3
	platform     map[string]*rsa.PublicKey
	tolerance    time.Duration
	now          func() time.Time
}

var _ payment.Provider = (*Provider)(nil)

// New returns the adapter.
func New(o Options) (*Provider, error) {
	switch {
	case o.MchID == "" || o.AppID == "" || o.SerialNo == "" || o.PrivateKey == nil:
		return nil, errors.New("wechat: mch id, app id, serial number and private key are required")
	case len(o.APIv3Key) != 32:
		return nil, errors.New("wechat: the API v3 key must be 32 bytes")
	case len(o.PlatformKeys) == 0:
		return nil, errors.New("wechat: at least one platform key is required")
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(o.PrivateKey)})
	c, err := wxv3.NewClientV3(o.MchID, o.SerialNo, string(o.APIv3Key), string(keyPEM))
	if err != nil {
		return nil, errors.New("wechat: the private key was refused") // gopay's error would quote the key
	}
	if o.BaseURL != "" {
		c.SetProxyHost(o.BaseURL)
	}
	hc := xhttp.NewClient()
	if o.HTTPClient != nil {
		hc.HttpClient = o.HTTPClient
	} else {
		hc.SetTimeout(15 * time.Second)
	}
	c.SetHttpClient(hc)
	p := &Provider{
		mchID: o.MchID, appID: o.AppID, apiV3Key: string(o.APIv3Key), client: c,
		platform: map[string]*rsa.PublicKey{}, tolerance: o.Tolerance, now: o.Now,
	}
	for serial, k := range o.PlatformKeys {
		if k == nil || serial == "" {
			return nil, errors.New("wechat: empty platform key or serial")
		}
		p.platform[serial] = k
		if c.WxSerialNo == "" || serial < c.WxSerialNo {
			c.WxSerialNo = serial // sent as Wechatpay-Serial; any configured key will do
		}
	}
	if p.tolerance <= 0 {
		p.tolerance = DefaultTolerance
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// FromConfig reads the key files named in c and returns the adapter.
func FromConfig(c payment.WeChatConfig, hc *http.Client) (*Provider, error) {
	priv, err := payment.ReadRSAPrivateKey(c.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("WECHAT_PRIVATE_KEY_FILE: %w", err)
	}
	pub, certSerial, err := payment.ReadRSAPublicKey(c.PlatformCertFile)
	if err != nil {
		return nil, fmt.Errorf("WECHAT_PLATFORM_CERT_FILE: %w", err)
	}
	// WeChat names the key in Wechatpay-Serial exactly as it lists it, so a configured
	// serial is used as written; a certificate's own serial must agree with it.
	serial := c.PlatformSerial
	switch {
	case serial == "" && certSerial == "":
		return nil, errors.New("WECHAT_PLATFORM_SERIAL: is required for a WeChat Pay public key (PUB_KEY_ID_…)")
	case serial == "":
		serial = certSerial
	case certSerial != "" && !strings.EqualFold(strings.TrimLeft(serial, "0"), strings.TrimLeft(certSerial, "0")):
		return nil, fmt.Errorf("WECHAT_PLATFORM_SERIAL: %s does not match the certificate's serial %s", serial, certSerial)
	}
	return New(Options{
		MchID: c.MchID, AppID: c.AppID, APIv3Key: []byte(c.APIv3Key.Reveal()), SerialNo: c.SerialNo,
		PrivateKey: priv, PlatformKeys: map[string]*rsa.PublicKey{serial: pub}, BaseURL: c.BaseURL, HTTPClient: hc,
	})
}

// Name returns "WECHAT".
func (p *Provider) Name() string { return Name }

// Create places a WeChat Pay order:
//
//	NATIVE_QR     /v3/pay/transactions/native → QR_CODE (code_url)
//	MINI_PROGRAM  /v3/pay/transactions/jsapi  → MINI_PROGRAM (wx.requestPayment params, RSA paySign), needs OpenID
//	H5_REDIRECT   /v3/pay/transactions/h5     → REDIRECT (h5_url, with redirect_url = ReturnURL), needs ClientIP
//	APP           /v3/pay/transactions/app    → APP (app SDK params, RSA sign)
func (p *Provider) Create(ctx context.Context, req payment.CreateRequest) (*payment.Instructions, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if req.Method != payment.MethodWeChatPay {
		return nil, fmt.Errorf("%w: wechat does not serve %s", payment.ErrUnsupported, req.Method)
	}
	fen, err := payment.Fen(req.Amount)
	if err != nil {
		return nil, err
	}
	bm := gopay.BodyMap{
		"appid":        p.appID,
		"mchid":        p.mchID,
		"description":  payment.ShortenRunes(req.Subject, descriptionRunes),
		"out_trade_no": req.PaymentRef,
		"notify_url":   req.NotifyURL,
		"amount":       gopay.BodyMap{"total": fen, "currency": "CNY"},
	}
	if !req.ExpiresAt.IsZero() {
		bm["time_expire"] = req.ExpiresAt.In(payment.Beijing()).Format(time.RFC3339)
	}
	switch req.Channel {
	case payment.ChannelNativeQR:
		rsp, err := p.client.V3TransactionNative(ctx, bm)
		if err := p.checkResponse("native", rsp, err); err != nil {
			return nil, err
		}
		if rsp.Response.CodeUrl == "" {
			return nil, fmt.Errorf("%w: wechat native: no code_url", payment.ErrProvider)
		}
		return &payment.Instructions{Kind: payment.KindQRCode, QRCodeURL: rsp.Response.CodeUrl}, nil
	case payment.ChannelMiniProgram:
		if req.OpenID == "" {
			return nil, fmt.Errorf("%w: wechat mini-program pay needs the payer's OpenID", payment.ErrInvalidRequest)
		}
		bm["payer"] = gopay.BodyMap{"openid": req.OpenID}
		rsp, err := p.client.V3TransactionJsapi(ctx, bm)
		if err := p.checkResponse("jsapi", rsp, err); err != nil {
			return nil, err
		}
		if rsp.Response.PrepayId == "" {
			return nil, fmt.Errorf("%w: wechat jsapi: no prepay_id", payment.ErrProvider)
		}
		ps, err := p.client.PaySignOfApplet(p.appID, rsp.Response.PrepayId)
		if err != nil {
			return nil, fmt.Errorf("wechat: signing mini-program params: %w", err)
		}
		return &payment.Instructions{Kind: payment.KindMiniProgram, MiniProgramParams: map[string]string{
			"appId": ps.AppId, "timeStamp": ps.TimeStamp, "nonceStr": ps.NonceStr,
			"package": ps.Package, "signType": ps.SignType, "paySign": ps.PaySign,
		}}, nil
	case payment.ChannelH5Redirect:
		if req.ClientIP == "" {
			return nil, fmt.Errorf("%w: wechat H5 pay needs the payer's ClientIP", payment.ErrInvalidRequest)
		}
		bm["scene_info"] = gopay.BodyMap{"payer_client_ip": req.ClientIP, "h5_info": gopay.BodyMap{"type": "Wap"}}
		rsp, err := p.client.V3TransactionH5(ctx, bm)
		if err := p.checkResponse("h5", rsp, err); err != nil {
			return nil, err
		}
		u := rsp.Response.H5Url
		if u == "" {
			return nil, fmt.Errorf("%w: wechat h5: no h5_url", payment.ErrProvider)
		}
		if req.ReturnURL != "" {
			u += "&redirect_url=" + url.QueryEscape(req.ReturnURL)
		}
		return &payment.Instructions{Kind: payment.KindRedirect, RedirectURL: u}, nil
	case payment.ChannelApp:
		rsp, err := p.client.V3TransactionApp(ctx, bm)
		if err := p.checkResponse("app", rsp, err); err != nil {
			return nil, err
		}
		if rsp.Response.PrepayId == "" {
			return nil, fmt.Errorf("%w: wechat app: no prepay_id", payment.ErrProvider)
		}
		ps, err := p.client.PaySignOfApp(p.appID, rsp.Response.PrepayId)
		if err != nil {
			return nil, fmt.Errorf("wechat: signing app params: %w", err)
		}
		return &payment.Instructions{Kind: payment.KindApp, AppParams: map[string]string{
			"appid": ps.Appid, "partnerid": ps.Partnerid, "prepayid": ps.Prepayid, "package": ps.Package,
			"noncestr": ps.Noncestr, "timestamp": ps.Timestamp, "sign": ps.Sign,
		}}, nil
	}
	return nil, fmt.Errorf("%w: wechat channel %s", payment.ErrUnsupported, req.Channel)
}

// checkResponse turns a gopay result into an error: transport failures are ErrProvider,
// HTTP errors are classified by WeChat's error code, and a success must carry a valid
// platform signature by a configured key.
func (p *Provider) checkResponse(op string, rsp any, err error) error {
	if err != nil {
		return fmt.Errorf("%w: wechat %s: %v", payment.ErrProvider, op, err)
	}
	var (
		code int
		si   *wxv3.SignInfo
		er   wxv3.ErrResponse
	)
	switch r := rsp.(type) {
	case *wxv3.PrepayRsp:
		code, si, er = r.Code, r.SignInfo, r.ErrResponse
	case *wxv3.NativeRsp:
		code, si, er = r.Code, r.SignInfo, r.ErrResponse
	case *wxv3.H5Rsp:
		code, si, er = r.Code, r.SignInfo, r.ErrResponse
	case *wxv3.QueryOrderRsp:
		code, si, er = r.Code, r.SignInfo, r.ErrResponse
	case *wxv3.RefundRsp:
		code, si, er = r.Code, r.SignInfo, r.ErrResponse
	default:
		return fmt.Errorf("wechat %s: unexpected response type %T", op, rsp)
	}
	if code != wxv3.Success {
		sentinel := payment.ErrDeclined
		switch {
		case code == http.StatusNotFound || er.Code == "ORDER_NOT_EXIST" || er.Code == "RESOURCE_NOT_EXISTS":
			sentinel = payment.ErrNotFound
		case code >= 500 || code == http.StatusTooManyRequests || er.Code == "SYSTEM_ERROR" || er.Code == "FREQUENCY_LIMITED":
			sentinel = payment.ErrProvider
		}
		return fmt.Errorf("%w: wechat %s: HTTP %d %s %s", sentinel, op, code, er.Code, er.Message)
	}
	if si == nil {
		return fmt.Errorf("%w: wechat %s: unsigned response", payment.ErrInvalidSignature, op)
	}
	return p.verify("wechat "+op+" response", si.HeaderSerial, si.HeaderTimestamp, si.HeaderNonce, si.HeaderSignature, si.SignBody)
}

// verify checks a platform signature over "timestamp\nnonce\nbody\n".
func (p *Provider) verify(what, serial, ts, nonce, sig, body string) error {
	if serial == "" || ts == "" || nonce == "" || sig == "" {
		return fmt.Errorf("%w: %s: missing Wechatpay-* signature headers", payment.ErrInvalidSignature, what)
	}
	key, ok := p.platform[serial]
	if !ok {
		return fmt.Errorf("%w: %s: platform serial %q is not configured", payment.ErrUnknownKey, what, serial)
	}
	if err := wxv3.V3VerifySignByPK(ts, nonce, body, sig, key); err != nil {
		return fmt.Errorf("%w: %s", payment.ErrInvalidSignature, what)
	}
	return nil
}

// Query reports the order's state from /v3/pay/transactions/out-trade-no/{ref}.
func (p *Provider) Query(ctx context.Context, paymentRef string) (*payment.Status, error) {
	if !payment.ValidRef(paymentRef) {
		return nil, fmt.Errorf("%w: invalid payment ref", payment.ErrInvalidRequest)
	}
	rsp, err := p.client.V3TransactionQueryOrder(ctx, wxv3.OutTradeNo, paymentRef)
	if err := p.checkResponse("query", rsp, err); err != nil {
		return nil, err
	}
	o := rsp.Response
	if o.Mchid != p.mchID || o.Appid != p.appID {
		return nil, fmt.Errorf("%w: wechat query for mchid %q appid %q", payment.ErrMismatch, o.Mchid, o.Appid)
	}
	if o.OutTradeNo != paymentRef {
		return nil, fmt.Errorf("%w: wechat query answered for %q", payment.ErrMismatch, o.OutTradeNo)
	}
	s := &payment.Status{PaymentRef: o.OutTradeNo, ProviderRef: o.TransactionId}
	if s.Outcome, err = outcomeOf(o.TradeState); err != nil {
		return nil, err
	}
	if o.Amount != nil {
		if s.Amount, err = payment.FenMoney(int64(o.Amount.Total)); err != nil {
			return nil, err
		}
	}
	if o.SuccessTime != "" {
		s.PaidAt, _ = time.Parse(time.RFC3339, o.SuccessTime)
	}
	return s, nil
}

// outcomeOf maps a trade_state.
func outcomeOf(state string) (payment.Outcome, error) {
	switch state {
	case "SUCCESS":
		return payment.OutcomeSucceeded, nil
	case "REFUND":
		return payment.OutcomeRefunded, nil
	case "NOTPAY", "USERPAYING":
		return payment.OutcomePending, nil
	case "CLOSED", "REVOKED":
		return payment.OutcomeClosed, nil
	case "PAYERROR":
		return payment.OutcomeFailed, nil
	}
	return "", fmt.Errorf("%w: wechat trade_state %q", payment.ErrMalformed, state)
}

// Refund calls /v3/refund/domestic/refunds with out_refund_no = RefundRef. WeChat
// refunds asynchronously: SUCCESS is SUCCEEDED, PROCESSING is PENDING.
func (p *Provider) Refund(ctx context.Context, req payment.RefundRequest) (*payment.RefundResult, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	refund, err := payment.Fen(req.Amount)
	if err != nil {
		return nil, err
	}
	total, err := payment.Fen(req.Total)
	if err != nil {
		return nil, err
	}
	bm := gopay.BodyMap{
		"out_trade_no":  req.PaymentRef,
		"out_refund_no": req.RefundRef,
		"amount":        gopay.BodyMap{"refund": refund, "total": total, "currency": "CNY"},
	}
	if req.Reason != "" {
		bm["reason"] = payment.ShortenRunes(req.Reason, reasonRunes)
	}
	rsp, err := p.client.V3Refund(ctx, bm)
	if err := p.checkResponse("refund", rsp, err); err != nil {
		return nil, err
	}
	r := rsp.Response
	if r.OutRefundNo != req.RefundRef {
		return nil, fmt.Errorf("%w: wechat refund answered for %q", payment.ErrMismatch, r.OutRefundNo)
	}
	res := &payment.RefundResult{RefundRef: req.RefundRef, ProviderRefundRef: r.RefundId, Amount: req.Amount}
	switch r.Status {
	case "SUCCESS":
		res.Outcome = payment.OutcomeSucceeded
	case "PROCESSING":
		res.Outcome = payment.OutcomePending
	default:
		return nil, fmt.Errorf("%w: wechat refund status %s", payment.ErrDeclined, r.Status)
	}
	return res, nil
}

// envelope is a v3 notification body.
type envelope struct {
	ID           string `json:"id"`
	CreateTime   string `json:"create_time"`
	EventType    string `json:"event_type"`
	ResourceType string `json:"resource_type"`
	Resource     *struct {
		Algorithm      string `json:"algorithm"`
		Ciphertext     string `json:"ciphertext"`
		AssociatedData string `json:"associated_data"`
		Nonce          string `json:"nonce"`
		OriginalType   string `json:"original_type"`
	} `json:"resource"`
	Summary string `json:"summary"`
}

// transaction is the decrypted resource of a payment notification; amounts are integer fen.
type transaction struct {
	AppID         string `json:"appid"`
	MchID         string `json:"mchid"`
	OutTradeNo    string `json:"out_trade_no"`
	TransactionID string `json:"transaction_id"`
	TradeState    string `json:"trade_state"`
	SuccessTime   string `json:"success_time"`
	Amount        *struct {
		Total    *int64 `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

// ParseNotification verifies a v3 notification: the platform serial must be configured
// (ErrUnknownKey), the RSA signature over "timestamp\nnonce\nbody\n" must verify
// (ErrInvalidSignature), the timestamp must be within the tolerance (ErrExpired); then
// it decrypts the AEAD_AES_256_GCM resource with the API v3 key and checks mchid and
// appid (ErrMismatch).
func (p *Provider) ParseNotification(_ context.Context, r *http.Request) (*payment.Notification, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, fmt.Errorf("%w: wechat notify: unreadable or oversized body", payment.ErrMalformed)
	}
	ts := r.Header.Get(HeaderTimestamp)
	if err := p.verify("wechat notify", r.Header.Get(HeaderSerial), ts, r.Header.Get(HeaderNonce), r.Header.Get(HeaderSignature), string(body)); err != nil {
		return nil, err
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: wechat notify: timestamp %q", payment.ErrMalformed, ts)
	}
	if d := p.now().Sub(time.Unix(unix, 0)); d > p.tolerance || d < -p.tolerance {
		return nil, fmt.Errorf("%w: wechat notify signed %s from now", payment.ErrExpired, d.Round(time.Second))
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: wechat notify: %v", payment.ErrMalformed, err)
	}
	if env.Resource == nil || env.Resource.Algorithm != resourceAlgorithm {
		return nil, fmt.Errorf("%w: wechat notify: resource missing or not %s", payment.ErrMalformed, resourceAlgorithm)
	}
	if env.EventType != eventPaid {
		return nil, fmt.Errorf("%w: wechat notify: event_type %q is not %s", payment.ErrMalformed, env.EventType, eventPaid)
	}
	plain, err := wxv3.V3DecryptNotifyCipherTextToBytes(env.Resource.Ciphertext, env.Resource.Nonce, env.Resource.AssociatedData, p.apiV3Key)
	if err != nil {
		return nil, fmt.Errorf("%w: wechat notify: resource does not decrypt with WECHAT_API_V3_KEY", payment.ErrInvalidSignature)
	}
	var tx transaction
	if err := json.NewDecoder(bytes.NewReader(plain)).Decode(&tx); err != nil {
		return nil, fmt.Errorf("%w: wechat notify resource: %v", payment.ErrMalformed, err)
	}
	if tx.MchID != p.mchID || tx.AppID != p.appID {
		return nil, fmt.Errorf("%w: wechat notify for mchid %q appid %q", payment.ErrMismatch, tx.MchID, tx.AppID)
	}
	n := &payment.Notification{
		Provider: Name, PaymentRef: tx.OutTradeNo, ProviderRef: tx.TransactionID,
		AppID: tx.AppID, MerchantID: tx.MchID, Raw: plain,
	}
	switch {
	case !payment.ValidRef(n.PaymentRef) || n.ProviderRef == "":
		return nil, fmt.Errorf("%w: wechat notify: missing out_trade_no or transaction_id", payment.ErrMalformed)
	case tx.Amount == nil || tx.Amount.Total == nil:
		return nil, fmt.Errorf("%w: wechat notify: no amount", payment.ErrMalformed)
	case tx.Amount.Currency != "CNY":
		return nil, fmt.Errorf("%w: wechat notify: currency %q", payment.ErrMalformed, tx.Amount.Currency)
	}
	if n.Amount, err = payment.FenMoney(*tx.Amount.Total); err != nil {
		return nil, err
	}
	if n.Outcome, err = outcomeOf(tx.TradeState); err != nil {
		return nil, err
	}
	if n.Outcome == payment.OutcomeSucceeded {
		if n.PaidAt, err = time.Parse(time.RFC3339, tx.SuccessTime); err != nil {
			return nil, fmt.Errorf("%w: wechat success_time %q", payment.ErrMalformed, tx.SuccessTime)
		}
	}
	return n, nil
}

// Acknowledge answers 200 {"code":"SUCCESS","message":"成功"}, or the Rejection status
// with {"code":"FAIL","message":…}, after which WeChat redelivers (for up to a day).
func (p *Provider) Acknowledge(w http.ResponseWriter, _ *payment.Notification, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err == nil {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"code":"SUCCESS","message":"成功"}`)
		return
	}
	status, reason := payment.Rejection(err)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(wxv3.V3NotifyRsp{Code: "FAIL", Message: reason})
}
