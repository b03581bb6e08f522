// Package mail sends the server's email: over SMTP in production, and into a local outbox
// directory (plus a log line) in development, so a developer can read every message the
// server would have sent without a mail server.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"path/filepath"
	"strings"
	"time"
)

// Message is one plain-text email to one recipient.
type Message struct {
	To      string
	Subject string
	Text    string
}

// Mailer sends messages. Send returns once the message is handed over (accepted by the
// SMTP server, or written to the outbox); it does not retry.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// The TLS modes of an SMTP connection.
const (
	// TLSStartTLS upgrades a plain connection (port 587) with STARTTLS, and refuses a
	// server that does not offer it, so credentials and messages never travel in clear.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465, "SMTPS").
	TLSImplicit = "tls"
	// TLSNone sends in clear: only for a relay on the same host or network, never with
	// credentials.
	TLSNone = "none"
)

// Config says how mail leaves the server (see the README's SMTP_* settings).
type Config struct {
	// Host is the SMTP server; empty means the development outbox.
	Host string
	// Port is the SMTP port (587 for STARTTLS, 465 for implicit TLS).
	Port int
	// Username and Password authenticate with AUTH PLAIN; both empty means no auth.
	Username string
	Password string
	// TLS is TLSStartTLS, TLSImplicit or TLSNone.
	TLS string
	// From is the sender, such as "Xiadan <no-reply@example.com>".
	From string
}

// Validate reports what is wrong with an SMTP configuration; an empty Host (the outbox)
// needs nothing else. Errors name the environment variables.
func (c Config) Validate() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if c.From != "" {
		if a, err := mail.ParseAddress(c.From); err != nil || strings.ContainsAny(c.From, "\r\n") || a.Address == "" {
			bad("MAIL_FROM", "must be an address such as \"Xiadan <no-reply@example.com>\"")
		}
	}
	if c.Host == "" {
		return errs
	}
	if strings.ContainsAny(c.Host, " /:\r\n") {
		bad("SMTP_HOST", "must be a host name or address, without a port (set SMTP_PORT)")
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("SMTP_PORT", "must be a port number")
	}
	switch c.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if c.Username != "" {
			bad("SMTP_TLS", "none would send SMTP_USERNAME and SMTP_PASSWORD in clear; use starttls or tls")
		}
	default:
		bad("SMTP_TLS", "must be starttls, tls or none")
	}
	if (c.Username == "") != (c.Password == "") {
		bad("SMTP_USERNAME", "and SMTP_PASSWORD must be set together")
	}
	if c.From == "" {
		bad("MAIL_FROM", "is required with SMTP_HOST")
	}
	return errs
}

// DefaultFrom is the sender of the development outbox when MAIL_FROM is not set.
const DefaultFrom = "Xiadan <no-reply@xiadan.localhost>"

// New returns the mailer cfg describes: SMTP when cfg.Host is set, else an outbox in
// outboxDir that logs each message it keeps.
func New(cfg Config, outboxDir string, logger *slog.Logger) (Mailer, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.From == "" {
		cfg.From = DefaultFrom
	}
	if cfg.Host == "" {
		if outboxDir == "" {
			return nil, errors.New("mail: no SMTP_HOST and no outbox directory")
		}
		return &Outbox{Dir: outboxDir, From: cfg.From, Logger: logger}, nil
	}
	return &SMTP{Config: cfg}, nil
}

// OutboxDir is where the development outbox of a data directory keeps messages.
func OutboxDir(dataDir string) string { return filepath.Join(dataDir, "outbox") }

// format renders m as an RFC 5322 message from from. The body is quoted-printable for
// SMTP (safe over any relay) or raw UTF-8 ("8bit") for the outbox, where people read it.
func format(m Message, from string, now time.Time, eightBit bool) ([]byte, error) {
	if strings.ContainsAny(m.To, "\r\n") || strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("mail: line break in a header")
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("mail: recipient: %w", err)
	}
	sender, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: sender: %w", err)
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := sender.Address[strings.LastIndexByte(sender.Address, '@')+1:]
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", sender.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	text := strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n")
	if eightBit {
		header("Content-Transfer-Encoding", "8bit")
		b.WriteString("\r\n" + text)
		return b.Bytes(), nil
	}
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
