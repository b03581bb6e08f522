package wechat

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/identity"
)

// platform answers every call with the recorded body for the code it was sent, after
// checking the request the way WeChat does.
func platform(t *testing.T, path string, answers map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := q.Get("js_code") + q.Get("code")
		if r.URL.Path != path || q.Get("appid") != "wx1234567890abcdef" || q.Get("secret") != "s3cret" || q.Get("grant_type") != "authorization_code" {
			t.Errorf("request %s %v", r.URL.Path, q)
		}
		body, ok := answers[code]
		if !ok {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/plain") // WeChat says text/plain for JSON
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Answers as jscode2session and sns/oauth2/access_token give them (documentation and
// observed traffic), errors included.
var recorded = map[string]string{
	"ok":       `{"session_key":"tiihtNczf5v6AKRyjwEUhQ==","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL"}`,
	"nounion":  `{"session_key":"tiihtNczf5v6AKRyjwEUhQ==","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`,
	"invalid":  `{"errcode":40029,"errmsg":"invalid code, rid: 6582a1b2-0c4e3f1a-5d6e7f80"}`,
	"used":     `{"errcode":40163,"errmsg":"code been used, rid: 6582a1b2-0c4e3f1a-5d6e7f81"}`,
	"limited":  `{"errcode":45011,"errmsg":"api minute-quota reach limit  mustslower  retry next minute"}`,
	"risky":    `{"errcode":40226,"errmsg":"invalid client"}`,
	"badsec":   `{"errcode":40125,"errmsg":"invalid appsecret, rid: 6582a1b2-0c4e3f1a-5d6e7f82"}`,
	"busy":     `{"errcode":-1,"errmsg":"system error"}`,
	"garbage":  `<html>502</html>`,
	"noopenid": `{"session_key":"x"}`,
	"web":      `{"access_token":"ACCESS_TOKEN","expires_in":7200,"refresh_token":"REFRESH_TOKEN","openid":"o9Web_openid","scope":"snsapi_login","unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL"}`,
}

func TestMiniProgramExchange(t *testing.T) {
	srv := platform(t, "/sns/jscode2session", recorded)
	m := NewMiniProgram(Options{AppID: "wx1234567890abcdef", Secret: "s3cret", APIBaseURL: srv.URL})
	a, err := m.Exchange(context.Background(), "ok")
	if err != nil || a.OpenID != "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" || a.UnionID != "o6_bmasdasdsad6_2sgVt7hMZOPfL" || a.AppID != "wx1234567890abcdef" || a.Platform != identity.WeChat {
		t.Fatalf("%+v %v", a, err)
	}
	if a, err := m.Exchange(context.Background(), "nounion"); err != nil || a.UnionID != "" {
		t.Fatalf("%+v %v", a, err)
	}
	for code, want := range map[string]error{
		"invalid": identity.ErrInvalidCode, "used": identity.ErrInvalidCode, "limited": identity.ErrRateLimited,
		"risky": identity.ErrRefused, "badsec": identity.ErrConfig, "busy": identity.ErrProvider,
		"garbage": identity.ErrProvider, "noopenid": identity.ErrProvider, "unknown": identity.ErrProvider,
		"bad code!": identity.ErrInvalidCode,
	} {
		_, err := m.Exchange(context.Background(), code)
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", code, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the secret: %v", code, err)
		}
	}
}

func TestWebExchange(t *testing.T) {
	srv := platform(t, "/sns/oauth2/access_token", recorded)
	w := NewWeb(Options{AppID: "wx1234567890abcdef", Secret: "s3cret", APIBaseURL: srv.URL})
	u := w.AuthorizeURL("st", "https://shop.example.com/cb", "")
	if !strings.HasPrefix(u, "https://open.weixin.qq.com/connect/qrconnect?") || !strings.Contains(u, "scope=snsapi_login") ||
		!strings.Contains(u, "state=st") || !strings.HasSuffix(u, "#wechat_redirect") || w.PKCE() {
		t.Fatalf("authorize URL %s", u)
	}
	a, err := w.Exchange(context.Background(), "web", "https://shop.example.com/cb", "")
	if err != nil || a.OpenID != "o9Web_openid" || a.UnionID == "" {
		t.Fatalf("%+v %v", a, err)
	}
	if _, err := w.Exchange(context.Background(), "invalid", "", ""); !errors.Is(err, identity.ErrInvalidCode) {
		t.Fatalf("invalid code: %v", err)
	}
}
