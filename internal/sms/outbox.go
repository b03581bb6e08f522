package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// OutboxDir is the development outbox under a data directory: the same folder as the
// mail outbox, so one `ls` shows everything the server would have sent.
func OutboxDir(dataDir string) string { return filepath.Join(dataDir, "outbox") }

// Outbox is the development sender: each message becomes a file <Dir>/<time>-<random>.sms
// ("To: …" then the text) and one log line naming the file. Nothing leaves the machine.
type Outbox struct {
	Dir    string
	Logger *slog.Logger
}

// Text is what a message says (the real providers' templates say the same).
func Text(m Message) string {
	return fmt.Sprintf("【Xiadan】您的验证码是 %s，%d 分钟内有效。如非本人操作，请忽略本短信。 Your Xiadan code is %s (valid %d minutes).",
		m.Code, m.Minutes, m.Code, m.Minutes)
}

// Send writes m to the outbox.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("sms: creating the outbox: %w", err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := time.Now().UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(suffix) + ".sms"
	path := filepath.Join(o.Dir, name)
	if err := os.WriteFile(path, []byte("To: "+m.To+"\n\n"+Text(m)+"\n"), 0o600); err != nil {
		return fmt.Errorf("sms: writing to the outbox: %w", err)
	}
	if o.Logger != nil {
		o.Logger.InfoContext(ctx, "sms: written to the development outbox (no SMS_PROVIDER set)", "to", m.To, "file", path)
	}
	return nil
}

// Sent is one message read back from the outbox.
type Sent struct {
	To, Text string
}

// ReadOutbox returns the messages in an outbox directory, oldest first.
func ReadOutbox(dir string) ([]Sent, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sms") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	var out []Sent
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		head, text, _ := strings.Cut(string(b), "\n\n")
		out = append(out, Sent{To: strings.TrimPrefix(head, "To: "), Text: strings.TrimSpace(text)})
	}
	return out, nil
}
