package app_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/auth"
)

const registerMutation = `mutation($i: RegisterInput!) { register(input: $i) { accessToken refreshToken expiresAt user { id email displayName locale roles } } }`

func TestRegistrationRules(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		s.Register("taken@example.com", "First")
		cases := []struct {
			name, email, password, displayName string
			code, field                        string
		}{
			{"malformed email", "not-an-email", apitest.Password, "A", "BAD_USER_INPUT", "email"},
			{"email with display name", "Bob <bob@example.com>", apitest.Password, "A", "BAD_USER_INPUT", "email"},
			{"password too short", "short@example.com", "1234567", "A", "BAD_USER_INPUT", "password"},
			{"password too long", "long@example.com", strings.Repeat("x", 129), "A", "BAD_USER_INPUT", "password"},
			{"empty display name", "noname@example.com", apitest.Password, "   ", "BAD_USER_INPUT", "displayName"},
			{"duplicate email, other case", "TAKEN@example.com", apitest.Password, "B", "CONFLICT", "email"},
			{"ok at 8 characters", "eight@example.com", "12345678", "Eight", "", ""},
			{"ok at 128 characters", "max@example.com", strings.Repeat("密", 128), "Max", "", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := s.Query("", registerMutation, map[string]any{"i": map[string]any{
					"email": tc.email, "password": tc.password, "displayName": tc.displayName}})
				if r.Code() != tc.code || r.Field() != tc.field {
					t.Fatalf("code %q field %q, want %q %q: %s", r.Code(), r.Field(), tc.code, tc.field, r.Raw)
				}
				if tc.code == "" {
					var out struct {
						Register struct {
							AccessToken string
							User        struct {
								Email  string
								Locale string
								Roles  []string
							}
						}
					}
					r.Decode(t, &out)
					if out.Register.AccessToken == "" || out.Register.User.Email != strings.ToLower(tc.email) ||
						out.Register.User.Locale != "zh-CN" || strings.Join(out.Register.User.Roles, ",") != "CUSTOMER" {
						t.Fatalf("unexpected payload: %s", r.Raw)
					}
				}
			})
		}
	})
}

// A sign-up form learns every invalid field from one answer: one BAD_USER_INPUT error
// per field, each naming it in extensions.field, and no account or session is made.
func TestRegisterReportsEveryInvalidFieldAtOnce(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		r := s.Query("", registerMutation, map[string]any{"i": map[string]any{
			"email": "not-an-email", "password": "short", "displayName": "  ", "locale": "zh_CN!"}})
		if r.Data != nil && string(r.Data) != "null" {
			t.Fatalf("data with invalid input: %s", r.Raw)
		}
		var fields []string
		for _, e := range r.Errors {
			if e.Extensions["code"] != "BAD_USER_INPUT" || e.Message == "" {
				t.Fatalf("error %+v: %s", e, r.Raw)
			}
			f, _ := e.Extensions["field"].(string)
			fields = append(fields, f)
		}
		if strings.Join(fields, ",") != "email,password,displayName,locale" {
			t.Fatalf("fields %v: %s", fields, r.Raw)
		}
		// Two bad fields, two errors; the valid ones are not mentioned.
		r = s.Query("", registerMutation, map[string]any{"i": map[string]any{
			"email": "ok@example.com", "password": "short", "displayName": "  "}})
		if len(r.Errors) != 2 || r.Errors[0].Extensions["field"] != "password" || r.Errors[1].Extensions["field"] != "displayName" {
			t.Fatalf("two bad fields: %s", r.Raw)
		}
		// Nothing was created: the address is still free.
		s.Register("ok@example.com", "Ok")
	})
}

func TestLoginAndMe(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		s.Register("ann@example.com", "Ann")
		login := `mutation($i: LoginInput!) { login(input: $i) { accessToken user { email } } }`
		wrongPassword := s.Query("", login, map[string]any{"i": map[string]any{"email": "ann@example.com", "password": "wrong password!"}})
		unknownEmail := s.Query("", login, map[string]any{"i": map[string]any{"email": "nobody@example.com", "password": apitest.Password}})
		if wrongPassword.Code() != "UNAUTHENTICATED" || unknownEmail.Code() != "UNAUTHENTICATED" {
			t.Fatalf("codes %q %q", wrongPassword.Code(), unknownEmail.Code())
		}
		if wrongPassword.Errors[0].Message != unknownEmail.Errors[0].Message {
			t.Fatalf("wrong password and unknown email must read the same: %q vs %q",
				wrongPassword.Errors[0].Message, unknownEmail.Errors[0].Message)
		}
		// Emails are matched case-insensitively.
		r := s.MustQuery("", login, map[string]any{"i": map[string]any{"email": " ANN@example.com ", "password": apitest.Password}})
		var out struct{ Login struct{ AccessToken string } }
		r.Decode(t, &out)

		me := `{ me { email displayName roles } }`
		if r := s.MustQuery("", me, nil); string(r.Data) != `{"me":null}` {
			t.Fatalf("anonymous me: %s", r.Data)
		}
		r = s.MustQuery(out.Login.AccessToken, me, nil)
		if !r.Contains(`"email":"ann@example.com"`) {
			t.Fatalf("me: %s", r.Raw)
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		freezeThrottle(s)
		s.Register("bea@example.com", "Bea")
		login := `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`
		attempt := func(pw string) *apitest.Response {
			return s.Query("", login, map[string]any{"i": map[string]any{"email": "bea@example.com", "password": pw}})
		}
		for i := 0; i < s.Config.LoginMaxFailures; i++ {
			if r := attempt("wrong password " + string(rune('a'+i))); r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("attempt %d: %s", i, r.Raw)
			}
		}
		// Blocked now, even with the right password.
		r := attempt(apitest.Password)
		if r.Code() != "RATE_LIMITED" {
			t.Fatalf("after %d failures: %s", s.Config.LoginMaxFailures, r.Raw)
		}
		if ra, _ := r.Errors[0].Extensions["retryAfter"].(float64); ra < 1 {
			t.Fatalf("retryAfter missing: %s", r.Raw)
		}
		// Another account from elsewhere is unaffected.
		s.Register("cid@example.com", "Cid")
		s.Login("cid@example.com")
	})
}

func TestAccessTokenValidation(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	sess := s.Register("dan@example.com", "Dan")
	real := s.App.Auth.Tokens
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	claims := func(aud, iss string, exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"sub": sess.UserID, "aud": aud, "iss": iss, "exp": exp.Unix(), "iat": time.Now().Unix()}
	}
	sign := func(key ed25519.PrivateKey, kid string, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	past := &auth.TokenIssuer{Keys: real.Keys, Issuer: real.Issuer, Audience: real.Audience, TTL: 15 * time.Minute,
		Now: func() time.Time { return time.Now().Add(-time.Hour) }}
	expired, _, _ := past.IssueUser(sess.UserID, "session")
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(real.Audience, real.Issuer, time.Now().Add(time.Hour))).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(real.Audience, real.Issuer, time.Now().Add(time.Hour)))
	hs.Header["kid"] = real.Keys.SigningKeyID()
	hsToken, _ := hs.SignedString([]byte(real.Keys.SigningKeyID()))
	noExp := jwt.MapClaims{"sub": sess.UserID, "aud": real.Audience, "iss": real.Issuer}

	cases := []struct{ name, token string }{
		{"expired", expired},
		{"forged with another key under our kid", sign(otherKey, real.Keys.SigningKeyID(), claims(real.Audience, real.Issuer, time.Now().Add(time.Hour)))},
		{"unknown kid", sign(otherKey, "not-a-known-kid", claims(real.Audience, real.Issuer, time.Now().Add(time.Hour)))},
		{"alg none", none},
		{"alg HS256", hsToken},
		{"wrong audience", sign(otherKey, real.Keys.SigningKeyID(), claims("someone-else", real.Issuer, time.Now().Add(time.Hour)))},
		{"missing exp", sign(otherKey, real.Keys.SigningKeyID(), noExp)},
		{"garbage", "not.a.jwt"},
	}
	// Tokens with our real key but a wrong audience, issuer or no exp: only the claim is wrong.
	realSigner := func(c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
		tok.Header["kid"] = real.Keys.SigningKeyID()
		return mustSignWithIssuer(t, real, tok)
	}
	cases = append(cases,
		struct{ name, token string }{"real key, wrong audience", realSigner(claims("someone-else", real.Issuer, time.Now().Add(time.Hour)))},
		struct{ name, token string }{"real key, wrong issuer", realSigner(claims(real.Audience, "evil", time.Now().Add(time.Hour)))},
		struct{ name, token string }{"real key, no exp", realSigner(noExp)},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Query(tc.token, `{ me { id } }`, nil)
			if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("status %d code %q: %s", r.Status, r.Code(), r.Raw)
			}
		})
	}
	t.Run("valid token from a rotated-out key still verifies", func(t *testing.T) {
		r := s.MustQuery(sess.AccessToken, `{ me { email } }`, nil)
		if !r.Contains("dan@example.com") {
			t.Fatalf("valid token refused: %s", r.Raw)
		}
	})
	t.Run("non-bearer scheme", func(t *testing.T) {
		r := s.Do(apitest.Request{Query: `{ me { id } }`, Header: map[string]string{"Authorization": "Basic Zm9vOmJhcg=="}})
		if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("status %d: %s", r.Status, r.Raw)
		}
	})
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		first := s.Register("eve@example.com", "Eve")
		refresh := `mutation($t: String!) { refreshToken(token: $t) { accessToken refreshToken user { email } } }`
		r := s.MustQuery("", refresh, map[string]any{"t": first.RefreshToken})
		var out struct {
			RefreshToken struct{ AccessToken, RefreshToken string }
		}
		r.Decode(t, &out)
		second := out.RefreshToken.RefreshToken
		if second == "" || second == first.RefreshToken {
			t.Fatalf("refresh token not rotated: %s", r.Raw)
		}
		// The new access token works.
		s.MustQuery(out.RefreshToken.AccessToken, `{ me { id } }`, nil)

		// Presenting the used token again is reuse: refused, and the whole family is revoked.
		if r := s.Query("", refresh, map[string]any{"t": first.RefreshToken}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("reuse: %s", r.Raw)
		}
		if r := s.Query("", refresh, map[string]any{"t": second}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("family not revoked after reuse: %s", r.Raw)
		}
		// Other sessions of the same user are unaffected.
		other := s.Login("eve@example.com")
		s.MustQuery("", refresh, map[string]any{"t": other.RefreshToken})

		if r := s.Query("", refresh, map[string]any{"t": "made-up"}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("unknown token: %s", r.Raw)
		}
	})
}

func TestLogoutRevokesSession(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		sess := s.Register("fay@example.com", "Fay")
		logout := `mutation($t: String!) { logout(refreshToken: $t) }`
		for i := 0; i < 2; i++ { // logging out twice is harmless
			if r := s.MustQuery("", logout, map[string]any{"t": sess.RefreshToken}); string(r.Data) != `{"logout":true}` {
				t.Fatalf("logout: %s", r.Raw)
			}
		}
		r := s.Query("", `mutation($t: String!) { refreshToken(token: $t) { accessToken } }`, map[string]any{"t": sess.RefreshToken})
		if r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("refresh after logout: %s", r.Raw)
		}
	})
}

func TestChangePasswordSignsOutOtherSessions(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		sess := s.Register("gus@example.com", "Gus")
		other := s.Login("gus@example.com")
		change := `mutation($i: ChangePasswordInput!) { changePassword(input: $i) }`
		r := s.Query(sess.AccessToken, change, map[string]any{"i": map[string]any{"currentPassword": "nope nope", "newPassword": "another good one"}})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "currentPassword" {
			t.Fatalf("wrong current password: %s", r.Raw)
		}
		r = s.Query(sess.AccessToken, change, map[string]any{"i": map[string]any{"currentPassword": apitest.Password, "newPassword": "short"}})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "newPassword" {
			t.Fatalf("weak new password: %s", r.Raw)
		}
		if r := s.Query("", change, map[string]any{"i": map[string]any{"currentPassword": apitest.Password, "newPassword": "another good one"}}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("anonymous: %s", r.Raw)
		}
		s.MustQuery(sess.AccessToken, change, map[string]any{"i": map[string]any{"currentPassword": apitest.Password, "newPassword": "another good one"}})
		refresh := `mutation($t: String!) { refreshToken(token: $t) { accessToken } }`
		// The other session ends at once: its access token and its refresh token.
		if r := s.Query(other.AccessToken, `{ me { id } }`, nil); r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("other session's access token still works: %d %s", r.Status, r.Raw)
		}
		if r := s.Query("", refresh, map[string]any{"t": other.RefreshToken}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("other session still refreshes: %s", r.Raw)
		}
		// The caller's own session goes on.
		s.MustQuery(sess.AccessToken, `{ me { id } }`, nil)
		s.MustQuery("", refresh, map[string]any{"t": sess.RefreshToken})
		s.MustQuery("", `mutation { login(input: {email: "gus@example.com", password: "another good one"}) { accessToken } }`, nil)
	})
}
