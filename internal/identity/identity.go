// Package identity asks sign-in platforms who signed in: it exchanges a mini-program
// login code (wx.login, qq.login, ks.login, my.getAuthCode) or a web OAuth code (QQ
// Connect, WeChat website login) for the person's openid (and unionid) at the platform.
// It has no database code: internal/auth stores identities and starts sessions.
//
//	internal/identity            MiniProgram and Web interfaces, Registry, Config, errors
//	internal/identity/sandbox    the offline platform (default outside production)
//	internal/identity/wechat     jscode2session, website login (sns/oauth2)
//	internal/identity/qq         api.q.qq.com jscode2session, QQ Connect (graph.qq.com)
//	internal/identity/kuaishou   open.kuaishou.com oauth2/mp/code2session
//	internal/identity/alipay     alipay.system.oauth.token (RSA2-signed, signed answer)
//	internal/identity/providers  builds the Registry from Config
package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"
)

// Platform is a sign-in platform; the values are those of UserIdentity.provider.
type Platform string

// The platforms.
const (
	WeChat   Platform = "WECHAT"
	QQ       Platform = "QQ"
	Kuaishou Platform = "KUAISHOU"
	Alipay   Platform = "ALIPAY"
)

// Platforms lists every platform, in a fixed order.
func Platforms() []Platform { return []Platform{WeChat, QQ, Kuaishou, Alipay} }

// Valid reports whether p is a known platform.
func (p Platform) Valid() bool {
	switch p {
	case WeChat, QQ, Kuaishou, Alipay:
		return true
	}
	return false
}

// Account is who a platform says signed in.
type Account struct {
	Platform Platform
	// AppID is the app the OpenID belongs to: openids differ per app.
	AppID string
	// OpenID is the person's id in AppID; never empty.
	OpenID string
	// UnionID is the person's id across the apps of one platform account, when the
	// platform gives it ("" otherwise).
	UnionID string
}

// MiniProgram exchanges the login code of a mini program for the account.
type MiniProgram interface {
	Platform() Platform
	AppID() string
	// Exchange trades a code (each works once, for minutes) for the account that
	// obtained it.
	Exchange(ctx context.Context, code string) (*Account, error)
}

// Web is a web OAuth 2.0 sign-in (authorization code flow).
type Web interface {
	Platform() Platform
	AppID() string
	// PKCE reports whether the provider takes a code_challenge (S256).
	PKCE() bool
	// AuthorizeURL is where the browser goes to sign in. codeChallenge is "" without PKCE.
	AuthorizeURL(state, redirectURI, codeChallenge string) string
	// Exchange trades the code the provider sent to redirectURI for the account.
	// codeVerifier is "" without PKCE.
	Exchange(ctx context.Context, code, redirectURI, codeVerifier string) (*Account, error)
}

// Sentinel errors. Adapters wrap them with context (never with secrets).
var (
	// ErrInvalidCode: the code is wrong, used or expired — the client's mistake; it asks
	// the person to sign in again.
	ErrInvalidCode = errors.New("identity: invalid or expired code")
	// ErrRateLimited: the platform refuses for now (too many requests).
	ErrRateLimited = errors.New("identity: rate limited by the platform")
	// ErrRefused: the platform refuses this person (a risky account, a blocked user).
	ErrRefused = errors.New("identity: the platform refused this account")
	// ErrInvalidSignature: the answer is not signed by the platform.
	ErrInvalidSignature = errors.New("identity: invalid signature")
	// ErrConfig: the platform refuses our credentials (app id, secret, key).
	ErrConfig = errors.New("identity: the platform refused our credentials")
	// ErrProvider: the platform could not be reached, failed or answered nonsense.
	ErrProvider = errors.New("identity: platform unavailable")
	// ErrUnsupported: no such platform, or it is not configured.
	ErrUnsupported = errors.New("identity: unsupported")
)

// codePattern is what a login code may look like before it is sent anywhere: the
// platforms' codes are short URL-safe strings.
var codePattern = regexp.MustCompile(`^[A-Za-z0-9_.~+/=-]{1,256}$`)

// ValidCode reports whether code can be a platform's login code.
func ValidCode(code string) bool { return codePattern.MatchString(code) }

// DefaultHTTPClient calls platforms unless an adapter is given another.
func DefaultHTTPClient() *http.Client { return &http.Client{Timeout: 10 * time.Second} }

// maxAnswer bounds what is read of a platform's answer.
const maxAnswer = 64 << 10

// ReadAnswer reads a platform's HTTP answer (at most 64 KiB), refusing non-200 statuses
// as ErrProvider (429 as ErrRateLimited).
func ReadAnswer(res *http.Response, what string) ([]byte, error) {
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrProvider, what, err)
	}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		return nil, fmt.Errorf("%w: %s: HTTP 429", ErrRateLimited, what)
	case res.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: %s: HTTP %d", ErrProvider, what, res.StatusCode)
	}
	return body, nil
}

// Registry holds the configured mini programs and web sign-ins, one of each kind per
// platform. It is immutable and safe for concurrent use.
type Registry struct {
	mini map[Platform]MiniProgram
	web  map[Platform]Web
}

// NewRegistry returns a registry of the given adapters.
func NewRegistry(mini []MiniProgram, web []Web) *Registry {
	r := &Registry{mini: map[Platform]MiniProgram{}, web: map[Platform]Web{}}
	for _, m := range mini {
		r.mini[m.Platform()] = m
	}
	for _, w := range web {
		r.web[w.Platform()] = w
	}
	return r
}

// MiniProgram returns the mini program of p, or ErrUnsupported.
func (r *Registry) MiniProgram(p Platform) (MiniProgram, error) {
	if m, ok := r.mini[p]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("%w: no mini program configured for %s", ErrUnsupported, p)
}

// Web returns the web sign-in of p, or ErrUnsupported.
func (r *Registry) Web(p Platform) (Web, error) {
	if w, ok := r.web[p]; ok {
		return w, nil
	}
	return nil, fmt.Errorf("%w: no web sign-in configured for %s", ErrUnsupported, p)
}
