package qq

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xiadan/xiadan/internal/identity"
)

// connect is a fake graph.qq.com answering with recorded bodies (fmt=json).
func connect(t *testing.T, me string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("fmt") != "json" {
			t.Errorf("fmt %q", q.Get("fmt"))
		}
		switch r.URL.Path {
		case "/oauth2.0/token":
			if q.Get("client_id") != "101234567" || q.Get("client_secret") != "appkey" || q.Get("redirect_uri") != "https://shop.example.com/cb" {
				t.Errorf("token request %v", q)
			}
			switch q.Get("code") {
			case "ok":
				_, _ = w.Write([]byte(`{"access_token":"FE04************************CCE2","expires_in":"7776000","refresh_token":"88E4************************BE14"}`))
			case "ratelimited":
				w.WriteHeader(http.StatusTooManyRequests)
			default:
				_, _ = w.Write([]byte(`{"error":100019,"error_description":"code to access token error"}`))
			}
		case "/oauth2.0/me":
			if q.Get("unionid") != "1" || q.Get("access_token") == "" {
				t.Errorf("me request %v", q)
			}
			_, _ = w.Write([]byte(me))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestConnectExchange(t *testing.T) {
	ctx := context.Background()
	srv := connect(t, `{"client_id":"101234567","openid":"4C1A7D9E6B5F3A2E1D0C9B8A7F6E5D4C","unionid":"UID_8E6C5B4A3F2E1D0C9B8A7F6E5D4C3B2A"}`)
	c := NewConnect(Options{AppID: "101234567", Secret: "appkey", BaseURL: srv.URL})
	a, err := c.Exchange(ctx, "ok", "https://shop.example.com/cb", "")
	if err != nil || a.OpenID != "4C1A7D9E6B5F3A2E1D0C9B8A7F6E5D4C" || a.UnionID == "" || a.Platform != identity.QQ {
		t.Fatalf("%+v %v", a, err)
	}
	if _, err := c.Exchange(ctx, "used", "https://shop.example.com/cb", ""); !errors.Is(err, identity.ErrInvalidCode) {
		t.Fatalf("invalid code: %v", err)
	}
	if _, err := c.Exchange(ctx, "ratelimited", "https://shop.example.com/cb", ""); !errors.Is(err, identity.ErrRateLimited) {
		t.Fatalf("HTTP 429: %v", err)
	}
	// A token issued to another app is not ours to trust.
	other := NewConnect(Options{AppID: "101234567", Secret: "appkey", BaseURL: connect(t, `{"client_id":"999","openid":"X"}`).URL})
	if _, err := other.Exchange(ctx, "ok", "https://shop.example.com/cb", ""); !errors.Is(err, identity.ErrProvider) {
		t.Fatalf("token of another app: %v", err)
	}
	if u := c.AuthorizeURL("st", "https://shop.example.com/cb", ""); u != srv.URL+"/oauth2.0/authorize?client_id=101234567&redirect_uri=https%3A%2F%2Fshop.example.com%2Fcb&response_type=code&scope=get_user_info&state=st" {
		t.Fatalf("authorize URL %s", u)
	}
}

func TestMiniProgramExchange(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sns/jscode2session" || r.URL.Query().Get("appid") != "1112223334" {
			t.Errorf("request %s", r.URL)
		}
		if r.URL.Query().Get("js_code") == "ok" {
			_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"","openid":"C3E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7","session_key":"k","unionid":""}`))
			return
		}
		_, _ = w.Write([]byte(`{"errcode":40029,"errmsg":"invalid code"}`))
	}))
	defer srv.Close()
	m := NewMiniProgram(Options{AppID: "1112223334", Secret: "s", BaseURL: srv.URL})
	if a, err := m.Exchange(context.Background(), "ok"); err != nil || a.OpenID == "" || a.UnionID != "" {
		t.Fatalf("%+v %v", a, err)
	}
	if _, err := m.Exchange(context.Background(), "bad"); !errors.Is(err, identity.ErrInvalidCode) {
		t.Fatalf("invalid code: %v", err)
	}
}
