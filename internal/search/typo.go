package search

import (
	"slices"
	"sync/atomic"
)

var indexGeneration atomic.Uint64

// IndexChanged records that this process wrote the index (new words may need the
// vocabulary read again). Called by the index hook.
func IndexChanged() { indexGeneration.Add(1) }

// IndexGeneration counts this process's index writes.
func IndexGeneration() uint64 { return indexGeneration.Load() }

// Typo tolerance: a Latin word of a keyword that is not an indexed token is also searched
// as the indexed words within a small edit distance (insert, delete, substitute, or swap
// two neighbouring letters): one edit for words of MinTypoLen1 letters or more, two for
// MinTypoLen2 or more. Shorter words are too easily another real word.
const (
	MinTypoLen1 = 5
	MinTypoLen2 = 9
	// MaxCorrections bounds the corrections of one word (the closest, then the most
	// frequent in the index, are kept).
	MaxCorrections = 4
)

// Vocabulary is the set of Latin tokens of the index, with how many products hold each.
type Vocabulary struct {
	byLen map[int][]vocabWord
	has   map[string]bool
}

type vocabWord struct {
	word string
	df   int
}

// NewVocabulary builds a vocabulary from tokens and their product counts (df); non-Latin
// tokens are ignored.
func NewVocabulary(df map[string]int) *Vocabulary {
	v := &Vocabulary{byLen: map[int][]vocabWord{}, has: map[string]bool{}}
	for w, n := range df {
		if !isLatinToken(w) {
			continue
		}
		v.has[w] = true
		v.byLen[len(w)] = append(v.byLen[len(w)], vocabWord{w, n})
	}
	for _, ws := range v.byLen {
		slices.SortFunc(ws, func(a, b vocabWord) int { return compareWords(a.word, b.word) })
	}
	return v
}

func compareWords(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Len is the number of words.
func (v *Vocabulary) Len() int {
	if v == nil {
		return 0
	}
	return len(v.has)
}

// Has reports whether word is an indexed token.
func (v *Vocabulary) Has(word string) bool { return v != nil && v.has[word] }

// Corrections returns the indexed words close to word (see MinTypoLen1), closest first
// and then most frequent, or nil when word is itself indexed or too short.
func (v *Vocabulary) Corrections(word string) []string {
	if v == nil || v.has[word] || len(word) < MinTypoLen1 || !isLatinToken(word) {
		return nil
	}
	maxDist := 1
	if len(word) >= MinTypoLen2 {
		maxDist = 2
	}
	type cand struct {
		w    string
		dist int
		df   int
	}
	var cands []cand
	for l := len(word) - maxDist; l <= len(word)+maxDist; l++ {
		for _, vw := range v.byLen[l] {
			if d := editDistance(word, vw.word, maxDist); d <= maxDist {
				cands = append(cands, cand{vw.word, d, vw.df})
			}
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		if a.df != b.df {
			return b.df - a.df
		}
		return compareWords(a.w, b.w)
	})
	var out []string
	for _, c := range cands[:min(len(cands), MaxCorrections)] {
		out = append(out, c.w)
	}
	return out
}

// editDistance is the optimal-string-alignment distance of a and b (Levenshtein plus
// swaps of neighbouring bytes), or max+1 as soon as it must exceed max.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d > max || -d > max {
		return max + 1
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			c := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				c = min(c, prev2[j-2]+1)
			}
			cur[j] = c
			rowMin = min(rowMin, c)
		}
		if rowMin > max {
			return max + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// isLatinToken reports whether t is an ASCII token of letters (digits and codes such as
// sku numbers are not corrected).
func isLatinToken(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < 'a' || t[i] > 'z' {
			return false
		}
	}
	return true
}
