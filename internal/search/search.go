// Package search turns product text and shoppers' keywords into the tokens of the keyword
// index: lower-cased Latin words, and overlapping bigrams of Chinese (CJK) text, which has
// no spaces between words. See docs/SEARCH.md for how the index is kept and queried.
package search

import (
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// MaxTokenBytes is the longest token stored (the search_tokens.token column); longer
// Latin words are cut at a character boundary, the same way when indexing and searching.
const MaxTokenBytes = 32

// MaxTerms caps how many terms of a keyword are searched for, which bounds both the SQL
// statement and the relevance score (see ScoreScale).
const MaxTerms = 16

// MaxFieldRunes is how much of one field's text is indexed: the start of a long
// description says what the product is, and the cap bounds a product's index rows.
const MaxFieldRunes = 2000

// Weights of a token by where it appears in a product. A token found in several places
// weighs their sum, so a product has one index row per distinct token.
const (
	TitleWeight       = 4
	AttributeWeight   = 2
	DescriptionWeight = 1
)

// ScoreScale separates the two parts of a relevance score, matched*ScoreScale + weight:
// a product matching more query terms always ranks above one matching fewer, whatever
// the weights. The summed weight of MaxTerms terms stays far below it.
const ScoreScale = 1000

// stopWords are English words too common to tell products apart; they are neither indexed
// nor searched for.
var stopWords = map[string]bool{
	"a": true, "an": true, "and": true, "are": true, "as": true, "at": true, "be": true,
	"by": true, "for": true, "from": true, "in": true, "is": true, "it": true, "its": true,
	"of": true, "on": true, "or": true, "our": true, "the": true, "this": true, "to": true,
	"with": true, "you": true, "your": true,
}

// Tokenize returns the distinct tokens of text in order of first appearance:
//
//   - text is NFKC-normalised first, so full-width ＡＢＣ１２３ reads as abc123;
//   - runs of Latin letters and digits become lower-cased words without accents, with
//     simple English plurals folded (cups → cup, boxes → box, berries → berry); a decimal
//     point or apostrophe between two word characters stays inside the word (5.3, pu'er);
//     stop words (the, and, with, …) are dropped;
//   - runs of CJK characters become their overlapping bigrams, plus the run's last
//     character alone (西湖龙井 → 西湖 湖龙 龙井 井), so every character of the text starts
//     some token and a one-character search can find it by prefix;
//   - everything else (spaces, punctuation, symbols) separates tokens.
func Tokenize(text string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	scan(text, func(word string) { add(latinToken(word)) }, func(run []rune) {
		for i := 0; i+1 < len(run); i++ {
			add(string(run[i : i+2]))
		}
		add(string(run[len(run)-1:]))
	})
	return out
}

// Term is one thing a keyword looks for in the index.
type Term struct {
	// Token is the index token, or for a prefix term the character tokens start with.
	Token string
	// Prefix marks a single CJK character searched on its own: it matches every token
	// that starts with it (茶 finds 茶叶, 茶具 and a lone 茶).
	Prefix bool
}

// Query is a parsed keyword.
type Query struct {
	// Terms are the distinct terms, at most MaxTerms.
	Terms []Term
	// MinMatch is how many of the terms a product must match to be found.
	MinMatch int
}

// Empty reports whether the keyword had nothing to search for (only spaces, punctuation
// or stop words).
func (q Query) Empty() bool { return len(q.Terms) == 0 }

// ParseQuery splits a keyword into terms the way Tokenize splits product text, except
// that a CJK run of one character becomes a prefix term and longer runs give only their
// bigrams. How many terms a product must match (MinMatch) adds up two parts:
//
//   - words (Latin words and lone CJK characters): all of them for one or two words, such
//     as "red tea"; about 70% of them, rounded to the nearest word, for three or more;
//   - each CJK run of L characters: half of its L-1 bigrams, rounded up. A run is often
//     several words typed together, and the bigrams that straddle two words match only
//     when the product has them in the same order: 降噪蓝牙耳机 must still find
//     蓝牙降噪耳机 (降噪, 蓝牙 and 耳机 match), and 龙井茶 must find 西湖龙井.
//
// Products matching more terms rank first, so the looser rule costs little precision.
func ParseQuery(keyword string) Query {
	var q Query
	seen := map[Term]bool{}
	add := func(t Term) bool {
		if t.Token == "" || seen[t] || len(q.Terms) >= MaxTerms {
			return false
		}
		seen[t] = true
		q.Terms = append(q.Terms, t)
		return true
	}
	words, need := 0, 0
	scan(keyword, func(word string) {
		if add(Term{Token: latinToken(word)}) {
			words++
		}
	}, func(run []rune) {
		if len(run) == 1 {
			if add(Term{Token: string(run), Prefix: true}) {
				words++
			}
			return
		}
		kept := 0
		for i := 0; i+1 < len(run); i++ {
			if add(Term{Token: string(run[i : i+2])}) {
				kept++
			}
		}
		need += (kept + 1) / 2
	})
	if words <= 2 {
		need += words
	} else {
		need += (7*words + 5) / 10
	}
	if len(q.Terms) > 0 {
		q.MinMatch = min(max(need, 1), len(q.Terms))
	}
	return q
}

// PrefixEnd is the smallest string greater than every string starting with c (one
// character, or a Latin word's beginning), for a range scan token >= c AND
// token < PrefixEnd(c).
func PrefixEnd(c string) string {
	r, n := utf8.DecodeLastRuneInString(c)
	return c[:len(c)-n] + string(r+1)
}

// transformString strips accents from s. A transform.Chain keeps state between calls and
// is not safe for concurrent use, so each call takes one from a pool.
func transformString(s string) (string, int, error) {
	t := stripAccents.Get().(transform.Transformer)
	defer stripAccents.Put(t)
	return transform.String(t, s)
}

// Field is a piece of product text with the weight of its place.
type Field struct {
	Text   string
	Weight int
}

// Weigh returns the index entries of a product's fields: every distinct token with the
// sum of the weights of the fields it appears in (each field counts once per token).
func Weigh(fields ...Field) map[string]int {
	out := map[string]int{}
	for _, f := range fields {
		text := f.Text
		if len(text) > MaxFieldRunes { // bytes ≥ runes: only then can it be too long
			if runes := []rune(text); len(runes) > MaxFieldRunes {
				text = string(runes[:MaxFieldRunes])
			}
		}
		for _, t := range Tokenize(text) {
			out[t] += f.Weight
		}
	}
	return out
}

// SortedTokens returns the tokens of weights in byte order, for deterministic inserts.
func SortedTokens(weights map[string]int) []string {
	ts := make([]string, 0, len(weights))
	for t := range weights {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// scan walks NFKC-normalised text and reports each Latin word and each CJK run.
func scan(text string, word func(string), cjk func([]rune)) {
	text = norm.NFKC.String(text)
	var run []rune
	start := -1 // byte offset of the current Latin word, or -1
	flushRun := func() {
		if len(run) > 0 {
			cjk(run)
			run = run[:0]
		}
	}
	for i, r := range text {
		switch {
		case isCJK(r):
			if start >= 0 {
				word(text[start:i])
				start = -1
			}
			run = append(run, r)
		case isWordRune(r):
			flushRun()
			if start < 0 {
				start = i
			}
		case start >= 0 && isJoiner(r) && i > start && joins(text, i, r):
			// A decimal point or apostrophe inside a word: keep going.
		default:
			flushRun()
			if start >= 0 {
				word(text[start:i])
				start = -1
			}
		}
	}
	flushRun()
	if start >= 0 {
		word(text[start:])
	}
}

// joins reports whether the joiner r at byte i sits between two word characters (and, for
// a point, between two digits).
func joins(text string, i int, r rune) bool {
	prev, _ := utf8.DecodeLastRuneInString(text[:i])
	next, _ := utf8.DecodeRuneInString(text[i+utf8.RuneLen(r):])
	if r == '.' {
		return unicode.IsDigit(prev) && unicode.IsDigit(next)
	}
	return isWordRune(prev) && isWordRune(next)
}

func isJoiner(r rune) bool { return r == '.' || r == '\'' || r == '’' }

func isWordRune(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)) && !isCJK(r)
}

// isCJK reports whether r belongs to a script written without spaces between words.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r) || r == 'ー'
}

var stripAccents = sync.Pool{New: func() any {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}}

// latinToken turns a Latin word into its token: lower case, no accents, no apostrophes,
// plural folded, at most MaxTokenBytes; "" for stop words.
func latinToken(w string) string {
	w = strings.ToLower(w)
	if !isASCII(w) {
		if s, _, err := transformString(w); err == nil {
			w = s
		}
		w = strings.ReplaceAll(w, "ß", "ss")
	}
	w = strings.ReplaceAll(strings.ReplaceAll(w, "’", "'"), "'", "")
	if stopWords[w] {
		return ""
	}
	w = singular(w)
	if len(w) > MaxTokenBytes {
		cut := MaxTokenBytes
		for cut > 0 && !utf8.RuneStart(w[cut]) {
			cut--
		}
		w = w[:cut]
	}
	return w
}

// singular folds the regular English plurals of ASCII words of four or more letters. It
// need not be right, only the same for the index and the query.
func singular(w string) string {
	if len(w) < 4 || !isASCIILetters(w) {
		return w
	}
	switch {
	case strings.HasSuffix(w, "sses"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") &&
		!strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:len(w)-1]
	}
	return w
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
