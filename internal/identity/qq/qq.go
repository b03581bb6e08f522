// Package qq signs people in with QQ: mini programs (qq.login → api.q.qq.com
// jscode2session) and QQ Connect website login (graph.qq.com OAuth 2.0).
package qq

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
	MiniAPIBaseURL = "https://api.q.qq.com"
	ConnectBaseURL = "https://graph.qq.com"
)

// Options configure an adapter.
type Options struct {
	AppID, Secret string
	// BaseURL overrides MiniAPIBaseURL (mini programs) or ConnectBaseURL (website login).
	BaseURL    string
	HTTPClient *http.Client
}

func (o *Options) defaults(base string) {
	if o.BaseURL == "" {
		o.BaseURL = base
	}
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/")
	if o.HTTPClient == nil {
		o.HTTPClient = identity.DefaultHTTPClient()
	}
}

// MiniProgram is a QQ mini program.
type MiniProgram struct{ o Options }

var _ identity.MiniProgram = (*MiniProgram)(nil)

// NewMiniProgram returns the adapter of a mini program.
func NewMiniProgram(o Options) *MiniProgram { o.defaults(MiniAPIBaseURL); return &MiniProgram{o} }

// Platform returns QQ.
func (m *MiniProgram) Platform() identity.Platform { return identity.QQ }

// AppID returns the mini program's app id.
func (m *MiniProgram) AppID() string { return m.o.AppID }

// Exchange calls api.q.qq.com's jscode2session with a qq.login code.
func (m *MiniProgram) Exchange(ctx context.Context, code string) (*identity.Account, error) {
	return identity.JSCode2Session(ctx, m.o.HTTPClient, m.o.BaseURL+"/sns/jscode2session", identity.QQ, m.o.AppID, m.o.Secret, code)
}

// Connect is QQ Connect website login. QQ Connect takes no PKCE.
type Connect struct{ o Options }

var _ identity.Web = (*Connect)(nil)

// NewConnect returns the adapter of a QQ Connect app (the app key is its Secret).
func NewConnect(o Options) *Connect { o.defaults(ConnectBaseURL); return &Connect{o} }

// Platform returns QQ.
func (c *Connect) Platform() identity.Platform { return identity.QQ }

// AppID returns the QQ Connect app id.
func (c *Connect) AppID() string { return c.o.AppID }

// PKCE is false: QQ Connect has no code_challenge.
func (c *Connect) PKCE() bool { return false }

// AuthorizeURL is QQ's sign-in page.
func (c *Connect) AuthorizeURL(state, redirectURI, _ string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {c.o.AppID}, "redirect_uri": {redirectURI},
		"state": {state}, "scope": {"get_user_info"}}
	return c.o.BaseURL + "/oauth2.0/authorize?" + q.Encode()
}

// Exchange trades the code for an access token (oauth2.0/token), then asks whose it is
// (oauth2.0/me with unionid=1), checking it was issued to our app. The access token is
// not kept.
func (c *Connect) Exchange(ctx context.Context, code, redirectURI, _ string) (*identity.Account, error) {
	if !identity.ValidCode(code) {
		return nil, fmt.Errorf("%w: malformed code", identity.ErrInvalidCode)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	q := url.Values{"grant_type": {"authorization_code"}, "client_id": {c.o.AppID}, "client_secret": {c.o.Secret},
		"code": {code}, "redirect_uri": {redirectURI}, "fmt": {"json"}}
	if err := c.get(ctx, "/oauth2.0/token", q, &tok); err != nil {
		return nil, err
	}
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("%w: QQ oauth2.0/token: no access_token", identity.ErrProvider)
	}
	var me struct {
		ClientID string `json:"client_id"`
		OpenID   string `json:"openid"`
		UnionID  string `json:"unionid"`
	}
	if err := c.get(ctx, "/oauth2.0/me", url.Values{"access_token": {tok.AccessToken}, "unionid": {"1"}, "fmt": {"json"}}, &me); err != nil {
		return nil, err
	}
	if me.ClientID != c.o.AppID {
		return nil, fmt.Errorf("%w: QQ oauth2.0/me: token of another app", identity.ErrProvider)
	}
	if me.OpenID == "" || len(me.OpenID) > 128 || len(me.UnionID) > 128 {
		return nil, fmt.Errorf("%w: QQ oauth2.0/me: no usable openid", identity.ErrProvider)
	}
	return &identity.Account{Platform: identity.QQ, AppID: c.o.AppID, OpenID: me.OpenID, UnionID: me.UnionID}, nil
}

// get calls a graph.qq.com endpoint with fmt=json and decodes its answer into out, or
// classifies its {error, error_description}.
func (c *Connect) get(ctx context.Context, path string, q url.Values, out any) error {
	what := "QQ " + strings.TrimPrefix(path, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.o.BaseURL+path+"?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("%w: %v", identity.ErrProvider, err)
	}
	res, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: request failed", identity.ErrProvider, what)
	}
	body, err := identity.ReadAnswer(res, what)
	if err != nil {
		return err
	}
	var e struct {
		Error       int    `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return fmt.Errorf("%w: %s: answer is not JSON", identity.ErrProvider, what)
	}
	if e.Error != 0 {
		return connectError(what, e.Error, e.Description)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: %s: %v", identity.ErrProvider, what, err)
	}
	return nil
}

// connectError classifies QQ Connect's error numbers.
func connectError(what string, code int, desc string) error {
	sentinel := identity.ErrProvider
	switch {
	case code == 100019 || code == 100020 || code == 100016: // code to access token error, code reused, token check failed
		sentinel = identity.ErrInvalidCode
	case code == 100010 || (code >= 100001 && code <= 100009): // redirect uri illegal, missing or invalid client id / secret
		sentinel = identity.ErrConfig
	case code == 100030 || code == 110401: // permission not granted, user not authorised
		sentinel = identity.ErrRefused
	}
	if len(desc) > 120 {
		desc = desc[:120]
	}
	return fmt.Errorf("%w: %s: error %d %s", sentinel, what, code, desc)
}
