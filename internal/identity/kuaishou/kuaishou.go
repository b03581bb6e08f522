// Package kuaishou signs people in with Kuaishou mini programs: ks.login's code goes to
// open.kuaishou.com/oauth2/mp/code2session.
package kuaishou

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/xiadan/xiadan/internal/identity"
)

// BaseURL is Kuaishou's open platform.
const BaseURL = "https://open.kuaishou.com"

// Options configure the adapter.
type Options struct {
	AppID, Secret string
	// BaseURL overrides https://open.kuaishou.com.
	BaseURL    string
	HTTPClient *http.Client
}

// MiniProgram is a Kuaishou mini program.
type MiniProgram struct{ o Options }

var _ identity.MiniProgram = (*MiniProgram)(nil)

// NewMiniProgram returns the adapter.
func NewMiniProgram(o Options) *MiniProgram {
	if o.BaseURL == "" {
		o.BaseURL = BaseURL
	}
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/")
	if o.HTTPClient == nil {
		o.HTTPClient = identity.DefaultHTTPClient()
	}
	return &MiniProgram{o}
}

// Platform returns KUAISHOU.
func (m *MiniProgram) Platform() identity.Platform { return identity.Kuaishou }

// AppID returns the mini program's app id.
func (m *MiniProgram) AppID() string { return m.o.AppID }

// Exchange POSTs app_id, app_secret and js_code (a form, so the secret stays out of URLs
// and logs) and reads {result: 1, open_id, session_key}; any other result is an error
// with error_msg. Kuaishou gives no union id here.
func (m *MiniProgram) Exchange(ctx context.Context, code string) (*identity.Account, error) {
	if !identity.ValidCode(code) {
		return nil, fmt.Errorf("%w: malformed code", identity.ErrInvalidCode)
	}
	const what = "KUAISHOU code2session"
	form := url.Values{"app_id": {m.o.AppID}, "app_secret": {m.o.Secret}, "js_code": {code}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.o.BaseURL+"/oauth2/mp/code2session", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", identity.ErrProvider, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := m.o.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: request failed", identity.ErrProvider, what)
	}
	body, err := identity.ReadAnswer(res, what)
	if err != nil {
		return nil, err
	}
	var a struct {
		Result   int    `json:"result"`
		ErrorMsg string `json:"error_msg"`
		OpenID   string `json:"open_id"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%w: %s: answer is not JSON", identity.ErrProvider, what)
	}
	if a.Result != 1 {
		return nil, resultError(what, a.Result, a.ErrorMsg)
	}
	if a.OpenID == "" || len(a.OpenID) > 128 {
		return nil, fmt.Errorf("%w: %s: no usable open_id", identity.ErrProvider, what)
	}
	return &identity.Account{Platform: identity.Kuaishou, AppID: m.o.AppID, OpenID: a.OpenID}, nil
}

// resultError classifies Kuaishou's result codes (see docs/IDENTITY.md for how sure
// each one is).
func resultError(what string, result int, msg string) error {
	sentinel := identity.ErrProvider
	switch result {
	case 100200100: // invalid parameter: an unknown, used or expired js_code
		sentinel = identity.ErrInvalidCode
	case 100200101, 100200102: // app_id or app_secret rejected
		sentinel = identity.ErrConfig
	case 100200103, 100200104: // calls too frequent
		sentinel = identity.ErrRateLimited
	}
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return fmt.Errorf("%w: %s: result %d %s", sentinel, what, result, msg)
}
