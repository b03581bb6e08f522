// Package slug makes and checks the URL slugs of catalog records: lower-case ASCII
// letters and digits in words joined by single hyphens, such as "xi-hu-long-jing-2024".
// Chinese characters are spelled in pinyin (without tones), so a storefront URL stays
// readable; a title with nothing to spell gets a short stable fallback.
package slug

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/mozillazg/go-pinyin"
	"golang.org/x/text/unicode/norm"
)

// MaxLen is the longest slug, in bytes (slugs are ASCII).
const MaxLen = 80

// maxBase leaves room for a "-<n>" suffix that makes a generated slug unique.
const maxBase = MaxLen - 8

var pattern = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// Valid reports whether s is a well-formed slug.
func Valid(s string) bool { return len(s) <= MaxLen && pattern.MatchString(s) }

// pinyinArgs spells each Han character in plain pinyin; characters it cannot spell are
// left to the caller.
var pinyinArgs = pinyin.Args{Style: pinyin.Normal}

// FromTitle returns a slug for a title: ASCII letters and digits as they are (accents
// dropped), each Chinese character as its pinyin syllable, anything else a word break,
// cut at a word boundary to leave room for a suffix. A title with nothing to spell
// (emoji, say) gets "p-" and 8 hex digits of its hash, the same for the same title.
func FromTitle(title string) string {
	var words []string
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			words = append(words, word.String())
			word.Reset()
		}
	}
	for _, r := range norm.NFKD.String(title) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			word.WriteRune(unicode.ToLower(r))
		case unicode.Is(unicode.Mn, r): // a combining accent of the letter before it
		case unicode.Is(unicode.Han, r):
			flush()
			if py := pinyin.SinglePinyin(r, pinyinArgs); len(py) > 0 && py[0] != "" {
				words = append(words, strings.ToLower(py[0]))
			}
		default:
			flush()
		}
	}
	flush()
	var b strings.Builder
	for _, w := range words {
		if b.Len() == 0 && len(w) > maxBase {
			w = w[:maxBase] // one very long word: keep its start
		}
		if b.Len() > 0 {
			if b.Len()+1+len(w) > maxBase {
				break
			}
			b.WriteByte('-')
		}
		b.WriteString(w)
	}
	if b.Len() == 0 {
		sum := sha256.Sum256([]byte(title))
		return "p-" + hex.EncodeToString(sum[:4])
	}
	return b.String()
}

// WithSuffix returns the n-th alternative of base (n ≥ 2): "base-2", "base-3", …
func WithSuffix(base string, n int) string {
	suffix := "-" + strconv.Itoa(n)
	if len(base)+len(suffix) > MaxLen {
		base = strings.TrimRight(base[:MaxLen-len(suffix)], "-")
	}
	return base + suffix
}
