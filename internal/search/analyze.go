package search

import (
	"strings"
	"unicode/utf8"
)

// MaxAlternatives caps the distinct index lookups of an analysed keyword (its terms with
// their synonyms and corrections), which bounds the SQL statement and keeps the summed
// weight of a product below ScoreScale.
const MaxAlternatives = 64

// Clause is one thing an analysed keyword looks for: a word, with its synonyms and typo
// corrections. It matches a product when all the terms of any one of its alternatives do
// (a synonym such as t-shirt is two terms, t and shirt).
type Clause struct {
	Any [][]Term
	// Optional clauses only add to the score (MinMatch counts the others): the bigrams
	// joining two Chinese words typed together, which reward products that have the
	// words in that order, and single characters cut from a longer run.
	Optional bool
}

// Analyzed is a keyword ready to search with: its clauses and how many a product must
// match.
type Analyzed struct {
	Clauses  []Clause
	MinMatch int
	// Corrections maps a word of the keyword that no product has to the indexed words it
	// was also searched as (typo tolerance).
	Corrections map[string][]string
	// Synonyms lists the synonym groups the keyword used, by the words it used them for.
	Synonyms map[string][]string
}

// Empty reports whether the keyword had nothing to search for.
func (a Analyzed) Empty() bool { return len(a.Clauses) == 0 }

// required is the number of clauses that are not optional.
func (a Analyzed) required() int {
	n := 0
	for _, c := range a.Clauses {
		if !c.Optional {
			n++
		}
	}
	return n
}

// Terms returns the distinct terms of all clauses' alternatives.
func (a Analyzed) Terms() []Term {
	var out []Term
	seen := map[Term]bool{}
	for _, c := range a.Clauses {
		for _, alt := range c.Any {
			for _, t := range alt {
				if !seen[t] {
					seen[t] = true
					out = append(out, t)
				}
			}
		}
	}
	return out
}

// Dict is what the analysis of a keyword consults beyond the keyword: the admins' synonym
// groups and the vocabulary of the index for typo corrections. Both may be nil.
type Dict struct {
	Synonyms *Synonyms
	Vocab    *Vocabulary
	// LoadVocab, when Vocab is nil, returns the vocabulary; it is called only for a
	// keyword with a Latin word long enough to be corrected.
	LoadVocab func() *Vocabulary
}

func (d *Dict) vocab() *Vocabulary {
	if d.Vocab == nil && d.LoadVocab != nil {
		d.Vocab = d.LoadVocab()
		d.LoadVocab = nil
	}
	return d.Vocab
}

// unit is one word of a keyword or synonym: a Latin token, or a CJK word of the segmenter.
type unit struct {
	text  string
	raw   string // a Latin word before plural folding (wireles, not wirele)
	cjk   bool
	alone bool // a CJK run of one character, typed on its own
}

// units splits text into Latin tokens (stop words dropped, plurals folded) and the words
// of its CJK runs.
func units(text string) []unit {
	var out []unit
	scan(text, func(w string) {
		if t := latinToken(w); t != "" {
			out = append(out, unit{text: t, raw: strings.ToLower(w)})
		}
	}, func(run []rune) {
		if len(run) == 1 {
			out = append(out, unit{text: string(run), cjk: true, alone: true})
			return
		}
		for _, w := range Words(string(run)) {
			if latinWord := !isCJK(firstRune(w)); latinWord {
				// The segmenter keeps Latin letters glued to CJK (T恤) in CJK runs only when
				// given them; runs hold CJK alone, so this does not happen.
				continue
			}
			out = append(out, unit{text: w, cjk: true})
		}
	})
	return out
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// terms is how a unit is looked up in the index, all terms required: a Latin token as
// itself, one CJK character as a prefix, a CJK word as its bigrams.
func (u unit) terms() []Term {
	if !u.cjk {
		return []Term{{Token: u.text}}
	}
	r := []rune(u.text)
	if len(r) == 1 {
		return []Term{{Token: u.text, Prefix: true}}
	}
	out := make([]Term, 0, len(r)-1)
	for i := 0; i+1 < len(r); i++ {
		out = append(out, Term{Token: string(r[i : i+2])})
	}
	return out
}

// Analyze turns a shopper's keyword into clauses:
//
//   - the keyword is split into Latin words and, by the segmenter, Chinese words
//     (降噪蓝牙耳机 → 降噪 蓝牙 耳机), so bigrams straddling two words are not searched;
//   - a run of words that is a member of a synonym group becomes one clause matching any
//     member (T恤 finds t-shirt and tshirt);
//   - a Latin word that no product has is also searched as its close indexed words
//     (Vocabulary.Corrections);
//   - a Chinese word of three or more characters is looked up as its bigrams, of which
//     half (rounded up) must match: 龙井茶 finds 西湖龙井 by 龙井;
//   - a product must match all of one or two words, about 70% of three or more; a single
//     character cut from a longer run (的, 新) is optional, only adding to the score.
func Analyze(keyword string, d Dict) Analyzed {
	d = Dict{Synonyms: d.Synonyms, Vocab: d.Vocab, LoadVocab: d.LoadVocab}
	a := Analyzed{}
	us := units(keyword)
	words, need := 0, 0
	distinct := 0
	seenClause := map[string]bool{}
	add := func(key string, c Clause) bool {
		if seenClause[key] || len(a.Clauses) >= MaxTerms {
			return false
		}
		n := 0
		for _, alt := range c.Any {
			n += len(alt)
		}
		if distinct+n > MaxAlternatives {
			return false
		}
		distinct += n
		seenClause[key] = true
		a.Clauses = append(a.Clauses, c)
		return true
	}
	for i := 0; i < len(us); {
		if g, k := d.Synonyms.match(us[i:]); k > 0 {
			var c Clause
			for _, m := range g.members {
				var alt []Term
				for _, u := range m {
					alt = append(alt, u.terms()...)
				}
				c.Any = append(c.Any, alt)
			}
			typed := joinUnits(us[i : i+k])
			if add("syn:"+typed, c) {
				words++
				if a.Synonyms == nil {
					a.Synonyms = map[string][]string{}
				}
				a.Synonyms[typed] = g.names
			}
			i += k
			continue
		}
		u := us[i]
		i++
		if i >= 2 && u.cjk && us[i-2].cjk && !u.alone && !us[i-2].alone {
			// The bigram joining this word to the previous one, if typed together.
			prev := []rune(us[i-2].text)
			join := string(prev[len(prev)-1]) + string([]rune(u.text)[0])
			add("join:"+join, Clause{Any: [][]Term{{{Token: join}}}, Optional: true})
		}
		switch n := utf8.RuneCountInString(u.text); {
		case !u.cjk:
			c := Clause{Any: [][]Term{{{Token: u.text}}}}
			var fixes []string
			if len(u.text) >= MinTypoLen1 {
				fixes = d.vocab().Corrections(u.text)
				if u.raw != u.text && len(fixes) == 0 {
					fixes = d.vocab().Corrections(u.raw)
				}
			}
			for _, f := range fixes {
				c.Any = append(c.Any, []Term{{Token: f}})
			}
			if add(u.text, c) {
				words++
				if len(fixes) > 0 {
					if a.Corrections == nil {
						a.Corrections = map[string][]string{}
					}
					a.Corrections[u.text] = fixes
				}
			}
		case n == 1:
			if add(u.text, Clause{Any: [][]Term{u.terms()}, Optional: !u.alone}) && u.alone {
				words++
			}
		case n == 2:
			if add(u.text, Clause{Any: [][]Term{u.terms()}}) {
				words++
			}
		default:
			kept := 0
			for _, t := range u.terms() {
				if add(t.Token, Clause{Any: [][]Term{{t}}}) {
					kept++
				}
			}
			need += (kept + 1) / 2
		}
	}
	if words <= 3 {
		need += words
	} else {
		need += (7*words + 5) / 10
	}
	if a.required() == 0 {
		// Nothing but optional clauses (single characters): each counts.
		for i := range a.Clauses {
			a.Clauses[i].Optional = false
		}
		need = 1
	}
	if required := a.required(); required > 0 {
		a.MinMatch = min(max(need, 1), required)
	}
	return a
}

func joinUnits(us []unit) string {
	var b strings.Builder
	for i, u := range us {
		if i > 0 && !(u.cjk && us[i-1].cjk) {
			b.WriteByte(' ')
		}
		b.WriteString(u.text)
	}
	return b.String()
}
