package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/auditlog"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/totpcredential"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/app"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/secret"
	"github.com/xiadan/xiadan/internal/testdb"
)

const (
	beginTOTP    = `mutation { beginTotpEnrollment { secret otpauthURI digits period } }`
	confirmTOTP  = `mutation($c: String!) { confirmTotpEnrollment(code: $c) { recoveryCodes } }`
	disableTOTP  = `mutation($c: String!) { disableTotp(code: $c) }`
	completeTOTP = `mutation($ch: String!, $c: String!) { completeTotpSignIn(challenge: $ch, code: $c) { accessToken refreshToken user { id } } }`
	loginQuery   = `mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }`
	meTOTP       = `{ me { id totpEnabled } }`
)

// totpClock is a test clock standing one second into a TOTP time step, near the present
// (tokens and rows are stamped by it, some rows by the wall clock).
func totpClock() *apitest.Clock {
	step := int64(auth.TOTPPeriod / time.Second)
	return apitest.NewClock(time.Unix((time.Now().Unix()/step)*step+1, 0).UTC())
}

// totpServer is a server on url going by clock, whose throttle goes by it too.
func totpServer(t *testing.T, url string, clock *apitest.Clock, opts ...func(*config.Config)) *apitest.Server {
	s := apitest.NewWithClock(t, url, clock, opts...)
	s.App.Auth.Throttle.SetClock(clock.Now)
	return s
}

func totpCode(t testing.TB, secret string, clock *apitest.Clock) string {
	t.Helper()
	c, err := auth.TOTPCode(secret, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode is a six-digit code that is not the current one (nor its neighbours').
func wrongCode(t testing.TB, secret string, clock *apitest.Clock) string {
	t.Helper()
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", i)
		ok := true
		for _, d := range []time.Duration{-auth.TOTPPeriod, 0, auth.TOTPPeriod} {
			if cur, _ := auth.TOTPCode(secret, clock.Now().Add(d)); cur == c {
				ok = false
			}
		}
		if ok {
			return c
		}
	}
}

func expectError(t testing.TB, what string, r *apitest.Response, code, why string) {
	t.Helper()
	if r.Code() != code || reason(r) != why {
		t.Fatalf("%s: want %s (reason %q), got %s", what, code, why, r.Raw)
	}
}

// enrolTOTP turns TOTP on for the holder of token and returns the secret and the
// recovery codes; the clock then stands in the step after the confirming code's.
func enrolTOTP(t testing.TB, s *apitest.Server, clock *apitest.Clock, token string) (string, []string) {
	t.Helper()
	var begun struct {
		BeginTotpEnrollment struct {
			Secret, OtpauthURI string
			Digits, Period     int
		}
	}
	s.MustQuery(token, beginTOTP, nil).Decode(t, &begun)
	e := begun.BeginTotpEnrollment
	if !strings.HasPrefix(e.OtpauthURI, "otpauth://totp/Xiadan:") || !strings.Contains(e.OtpauthURI, "secret="+e.Secret) ||
		e.Digits != 6 || e.Period != 30 {
		t.Fatalf("enrolment %+v", e)
	}
	var done struct {
		ConfirmTotpEnrollment struct{ RecoveryCodes []string }
	}
	s.MustQuery(token, confirmTOTP, map[string]any{"c": totpCode(t, e.Secret, clock)}).Decode(t, &done)
	clock.Advance(auth.TOTPPeriod)
	return e.Secret, done.ConfirmTotpEnrollment.RecoveryCodes
}

// challengeOf signs in with the password and returns the TOTP challenge it must answer.
func challengeOf(t testing.TB, s *apitest.Server, email string) string {
	t.Helper()
	r := s.Query("", loginQuery, map[string]any{"e": email, "p": apitest.Password})
	expectError(t, "login of a TOTP account", r, "UNAUTHENTICATED", "TOTP_REQUIRED")
	ch, _ := r.Errors[0].Extensions["totpChallenge"].(string)
	if ch == "" || r.Errors[0].Extensions["challengeExpiresAt"] == nil {
		t.Fatalf("no challenge: %s", r.Raw)
	}
	return ch
}

// TestTOTPSignIn walks an admin through TOTP on SQLite and MySQL: enrolment (the secret
// and URI once, a wrong confirming code refused, ten recovery codes), the two-step
// sign-in (a code works once, also across requests; a wrong code, an expired challenge
// and one from before a password change are refused; a challenge is no access token), recovery codes (once each), and
// turning it off with a current code; every step is in the audit log.
func TestTOTPSignIn(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := totpClock()
			s := totpServer(t, d.URL(t), clock)
			admin := s.NewAdmin(t, "totp-admin@example.com")

			customer := s.Register("totp-customer@example.com", "Customer")
			expectError(t, "a customer enrols", s.Query(customer.AccessToken, beginTOTP, nil), "FORBIDDEN", "")
			expectError(t, "confirming before beginning", s.Query(admin.AccessToken, confirmTOTP, map[string]any{"c": "123456"}),
				"INVALID_STATE", "")

			var begun struct{ BeginTotpEnrollment struct{ Secret string } }
			s.MustQuery(admin.AccessToken, beginTOTP, nil).Decode(t, &begun)
			secret := begun.BeginTotpEnrollment.Secret
			expectError(t, "a wrong confirming code", s.Query(admin.AccessToken, confirmTOTP, map[string]any{"c": wrongCode(t, secret, clock)}),
				"BAD_USER_INPUT", "CODE_WRONG")
			// Beginning again replaces the unconfirmed secret.
			secret, recovery := enrolTOTP(t, s, clock, admin.AccessToken)
			if len(recovery) != auth.RecoveryCodeCount {
				t.Fatalf("recovery codes %v", recovery)
			}
			expectError(t, "enrolling twice", s.Query(admin.AccessToken, beginTOTP, nil), "INVALID_STATE", "")
			if r := s.MustQuery(admin.AccessToken, meTOTP, nil); !r.Contains(`"totpEnabled":true`) {
				t.Fatalf("me after enrolment: %s", r.Raw)
			}
			if r := s.MustQuery(customer.AccessToken, meTOTP, nil); !r.Contains(`"totpEnabled":false`) {
				t.Fatalf("customer's me: %s", r.Raw)
			}

			ch := challengeOf(t, s, admin.Email)
			if r := s.Query(ch, meTOTP, nil); r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("a challenge used as an access token: %s", r.Raw)
			}
			expectError(t, "a wrong code", s.Query("", completeTOTP, map[string]any{"ch": ch, "c": wrongCode(t, secret, clock)}),
				"BAD_USER_INPUT", "CODE_WRONG")
			expectError(t, "a forged challenge", s.Query("", completeTOTP, map[string]any{"ch": ch + "x", "c": totpCode(t, secret, clock)}),
				"UNAUTHENTICATED", "CHALLENGE_INVALID")
			code := totpCode(t, secret, clock)
			r := s.MustQuery("", completeTOTP, map[string]any{"ch": ch, "c": code})
			sess := apitest.SessionOf(t, r, "completeTotpSignIn")
			if r := s.MustQuery(sess.AccessToken, meTOTP, nil); !r.Contains(`"totpEnabled":true`) {
				t.Fatalf("me after the TOTP sign-in: %s", r.Raw)
			}
			expectError(t, "the same code again", s.Query("", completeTOTP, map[string]any{"ch": challengeOf(t, s, admin.Email), "c": code}),
				"BAD_USER_INPUT", "CODE_USED")
			// The previous step's code is within the skew but older than the last used one.
			clock.Advance(auth.TOTPPeriod)
			expectError(t, "an older code", s.Query("", completeTOTP, map[string]any{"ch": challengeOf(t, s, admin.Email), "c": code}),
				"BAD_USER_INPUT", "CODE_USED")

			// Recovery codes work once each, typed loosely.
			loose := strings.ToUpper(strings.ReplaceAll(recovery[0], "-", " "))
			s.MustQuery("", completeTOTP, map[string]any{"ch": challengeOf(t, s, admin.Email), "c": loose})
			expectError(t, "a spent recovery code", s.Query("", completeTOTP, map[string]any{"ch": challengeOf(t, s, admin.Email), "c": recovery[0]}),
				"BAD_USER_INPUT", "CODE_WRONG")

			// Changing the password voids the challenges of the old one.
			ch = challengeOf(t, s, admin.Email)
			const changePassword = `mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) }`
			s.MustQuery(sess.AccessToken, changePassword, map[string]any{"c": apitest.Password, "n": "another long password"})
			expectError(t, "a challenge from before a password change", s.Query("", completeTOTP, map[string]any{"ch": ch, "c": totpCode(t, secret, clock)}),
				"UNAUTHENTICATED", "CHALLENGE_INVALID")
			s.MustQuery(sess.AccessToken, changePassword, map[string]any{"c": "another long password", "n": apitest.Password})

			ch = challengeOf(t, s, admin.Email)
			clock.Advance(auth.TOTPChallengeTTL + time.Minute)
			expectError(t, "an expired challenge", s.Query("", completeTOTP, map[string]any{"ch": ch, "c": totpCode(t, secret, clock)}),
				"UNAUTHENTICATED", "CHALLENGE_INVALID")

			expectError(t, "disabling with a wrong code", s.Query(sess.AccessToken, disableTOTP, map[string]any{"c": wrongCode(t, secret, clock)}),
				"BAD_USER_INPUT", "CODE_WRONG")
			s.MustQuery(sess.AccessToken, disableTOTP, map[string]any{"c": totpCode(t, secret, clock)})
			expectError(t, "disabling twice", s.Query(sess.AccessToken, disableTOTP, map[string]any{"c": totpCode(t, secret, clock)}),
				"INVALID_STATE", "")
			if r := s.Query("", loginQuery, map[string]any{"e": admin.Email, "p": apitest.Password}); r.Code() != "" {
				t.Fatalf("login after disabling: %s", r.Raw)
			}

			client, ctx := s.Client()
			ctx = privacy.DecisionContext(ctx, privacy.Allow)
			actions, err := client.AuditLog.Query().Order(auditlog.ByID()).Select(auditlog.FieldAction).Strings(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(actions, " ")
			for _, want := range []string{"user.totp_enrollment_begin", "user.totp_code_wrong", "user.totp_enable",
				"user.totp_sign_in", "user.totp_disable"} {
				if !strings.Contains(got, want) {
					t.Errorf("audit log lacks %s: %s", want, got)
				}
			}
		})
	}
}

// TestTOTPWrongCodesAreThrottled: after LOGIN_MAX_FAILURES wrong codes for an account,
// even the right code is RATE_LIMITED until the back-off passes (on the test clock).
func TestTOTPWrongCodesAreThrottled(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := totpClock()
			s := totpServer(t, d.URL(t), clock, func(c *config.Config) { c.LoginMaxFailures = 3 })
			admin := s.NewAdmin(t, "throttled@example.com")
			secret, _ := enrolTOTP(t, s, clock, admin.AccessToken)
			ch := challengeOf(t, s, admin.Email)
			for i := range 3 {
				expectError(t, fmt.Sprintf("wrong code %d", i), s.Query("", completeTOTP, map[string]any{"ch": ch, "c": wrongCode(t, secret, clock)}),
					"BAD_USER_INPUT", "CODE_WRONG")
			}
			r := s.Query("", completeTOTP, map[string]any{"ch": ch, "c": totpCode(t, secret, clock)})
			expectError(t, "the right code while throttled", r, "RATE_LIMITED", "")
			if r.Errors[0].Extensions["retryAfter"] == nil {
				t.Fatalf("no retryAfter: %s", r.Raw)
			}
			clock.Advance(2 * time.Second)
			s.MustQuery("", completeTOTP, map[string]any{"ch": ch, "c": totpCode(t, secret, clock)})
		})
	}
}

// TestAdminRequireTOTP: with ADMIN_REQUIRE_TOTP, an admin without TOTP is FORBIDDEN (reason
// TOTP_ENROLMENT_REQUIRED) from admin operations but can enrol; the enrolling session then
// acts as admin, and the admin's other sessions are signed out.
func TestAdminRequireTOTP(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := totpClock()
			s := totpServer(t, d.URL(t), clock, func(c *config.Config) { c.AdminRequireTOTP = true })
			admin := s.NewAdmin(t, "required@example.com")
			other := s.Login(admin.Email)
			const users = `{ users(first: 1) { totalCount } }`
			expectError(t, "an admin without TOTP", s.Query(admin.AccessToken, users, nil), "FORBIDDEN", "TOTP_ENROLMENT_REQUIRED")
			customer := s.Register("plain@example.com", "Plain")
			expectError(t, "a customer", s.Query(customer.AccessToken, users, nil), "FORBIDDEN", "")

			enrolTOTP(t, s, clock, admin.AccessToken)
			s.MustQuery(admin.AccessToken, users, nil)
			if r := s.Query(other.AccessToken, users, nil); r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("another session after enrolling: %s", r.Raw)
			}
		})
	}
}

// TestTOTPCodeRaceSignsInOnce: five completeTotpSignIn requests with one code at once, over
// HTTP, on SQLite and MySQL at both isolation levels: exactly one starts a session, the
// others are told the code was used (the conditional UPDATE of the last used step
// decides), and exactly one session is added per round.
func TestTOTPCodeRaceSignsInOnce(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := totpClock()
			s := totpServer(t, d.URL(t), clock)
			admin := s.NewAdmin(t, "race@example.com")
			secret, _ := enrolTOTP(t, s, clock, admin.AccessToken)
			client, ctx := s.Client()
			ctx = privacy.DecisionContext(context.WithoutCancel(ctx), privacy.Allow)
			sessions := func() int {
				return client.RefreshToken.Query().CountX(ctx)
			}
			before := sessions()
			rounds := apitest.RaceRounds(d, 12)
			for round := range rounds {
				code := totpCode(t, secret, clock)
				var racers []apitest.Racer
				for range 5 {
					racers = append(racers, s.Request("", completeTOTP, map[string]any{"ch": challengeOf(t, s, admin.Email), "c": code}))
				}
				outs := apitest.Race(racers...)
				if won := apitest.Successes(t, "TOTP sign-in", outs, "BAD_USER_INPUT"); won != 1 {
					t.Errorf("round %d: %d sign-ins with one code succeeded: %v", round, won, outs)
				}
				for _, o := range outs {
					if o.Err == nil && o.R.Code() != "" && reason(o.R) != "CODE_USED" {
						t.Errorf("round %d: a loser was not told CODE_USED: %s", round, o)
					}
				}
				if got := sessions() - before; got != round+1 {
					t.Fatalf("round %d: %d sessions started, want %d", round, got, round+1)
				}
				clock.Advance(auth.TOTPPeriod)
			}
		})
	}
}

// With TOTP_ENCRYPTION_KEY the secret is stored sealed (no trace of it in the row) and
// sign-in works; a start with a new key and the old one in TOTP_DECRYPTION_KEYS seals it
// again under the new key, after which sign-in with the same authenticator still works;
// a start that cannot open it (no key, or the old key missing) fails and says why.
// Secrets stored in plain before a key was set are sealed by the first start with one.
func TestTOTPSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	newKey := func() (string, []byte) {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		return base64.StdEncoding.EncodeToString(k), k
	}
	key1, raw1 := newKey()
	key2, raw2 := newKey()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := totpClock()
			s := totpServer(t, d.URL(t), clock)
			// Enrolled before any key was set: stored in plain.
			early := s.NewAdmin(t, "totp-early@example.com")
			earlySecret, _ := enrolTOTP(t, s, clock, early.AccessToken)

			client, ctx := s.Client()
			stored := func(email string) string {
				t.Helper()
				c, err := client.TotpCredential.Query().Where(totpcredential.HasUserWith(user.Email(email))).Only(privacy.DecisionContext(ctx, privacy.Allow))
				if err != nil {
					t.Fatal(err)
				}
				return c.Secret
			}
			if got := stored("totp-early@example.com"); got != earlySecret {
				t.Fatalf("without a key the secret is stored as %q, want it as it is", got)
			}
			start := func(enc string, dec ...string) (*app.App, error) {
				cfg := s.Config
				cfg.TOTPEncryptionKey = secret.Value(enc)
				cfg.TOTPDecryptionKeys = nil
				for _, k := range dec {
					cfg.TOTPDecryptionKeys = append(cfg.TOTPDecryptionKeys, secret.Value(k))
				}
				a, err := app.New(cfg, s.DB, slog.New(slog.DiscardHandler))
				if err == nil {
					a.SetClock(clock)
				}
				return a, err
			}
			// The first start with a key seals the plain secret.
			a1, err := start(key1)
			if err != nil {
				t.Fatal(err)
			}
			got := stored("totp-early@example.com")
			if secret.KeyOf(got) != secret.KeyID(raw1) || strings.Contains(got, earlySecret) {
				t.Fatalf("after a start with TOTP_ENCRYPTION_KEY the secret is stored as %q", got)
			}
			signIn := func(a *app.App, email, secret string) {
				t.Helper()
				ch := challengeOf(t, s, email)
				clock.Advance(auth.TOTPPeriod)
				if _, err := a.Auth.CompleteTOTPSignIn(ctx, ch, totpCode(t, secret, clock)); err != nil {
					t.Fatalf("sign-in of %s: %v", email, err)
				}
			}
			signIn(a1, "totp-early@example.com", earlySecret)

			// A start without the key, or with a new key but without the old one, fails.
			for _, keys := range [][]string{{""}, {key2}} {
				if _, err := start(keys[0]); err == nil || !strings.Contains(err.Error(), secret.KeyID(raw1)) {
					t.Fatalf("a start with keys %v that cannot open the secret: %v", keys, err)
				}
			}
			if got2 := stored("totp-early@example.com"); got2 != got {
				t.Fatal("a failed start rewrote the secret")
			}
			// Rotation: the new key with the old one to open with.
			a2, err := start(key2, key1)
			if err != nil {
				t.Fatal(err)
			}
			if got := stored("totp-early@example.com"); secret.KeyOf(got) != secret.KeyID(raw2) {
				t.Fatalf("after the rotation the secret is stored as %q, want it under key %s", got, secret.KeyID(raw2))
			}
			signIn(a2, "totp-early@example.com", earlySecret)
			// A bad key is a configuration error.
			if _, err := start("not a key"); err == nil || !strings.Contains(err.Error(), "TOTP_ENCRYPTION_KEY") {
				t.Fatalf("a start with a bad key: %v", err)
			}
		})
	}

	// Enrolled with a key set: sealed from the first write; the server signs in with it.
	for _, d := range testdb.Dialects() {
		t.Run(d.Name+"/enrolled-with-key", func(t *testing.T) {
			t.Parallel()
			clock := totpClock()
			s := totpServer(t, d.URL(t), clock, func(c *config.Config) { c.TOTPEncryptionKey = secret.Value(key1) })
			admin := s.NewAdmin(t, "totp-sealed@example.com")
			plain, _ := enrolTOTP(t, s, clock, admin.AccessToken)
			client, ctx := s.Client()
			c, err := client.TotpCredential.Query().Only(privacy.DecisionContext(ctx, privacy.Allow))
			if err != nil {
				t.Fatal(err)
			}
			if secret.KeyOf(c.Secret) != secret.KeyID(raw1) || strings.Contains(c.Secret, plain) {
				t.Fatalf("stored secret %q", c.Secret)
			}
			ch := challengeOf(t, s, "totp-sealed@example.com")
			r := s.Query("", completeTOTP, map[string]any{"ch": ch, "c": totpCode(t, plain, clock)})
			if len(r.Errors) > 0 || !r.Contains("accessToken") {
				t.Fatalf("sign-in with a sealed secret: %s", r.Raw)
			}
		})
	}
}
