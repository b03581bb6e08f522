package alipay

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/identity"
)

// signContent is Alipay's string-to-sign, written independently of gopay.
func signContent(v url.Values) string {
	var keys []string
	for k := range v {
		if k != "sign" && v.Get(k) != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + v.Get(k)
	}
	return strings.Join(parts, "&")
}

func rsaSign(k *rsa.PrivateKey, s string) string {
	sum := sha256.Sum256([]byte(s))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	return base64.StdEncoding.EncodeToString(sig)
}

func TestExchange(t *testing.T) {
	appKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	aliKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	// Answers shaped as alipay.system.oauth.token's (the object signed over its exact text).
	objects := map[string]string{
		"ok":      `{"access_token":"authusrB9a8e7d6c5b4a3f2e1d0c9b8a7f6e5d4","alipay_user_id":"20880012345678901234567890123456","auth_start":"2026-12-06 12:00:00","expires_in":1296000,"re_expires_in":2592000,"refresh_token":"authusrBrefresh","open_id":"074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"}`,
		"old":     `{"access_token":"authusrB1","user_id":"2088102104794936","expires_in":1296000,"refresh_token":"r"}`,
		"tamper":  `{"access_token":"authusrB1","open_id":"someone-else","expires_in":1296000}`,
		"invalid": ``,
		"limited": ``,
		"nosign":  ``,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f := r.PostForm
		if err := rsa.VerifyPKCS1v15(&appKey.PublicKey, crypto.SHA256, sha256sum(signContent(f)), mustB64(f.Get("sign"))); err != nil {
			t.Errorf("request signature: %v", err)
		}
		if f.Get("method") != "alipay.system.oauth.token" || f.Get("grant_type") != "authorization_code" || f.Get("app_id") != "2021000000000002" || f.Get("sign_type") != "RSA2" {
			t.Errorf("request %v", f)
		}
		code := f.Get("code")
		switch code {
		case "invalid":
			_, _ = w.Write([]byte(`{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.code-invalid","sub_msg":"授权码code无效"},"sign":"x"}`))
			return
		case "limited":
			_, _ = w.Write([]byte(`{"error_response":{"code":"40004","msg":"Business Failed","sub_code":"aop.app-call-limited","sub_msg":"调用次数超限"},"sign":"x"}`))
			return
		case "nosign":
			_, _ = w.Write([]byte(`{"alipay_system_oauth_token_response":{"access_token":"a","open_id":"o"}}`))
			return
		}
		obj := objects[code]
		sig := rsaSign(aliKey, obj)
		if code == "tamper" {
			sig = rsaSign(aliKey, strings.Replace(obj, "someone-else", "the-real-one", 1))
		}
		_, _ = w.Write([]byte(`{"alipay_system_oauth_token_response":` + obj + `,"sign":"` + sig + `"}`))
	}))
	defer srv.Close()
	m, err := New(Options{AppID: "2021000000000002", PrivateKey: appKey, AlipayPublicKey: &aliKey.PublicKey, GatewayURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if a, err := m.Exchange(ctx, "ok"); err != nil || a.OpenID != "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5" || a.Platform != identity.Alipay {
		t.Fatalf("%+v %v", a, err)
	}
	if a, err := m.Exchange(ctx, "old"); err != nil || a.OpenID != "2088102104794936" {
		t.Fatalf("an app with user ids: %+v %v", a, err)
	}
	for code, want := range map[string]error{
		"tamper": identity.ErrInvalidSignature, "nosign": identity.ErrInvalidSignature,
		"invalid": identity.ErrInvalidCode, "limited": identity.ErrRateLimited,
	} {
		if _, err := m.Exchange(ctx, code); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", code, err, want)
		}
	}
}

func sha256sum(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func mustB64(s string) []byte {
	b, _ := base64.StdEncoding.DecodeString(s)
	return b
}
