// Package sandbox is the offline sign-in platform: it stands in for every platform that
// is not configured, outside production, so `make run` and the tests sign people in
// through the same code as with the real platforms (identities, merge rules, state and
// PKCE) without a network. It keeps no state: a web code is a ticket signed with the
// sandbox secret.
package sandbox

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/xiadan/xiadan/internal/identity"
)

// App ids of the sandbox's mini programs and web sign-ins (the same on every platform).
const (
	MiniAppID = "sandbox-mini"
	WebAppID  = "sandbox-web"
	// AuthorizePath is where the sandbox's sign-in page is mounted.
	AuthorizePath = "/identity/sandbox/authorize"
	// Codes that make a mini-program sign-in fail the way a platform's does.
	CodeInvalid     = "invalid-code"
	CodeRateLimited = "rate-limited"
	codeTTL         = 5 * time.Minute
)

// namePattern is what a sandbox mini-program code is: the name of a made-up person, who
// gets the same openid every time.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Sandbox makes the offline stand-ins.
type Sandbox struct {
	secret    []byte
	publicURL string
	now       func() time.Time
}

// New returns the sandbox; publicURL is the server's base URL, where its page is mounted.
func New(secret []byte, publicURL string) *Sandbox {
	return &Sandbox{secret: secret, publicURL: strings.TrimSuffix(publicURL, "/"), now: time.Now}
}

func (s *Sandbox) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(m.Sum(nil))
}

// account is the made-up person called name at platform in app. WeChat and QQ give a
// union id (the same in the mini program and on the web, as with an open platform
// account); Kuaishou and Alipay do not.
func (s *Sandbox) account(p identity.Platform, app, name string) *identity.Account {
	a := &identity.Account{Platform: p, AppID: app,
		OpenID: "sbx-" + strings.ToLower(string(p)) + "-" + s.mac("xiadan-signin-sandbox-openid.v1", string(p), app, name)[:24]}
	if p == identity.WeChat || p == identity.QQ {
		a.UnionID = "sbxu-" + s.mac("xiadan-signin-sandbox-unionid.v1", string(p), name)[:24]
	}
	return a
}

// Mini returns the stand-in mini program of p.
func (s *Sandbox) Mini(p identity.Platform) identity.MiniProgram { return &mini{s, p} }

// Web returns the stand-in web sign-in of p.
func (s *Sandbox) Web(p identity.Platform) identity.Web { return &web{s, p} }

type mini struct {
	s *Sandbox
	p identity.Platform
}

func (m *mini) Platform() identity.Platform { return m.p }
func (m *mini) AppID() string               { return MiniAppID }

// Exchange takes the name of a made-up person as the code ("ann"), or CodeInvalid or
// CodeRateLimited to play a platform's refusals.
func (m *mini) Exchange(_ context.Context, code string) (*identity.Account, error) {
	switch {
	case code == CodeInvalid || !namePattern.MatchString(code):
		return nil, fmt.Errorf("%w: sandbox: code %q", identity.ErrInvalidCode, code)
	case code == CodeRateLimited:
		return nil, fmt.Errorf("%w: sandbox", identity.ErrRateLimited)
	}
	return m.s.account(m.p, MiniAppID, code), nil
}

type web struct {
	s *Sandbox
	p identity.Platform
}

func (w *web) Platform() identity.Platform { return w.p }
func (w *web) AppID() string               { return WebAppID }

// PKCE is true: the sandbox checks S256 code challenges, so that path is exercised.
func (w *web) PKCE() bool { return true }

func (w *web) AuthorizeURL(state, redirectURI, codeChallenge string) string {
	q := url.Values{"platform": {string(w.p)}, "state": {state}, "redirect_uri": {redirectURI}}
	if codeChallenge != "" {
		q.Set("code_challenge", codeChallenge)
		q.Set("code_challenge_method", "S256")
	}
	return w.s.publicURL + AuthorizePath + "?" + q.Encode()
}

// ticket is what a sandbox web code carries.
type ticket struct {
	Platform    identity.Platform `json:"p"`
	Name        string            `json:"n"`
	RedirectURI string            `json:"r"`
	Challenge   string            `json:"c,omitempty"`
	Expires     int64             `json:"e"`
}

// Code returns the code the sandbox's page gives name for a sign-in at platform that
// returns to redirectURI with challenge (tests call it to skip the page).
func (s *Sandbox) Code(p identity.Platform, name, redirectURI, challenge string) string {
	b, _ := json.Marshal(ticket{Platform: p, Name: name, RedirectURI: redirectURI, Challenge: challenge, Expires: s.now().Add(codeTTL).Unix()})
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + s.mac("xiadan-signin-sandbox-code.v1", body)
}

// Exchange checks the code's signature, age, redirect URI and PKCE verifier.
func (w *web) Exchange(_ context.Context, code, redirectURI, verifier string) (*identity.Account, error) {
	body, sig, ok := strings.Cut(code, ".")
	if !ok || subtle.ConstantTimeCompare([]byte(sig), []byte(w.s.mac("xiadan-signin-sandbox-code.v1", body))) != 1 {
		return nil, fmt.Errorf("%w: sandbox: code not signed by the sandbox", identity.ErrInvalidCode)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	var t ticket
	if err != nil || json.Unmarshal(raw, &t) != nil {
		return nil, fmt.Errorf("%w: sandbox: unreadable code", identity.ErrInvalidCode)
	}
	switch {
	case t.Platform != w.p:
		return nil, fmt.Errorf("%w: sandbox: code of another platform", identity.ErrInvalidCode)
	case w.s.now().Unix() > t.Expires:
		return nil, fmt.Errorf("%w: sandbox: code expired", identity.ErrInvalidCode)
	case t.RedirectURI != redirectURI:
		return nil, fmt.Errorf("%w: sandbox: redirect_uri differs from the authorization request", identity.ErrInvalidCode)
	case (t.Challenge != "") != (verifier != ""):
		return nil, fmt.Errorf("%w: sandbox: PKCE verifier missing or unexpected", identity.ErrInvalidCode)
	case t.Challenge != "" && t.Challenge != Challenge(verifier):
		return nil, fmt.Errorf("%w: sandbox: PKCE verifier does not match", identity.ErrInvalidCode)
	case !namePattern.MatchString(t.Name):
		return nil, fmt.Errorf("%w: sandbox: bad name", identity.ErrInvalidCode)
	}
	return w.s.account(w.p, WebAppID, t.Name), nil
}

// Challenge is the S256 code challenge of a PKCE verifier (RFC 7636).
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox sign-in</title>
<style>body{font:16px system-ui;margin:3em auto;max-width:32em}input,button{font:inherit;padding:.3em}</style></head>
<body><h1>Sandbox sign-in: {{.Platform}}</h1>
<p>This page stands in for {{.Platform}}'s sign-in page (development only). Anyone may sign in as anyone here.</p>
<form method="post"><input type="hidden" name="platform" value="{{.Platform}}"><input type="hidden" name="state" value="{{.State}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}"><input type="hidden" name="code_challenge" value="{{.Challenge}}">
<label>Sign in as <input name="name" value="ann" pattern="[A-Za-z0-9_-]{1,64}" required></label> <button>Sign in</button></form>
<p>You will return to <code>{{.RedirectURI}}</code>.</p></body></html>`))

// Page is the sandbox's sign-in page: GET shows a form asking whom to sign in as; POST
// (or GET with name=) redirects to redirect_uri with a signed code and the state. It only
// redirects to http(s) URLs; finishing the sign-in checks the redirect URI again.
func (s *Sandbox) Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		p := identity.Platform(r.Form.Get("platform"))
		redirect, err := url.Parse(r.Form.Get("redirect_uri"))
		if !p.Valid() || err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") || redirect.Host == "" {
			http.Error(w, "platform or redirect_uri missing or invalid", http.StatusBadRequest)
			return
		}
		name := r.Form.Get("name")
		if name == "" || r.Method == http.MethodGet && r.URL.Query().Get("name") == "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_ = page.Execute(w, map[string]string{"Platform": string(p), "State": r.Form.Get("state"),
				"RedirectURI": redirect.String(), "Challenge": r.Form.Get("code_challenge")})
			return
		}
		if !namePattern.MatchString(name) {
			http.Error(w, "name: 1 to 64 of A-Z a-z 0-9 _ -", http.StatusBadRequest)
			return
		}
		q := redirect.Query()
		q.Set("code", s.Code(p, name, r.Form.Get("redirect_uri"), r.Form.Get("code_challenge")))
		q.Set("state", r.Form.Get("state"))
		redirect.RawQuery = q.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	})
}
