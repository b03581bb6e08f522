package search

import "strings"

// Synonyms are the admins' groups of equivalent terms (T恤 = tshirt = t-shirt), compiled
// for matching keywords: a member is matched by its words (Latin tokens and segmented
// Chinese words), so "T-Shirts", "t shirt" and "T恤" are found however they are typed.
type Synonyms struct {
	byKey    map[string]*synonymGroup
	maxUnits int
}

type synonymGroup struct {
	names   []string // the members as the admin wrote them
	members [][]unit
}

// NewSynonyms compiles groups of equivalent terms. A member with nothing to search for
// (only stop words or punctuation) is dropped; a group left with fewer than two members
// does nothing. A member in several groups belongs to the first.
func NewSynonyms(groups [][]string) *Synonyms {
	s := &Synonyms{byKey: map[string]*synonymGroup{}}
	for _, g := range groups {
		sg := &synonymGroup{}
		var keys []string
		for _, m := range g {
			us := units(m)
			if len(us) == 0 {
				continue
			}
			k := unitsKey(us)
			if slicesContains(keys, k) {
				continue
			}
			keys = append(keys, k)
			sg.names = append(sg.names, m)
			sg.members = append(sg.members, us)
		}
		if len(sg.members) < 2 {
			continue
		}
		for i, k := range keys {
			if _, taken := s.byKey[k]; taken {
				continue
			}
			s.byKey[k] = sg
			s.maxUnits = max(s.maxUnits, len(sg.members[i]))
		}
	}
	return s
}

// Len is the number of members that a keyword can match.
func (s *Synonyms) Len() int {
	if s == nil {
		return 0
	}
	return len(s.byKey)
}

// NormalizeTerm is the form in which a synonym member is compared for uniqueness: its
// words, lower-cased, separated by single spaces ("T-Shirts" → "t shirt").
func NormalizeTerm(term string) string {
	us := units(term)
	parts := make([]string, len(us))
	for i, u := range us {
		parts[i] = u.text
	}
	return strings.Join(parts, " ")
}

// match finds the longest member starting at us[0]: its group and how many units it
// covers, or 0.
func (s *Synonyms) match(us []unit) (*synonymGroup, int) {
	if s == nil || len(s.byKey) == 0 {
		return nil, 0
	}
	for k := min(s.maxUnits, len(us)); k > 0; k-- {
		if g := s.byKey[unitsKey(us[:k])]; g != nil {
			return g, k
		}
	}
	return nil, 0
}

func unitsKey(us []unit) string {
	var b strings.Builder
	for i, u := range us {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(u.text)
	}
	return b.String()
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
