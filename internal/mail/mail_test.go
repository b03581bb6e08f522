package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"log/slog"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/mail"
)

// fakeSMTP is a minimal SMTP server: EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT.
// It records what it was told, so tests can check what crossed the wire and when.
type fakeSMTP struct {
	ln        net.Listener
	tls       *tls.Config
	implicit  bool // TLS from the first byte
	startTLS  bool // offer STARTTLS
	user, pwd string

	mu       sync.Mutex
	commands []string // verbs in order, with "(tls)" after each one sent over TLS
	from, to string
	data     string
}

func newFakeSMTP(t *testing.T, cert tls.Certificate, implicit, startTLS bool) *fakeSMTP {
	t.Helper()
	f := &fakeSMTP{tls: &tls.Config{Certificates: []tls.Certificate{cert}}, implicit: implicit, startTLS: startTLS,
		user: "mailer", pwd: "s3cret"}
	var err error
	if implicit {
		f.ln, err = tls.Listen("tcp", "127.0.0.1:0", f.tls)
	} else {
		f.ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.ln.Close() })
	go f.serve()
	return f
}

func (f *fakeSMTP) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *fakeSMTP) serve() {
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.session(conn)
	}
}

func (f *fakeSMTP) note(cmd string, secure bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if secure {
		cmd += "(tls)"
	}
	f.commands = append(f.commands, cmd)
}

func (f *fakeSMTP) session(conn net.Conn) {
	defer conn.Close()
	secure := f.implicit
	tp := textproto.NewConn(conn)
	_ = tp.PrintfLine("220 fake ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		f.note(verb, secure)
		switch verb {
		case "EHLO":
			exts := []string{"fake"}
			if f.startTLS && !secure {
				exts = append(exts, "STARTTLS")
			}
			exts = append(exts, "AUTH PLAIN")
			for i, e := range exts {
				sep := "-"
				if i == len(exts)-1 {
					sep = " "
				}
				_ = tp.PrintfLine("250%s%s", sep, e)
			}
		case "STARTTLS":
			_ = tp.PrintfLine("220 go ahead")
			tc := tls.Server(conn, f.tls)
			if tc.Handshake() != nil {
				return
			}
			conn, secure = tc, true
			tp = textproto.NewConn(tc)
		case "AUTH":
			_, resp, _ := strings.Cut(arg, " ")
			raw, _ := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(raw), "\x00")
			if len(parts) == 3 && parts[1] == f.user && parts[2] == f.pwd {
				_ = tp.PrintfLine("235 ok")
			} else {
				_ = tp.PrintfLine("535 authentication failed")
			}
		case "MAIL":
			f.mu.Lock()
			f.from = arg
			f.mu.Unlock()
			_ = tp.PrintfLine("250 ok")
		case "RCPT":
			f.mu.Lock()
			f.to = arg
			f.mu.Unlock()
			_ = tp.PrintfLine("250 ok")
		case "DATA":
			_ = tp.PrintfLine("354 go on")
			data, err := io.ReadAll(tp.DotReader())
			if err != nil {
				return
			}
			f.mu.Lock()
			f.data = string(data)
			f.mu.Unlock()
			_ = tp.PrintfLine("250 queued")
		case "QUIT":
			_ = tp.PrintfLine("221 bye")
			return
		default:
			_ = tp.PrintfLine("502 not implemented")
		}
	}
}

func (f *fakeSMTP) record() (commands []string, from, to, data string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...), f.from, f.to, f.data
}

// testCA makes a self-signed certificate for 127.0.0.1 and a client TLS config trusting it.
func testCA(t *testing.T) (tls.Certificate, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, &tls.Config{RootCAs: pool}
}

var message = mail.Message{To: "Ann@example.com", Subject: "验证你的邮箱 Verify your email", Text: "验证码 Code: 123456\n\nhttps://shop.example.com/verify?token=abc"}

func TestSMTPSendsOverStartTLSWithAuth(t *testing.T) {
	cert, trust := testCA(t)
	srv := newFakeSMTP(t, cert, false, true)
	m := &mail.SMTP{Config: mail.Config{Host: "127.0.0.1", Port: srv.port(), Username: "mailer", Password: "s3cret",
		TLS: mail.TLSStartTLS, From: "Xiadan <no-reply@example.com>"}, TLSConfig: trust}
	if err := m.Send(context.Background(), message); err != nil {
		t.Fatal(err)
	}
	cmds, from, to, data := srv.record()
	// Nothing but the greeting and STARTTLS crossed the wire before TLS.
	want := "EHLO STARTTLS EHLO(tls) AUTH(tls) MAIL(tls) RCPT(tls) DATA(tls) QUIT(tls)"
	if strings.Join(cmds, " ") != want {
		t.Fatalf("conversation %v, want %s", cmds, want)
	}
	if from != "FROM:<no-reply@example.com>" || to != "TO:<Ann@example.com>" {
		t.Fatalf("envelope %q %q", from, to)
	}
	head, body, _ := strings.Cut(data, "\n\n")
	for _, h := range []string{"From: \"Xiadan\" <no-reply@example.com>", "To: <Ann@example.com>",
		"Subject: =?utf-8?q?", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", "Message-ID: <"} {
		if !strings.Contains(head, h) {
			t.Fatalf("header %q missing in:\n%s", h, head)
		}
	}
	decoded, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
	// The DATA terminator adds the final line break.
	if err != nil || strings.TrimSuffix(strings.ReplaceAll(string(decoded), "\r\n", "\n"), "\n") != message.Text {
		t.Fatalf("body %q (%v)", decoded, err)
	}
}

func TestSMTPSendsOverImplicitTLS(t *testing.T) {
	cert, trust := testCA(t)
	srv := newFakeSMTP(t, cert, true, false)
	m := &mail.SMTP{Config: mail.Config{Host: "127.0.0.1", Port: srv.port(), Username: "mailer", Password: "s3cret",
		TLS: mail.TLSImplicit, From: "no-reply@example.com"}, TLSConfig: trust}
	if err := m.Send(context.Background(), message); err != nil {
		t.Fatal(err)
	}
	if cmds, _, _, _ := srv.record(); strings.Join(cmds, " ") != "EHLO(tls) AUTH(tls) MAIL(tls) RCPT(tls) DATA(tls) QUIT(tls)" {
		t.Fatalf("conversation %v", cmds)
	}
}

func TestSMTPRefusals(t *testing.T) {
	cert, trust := testCA(t)
	t.Run("no STARTTLS offered: nothing is sent in clear", func(t *testing.T) {
		srv := newFakeSMTP(t, cert, false, false)
		m := &mail.SMTP{Config: mail.Config{Host: "127.0.0.1", Port: srv.port(), Username: "mailer", Password: "s3cret",
			TLS: mail.TLSStartTLS, From: "no-reply@example.com"}, TLSConfig: trust}
		if err := m.Send(context.Background(), message); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("sent without STARTTLS: %v", err)
		}
		if cmds, _, _, _ := srv.record(); strings.Join(cmds, " ") != "EHLO" {
			t.Fatalf("conversation %v", cmds)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := newFakeSMTP(t, cert, false, true)
		m := &mail.SMTP{Config: mail.Config{Host: "127.0.0.1", Port: srv.port(), Username: "mailer", Password: "s3cret",
			TLS: mail.TLSStartTLS, From: "no-reply@example.com"}}
		if err := m.Send(context.Background(), message); err == nil {
			t.Fatal("sent to a server whose certificate is not trusted")
		}
		if cmds, _, _, _ := srv.record(); strings.Contains(strings.Join(cmds, " "), "AUTH") {
			t.Fatalf("credentials sent: %v", cmds)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		srv := newFakeSMTP(t, cert, false, true)
		m := &mail.SMTP{Config: mail.Config{Host: "127.0.0.1", Port: srv.port(), Username: "mailer", Password: "wrong",
			TLS: mail.TLSStartTLS, From: "no-reply@example.com"}, TLSConfig: trust}
		if err := m.Send(context.Background(), message); err == nil {
			t.Fatal("accepted a wrong password")
		}
	})
	t.Run("header injection", func(t *testing.T) {
		srv := newFakeSMTP(t, cert, false, true)
		m := &mail.SMTP{Config: mail.Config{Host: "127.0.0.1", Port: srv.port(), TLS: mail.TLSStartTLS, From: "no-reply@example.com"}, TLSConfig: trust}
		for _, bad := range []mail.Message{
			{To: "ann@example.com\r\nBcc: eve@example.com", Subject: "x", Text: "x"},
			{To: "ann@example.com", Subject: "x\r\nBcc: eve@example.com", Text: "x"},
		} {
			if err := m.Send(context.Background(), bad); err == nil {
				t.Fatalf("sent %+v", bad)
			}
		}
		if cmds, _, _, _ := srv.record(); len(cmds) != 0 {
			t.Fatalf("connected for a malformed message: %v", cmds)
		}
	})
	t.Run("unreachable server", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		m := &mail.SMTP{Config: mail.Config{Host: "127.0.0.1", Port: port, TLS: mail.TLSStartTLS, From: "no-reply@example.com"}}
		if err := m.Send(context.Background(), message); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestOutboxKeepsReadableMessages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	var log strings.Builder
	m, err := mail.New(mail.Config{}, dir, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), message); err != nil {
		t.Fatal(err)
	}
	second := mail.Message{To: "bob@example.com", Subject: "second", Text: "two"}
	if err := m.Send(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	got, err := mail.ReadOutbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].To != "Ann@example.com" || got[0].Subject != message.Subject || got[0].Text != message.Text || got[1] != second {
		t.Fatalf("outbox %+v", got)
	}
	// The file is plain UTF-8 a developer can read, and private to its owner.
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	raw, _ := os.ReadFile(files[0])
	if !strings.Contains(string(raw), "验证码 Code: 123456") {
		t.Fatalf("file is not readable:\n%s", raw)
	}
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v", fi.Mode())
	}
	// One log line per message names the file.
	if n := strings.Count(log.String(), "development outbox"); n != 2 || !strings.Contains(log.String(), files[0]) {
		t.Fatalf("log:\n%s", log.String())
	}
}

func TestConfigValidation(t *testing.T) {
	ok := mail.Config{Host: "smtp.example.com", Port: 587, Username: "u", Password: "p", TLS: mail.TLSStartTLS, From: "Shop <no-reply@example.com>"}
	if errs := ok.Validate(); len(errs) != 0 {
		t.Fatalf("valid config refused: %v", errs)
	}
	if errs := (mail.Config{}).Validate(); len(errs) != 0 {
		t.Fatalf("the outbox needs no settings: %v", errs)
	}
	for _, tc := range []struct {
		name string
		edit func(*mail.Config)
		want string
	}{
		{"port", func(c *mail.Config) { c.Port = 0 }, "SMTP_PORT"},
		{"port in the host", func(c *mail.Config) { c.Host = "smtp.example.com:587" }, "SMTP_HOST"},
		{"TLS mode", func(c *mail.Config) { c.TLS = "ssl" }, "SMTP_TLS"},
		{"credentials in clear", func(c *mail.Config) { c.TLS = mail.TLSNone }, "SMTP_TLS"},
		{"user without password", func(c *mail.Config) { c.Password = "" }, "SMTP_USERNAME"},
		{"no sender", func(c *mail.Config) { c.From = "" }, "MAIL_FROM"},
		{"bad sender", func(c *mail.Config) { c.From = "not an address" }, "MAIL_FROM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			errs := c.Validate()
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("errors %v, want one naming %s", errs, tc.want)
			}
		})
	}
}
