package kuaishou

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xiadan/xiadan/internal/identity"
)

func TestExchange(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/oauth2/mp/code2session" || r.URL.RawQuery != "" {
			t.Errorf("request %s %s (the secret must travel in the body)", r.Method, r.URL)
		}
		_ = r.ParseForm()
		if r.PostForm.Get("app_id") != "ks123" || r.PostForm.Get("app_secret") != "sec" {
			t.Errorf("form %v", r.PostForm)
		}
		switch r.PostForm.Get("js_code") {
		case "ok":
			_, _ = w.Write([]byte(`{"result":1,"session_key":"9Nbb/XkQ0jnc1ugqPRnm3A==","open_id":"f18bd5b8e6e2d4a6c0f1e2d3c4b5a697"}`))
		case "limited":
			_, _ = w.Write([]byte(`{"result":100200103,"error_msg":"请求过于频繁"}`))
		default:
			_, _ = w.Write([]byte(`{"result":100200100,"error_msg":"参数错误"}`))
		}
	}))
	defer srv.Close()
	m := NewMiniProgram(Options{AppID: "ks123", Secret: "sec", BaseURL: srv.URL})
	a, err := m.Exchange(context.Background(), "ok")
	if err != nil || a.OpenID != "f18bd5b8e6e2d4a6c0f1e2d3c4b5a697" || a.Platform != identity.Kuaishou {
		t.Fatalf("%+v %v", a, err)
	}
	if _, err := m.Exchange(context.Background(), "expired"); !errors.Is(err, identity.ErrInvalidCode) {
		t.Fatalf("invalid code: %v", err)
	}
	if _, err := m.Exchange(context.Background(), "limited"); !errors.Is(err, identity.ErrRateLimited) {
		t.Fatalf("rate limited: %v", err)
	}
}
