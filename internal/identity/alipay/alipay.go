// Package alipay signs people in with Alipay mini programs: my.getAuthCode's auth code
// goes to alipay.system.oauth.token, an RSA2-signed request whose answer is verified with
// Alipay's public key before anything in it is believed.
package alipay

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	_ "time/tzdata" // gopay reads Asia/Shanghai for the request timestamp

	"github.com/go-pay/gopay"
	gopayalipay "github.com/go-pay/gopay/alipay"

	"github.com/xiadan/xiadan/internal/identity"
	"github.com/xiadan/xiadan/internal/payment"
)

// The gateways.
const (
	ProductionGateway = "https://openapi.alipay.com/gateway.do"
	SandboxGateway    = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
	method            = "alipay.system.oauth.token"
)

// Options configure the adapter.
type Options struct {
	AppID           string
	PrivateKey      *rsa.PrivateKey // the app's key, which signs requests
	AlipayPublicKey *rsa.PublicKey  // Alipay's key, which verifies answers
	// Production selects ProductionGateway over SandboxGateway; GatewayURL overrides both.
	Production bool
	GatewayURL string
	HTTPClient *http.Client
}

// MiniProgram is an Alipay mini program.
type MiniProgram struct {
	appID     string
	client    *gopayalipay.Client
	publicKey string // base64 PKIX DER, as gopay verifies with
	gateway   string
	hc        *http.Client
}

var _ identity.MiniProgram = (*MiniProgram)(nil)

// New returns the adapter.
func New(o Options) (*MiniProgram, error) {
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
	m := &MiniProgram{appID: o.AppID, client: c, publicKey: base64.StdEncoding.EncodeToString(pub), gateway: o.GatewayURL, hc: o.HTTPClient}
	if m.gateway == "" {
		m.gateway = SandboxGateway
		if o.Production {
			m.gateway = ProductionGateway
		}
	}
	if m.hc == nil {
		m.hc = identity.DefaultHTTPClient()
	}
	return m, nil
}

// FromConfig reads the key files of c.
func FromConfig(c identity.AlipayConfig, production bool, gateway string, hc *http.Client) (*MiniProgram, error) {
	priv, err := payment.ReadRSAPrivateKey(c.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("ALIPAY_MINI_PRIVATE_KEY_FILE: %w", err)
	}
	pub, _, err := payment.ReadRSAPublicKey(c.PublicKeyFile)
	if err != nil {
		return nil, fmt.Errorf("ALIPAY_MINI_PUBLIC_KEY_FILE: %w", err)
	}
	return New(Options{AppID: c.AppID, PrivateKey: priv, AlipayPublicKey: pub, Production: production, GatewayURL: gateway, HTTPClient: hc})
}

// Platform returns ALIPAY.
func (m *MiniProgram) Platform() identity.Platform { return identity.Alipay }

// AppID returns the mini program's app id.
func (m *MiniProgram) AppID() string { return m.appID }

// Exchange calls alipay.system.oauth.token (grant_type authorization_code). The answer
// object must be signed by Alipay over its exact text; the person is its open_id (newer
// apps) or its 2088… user_id (older ones). The access and refresh tokens are not kept.
func (m *MiniProgram) Exchange(ctx context.Context, code string) (*identity.Account, error) {
	if !identity.ValidCode(code) {
		return nil, fmt.Errorf("%w: malformed code", identity.ErrInvalidCode)
	}
	params, err := m.client.RequestParam(gopay.BodyMap{"grant_type": "authorization_code", "code": code}, method)
	if err != nil {
		return nil, fmt.Errorf("%w: alipay: signing %s", identity.ErrConfig, method)
	}
	u := m.gateway + "?charset=utf-8"
	if strings.Contains(m.gateway, "?") {
		u = m.gateway + "&charset=utf-8"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(params))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", identity.ErrProvider, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	res, err := m.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: alipay %s: request failed", identity.ErrProvider, method)
	}
	body, err := identity.ReadAnswer(res, "alipay "+method)
	if err != nil {
		return nil, err
	}
	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(body, &envelope); err != nil {
		return nil, fmt.Errorf("%w: alipay %s: answer is not JSON", identity.ErrProvider, method)
	}
	if raw, ok := envelope["error_response"]; ok {
		var e struct {
			Code    string `json:"code"`
			SubCode string `json:"sub_code"`
			SubMsg  string `json:"sub_msg"`
		}
		_ = json.Unmarshal(raw, &e)
		return nil, bizError(e.Code, e.SubCode, e.SubMsg)
	}
	raw, ok := envelope["alipay_system_oauth_token_response"]
	if !ok {
		return nil, fmt.Errorf("%w: alipay %s: no answer object", identity.ErrProvider, method)
	}
	var sign string
	if err := json.Unmarshal(envelope["sign"], &sign); err != nil || sign == "" {
		return nil, fmt.Errorf("%w: alipay %s: answer is unsigned", identity.ErrInvalidSignature, method)
	}
	if ok, err := gopayalipay.VerifySyncSign(m.publicKey, string(raw), sign); !ok || err != nil {
		return nil, fmt.Errorf("%w: alipay %s answer", identity.ErrInvalidSignature, method)
	}
	var a struct {
		Code    string `json:"code"`
		SubCode string `json:"sub_code"`
		SubMsg  string `json:"sub_msg"`
		UserID  string `json:"user_id"`
		OpenID  string `json:"open_id"`
		Token   string `json:"access_token"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("%w: alipay %s: %v", identity.ErrProvider, method, err)
	}
	if a.Code != "" && a.Code != "10000" {
		return nil, bizError(a.Code, a.SubCode, a.SubMsg)
	}
	id := a.OpenID
	if id == "" {
		id = a.UserID
	}
	if id == "" || a.Token == "" || len(id) > 128 {
		return nil, fmt.Errorf("%w: alipay %s: no user id", identity.ErrProvider, method)
	}
	return &identity.Account{Platform: identity.Alipay, AppID: m.appID, OpenID: id}, nil
}

// bizError classifies an Alipay error answer (not signature-checked: a forged one can
// only make a sign-in fail).
func bizError(code, subCode, subMsg string) error {
	sentinel := identity.ErrProvider
	switch {
	case subCode == "isv.code-invalid" || subCode == "isv.code-expired" || subCode == "isv.invalid-auth-code":
		sentinel = identity.ErrInvalidCode
	case subCode == "isv.invalid-signature" || subCode == "isv.invalid-app-id" || subCode == "isv.app-unbind-partner" ||
		code == "40006" || subCode == "isv.insufficient-isv-permissions":
		sentinel = identity.ErrConfig
	case code == "40004" && strings.Contains(subCode, "limit"), subCode == "aop.app-call-limited", subCode == "isp.rate-limit":
		sentinel = identity.ErrRateLimited
	}
	if len(subMsg) > 120 {
		subMsg = subMsg[:120]
	}
	return fmt.Errorf("%w: alipay %s: code %s %s %s", sentinel, method, code, subCode, subMsg)
}
