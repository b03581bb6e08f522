// Package wechat signs people in with WeChat: mini programs (wx.login → jscode2session)
// and website login (the open platform's QR-code OAuth, sns/oauth2/access_token).
package wechat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/xiadan/xiadan/internal/identity"
)

// The platform's hosts.
const (
	APIBaseURL  = "https://api.weixin.qq.com"
	OpenBaseURL = "https://open.weixin.qq.com"
)

// Options configure an adapter.
type Options struct {
	AppID, Secret string
	// APIBaseURL overrides https://api.weixin.qq.com; OpenBaseURL https://open.weixin.qq.com.
	APIBaseURL, OpenBaseURL string
	HTTPClient              *http.Client
}

func (o *Options) defaults() {
	if o.APIBaseURL == "" {
		o.APIBaseURL = APIBaseURL
	}
	if o.OpenBaseURL == "" {
		o.OpenBaseURL = OpenBaseURL
	}
	o.APIBaseURL = strings.TrimSuffix(o.APIBaseURL, "/")
	o.OpenBaseURL = strings.TrimSuffix(o.OpenBaseURL, "/")
	if o.HTTPClient == nil {
		o.HTTPClient = identity.DefaultHTTPClient()
	}
}

// MiniProgram is a WeChat mini program.
type MiniProgram struct{ o Options }

var _ identity.MiniProgram = (*MiniProgram)(nil)

// NewMiniProgram returns the adapter of a mini program.
func NewMiniProgram(o Options) *MiniProgram { o.defaults(); return &MiniProgram{o} }

// Platform returns WECHAT.
func (m *MiniProgram) Platform() identity.Platform { return identity.WeChat }

// AppID returns the mini program's app id.
func (m *MiniProgram) AppID() string { return m.o.AppID }

// Exchange calls jscode2session with a wx.login code.
func (m *MiniProgram) Exchange(ctx context.Context, code string) (*identity.Account, error) {
	return identity.JSCode2Session(ctx, m.o.HTTPClient, m.o.APIBaseURL+"/sns/jscode2session", identity.WeChat, m.o.AppID, m.o.Secret, code)
}

// Web is WeChat website login (a website app of the WeChat open platform). WeChat does not
// take PKCE.
type Web struct{ o Options }

var _ identity.Web = (*Web)(nil)

// NewWeb returns the adapter of a website app.
func NewWeb(o Options) *Web { o.defaults(); return &Web{o} }

// Platform returns WECHAT.
func (w *Web) Platform() identity.Platform { return identity.WeChat }

// AppID returns the website app's id.
func (w *Web) AppID() string { return w.o.AppID }

// PKCE is false: WeChat's OAuth has no code_challenge.
func (w *Web) PKCE() bool { return false }

// AuthorizeURL is the QR-code sign-in page (scope snsapi_login).
func (w *Web) AuthorizeURL(state, redirectURI, _ string) string {
	q := url.Values{"appid": {w.o.AppID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"snsapi_login"}, "state": {state}}
	return w.o.OpenBaseURL + "/connect/qrconnect?" + q.Encode() + "#wechat_redirect"
}

// Exchange calls sns/oauth2/access_token, whose answer names the openid and unionid; the
// access token itself is not kept.
func (w *Web) Exchange(ctx context.Context, code, _, _ string) (*identity.Account, error) {
	if !identity.ValidCode(code) {
		return nil, fmt.Errorf("%w: malformed code", identity.ErrInvalidCode)
	}
	q := url.Values{"appid": {w.o.AppID}, "secret": {w.o.Secret}, "code": {code}, "grant_type": {"authorization_code"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.o.APIBaseURL+"/sns/oauth2/access_token?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", identity.ErrProvider, err)
	}
	const what = "WECHAT oauth2/access_token"
	res, err := w.o.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: request failed", identity.ErrProvider, what)
	}
	body, err := identity.ReadAnswer(res, what)
	if err != nil {
		return nil, err
	}
	var a struct {
		AccessToken string `json:"access_token"`
		OpenID      string `json:"openid"`
		UnionID     string `json:"unionid"`
		ErrCode     int    `json:"errcode"`
		ErrMsg      string `json:"errmsg"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%w: %s: answer is not JSON", identity.ErrProvider, what)
	}
	if a.ErrCode != 0 {
		return nil, identity.WeChatError(what, a.ErrCode, a.ErrMsg)
	}
	if a.OpenID == "" || a.AccessToken == "" || len(a.OpenID) > 128 || len(a.UnionID) > 128 {
		return nil, fmt.Errorf("%w: %s: no usable openid", identity.ErrProvider, what)
	}
	return &identity.Account{Platform: identity.WeChat, AppID: w.o.AppID, OpenID: a.OpenID, UnionID: a.UnionID}, nil
}
