package app_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/emailverification"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
)

// freezeThrottle stops the sign-in throttle's clock, so that a back-off of a second cannot
// run out while a loaded machine is still testing it.
func freezeThrottle(s *apitest.Server) {
	now := time.Now()
	s.App.Auth.Throttle.SetClock(func() time.Time { return now })
}

// trustProxy lets tests choose their client address with X-Forwarded-For.
func trustProxy(c *config.Config) { c.TrustProxyHeaders = true }

// from sends query as the holder of token from the client address ip.
func from(s *apitest.Server, ip, token, query string, vars map[string]any) *apitest.Response {
	return s.Do(apitest.Request{Query: query, Variables: vars, Token: token, Header: map[string]string{"X-Forwarded-For": ip}})
}

const (
	requestVerification = `mutation { requestEmailVerification { email expiresAt resendAfter } }`
	verifyCode          = `mutation($c: String!) { verifyEmail(code: $c) { email user { id emailVerified } } }`
	verifyToken         = `mutation($t: String!) { verifyEmail(token: $t) { email user { id } } }`
	meVerified          = `{ me { email emailVerified } }`
)

// reason is extensions.reason of r's first error.
func reason(r *apitest.Response) string {
	if len(r.Errors) == 0 {
		return ""
	}
	s, _ := r.Errors[0].Extensions["reason"].(string)
	return s
}

// expireCooldown moves the user's last verification message back past the cool-down.
func expireCooldown(t *testing.T, s *apitest.Server, sess apitest.Session) {
	t.Helper()
	client, ctx := s.Client()
	id, _ := strconv.Atoi(sess.UserID)
	if err := client.User.UpdateOneID(id).SetEmailVerificationSentAt(time.Now().Add(-2 * time.Minute)).Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEmailVerification(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		ann := s.Register("ann@example.com", "Ann")
		if r := s.MustQuery(ann.AccessToken, meVerified, nil); !r.Contains(`"emailVerified":false`) {
			t.Fatalf("new account verified: %s", r.Raw)
		}
		// Registering sent a code and a link, to the address and nowhere else.
		msgs := s.Outbox(t)
		if len(msgs) != 1 || msgs[0].To != "ann@example.com" {
			t.Fatalf("outbox after registering: %+v", msgs)
		}
		code, token := s.VerificationCode(t, "ann@example.com")
		if strings.Contains(msgs[0].Text, "Ann") {
			t.Fatalf("the message carries what the registrant typed:\n%s", msgs[0].Text)
		}

		t.Run("codes and tokens are stored hashed", func(t *testing.T) {
			client, ctx := s.Client()
			ev := client.EmailVerification.Query().Where(emailverification.Email("ann@example.com")).OnlyX(ctx)
			if strings.Contains(ev.CodeHash, code) || strings.Contains(ev.TokenHash, token) || len(ev.CodeHash) != 64 || len(ev.TokenHash) != 64 {
				t.Fatalf("stored %q %q for code %q token %q", ev.CodeHash, ev.TokenHash, code, token)
			}
		})
		t.Run("resending waits for the cool-down", func(t *testing.T) {
			r := s.Query(ann.AccessToken, requestVerification, nil)
			if ra, _ := r.Errors[0].Extensions["retryAfter"].(float64); r.Code() != "RATE_LIMITED" || ra < 1 || ra > 60 {
				t.Fatalf("immediate resend: %s", r.Raw)
			}
			if n := len(s.Outbox(t)); n != 1 {
				t.Fatalf("%d messages", n)
			}
		})
		t.Run("refusals", func(t *testing.T) {
			for _, tc := range []struct {
				name, token, query string
				vars               map[string]any
				code, field        string
			}{
				{"a code needs its user signed in", "", verifyCode, map[string]any{"c": code}, "UNAUTHENTICATED", ""},
				{"neither code nor token", ann.AccessToken, `mutation { verifyEmail { email } }`, nil, "BAD_USER_INPUT", "code"},
				{"both code and token", ann.AccessToken, `mutation($c: String!, $t: String!) { verifyEmail(code: $c, token: $t) { email } }`,
					map[string]any{"c": code, "t": token}, "BAD_USER_INPUT", "token"},
				{"not a code", ann.AccessToken, verifyCode, map[string]any{"c": "12ab56"}, "BAD_USER_INPUT", "code"},
				{"unknown token", "", verifyToken, map[string]any{"t": "made-up-token"}, "BAD_USER_INPUT", "token"},
				{"inside a larger mutation", ann.AccessToken,
					`mutation($c: String!) { updateProfile(input: {locale: "en"}) { id } verifyEmail(code: $c) { email } }`,
					map[string]any{"c": code}, "BAD_USER_INPUT", ""},
				{"requesting needs sign-in", "", requestVerification, nil, "UNAUTHENTICATED", ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := s.Query(tc.token, tc.query, tc.vars)
					if r.Code() != tc.code || r.Field() != tc.field {
						t.Fatalf("code %q field %q, want %q %q: %s", r.Code(), r.Field(), tc.code, tc.field, r.Raw)
					}
				})
			}
			if r := s.MustQuery(ann.AccessToken, meVerified, nil); !r.Contains(`"emailVerified":false`) {
				t.Fatalf("verified by a refusal: %s", r.Raw)
			}
		})
		t.Run("wrong codes are counted and limited", func(t *testing.T) {
			wrong := fmt.Sprintf("%06d", (mustAtoi(t, code)+1)%1000000)
			for i := 1; i <= 5; i++ {
				r := s.Query(ann.AccessToken, verifyCode, map[string]any{"c": wrong})
				want := "CODE_WRONG"
				if i == 5 {
					want = "CODE_EXHAUSTED"
				}
				if r.Code() != "BAD_USER_INPUT" || r.Field() != "code" || reason(r) != want {
					t.Fatalf("wrong code %d: %s", i, r.Raw)
				}
			}
			// The right code no longer helps; the attempts survived the failed requests.
			if r := s.Query(ann.AccessToken, verifyCode, map[string]any{"c": code}); r.Code() != "BAD_USER_INPUT" || reason(r) != "CODE_EXHAUSTED" {
				t.Fatalf("right code after five wrong ones: %s", r.Raw)
			}
			client, ctx := s.Client()
			if ev := client.EmailVerification.Query().Where(emailverification.Email("ann@example.com")).OnlyX(ctx); ev.Attempts != 5 || ev.UsedAt != nil {
				t.Fatalf("attempts %d, used %v", ev.Attempts, ev.UsedAt)
			}
		})
		t.Run("a new code replaces the old one", func(t *testing.T) {
			expireCooldown(t, s, ann)
			r := s.MustQuery(ann.AccessToken, requestVerification, nil)
			if !r.Contains(`"email":"ann@example.com"`) {
				t.Fatalf("request: %s", r.Raw)
			}
			newCode, _ := s.VerificationCode(t, "ann@example.com")
			if r := s.Query(ann.AccessToken, verifyCode, map[string]any{"c": code}); r.Code() != "BAD_USER_INPUT" && newCode != code {
				t.Fatalf("old code after a new one: %s", r.Raw)
			}
			// The old link went with its code.
			if r := s.Query("", verifyToken, map[string]any{"t": token}); r.Code() != "BAD_USER_INPUT" || r.Field() != "token" {
				t.Fatalf("old link after a new code: %s", r.Raw)
			}
			r = s.MustQuery(ann.AccessToken, verifyCode, map[string]any{"c": newCode})
			if !r.Contains(`"email":"ann@example.com","user":{"id":"` + ann.UserID + `","emailVerified":true}`) {
				t.Fatalf("verify: %s", r.Raw)
			}
			if r := s.MustQuery(ann.AccessToken, meVerified, nil); !r.Contains(`"emailVerified":true`) {
				t.Fatalf("me after verifying: %s", r.Raw)
			}
			// Used once; and a verified address needs no more codes.
			if r := s.Query(ann.AccessToken, verifyCode, map[string]any{"c": newCode}); r.Code() != "INVALID_STATE" {
				t.Fatalf("second use: %s", r.Raw)
			}
			expireCooldown(t, s, ann)
			if r := s.Query(ann.AccessToken, requestVerification, nil); r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "VERIFIED" {
				t.Fatalf("request when verified: %s", r.Raw)
			}
		})
		t.Run("the link works without signing in, once", func(t *testing.T) {
			bob := s.Register("bob@example.com", "Bob")
			_, token := s.VerificationCode(t, "bob@example.com")
			r := s.MustQuery("", verifyToken, map[string]any{"t": token})
			if string(r.Data) != `{"verifyEmail":{"email":"bob@example.com","user":null}}` {
				t.Fatalf("anonymous link: %s", r.Raw)
			}
			if r := s.MustQuery(bob.AccessToken, meVerified, nil); !r.Contains(`"emailVerified":true`) {
				t.Fatalf("not verified by the link: %s", r.Raw)
			}
			if r := s.Query("", verifyToken, map[string]any{"t": token}); r.Code() != "BAD_USER_INPUT" || r.Field() != "token" {
				t.Fatalf("link used twice: %s", r.Raw)
			}
		})
		t.Run("codes expire", func(t *testing.T) {
			cid := s.Register("cid@example.com", "Cid")
			code, token := s.VerificationCode(t, "cid@example.com")
			client, ctx := s.Client()
			client.EmailVerification.Update().Where(emailverification.Email("cid@example.com")).
				SetExpiresAt(time.Now().Add(-time.Second)).ExecX(ctx)
			if r := s.Query(cid.AccessToken, verifyCode, map[string]any{"c": code}); r.Code() != "BAD_USER_INPUT" || reason(r) != "CODE_EXPIRED" {
				t.Fatalf("expired code: %s", r.Raw)
			}
			if r := s.Query("", verifyToken, map[string]any{"t": token}); r.Code() != "BAD_USER_INPUT" {
				t.Fatalf("expired link: %s", r.Raw)
			}
		})
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestVerificationMailLeavesOnlyAfterCommit(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		dee := s.Register("dee@example.com", "Dee")
		expireCooldown(t, s, dee)
		before := len(s.Outbox(t))
		// The second field fails, so the whole mutation rolls back: no code, no message,
		// and the cool-down is not used up.
		r := s.Query(dee.AccessToken, `mutation { requestEmailVerification { email } updateProfile(input: {displayName: "  "}) { id } }`, nil)
		if r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("combined mutation: %s", r.Raw)
		}
		if n := len(s.Outbox(t)); n != before {
			t.Fatalf("a rolled-back request sent mail: %d messages, had %d", n, before)
		}
		client, ctx := s.Client()
		if n := client.EmailVerification.Query().Where(emailverification.Email("dee@example.com")).CountX(ctx); n != 1 {
			t.Fatalf("%d codes stored", n)
		}
		s.MustQuery(dee.AccessToken, requestVerification, nil)
		if n := len(s.Outbox(t)); n != before+1 {
			t.Fatalf("%d messages after a committed request, had %d", n, before)
		}
		// A failed registration sends nothing either.
		if r := s.Query("", registerMutation, map[string]any{"i": map[string]any{"email": "dee@example.com", "password": apitest.Password, "displayName": "Again"}}); r.Code() != "CONFLICT" {
			t.Fatalf("duplicate registration: %s", r.Raw)
		}
		if n := len(s.Outbox(t)); n != before+1 {
			t.Fatalf("a failed registration sent mail")
		}
	})
}

func TestEmailChangeClearsVerification(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		eve := s.Register("eve@example.com", "Eve")
		s.VerifyEmail(t, eve)
		expireCooldown(t, s, eve)
		s.MustQuery(eve.AccessToken, `mutation { updateProfile(input: {locale: "en"}) { id } }`, nil)
		if r := s.MustQuery(eve.AccessToken, meVerified, nil); !r.Contains(`"emailVerified":true`) {
			t.Fatalf("another profile change cleared verification: %s", r.Raw)
		}
		// There is no API to change an address yet; whatever writes one clears the proof.
		client, ctx := s.Client()
		id, _ := strconv.Atoi(eve.UserID)
		client.User.UpdateOneID(id).SetEmail("eve@example.org").ExecX(ctx)
		if r := s.MustQuery(eve.AccessToken, meVerified, nil); !r.Contains(`"email":"eve@example.org","emailVerified":false`) {
			t.Fatalf("after changing the address: %s", r.Raw)
		}
		// A code for the new address may be requested at once; one sent to the old address
		// does not verify the new one.
		s.MustQuery(eve.AccessToken, requestVerification, nil)
		client.User.UpdateOneID(id).SetEmail("eve@example.net").ExecX(ctx)
		code, _ := s.VerificationCode(t, "eve@example.org")
		if r := s.Query(eve.AccessToken, verifyCode, map[string]any{"c": code}); r.Code() != "BAD_USER_INPUT" || reason(r) != "CODE_EXPIRED" {
			t.Fatalf("code of a former address: %s", r.Raw)
		}
		if u := client.User.Query().Where(user.ID(id)).OnlyX(ctx); u.EmailVerifiedAt != nil {
			t.Fatal("verified")
		}
	})
}

func TestInvitationsNeedTheVerifiedAddress(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		shop := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
		invite := `mutation($m: ID!, $e: String!) { inviteMerchantStaff(merchantID: $m, email: $e) { id email } }`
		r := s.MustQuery(shop.Owner.AccessToken, invite, map[string]any{"m": shop.ID, "e": "Staff@Example.com"})
		var inv struct{ InviteMerchantStaff struct{ ID, Email string } }
		r.Decode(t, &inv)
		accept := `mutation($id: ID!) { acceptMerchantInvitation(id: $id) { slug } }`
		invitations := `{ myMerchantInvitations { id } }`

		// Someone who does not own the mailbox registers the invited address (typed the way
		// a Chinese keyboard types it): they can neither see nor take the seat.
		squatter := s.Register("ｓｔａｆｆ＠ｅｘａｍｐｌｅ．ｃｏｍ", "Not Staff")
		if squatter.Email != "staff@example.com" {
			t.Fatalf("registered as %q", squatter.Email)
		}
		if r := s.MustQuery(squatter.AccessToken, invitations, nil); string(r.Data) != `{"myMerchantInvitations":[]}` {
			t.Fatalf("unverified address sees the invitation: %s", r.Raw)
		}
		for _, id := range []string{inv.InviteMerchantStaff.ID, "999999"} {
			r := s.Query(squatter.AccessToken, accept, map[string]any{"id": id})
			if r.Code() != "FORBIDDEN" || reason(r) != "EMAIL_NOT_VERIFIED" {
				t.Fatalf("unverified address accepts %s: %s", id, r.Raw)
			}
		}
		// A verified account of another address sees nothing either.
		other := s.Register("other@example.com", "Other")
		s.VerifyEmail(t, other)
		if r := s.Query(other.AccessToken, accept, map[string]any{"id": inv.InviteMerchantStaff.ID}); r.Code() != "NOT_FOUND" {
			t.Fatalf("another verified address accepts: %s", r.Raw)
		}
		// The owner of the mailbox verifies (with the code that went there) and joins.
		s.VerifyEmail(t, squatter)
		if r := s.MustQuery(squatter.AccessToken, invitations, nil); !r.Contains(inv.InviteMerchantStaff.ID) {
			t.Fatalf("verified invitee does not see the invitation: %s", r.Raw)
		}
		if r := s.MustQuery(squatter.AccessToken, accept, map[string]any{"id": inv.InviteMerchantStaff.ID}); !r.Contains(`"slug":"tea-house"`) {
			t.Fatalf("accept: %s", r.Raw)
		}
	})
}

func TestAccessTokensEndWithTheirSession(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		ended := make(chan int, 16)
		s.App.Auth.OnSessionsEnded = func(id int) { ended <- id }
		mustEnd := func(t *testing.T, what, userID string) {
			t.Helper()
			select {
			case id := <-ended:
				if strconv.Itoa(id) != userID {
					t.Fatalf("%s: sessions of user %d ended, want %s", what, id, userID)
				}
			default:
				t.Fatalf("%s: no session-ended signal", what)
			}
		}
		refused := func(t *testing.T, what, token string) {
			t.Helper()
			r := s.Query(token, `{ me { id } }`, nil)
			if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("%s: access token still works: %d %s", what, r.Status, r.Raw)
			}
		}
		refresh := `mutation($t: String!) { refreshToken(token: $t) { accessToken refreshToken } }`

		t.Run("logout", func(t *testing.T) {
			fay := s.Register("fay@example.com", "Fay")
			other := s.Login("fay@example.com")
			s.MustQuery(fay.AccessToken, `{ me { id } }`, nil)
			s.MustQuery("", `mutation($t: String!) { logout(refreshToken: $t) }`, map[string]any{"t": fay.RefreshToken})
			refused(t, "after logout", fay.AccessToken)
			mustEnd(t, "logout", fay.UserID)
			s.MustQuery(other.AccessToken, `{ me { id } }`, nil) // only that session ended
		})
		t.Run("refresh-token reuse", func(t *testing.T) {
			gil := s.Register("gil@example.com", "Gil")
			r := s.MustQuery("", refresh, map[string]any{"t": gil.RefreshToken})
			var out struct {
				RefreshToken struct{ AccessToken, RefreshToken string }
			}
			r.Decode(t, &out)
			s.MustQuery(out.RefreshToken.AccessToken, `{ me { id } }`, nil)
			if r := s.Query("", refresh, map[string]any{"t": gil.RefreshToken}); r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("reuse: %s", r.Raw)
			}
			// Every access token of the family ends: the thief's and the owner's.
			refused(t, "original token after reuse", gil.AccessToken)
			refused(t, "rotated token after reuse", out.RefreshToken.AccessToken)
			mustEnd(t, "reuse", gil.UserID)
		})
		t.Run("password change keeps the caller's session only", func(t *testing.T) {
			hal := s.Register("hal@example.com", "Hal")
			other := s.Login("hal@example.com")
			s.MustQuery(hal.AccessToken, `mutation($i: ChangePasswordInput!) { changePassword(input: $i) }`,
				map[string]any{"i": map[string]any{"currentPassword": apitest.Password, "newPassword": "a brand new secret"}})
			refused(t, "other session after a password change", other.AccessToken)
			s.MustQuery(hal.AccessToken, `{ me { id } }`, nil)
			mustEnd(t, "password change", hal.UserID)
		})
		t.Run("disabled account", func(t *testing.T) {
			admin := newAdmin(t, s, "admin@example.com")
			ivy := s.Register("ivy@example.com", "Ivy")
			s.MustQuery(admin.AccessToken, `mutation($id: ID!) { setUserStatus(id: $id, status: DISABLED, reason: "fraud") { status } }`,
				map[string]any{"id": ivy.UserID})
			refused(t, "disabled", ivy.AccessToken)
			mustEnd(t, "disabled", ivy.UserID)
		})
		t.Run("tokens without a live session", func(t *testing.T) {
			jo := s.Register("jo@example.com", "Jo")
			for _, sid := range []string{"", "no-such-session"} {
				tok, _, err := s.App.Auth.Tokens.IssueUser(jo.UserID, sid)
				if err != nil {
					t.Fatal(err)
				}
				refused(t, "session "+strconv.Quote(sid), tok)
			}
		})
		select {
		case id := <-ended:
			t.Fatalf("unexpected session-ended signal for user %d", id)
		default:
		}
	})
}

func TestRegistrationIsThrottledPerAddress(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		register := func(ip, email string) *apitest.Response {
			return from(s, ip, "", registerMutation, map[string]any{"i": map[string]any{
				"email": email, "password": apitest.Password, "displayName": "Someone"}})
		}
		for i := range 3 {
			if r := register("203.0.113.7", fmt.Sprintf("u%d@example.com", i)); len(r.Errors) > 0 {
				t.Fatalf("registration %d: %s", i, r.Raw)
			}
		}
		// Attempts on a taken address count too (they probe which accounts exist).
		r := register("203.0.113.7", "u0@example.com")
		if ra, _ := r.Errors[0].Extensions["retryAfter"].(float64); r.Code() != "RATE_LIMITED" || ra < 1 {
			t.Fatalf("fourth registration from one address: %s", r.Raw)
		}
		if r := register("203.0.113.7", "u9@example.com"); r.Code() != "RATE_LIMITED" {
			t.Fatalf("fifth registration: %s", r.Raw)
		}
		// Invalid input costs nothing and is answered as such.
		if r := register("203.0.113.7", "not-an-email"); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("invalid input: %s", r.Raw)
		}
		// Other addresses register as before; one IPv6 /64 is one address.
		if r := register("203.0.113.8", "v@example.com"); len(r.Errors) > 0 {
			t.Fatalf("another address: %s", r.Raw)
		}
		for i := range 3 {
			if r := register(fmt.Sprintf("2001:db8:1:2::%x", i+1), fmt.Sprintf("w%d@example.com", i)); len(r.Errors) > 0 {
				t.Fatalf("IPv6 registration %d: %s", i, r.Raw)
			}
		}
		if r := register("2001:db8:1:2:ffff::1", "w9@example.com"); r.Code() != "RATE_LIMITED" {
			t.Fatalf("fourth registration from one /64: %s", r.Raw)
		}
		if r := register("2001:db8:1:3::1", "x@example.com"); len(r.Errors) > 0 {
			t.Fatalf("another /64: %s", r.Raw)
		}
	}, trustProxy, func(c *config.Config) { c.RegistrationMaxPerAddress = 3 })
}

func TestEmailsAreNormalised(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		kim := s.Register("  Kim.Lee+Shop@Example.COM ", "Kim")
		if kim.Email != "kim.lee+shop@example.com" {
			t.Fatalf("stored %q", kim.Email)
		}
		login := `mutation($e: String!) { login(input: {email: $e, password: "` + apitest.Password + `"}) { user { id } } }`
		for _, spelling := range []string{"KIM.LEE+SHOP@example.com", "ｋｉｍ．ｌｅｅ＋ｓｈｏｐ＠ｅｘａｍｐｌｅ．ｃｏｍ"} {
			if r := s.MustQuery("", login, map[string]any{"e": spelling}); !r.Contains(kim.UserID) {
				t.Fatalf("login as %q: %s", spelling, r.Raw)
			}
			r := s.Query("", registerMutation, map[string]any{"i": map[string]any{"email": spelling, "password": apitest.Password, "displayName": "Twin"}})
			if r.Code() != "CONFLICT" || r.Field() != "email" {
				t.Fatalf("second account as %q: %s", spelling, r.Raw)
			}
		}
		for _, bad := range []string{
			"ki\u200Bm@example.com",     // zero-width space
			"kim@exa\u202Emple.com",     // right-to-left override
			"kim\u00AD@example.com",     // soft hyphen
			"kim\u2060@example.com",     // word joiner
			"kim@example.com\u0000",     // NUL
			"kim\t@example.com",         // tab
			"kim@example.com\r\nBcc: x", // header injection
			"\uFEFFkim@example.com",     // byte order mark
		} {
			r := s.Query("", registerMutation, map[string]any{"i": map[string]any{"email": bad, "password": apitest.Password, "displayName": "X"}})
			if r.Code() != "BAD_USER_INPUT" || r.Field() != "email" {
				t.Fatalf("registered %q: %s", bad, r.Raw)
			}
		}
		// Invitations are normalised the same way.
		shop := s.NewMerchant(t, "kim-shop", merchant.StatusACTIVE)
		r := s.MustQuery(shop.Owner.AccessToken, `mutation($m: ID!, $e: String!) { inviteMerchantStaff(merchantID: $m, email: $e) { email } }`,
			map[string]any{"m": shop.ID, "e": "ＮＥＷ＠Ｅｘａｍｐｌｅ．ｃｏｍ"})
		if !r.Contains(`"email":"new@example.com"`) {
			t.Fatalf("invitation: %s", r.Raw)
		}
		r = s.Query(shop.Owner.AccessToken, `mutation($m: ID!, $e: String!) { inviteMerchantStaff(merchantID: $m, email: $e) { email } }`,
			map[string]any{"m": shop.ID, "e": "new\u200B@example.com"})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "email" {
			t.Fatalf("invisible character in an invitation: %s", r.Raw)
		}
	})
}

func TestDisplayTextRefusesInvisibleCharacters(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		shop := s.NewMerchant(t, "text-shop", merchant.StatusACTIVE)
		owner := shop.Owner.AccessToken
		customer := s.Register("lu@example.com", "Lu")
		apply := s.Register("applicant@example.com", "Applicant")
		variants := []any{map[string]any{"sku": "SKU-1", "price": "1.00", "stock": 1}}
		r := s.MustQuery(owner, `mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"title": "Tea", "variants": variants}})
		var p struct{ CreateProduct struct{ ID string } }
		r.Decode(t, &p)

		fields := []struct {
			name, token, query, field string
			vars                      func(v string) map[string]any
		}{
			{"register displayName", "", registerMutation, "displayName", func(v string) map[string]any {
				return map[string]any{"i": map[string]any{"email": "new-" + strconv.Itoa(len(v)) + "@example.com", "password": apitest.Password, "displayName": v}}
			}},
			{"updateProfile displayName", customer.AccessToken, `mutation($v: String!) { updateProfile(input: {displayName: $v}) { id } }`, "displayName",
				func(v string) map[string]any { return map[string]any{"v": v} }},
			{"applyForMerchant name", apply.AccessToken, applyMutation, "name", func(v string) map[string]any { return withField(application("text-apply"), "name", v) }},
			{"applyForMerchant contactName", apply.AccessToken, applyMutation, "contactName", func(v string) map[string]any { return withField(application("text-apply"), "contactName", v) }},
			{"applyForMerchant legalName", apply.AccessToken, applyMutation, "legalName", func(v string) map[string]any { return withField(application("text-apply"), "legalName", v) }},
			{"updateMerchant name", owner, `mutation($id: ID!, $v: String!) { updateMerchant(id: $id, input: {name: $v}) { id } }`, "name",
				func(v string) map[string]any { return map[string]any{"id": shop.ID, "v": v} }},
			{"createProduct title", owner, `mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }`, "title",
				func(v string) map[string]any {
					return map[string]any{"i": map[string]any{"title": v, "variants": variants}}
				}},
			{"updateProduct title", owner, `mutation($id: ID!, $v: String!) { updateProduct(id: $id, input: {title: $v}) { id } }`, "title",
				func(v string) map[string]any { return map[string]any{"id": p.CreateProduct.ID, "v": v} }},
			{"createApiClient name", owner, `mutation($i: CreateApiClientInput!) { createApiClient(input: $i) { clientSecret } }`, "name",
				func(v string) map[string]any {
					return map[string]any{"i": map[string]any{"name": v, "merchantIDs": []string{shop.ID}, "scopes": []string{"orders:read"}}}
				}},
			{"addAddress recipientName", customer.AccessToken, `mutation($v: String!) { addAddress(input: {recipientName: $v, phone: "13800138000", province: "上海市", city: "上海市", street: "世纪大道 100 号"}) { id } }`,
				"recipientName", func(v string) map[string]any { return map[string]any{"v": v} }},
		}
		for _, f := range fields {
			t.Run(f.name, func(t *testing.T) {
				for _, bad := range []string{"Tea\u202Egnp.exe", "ad\u200Bmin", "a\u2066b", "bell\a", "two\nlines", "\u3164"} {
					r := s.Query(f.token, f.query, f.vars(bad))
					if r.Code() != "BAD_USER_INPUT" || r.Field() != f.field {
						t.Fatalf("%q: code %q field %q: %s", bad, r.Code(), r.Field(), r.Raw)
					}
				}
			})
		}
		// Visible text of every script, with emoji, is fine; descriptions may have lines.
		s.MustQuery(customer.AccessToken, `mutation { updateProfile(input: {displayName: "王小明 Zoë مرحبا 👍"}) { id } }`, nil)
		s.MustQuery(owner, `mutation($id: ID!) { updateProduct(id: $id, input: {description: "第一行\n第二行 👨‍👩‍👧"}) { id } }`,
			map[string]any{"id": p.CreateProduct.ID})
		r = s.Query(owner, `mutation($id: ID!) { updateProduct(id: $id, input: {description: "safe \u202Etxt.exe"}) { id } }`,
			map[string]any{"id": p.CreateProduct.ID})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "description" {
			t.Fatalf("description with an override: %s", r.Raw)
		}
	})
}

func TestLoginLockoutCannotBeTurnedAgainstOthers(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		freezeThrottle(s)
		const max = 2 // LOGIN_MAX_FAILURES: 8 per address, 20 per account
		login := func(ip, email, password string) *apitest.Response {
			return from(s, ip, "", `mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }`,
				map[string]any{"e": email, "p": password})
		}
		register := func(ip, email string) {
			t.Helper()
			if r := from(s, ip, "", registerMutation, map[string]any{"i": map[string]any{"email": email, "password": apitest.Password, "displayName": "X"}}); len(r.Errors) > 0 {
				t.Fatalf("register %s: %s", email, r.Raw)
			}
		}
		ok := func(what string, r *apitest.Response) {
			t.Helper()
			if len(r.Errors) > 0 {
				t.Fatalf("%s: %s", what, r.Raw)
			}
		}
		limited := func(what string, r *apitest.Response) {
			t.Helper()
			if r.Code() != "RATE_LIMITED" {
				t.Fatalf("%s: %s", what, r.Raw)
			}
		}

		t.Run("guessing one account from one address", func(t *testing.T) {
			register("10.0.0.1", "victim@example.com")
			for range max {
				if r := login("203.0.113.1", "victim@example.com", "wrong password"); r.Code() != "UNAUTHENTICATED" {
					t.Fatalf("guess: %s", r.Raw)
				}
			}
			limited("the guessing address, even with the right password", login("203.0.113.1", "victim@example.com", apitest.Password))
			ok("the victim from an address it never used", login("198.51.100.1", "victim@example.com", apitest.Password))
			ok("the victim from its own address", login("10.0.0.1", "victim@example.com", apitest.Password))
		})
		t.Run("spraying many accounts from one address", func(t *testing.T) {
			register("10.0.0.2", "other@example.com")
			for i := range 4 * max {
				if r := login("203.0.113.2", fmt.Sprintf("sprayed%d@example.com", i), "Winter2026!"); r.Code() != "UNAUTHENTICATED" {
					t.Fatalf("spray %d: %s", i, r.Raw)
				}
			}
			limited("the spraying address, any account", login("203.0.113.2", "other@example.com", apitest.Password))
			ok("another account from another address", login("198.51.100.2", "other@example.com", apitest.Password))
		})
		t.Run("guessing one account from many addresses", func(t *testing.T) {
			register("10.0.0.3", "target@example.com")
			ok("the owner signs in from their phone too", login("2001:db8:9:9::1", "target@example.com", apitest.Password))
			for i := range 10 * max {
				if r := login(fmt.Sprintf("192.0.2.%d", i+1), "target@example.com", "wrong password"); r.Code() != "UNAUTHENTICATED" {
					t.Fatalf("guess %d: %s", i, r.Raw)
				}
			}
			// Past the account-wide limit, new addresses wait; the addresses the account has
			// signed in from do not.
			limited("a new address", login("198.51.100.3", "target@example.com", apitest.Password))
			limited("wrong passwords from new addresses are not even checked", login("198.51.100.3", "target@example.com", "wrong password"))
			ok("the account's own address", login("10.0.0.3", "target@example.com", apitest.Password))
			ok("another address of the phone's /64", login("2001:db8:9:9:a:b:c:d", "target@example.com", apitest.Password))
			ok("other accounts from new addresses", login("198.51.100.4", "victim@example.com", apitest.Password))
		})
		t.Run("a stolen access token cannot guess the password", func(t *testing.T) {
			register("10.0.0.5", "owner@example.com")
			tok := login("203.0.113.5", "owner@example.com", apitest.Password)
			var out struct{ Login struct{ AccessToken string } }
			tok.Decode(t, &out)
			change := `mutation($c: String!) { changePassword(input: {currentPassword: $c, newPassword: "a new password!"}) }`
			for range max {
				if r := from(s, "203.0.113.5", out.Login.AccessToken, change, map[string]any{"c": "guess guess"}); r.Field() != "currentPassword" {
					t.Fatalf("guess: %s", r.Raw)
				}
			}
			limited("guessing through changePassword", from(s, "203.0.113.5", out.Login.AccessToken, change, map[string]any{"c": apitest.Password}))
		})
	}, trustProxy, func(c *config.Config) { c.LoginMaxFailures = 2 })
}
