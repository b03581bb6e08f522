package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Outbox is the development mailer: each message becomes a file <Dir>/<time>-<random>.eml
// (RFC 5322, UTF-8 body, readable in any text editor or mail client) and one log line
// naming the file. Nothing leaves the machine.
type Outbox struct {
	Dir    string
	From   string
	Logger *slog.Logger
}

// Send writes m to the outbox.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	now := time.Now().UTC()
	body, err := format(m, o.From, now, true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("mail: creating the outbox: %w", err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := now.Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(suffix) + ".eml"
	path := filepath.Join(o.Dir, name)
	if err := os.WriteFile(path, body, 0o600); err != nil {
		return fmt.Errorf("mail: writing to the outbox: %w", err)
	}
	if o.Logger != nil {
		o.Logger.InfoContext(ctx, "mail: written to the development outbox (no SMTP_HOST set)",
			"to", m.To, "subject", m.Subject, "file", path)
	}
	return nil
}

// ReadOutbox returns the messages in an outbox directory, oldest first; a missing
// directory holds none. Tests read what a developer would read.
func ReadOutbox(dir string) ([]Message, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".eml") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	out := make([]Message, 0, len(names))
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		msg, err := mail.ReadMessage(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("mail: %s: %w", n, err)
		}
		body, err := io.ReadAll(msg.Body)
		f.Close()
		if err != nil {
			return nil, err
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			return nil, fmt.Errorf("mail: %s: subject: %w", n, err)
		}
		to, err := mail.ParseAddress(msg.Header.Get("To"))
		if err != nil {
			return nil, fmt.Errorf("mail: %s: recipient: %w", n, err)
		}
		out = append(out, Message{To: to.Address, Subject: subject,
			Text: strings.ReplaceAll(string(body), "\r\n", "\n")})
	}
	return out, nil
}
