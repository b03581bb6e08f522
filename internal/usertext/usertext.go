// Package usertext checks the text people type for others to read — display names,
// titles, descriptions and email addresses — in one place, so that every validator refuses
// the same invisible, control and text-direction characters and normalises the same way.
//
// Why: a name with a right-to-left override (U+202E) shows its characters in another
// order ("Tea‮gnp.exe"), a zero-width space makes "admin" and "ad​min" two different names
// that look alike, and a control character can break logs, CSV exports and the layout of
// a merchant's back office. None of them belongs in a name.
package usertext

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/xiadan/xiadan/internal/apperror"
)

// MaxEmailLen is the longest address accepted, in bytes (RFC 5321's path limit less the
// angle brackets).
const MaxEmailLen = 254

// blank are letters and marks that render as nothing (Hangul fillers, the braille blank,
// the combining grapheme joiner, Khmer's invisible vowels), favourites for "empty" or
// look-alike names. They are not format characters, so unicode.Cf does not cover them.
var blank = map[rune]bool{
	'\u034F': true, '\u115F': true, '\u1160': true, '\u17B4': true, '\u17B5': true,
	'\u2800': true, '\u3164': true, '\uFFA0': true,
}

// invisible reports whether r is a control character, a format character (zero-width
// space, joiners, word joiner, BOM, soft hyphen, bidi embeddings, overrides, isolates and
// marks, tag characters), a line or paragraph separator, or a blank letter.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) || blank[r]
}

// bidiControl reports whether r changes the direction of the text around it: the
// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), the "Trojan Source"
// characters. The plain marks (LRM, RLM, ALM) only help mixed-direction text and stay
// allowed in multi-line text.
func bidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}

// Line checks one line of display text — a user's or merchant's name, a product title, a
// label: it trims surrounding white space, requires min to max characters, and refuses
// control characters (line breaks included), format characters (zero-width characters,
// bidi controls, soft hyphen, BOM, tags) and blank letters. Emoji joined with a zero-width
// joiner are refused too: the joiner is invisible wherever the sequence is not supported.
func Line(field, v string, min, max int) (string, error) {
	v = strings.TrimSpace(v)
	if err := length(field, v, min, max); err != nil {
		return "", err
	}
	if i := strings.IndexFunc(v, invisible); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return "", apperror.BadInput(field, "must be one line without control, invisible or text-direction characters (found U+%04X)", r)
	}
	return v, nil
}

// Text checks a multi-line text — a description, a reason: it trims surrounding white
// space and requires min to max characters. Line breaks and tabs are allowed; other
// control characters and the bidi embeddings, overrides and isolates are not.
func Text(field, v string, min, max int) (string, error) {
	v = strings.TrimSpace(v)
	if err := length(field, v, min, max); err != nil {
		return "", err
	}
	bad := func(r rune) bool {
		return (unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t') || bidiControl(r)
	}
	if i := strings.IndexFunc(v, bad); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return "", apperror.BadInput(field, "must not contain control or text-direction characters (found U+%04X)", r)
	}
	return v, nil
}

// length checks that v is valid UTF-8 of min to max characters.
func length(field, v string, min, max int) error {
	if !utf8.ValidString(v) {
		return apperror.BadInput(field, "is not valid UTF-8 text")
	}
	n := utf8.RuneCountInString(v)
	switch {
	case n == 0 && min > 0:
		return apperror.BadInput(field, "is required")
	case n > max && min == 0:
		return apperror.BadInput(field, "must be at most %d characters", max)
	case n < min || n > max:
		return apperror.BadInput(field, "must be %d to %d characters", min, max)
	}
	return nil
}

// Email normalises an email address and checks that it is a bare, plausible address.
//
// Normalisation: Unicode NFKC (so full-width "ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", as Chinese input
// methods type it, is ann@example.com), then the whole address lower-cased. RFC 5321 lets
// a server treat the local part as case-sensitive, but practically no mailbox provider
// does, and an account per capitalisation would be a trap (Ann@ and ann@ could not both be
// the same person's). Dots and +tags are kept: what they mean differs by provider.
// Addresses with spaces, control or invisible characters (zero-width, bidi controls) are
// refused rather than cleaned, so that what the person typed is what is stored.
func Email(field, v string) (string, error) {
	bad := apperror.BadInput(field, "%q is not a valid email address", v)
	if !utf8.ValidString(v) {
		return "", apperror.BadInput(field, "is not a valid email address")
	}
	e := strings.TrimSpace(norm.NFKC.String(v))
	if strings.ContainsFunc(e, func(r rune) bool { return invisible(r) || unicode.IsSpace(r) }) {
		return "", apperror.BadInput(field, "must not contain spaces, control or invisible characters")
	}
	e = norm.NFKC.String(strings.ToLower(e))
	if len(e) > MaxEmailLen {
		return "", bad
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e {
		return "", bad
	}
	at := strings.LastIndexByte(e, '@')
	local, domain := e[:at], e[at+1:]
	if len(local) > 64 || !plausibleDomain(domain) {
		return "", bad
	}
	return e, nil
}

// plausibleDomain requires a dotted host name: no domain literals ([1.2.3.4]), no empty
// labels, at most 63 bytes a label.
func plausibleDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.ContainsAny(l, "[]") {
			return false
		}
	}
	return true
}

// SameEmail reports whether a and b are the same address once normalised; an address
// that does not normalise is nobody's.
func SameEmail(a, b string) bool {
	na, err := Email("email", a)
	if err != nil {
		return false
	}
	nb, err := Email("email", b)
	return err == nil && na == nb
}
