// Package secret holds configuration values that must never be printed: app secrets,
// access key secrets, SMS keys.
package secret

import (
	"log/slog"
	"strconv"
)

// Value is a secret that fmt, JSON and slog show as REDACTED; Reveal returns it.
type Value string

const redacted = "REDACTED"

// Reveal returns the secret, for the code that signs with it.
func (s Value) Reveal() string { return string(s) }

// String hides the value from fmt verbs v, s and q.
func (s Value) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString hides the value from %#v.
func (s Value) GoString() string { return strconv.Quote(s.String()) }

// MarshalJSON hides the value from encoding/json.
func (s Value) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// LogValue hides the value from log/slog.
func (s Value) LogValue() slog.Value { return slog.StringValue(s.String()) }
