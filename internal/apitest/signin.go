package apitest

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/xiadan/xiadan/internal/sms"
)

var smsCodePattern = regexp.MustCompile(`验证码是 ([0-9]{6})`)

// PhoneCode returns the code of the newest text message the server sent to phone (E.164)
// through its development outbox, failing the test when there is none.
func (s *Server) PhoneCode(t testing.TB, phone string) string {
	t.Helper()
	msgs, err := sms.ReadOutbox(sms.OutboxDir(s.Config.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == phone {
			if m := smsCodePattern.FindStringSubmatch(msgs[i].Text); m != nil {
				return m[1]
			}
			t.Fatalf("no code in the message to %s: %s", phone, msgs[i].Text)
		}
	}
	t.Fatalf("no text message was sent to %s", phone)
	return ""
}

// SessionOf decodes the AuthPayload at data.<field> of a response.
func SessionOf(t testing.TB, r *Response, field string) Session {
	t.Helper()
	var out map[string]struct {
		AccessToken, RefreshToken string
		User                      struct {
			ID    string
			Email *string
		}
	}
	r.Decode(t, &out)
	p, ok := out[field]
	if !ok || p.AccessToken == "" {
		t.Fatalf("no session in %s: %s", field, r.Raw)
	}
	sess := Session{UserID: p.User.ID, AccessToken: p.AccessToken, RefreshToken: p.RefreshToken}
	if p.User.Email != nil {
		sess.Email = *p.User.Email
	}
	return sess
}

// SignInMini signs in through a mini program of platform with code (in the sandbox, the
// name of a made-up person).
func (s *Server) SignInMini(t testing.TB, platform, code string) Session {
	t.Helper()
	r := s.MustQuery("", `mutation($i: MiniProgramSignInInput!) { signInWithMiniProgram(input: $i) { accessToken refreshToken user { id email } } }`,
		map[string]any{"i": map[string]any{"platform": platform, "code": code}})
	return SessionOf(t, r, "signInWithMiniProgram")
}

// FollowSandboxPage plays a person signing in as name on the sign-in sandbox's page at
// authorizeURL and returns the query the page sent the browser back with (code, state).
func FollowSandboxPage(t testing.TB, authorizeURL, name string) url.Values {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(authorizeURL + "&name=" + url.QueryEscape(name))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("sandbox page: %s", res.Status)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}
