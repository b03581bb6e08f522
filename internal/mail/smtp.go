package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"time"
)

// SendTimeout bounds one whole SMTP conversation, dial to QUIT, when the caller's context
// sets no earlier deadline.
const SendTimeout = 30 * time.Second

// SMTP sends messages through an SMTP server (net/smtp), one connection per message:
// STARTTLS or implicit TLS as configured, with the server's certificate verified, then
// AUTH PLAIN when credentials are set.
type SMTP struct {
	Config Config
	// TLSConfig, when set, is the base TLS configuration (tests use it to trust their own
	// certificate authority); the server name is always Config.Host.
	TLSConfig *tls.Config
	// Now is the clock of the Date header (time.Now when nil).
	Now func() time.Time
}

// Send delivers m to the SMTP server.
func (s *SMTP) Send(ctx context.Context, m Message) (err error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	body, err := format(m, s.Config.From, now(), false)
	if err != nil {
		return err
	}
	from, _ := mail.ParseAddress(s.Config.From)
	to, _ := mail.ParseAddress(m.To)

	deadline := time.Now().Add(SendTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	addr := net.JoinHostPort(s.Config.Host, strconv.Itoa(s.Config.Port))
	dialer := &net.Dialer{Deadline: deadline}
	var conn net.Conn
	if s.Config.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: s.tlsConfig()}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("mail: connecting to %s: %w", addr, err)
	}
	// The deadline also ends a server that stops answering mid-conversation; a cancelled
	// context ends it at once.
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, s.Config.Host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("mail: greeting from %s: %w", addr, err)
	}
	defer func() { _ = c.Close() }()
	step := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("mail: %s (%s): %w", what, addr, err)
		}
		return nil
	}
	if err := step("EHLO", c.Hello("localhost")); err != nil {
		return err
	}
	if s.Config.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("mail: %s does not offer STARTTLS; refusing to send in clear (set SMTP_TLS)", addr)
		}
		if err := step("STARTTLS", c.StartTLS(s.tlsConfig())); err != nil {
			return err
		}
	}
	if s.Config.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("mail: %s does not offer AUTH", addr)
		}
		// PlainAuth itself refuses to send the password over a connection without TLS.
		auth := smtp.PlainAuth("", s.Config.Username, s.Config.Password, s.Config.Host)
		if err := step("AUTH", c.Auth(auth)); err != nil {
			return err
		}
	}
	if err := step("MAIL FROM", c.Mail(from.Address)); err != nil {
		return err
	}
	if err := step("RCPT TO", c.Rcpt(to.Address)); err != nil {
		return err
	}
	w, err := c.Data()
	if err := step("DATA", err); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return step("writing the message", err)
	}
	if err := step("ending the message", w.Close()); err != nil {
		return err
	}
	// The server has accepted the message; a failed QUIT does not undo that.
	_ = c.Quit()
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	cfg.ServerName = s.Config.Host
	return cfg
}
