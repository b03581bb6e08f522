package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// JSCode2Session is WeChat's jscode2session call, which QQ mini programs copy at
// api.q.qq.com: GET endpoint?appid=&secret=&js_code=&grant_type=authorization_code,
// answered with {openid, session_key, unionid} or {errcode, errmsg}. The session_key is
// dropped at once: nothing here decrypts user data.
func JSCode2Session(ctx context.Context, hc *http.Client, endpoint string, platform Platform, appID, secret, code string) (*Account, error) {
	if !ValidCode(code) {
		return nil, fmt.Errorf("%w: malformed code", ErrInvalidCode)
	}
	q := url.Values{"appid": {appID}, "secret": {secret}, "js_code": {code}, "grant_type": {"authorization_code"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProvider, err)
	}
	what := string(platform) + " jscode2session"
	res, err := hc.Do(req)
	if err != nil {
		// The URL carries the secret: never let it into the error.
		return nil, fmt.Errorf("%w: %s: request failed", ErrProvider, what)
	}
	body, err := ReadAnswer(res, what)
	if err != nil {
		return nil, err
	}
	var a struct {
		OpenID  string `json:"openid"`
		UnionID string `json:"unionid"`
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%w: %s: answer is not JSON", ErrProvider, what)
	}
	if a.ErrCode != 0 {
		return nil, WeChatError(what, a.ErrCode, a.ErrMsg)
	}
	if a.OpenID == "" || len(a.OpenID) > 128 || len(a.UnionID) > 128 {
		return nil, fmt.Errorf("%w: %s: no usable openid", ErrProvider, what)
	}
	return &Account{Platform: platform, AppID: appID, OpenID: a.OpenID, UnionID: a.UnionID}, nil
}

// WeChatError classifies an errcode of WeChat's (and QQ mini programs') APIs.
func WeChatError(what string, code int, msg string) error {
	sentinel := ErrProvider
	switch code {
	case 40029, 40163, 40030, 41008: // invalid code, code been used, invalid refresh token, missing code
		sentinel = ErrInvalidCode
	case 45011, 45009: // minute quota, daily quota
		sentinel = ErrRateLimited
	case 40226: // high-risk user, blocked by WeChat
		sentinel = ErrRefused
	case 40013, 40125, 40001, 41002, 41004, 40164: // invalid appid, appsecret, credential, missing them, IP not allowed
		sentinel = ErrConfig
	}
	return fmt.Errorf("%w: %s: errcode %d %s", sentinel, what, code, clip(msg))
}

// clip keeps a platform's message short in our logs.
func clip(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}
