// Package qq is the QQ Wallet adapter (qpay.qq.com XML API): gopay computes the MD5 or
// HMAC-SHA256 API-key signatures and renders the XML; this package sends the requests
// (refunds over mutual TLS with the merchant certificate, verifying the server's),
// verifies every answer and notification, checks they are for our merchant and app,
// and speaks the payment.Provider interface.
package qq

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-pay/gopay"
	gopayqq "github.com/go-pay/gopay/qq"

	"github.com/xiadan/xiadan/internal/payment"
)

const (
	// Name is the provider's name.
	Name = "QQ"
	// DefaultPayHost serves ordering and queries; DefaultAPIHost serves refunds (mutual TLS).
	DefaultPayHost = "https://qpay.qq.com"
	DefaultAPIHost = "https://api.qpay.qq.com"
)

// The signature algorithms QQ Wallet accepts.
const (
	SignMD5        = gopayqq.SignType_MD5
	SignHMACSHA256 = gopayqq.SignType_HMAC_SHA256
)

const (
	unifiedOrderPath = "/cgi-bin/pay/qpay_unified_order.cgi"
	orderQueryPath   = "/cgi-bin/pay/qpay_order_query.cgi"
	refundPath       = "/cgi-bin/pay/qpay_refund.cgi"
	maxBody          = 1 << 20
	timeLayout       = "20060102150405"
	bodyBytes        = 32
	success          = "SUCCESS"
)

// Options configure the adapter.
type Options struct {
	MchID, AppID string
	// APIKey is the merchant API key that signs every message.
	APIKey string
	// SignType is SignMD5 (default) or SignHMACSHA256.
	SignType string
	// ClientCert is the merchant certificate refunds present; refunds are off without it.
	ClientCert *tls.Certificate
	// OpUserID and OpUserPassword identify the operator refunds require.
	OpUserID, OpUserPassword string
	// GatewayURL replaces both DefaultPayHost and DefaultAPIHost (tests, egress proxies).
	GatewayURL string
	// HTTPClient sends ordering and query requests (15s timeout by default).
	HTTPClient *http.Client
	// RootCAs verify the refund server's certificate (the system roots when nil).
	RootCAs *x509.CertPool
	// RefundHTTPClient replaces the client refunds use, which by default presents
	// ClientCert and verifies the server.
	RefundHTTPClient *http.Client
}

// Provider is the QQ Wallet adapter. It is safe for concurrent use.
type Provider struct {
	mchID, appID, apiKey, signType string
	opUserID, opPasswordMD5        string
	payHost, apiHost               string
	hc, tlsClient                  *http.Client
}

var _ payment.Provider = (*Provider)(nil)

// New returns the adapter.
func New(o Options) (*Provider, error) {
	if o.MchID == "" || o.AppID == "" || o.APIKey == "" {
		return nil, errors.New("qq: mch id, app id and API key are required")
	}
	p := &Provider{
		mchID: o.MchID, appID: o.AppID, apiKey: o.APIKey, signType: o.SignType,
		opUserID: o.OpUserID, payHost: DefaultPayHost, apiHost: DefaultAPIHost, hc: o.HTTPClient,
	}
	if p.signType == "" {
		p.signType = SignMD5
	}
	if p.signType != SignMD5 && p.signType != SignHMACSHA256 {
		return nil, fmt.Errorf("qq: sign type must be %s or %s", SignMD5, SignHMACSHA256)
	}
	if o.GatewayURL != "" {
		base := strings.TrimSuffix(o.GatewayURL, "/")
		p.payHost, p.apiHost = base, base
	}
	if p.hc == nil {
		p.hc = &http.Client{Timeout: 15 * time.Second}
	}
	if o.ClientCert != nil {
		if o.OpUserID == "" || o.OpUserPassword == "" {
			return nil, errors.New("qq: refunds need the operator id and password with the certificate")
		}
		sum := md5.Sum([]byte(o.OpUserPassword))
		p.opPasswordMD5 = hex.EncodeToString(sum[:])
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// Unlike gopay's own certificate helper, keep verifying the server's certificate.
		tr.TLSClientConfig = &tls.Config{Certificates: []tls.Certificate{*o.ClientCert}, RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}
		p.tlsClient = &http.Client{Timeout: 15 * time.Second, Transport: tr}
		if o.RefundHTTPClient != nil {
			p.tlsClient = o.RefundHTTPClient
		}
	}
	return p, nil
}

// FromConfig loads the client certificate named in c, if any, and returns the adapter.
func FromConfig(c payment.QQConfig, hc *http.Client) (*Provider, error) {
	o := Options{
		MchID: c.MchID, AppID: c.AppID, APIKey: c.APIKey.Reveal(), SignType: c.SignType,
		OpUserID: c.OpUserID, OpUserPassword: c.OpUserPassword.Reveal(), GatewayURL: c.GatewayURL, HTTPClient: hc,
	}
	if c.RefundsEnabled() {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, errors.New("QQ_CERT_FILE/QQ_KEY_FILE: cannot load the client certificate pair")
		}
		o.ClientCert = &cert
	}
	return New(o)
}

// Name returns "QQ".
func (p *Provider) Name() string { return Name }

// Create calls the unified order API:
//
//	NATIVE_QR     trade_type NATIVE  → QR_CODE (code_url)
//	MINI_PROGRAM  trade_type MINIAPP → MINI_PROGRAM (package "prepay_id=…", bargainor_id) for qq.requestPayment
//
// Both need ClientIP (spbill_create_ip).
func (p *Provider) Create(ctx context.Context, req payment.CreateRequest) (*payment.Instructions, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if req.Method != payment.MethodQQWallet {
		return nil, fmt.Errorf("%w: qq does not serve %s", payment.ErrUnsupported, req.Method)
	}
	var tradeType string
	switch req.Channel {
	case payment.ChannelNativeQR:
		tradeType = gopayqq.TradeType_Native
	case payment.ChannelMiniProgram:
		tradeType = gopayqq.TradeType_Mini
	default:
		return nil, fmt.Errorf("%w: qq channel %s", payment.ErrUnsupported, req.Channel)
	}
	if req.ClientIP == "" {
		return nil, fmt.Errorf("%w: qq needs the payer's ClientIP", payment.ErrInvalidRequest)
	}
	fen, err := payment.Fen(req.Amount)
	if err != nil {
		return nil, err
	}
	bm := gopay.BodyMap{
		"appid":            p.appID,
		"body":             payment.ShortenBytes(req.Subject, bodyBytes),
		"out_trade_no":     req.PaymentRef,
		"fee_type":         "CNY",
		"total_fee":        fen,
		"spbill_create_ip": req.ClientIP,
		"trade_type":       tradeType,
		"notify_url":       req.NotifyURL,
	}
	if !req.ExpiresAt.IsZero() {
		bm["time_expire"] = req.ExpiresAt.In(payment.Beijing()).Format(timeLayout)
	}
	r, err := p.call(ctx, p.hc, p.payHost+unifiedOrderPath, "unified order", bm)
	if err != nil {
		return nil, err
	}
	if tradeType == gopayqq.TradeType_Native {
		if r["code_url"] == "" {
			return nil, fmt.Errorf("%w: qq unified order: no code_url", payment.ErrProvider)
		}
		return &payment.Instructions{Kind: payment.KindQRCode, QRCodeURL: r["code_url"]}, nil
	}
	if r["prepay_id"] == "" {
		return nil, fmt.Errorf("%w: qq unified order: no prepay_id", payment.ErrProvider)
	}
	return &payment.Instructions{Kind: payment.KindMiniProgram, MiniProgramParams: map[string]string{
		"package": "prepay_id=" + r["prepay_id"], "bargainor_id": p.mchID,
	}}, nil
}

// call signs bm, posts it as XML and returns the verified answer: return_code and
// result_code SUCCESS, signed with our key, for our merchant (and app, when named).
func (p *Provider) call(ctx context.Context, hc *http.Client, url, op string, bm gopay.BodyMap) (map[string]string, error) {
	bm["mch_id"] = p.mchID
	bm["nonce_str"] = nonce()
	if p.signType != SignMD5 {
		bm["sign_type"] = p.signType
	}
	bm["sign"] = gopayqq.GetReleaseSign(p.apiKey, p.signType, bm)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(gopayqq.GenerateXml(bm)))
	if err != nil {
		return nil, fmt.Errorf("qq %s: %w", op, err)
	}
	hr.Header.Set("Content-Type", "application/xml; charset=utf-8")
	res, err := hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%w: qq %s: %v", payment.ErrProvider, op, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: qq %s: HTTP %d", payment.ErrProvider, op, res.StatusCode)
	}
	r, err := parseFlatXML(body)
	if err != nil {
		return nil, fmt.Errorf("%w: qq %s answer", payment.ErrProvider, op)
	}
	if r["return_code"] != success {
		return nil, fmt.Errorf("%w: qq %s: %s %s", payment.ErrProvider, op, r["return_code"], r["return_msg"])
	}
	if err := p.verify(r); err != nil {
		return nil, fmt.Errorf("qq %s answer: %w", op, err)
	}
	if r["mch_id"] != p.mchID || (r["appid"] != "" && r["appid"] != p.appID) {
		return nil, fmt.Errorf("%w: qq %s answered for mch_id %q appid %q", payment.ErrMismatch, op, r["mch_id"], r["appid"])
	}
	if r["result_code"] != success {
		sentinel := payment.ErrDeclined
		switch r["err_code"] {
		case "ORDERNOTEXIST":
			sentinel = payment.ErrNotFound
		case "SYSTEMERROR":
			sentinel = payment.ErrProvider
		}
		return nil, fmt.Errorf("%w: qq %s: %s %s", sentinel, op, r["err_code"], r["err_code_des"])
	}
	return r, nil
}

// verify checks the sign field of a flat message with our API key, in constant time.
func (p *Provider) verify(fields map[string]string) error {
	sign := fields["sign"]
	if sign == "" {
		return fmt.Errorf("%w: no sign", payment.ErrInvalidSignature)
	}
	bm := gopay.BodyMap{}
	for k, v := range fields {
		if k != "sign" {
			bm[k] = v
		}
	}
	want := gopayqq.GetReleaseSign(p.apiKey, p.signType, bm)
	if !hmac.Equal([]byte(strings.ToUpper(sign)), []byte(want)) {
		return fmt.Errorf("%w: sign does not match", payment.ErrInvalidSignature)
	}
	return nil
}

// Query reports the order's state from the order query API.
func (p *Provider) Query(ctx context.Context, paymentRef string) (*payment.Status, error) {
	if !payment.ValidRef(paymentRef) {
		return nil, fmt.Errorf("%w: invalid payment ref", payment.ErrInvalidRequest)
	}
	r, err := p.call(ctx, p.hc, p.payHost+orderQueryPath, "order query", gopay.BodyMap{"out_trade_no": paymentRef})
	if err != nil {
		return nil, err
	}
	if r["out_trade_no"] != paymentRef {
		return nil, fmt.Errorf("%w: qq query answered for %q", payment.ErrMismatch, r["out_trade_no"])
	}
	s := &payment.Status{PaymentRef: paymentRef, ProviderRef: r["transaction_id"]}
	if s.Outcome, err = outcomeOf(r["trade_state"]); err != nil {
		return nil, err
	}
	if r["total_fee"] != "" {
		if s.Amount, err = payment.ParseFen(r["total_fee"]); err != nil {
			return nil, err
		}
	}
	if r["time_end"] != "" {
		s.PaidAt, _ = time.ParseInLocation(timeLayout, r["time_end"], payment.Beijing())
	}
	return s, nil
}

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
	return "", fmt.Errorf("%w: qq trade_state %q", payment.ErrMalformed, state)
}

// Refund calls the refund API over mutual TLS with out_refund_no = RefundRef. QQ moves
// the money later, so an accepted refund is PENDING. Without a client certificate it
// returns ErrUnsupported.
func (p *Provider) Refund(ctx context.Context, req payment.RefundRequest) (*payment.RefundResult, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if p.tlsClient == nil {
		return nil, fmt.Errorf("%w: qq refunds need QQ_CERT_FILE, QQ_KEY_FILE, QQ_OP_USER_ID and QQ_OP_USER_PASSWORD", payment.ErrUnsupported)
	}
	fen, err := payment.Fen(req.Amount)
	if err != nil {
		return nil, err
	}
	r, err := p.call(ctx, p.tlsClient, p.apiHost+refundPath, "refund", gopay.BodyMap{
		"appid":          p.appID,
		"out_trade_no":   req.PaymentRef,
		"out_refund_no":  req.RefundRef,
		"refund_fee":     fen,
		"op_user_id":     p.opUserID,
		"op_user_passwd": p.opPasswordMD5,
	})
	if err != nil {
		return nil, err
	}
	if r["out_refund_no"] != "" && r["out_refund_no"] != req.RefundRef {
		return nil, fmt.Errorf("%w: qq refund answered for %q", payment.ErrMismatch, r["out_refund_no"])
	}
	return &payment.RefundResult{RefundRef: req.RefundRef, ProviderRefundRef: r["refund_id"], Amount: req.Amount, Outcome: payment.OutcomePending}, nil
}

// ParseNotification verifies a payment notification (flat XML signed with the API key),
// checks appid and mch_id, and parses total_fee (fen) exactly. QQ Wallet puts no signing
// time in it, so replays are possible: handle them idempotently.
func (p *Provider) ParseNotification(_ context.Context, r *http.Request) (*payment.Notification, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, fmt.Errorf("%w: qq notify: unreadable or oversized body", payment.ErrMalformed)
	}
	f, err := parseFlatXML(body)
	if err != nil {
		return nil, fmt.Errorf("qq notify: %w", err)
	}
	if err := p.verify(f); err != nil {
		return nil, fmt.Errorf("qq notify: %w", err)
	}
	if f["appid"] != p.appID || f["mch_id"] != p.mchID {
		return nil, fmt.Errorf("%w: qq notify for appid %q mch_id %q", payment.ErrMismatch, f["appid"], f["mch_id"])
	}
	n := &payment.Notification{
		Provider: Name, PaymentRef: f["out_trade_no"], ProviderRef: f["transaction_id"],
		AppID: f["appid"], MerchantID: f["mch_id"], Raw: body,
	}
	if !payment.ValidRef(n.PaymentRef) || n.ProviderRef == "" {
		return nil, fmt.Errorf("%w: qq notify: missing out_trade_no or transaction_id", payment.ErrMalformed)
	}
	if ft := f["fee_type"]; ft != "" && ft != "CNY" {
		return nil, fmt.Errorf("%w: qq notify: fee_type %q", payment.ErrMalformed, ft)
	}
	if n.Amount, err = payment.ParseFen(f["total_fee"]); err != nil {
		return nil, fmt.Errorf("qq notify total_fee: %w", err)
	}
	if n.Outcome, err = outcomeOf(f["trade_state"]); err != nil {
		return nil, err
	}
	if n.Outcome == payment.OutcomeSucceeded {
		if n.PaidAt, err = time.ParseInLocation(timeLayout, f["time_end"], payment.Beijing()); err != nil {
			return nil, fmt.Errorf("%w: qq notify time_end %q", payment.ErrMalformed, f["time_end"])
		}
	}
	return n, nil
}

// Acknowledge answers <xml><return_code>SUCCESS</return_code></xml>, or FAIL with a
// return_msg (and the Rejection status), after which QQ Wallet redelivers.
func (p *Provider) Acknowledge(w http.ResponseWriter, _ *payment.Notification, err error) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	if err == nil {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, (&gopayqq.NotifyResponse{ReturnCode: success}).ToXmlString())
		return
	}
	status, reason := payment.Rejection(err)
	w.WriteHeader(status)
	var msg strings.Builder
	_ = xml.EscapeText(&msg, []byte(reason))
	_, _ = io.WriteString(w, (&gopayqq.NotifyResponse{ReturnCode: "FAIL", ReturnMsg: msg.String()}).ToXmlString())
}

// parseFlatXML reads <xml><k>v</k>…</xml>, refusing nesting and repeated fields, so no
// field can hide from the signature check.
func parseFlatXML(b []byte) (map[string]string, error) {
	dec := xml.NewDecoder(strings.NewReader(string(b)))
	out := map[string]string{}
	depth := 0
	var key string
	var val strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: not XML: %v", payment.ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && t.Name.Local != "xml":
				return nil, fmt.Errorf("%w: root element %q is not xml", payment.ErrMalformed, t.Name.Local)
			case depth == 2:
				key = t.Name.Local
				val.Reset()
			case depth > 2:
				return nil, fmt.Errorf("%w: nested element in %q", payment.ErrMalformed, key)
			}
		case xml.CharData:
			if depth == 2 {
				val.Write(t)
			}
		case xml.EndElement:
			if depth == 2 {
				if _, dup := out[key]; dup {
					return nil, fmt.Errorf("%w: field %q repeated", payment.ErrMalformed, key)
				}
				out[key] = val.String()
			}
			depth--
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty message", payment.ErrMalformed)
	}
	return out, nil
}

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
