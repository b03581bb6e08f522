// Package i18n serves translatable content per locale: it resolves the request's locale
// (the @inContext directive over Accept-Language), reads translations in batches with a
// fallback chain, and lets each record's editors write them.
package i18n

import (
	"fmt"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/xiadan/xiadan/internal/apperror"
)

// Locales are the locales the platform serves, the default first. The records' own
// columns hold the default locale's text; translations hold the others.
type Locales struct {
	tags    []language.Tag
	codes   []string
	matcher language.Matcher
	chains  map[string][]string
}

// Locale is one served locale as the API shows it.
type Locale struct {
	// Code is the canonical BCP 47 tag, such as zh-CN or en-GB.
	Code string
	// Name is the locale's name in its own language, such as English or 中文 (中国).
	Name string
	// Default is true for the locale of the records' own columns.
	Default bool
	// Fallback is where a missing text is looked for next, in order, ending with the default.
	Fallback []string
}

// NewLocales returns the locales of tags (canonicalised; the first is the default).
func NewLocales(tags []string) (*Locales, error) {
	if len(tags) == 0 {
		return nil, fmt.Errorf("i18n: no locales")
	}
	l := &Locales{chains: map[string][]string{}}
	for _, s := range tags {
		t, err := parse(s)
		if err != nil {
			return nil, fmt.Errorf("i18n: locale %q: %w", s, err)
		}
		if _, dup := l.chains[t.String()]; dup {
			return nil, fmt.Errorf("i18n: locale %s listed twice", t)
		}
		l.tags = append(l.tags, t)
		l.codes = append(l.codes, t.String())
		l.chains[t.String()] = nil
	}
	l.matcher = language.NewMatcher(l.tags)
	for _, t := range l.tags {
		l.chains[t.String()] = l.chainOf(t)
	}
	return l, nil
}

// chainOf is t, then its parents that are served (en-GB → en-001 → en; zh-HK → zh-Hant),
// then the default.
func (l *Locales) chainOf(t language.Tag) []string {
	chain := []string{t.String()}
	for p := t.Parent(); p != language.Und; p = p.Parent() {
		if _, ok := l.chains[p.String()]; ok && !contains(chain, p.String()) {
			chain = append(chain, p.String())
		}
	}
	if !contains(chain, l.codes[0]) {
		chain = append(chain, l.codes[0])
	}
	return chain
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// parse reads a BCP 47 tag, also in the Shopify / POSIX spelling ZH_CN.
func parse(s string) (language.Tag, error) {
	if len(s) > 35 {
		return language.Und, fmt.Errorf("longer than 35 characters")
	}
	return language.Parse(strings.ReplaceAll(strings.TrimSpace(s), "_", "-"))
}

// Default returns the default locale's code.
func (l *Locales) Default() string { return l.codes[0] }

// Codes returns the served locales' codes, the default first.
func (l *Locales) Codes() []string { return append([]string(nil), l.codes...) }

// List returns the served locales for the API.
func (l *Locales) List() []*Locale {
	out := make([]*Locale, len(l.tags))
	for i, t := range l.tags {
		out[i] = &Locale{Code: l.codes[i], Name: display.Self.Name(t), Default: i == 0, Fallback: l.chains[l.codes[i]][1:]}
	}
	return out
}

// Chain returns the fallback chain of a served locale: itself, its served parents, the
// default.
func (l *Locales) Chain(code string) []string { return l.chains[code] }

// FromHeader picks the served locale that best matches an Accept-Language header, by its
// q-values; a missing, malformed or unmatched header gives the default.
func (l *Locales) FromHeader(header string) string {
	if strings.TrimSpace(header) == "" || len(header) > 1024 {
		return l.codes[0]
	}
	tags, qs, err := language.ParseAcceptLanguage(header)
	if err != nil {
		return l.codes[0]
	}
	wanted := tags[:0]
	for i, t := range tags {
		if qs[i] > 0 { // q=0 means "not this one"
			wanted = append(wanted, t)
		}
	}
	if len(wanted) == 0 {
		return l.codes[0]
	}
	_, i, c := l.matcher.Match(wanted...)
	if c == language.No {
		return l.codes[0]
	}
	return l.codes[i]
}

// Explicit resolves a locale the caller named (the @inContext directive): the best served
// match of a valid tag (en-GB is served as en when only en is); an invalid tag, or one no
// served locale matches, is BAD_USER_INPUT on field.
func (l *Locales) Explicit(field, s string) (string, error) {
	t, err := parse(s)
	if err != nil {
		return "", apperror.BadInput(field, "%q is not a BCP 47 language tag such as zh-CN or en-GB", s)
	}
	if _, ok := l.chains[t.String()]; ok {
		return t.String(), nil
	}
	_, i, c := l.matcher.Match(t)
	if c == language.No {
		return "", apperror.BadInput(field, "%s is not served; the locales are %s", t, strings.Join(l.codes, ", "))
	}
	return l.codes[i], nil
}

// Served returns the canonical code of a served locale, for writing translations: the tag
// must name a served locale exactly (en-GB is not en), and not the default, whose text is
// the record's own.
func (l *Locales) Served(field, s string) (string, error) {
	t, err := parse(s)
	if err != nil {
		return "", apperror.BadInput(field, "%q is not a BCP 47 language tag such as en or zh-TW", s)
	}
	code := t.String()
	if _, ok := l.chains[code]; !ok {
		return "", apperror.BadInput(field, "%s is not served; the locales are %s", code, strings.Join(l.codes, ", "))
	}
	return code, nil
}
