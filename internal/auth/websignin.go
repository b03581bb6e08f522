package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/websigninstate"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/identity"
	"github.com/xiadan/xiadan/internal/viewer"
)

// WebSignInTTL is how long a started web sign-in may be finished.
const WebSignInTTL = 10 * time.Minute

// WebSignInStarted is what the browser needs to send the person to the platform and to
// finish afterwards.
type WebSignInStarted struct {
	// AuthorizeURL is the platform's sign-in page (state, redirect URI and, where the
	// platform takes it, the PKCE challenge included).
	AuthorizeURL string
	// State comes back on the redirect URI; BrowserSecret never leaves the browser that
	// started (keep it in sessionStorage) and proves it is the same one finishing.
	State, BrowserSecret string
	ExpiresAt            time.Time
}

// StartWebSignIn begins a web OAuth sign-in with platform that returns to redirectURI
// (one of WEB_SIGNIN_REDIRECT_URIS). With linkUserID set, finishing it links the identity
// to that account instead of signing in. Only hashes of the state and the browser secret
// are stored; the PKCE verifier is derived from both, so the server keeps nothing that
// could finish the flow on its own.
func (s *Service) StartWebSignIn(ctx context.Context, db *ent.Client, p identity.Platform, redirectURI string, linkUserID int) (*WebSignInStarted, error) {
	if s.Identities == nil || !p.Valid() {
		return nil, apperror.BadInput("platform", "unknown platform")
	}
	w, err := s.Identities.Web(p)
	if err != nil {
		return nil, apperror.BadInput("platform", "web sign-in with %s is not configured on this server", p)
	}
	if len(redirectURI) > 1024 || !s.SignIn.RedirectAllowed(redirectURI) {
		return nil, apperror.BadInput("redirectURI", "is not one of the server's WEB_SIGNIN_REDIRECT_URIS")
	}
	state, browser := randomToken(), randomToken()
	now := s.now()
	sys := viewer.SystemContext(ctx)
	// Old states go as new ones come; nothing else needs them.
	if _, err := db.WebSignInState.Delete().Where(websigninstate.ExpiresAtLT(now.Add(-time.Hour))).Exec(sys); err != nil {
		return nil, err
	}
	c := db.WebSignInState.Create().
		SetStateHash(hashToken(state)).SetBrowserHash(hashToken(browser)).
		SetProvider(websigninstate.Provider(p)).SetAppID(w.AppID()).SetRedirectURI(redirectURI).
		SetPkce(w.PKCE()).SetCreatedAt(now).SetExpiresAt(now.Add(WebSignInTTL))
	if linkUserID != 0 {
		c.SetLinkUserID(linkUserID)
	}
	if err := c.Exec(sys); err != nil {
		return nil, err
	}
	challenge := ""
	if w.PKCE() {
		sum := sha256.Sum256([]byte(pkceVerifier(browser, state)))
		challenge = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return &WebSignInStarted{AuthorizeURL: w.AuthorizeURL(state, redirectURI, challenge), State: state, BrowserSecret: browser,
		ExpiresAt: now.Add(WebSignInTTL)}, nil
}

// FinishWebSignIn trades the code the platform sent to the redirect URI for the person's
// account there and signs in (see signInIdentity). The state works once, for
// WebSignInTTL, with the browser secret of the browser that started it.
func (s *Service) FinishWebSignIn(ctx context.Context, state, code, browser string) (*Session, error) {
	st, acct, err := s.finishWeb(ctx, state, code, browser, 0)
	if err != nil {
		return nil, err
	}
	_ = st
	return s.signInAccount(ctx, acct, nil)
}

// LinkWebIdentity finishes a web sign-in that userID started with link, adding the
// identity to their account (see linkIdentity).
func (s *Service) LinkWebIdentity(ctx context.Context, userID int, state, code, browser string) (*ent.UserIdentity, error) {
	_, acct, err := s.finishWeb(ctx, state, code, browser, userID)
	if err != nil {
		return nil, err
	}
	var out *ent.UserIdentity
	err = withTx(ctx, s.Client, func(tx *ent.Client) error {
		out, err = s.linkIdentity(ctx, tx, userID, providerOf(acct.Platform), acct.AppID, acct.OpenID, acct.UnionID)
		return err
	})
	return out, err
}

// errBadState is the one answer for a state that is unknown, used, expired, of another
// browser or of another purpose.
var errBadState = &apperror.Error{Code: apperror.BadUserInput, Field: "state", Extensions: map[string]any{"reason": "STATE_INVALID"},
	Message: "this sign-in is not valid: it expired, was finished already, or was started in another browser; start again"}

// finishWeb claims the state (single use: claimed before the platform is asked, so a
// replay finds it used) and exchanges the code.
func (s *Service) finishWeb(ctx context.Context, state, code, browser string, linkUserID int) (*ent.WebSignInState, *identity.Account, error) {
	sys := viewer.SystemContext(ctx)
	now := s.now()
	st, err := s.Client.WebSignInState.Query().Where(websigninstate.StateHash(hashToken(state))).Only(sys)
	if ent.IsNotFound(err) {
		return nil, nil, errBadState
	}
	if err != nil {
		return nil, nil, err
	}
	link := 0
	if st.LinkUserID != nil {
		link = *st.LinkUserID
	}
	if subtle.ConstantTimeCompare([]byte(hashToken(browser)), []byte(st.BrowserHash)) != 1 ||
		st.UsedAt != nil || !now.Before(st.ExpiresAt) || link != linkUserID {
		return nil, nil, errBadState
	}
	n, err := s.Client.WebSignInState.Update().
		Where(websigninstate.ID(st.ID), websigninstate.UsedAtIsNil()).SetUsedAt(now).Save(sys)
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		return nil, nil, errBadState
	}
	p := identity.Platform(st.Provider)
	w, err := s.Identities.Web(p)
	if err != nil || w.AppID() != st.AppID {
		return nil, nil, errBadState // the server's configuration changed meanwhile
	}
	if err := s.takePlatformCall(ctx); err != nil {
		return nil, nil, err
	}
	verifier := ""
	if st.Pkce {
		verifier = pkceVerifier(browser, state)
	}
	acct, err := w.Exchange(ctx, code, st.RedirectURI, verifier)
	if err != nil {
		return nil, nil, s.platformError(ctx, p, err)
	}
	return st, acct, nil
}

// pkceVerifier is the PKCE code verifier of a web sign-in: 43 characters derived from the
// browser secret and the state (RFC 7636 allows 43 to 128 of [A-Za-z0-9-._~]).
func pkceVerifier(browser, state string) string {
	m := hmac.New(sha256.New, []byte(browser))
	m.Write([]byte("xiadan-pkce.v1\n" + state))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
