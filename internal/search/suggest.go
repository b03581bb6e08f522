package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// AnalyzePrefix analyses what a shopper has typed so far: everything before the last
// word as a keyword (Analyze), and the last word, which may be unfinished, as a prefix
// that matching products must hold (a Latin word's beginning, or the last Chinese word
// of the segmenter). It returns the query, the text before the last word and the last
// word, lower-cased.
func AnalyzePrefix(prefix string, d Dict) (q Analyzed, head, last string) {
	prefix = strings.TrimRightFunc(prefix, unicode.IsSpace)
	end, _ := utf8.DecodeLastRuneInString(prefix)
	var lastTerms []Term
	switch {
	case prefix == "":
		return Analyzed{}, "", ""
	case isCJK(end):
		i := len(prefix)
		for i > 0 {
			r, n := utf8.DecodeLastRuneInString(prefix[:i])
			if !isCJK(r) {
				break
			}
			i -= n
		}
		words := Words(prefix[i:])
		if len(words) == 0 {
			return Analyzed{}, "", ""
		}
		last = words[len(words)-1]
		head = prefix[:len(prefix)-len(last)]
		lastTerms = unit{text: last, cjk: true}.terms()
	case isWordRune(end):
		i := len(prefix)
		for i > 0 {
			r, n := utf8.DecodeLastRuneInString(prefix[:i])
			if !isWordRune(r) {
				break
			}
			i -= n
		}
		head, last = prefix[:i], strings.ToLower(prefix[i:])
		w := strings.ToLower(foldWord(last))
		if len(w) > MaxTokenBytes {
			w = w[:MaxTokenBytes]
		}
		lastTerms = []Term{{Token: w, Prefix: true}}
	default:
		return Analyzed{}, "", ""
	}
	q = Analyze(head, d)
	need := q.MinMatch
	for _, t := range lastTerms {
		if len(q.Clauses) < MaxTerms {
			q.Clauses = append(q.Clauses, Clause{Any: [][]Term{{t}}})
			need++
		}
	}
	q.MinMatch = min(max(need, 1), q.required())
	return q, head, last
}

// foldWord folds accents and full-width forms as the index does.
func foldWord(w string) string {
	var out string
	scan(w, func(s string) { out += s }, func([]rune) {})
	if t, _, err := transformString(out); err == nil {
		return t
	}
	return out
}

// Completions returns the words of title (Latin words in lower case, Chinese words of the
// segmenter) that start with last and are longer than it, in order of appearance.
func Completions(title, last string) []string {
	if last == "" {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(w string) {
		if len(w) > len(last) && strings.HasPrefix(w, last) && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	scan(title, func(w string) { add(strings.ToLower(w)) }, func(run []rune) {
		for _, w := range Words(string(run)) {
			add(w)
		}
	})
	return out
}
