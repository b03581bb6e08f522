package apitest

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/mail"
)

// VerifyURL is the email verification page of test servers: messages link to it.
const VerifyURL = "https://shop.example.com/verify-email"

// Outbox returns every message the server has sent so far, oldest first, read from its
// development outbox as a developer would read it.
func (s *Server) Outbox(t testing.TB) []mail.Message {
	t.Helper()
	msgs, err := mail.ReadOutbox(mail.OutboxDir(s.Config.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// MailTo returns the messages sent to address so far, oldest first.
func (s *Server) MailTo(t testing.TB, address string) []mail.Message {
	t.Helper()
	var out []mail.Message
	for _, m := range s.Outbox(t) {
		if strings.EqualFold(m.To, address) {
			out = append(out, m)
		}
	}
	return out
}

var (
	codePattern = regexp.MustCompile(`(?:code is|验证码是)：?:? ?([0-9]{6})`)
	linkPattern = regexp.MustCompile(regexp.QuoteMeta(VerifyURL) + `\?token=[A-Za-z0-9_-]+`)
)

// VerificationCode returns the code and the link's token of the newest verification
// message sent to address, failing the test when there is none.
func (s *Server) VerificationCode(t testing.TB, address string) (code, token string) {
	t.Helper()
	msgs := s.MailTo(t, address)
	if len(msgs) == 0 {
		t.Fatalf("no message was sent to %s", address)
	}
	m := msgs[len(msgs)-1]
	c := codePattern.FindStringSubmatch(m.Text)
	link := linkPattern.FindString(m.Text)
	if c == nil || link == "" {
		t.Fatalf("no code or link in the message to %s:\n%s", address, m.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return c[1], u.Query().Get("token")
}

// VerifyEmail verifies sess's address with the code of the newest message sent to it.
func (s *Server) VerifyEmail(t testing.TB, sess Session) {
	t.Helper()
	code, _ := s.VerificationCode(t, sess.Email)
	s.MustQuery(sess.AccessToken, `mutation($c: String!) { verifyEmail(code: $c) { email } }`, map[string]any{"c": code})
}
