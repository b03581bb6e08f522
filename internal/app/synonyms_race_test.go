package app_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/search"
)

const (
	createSynonym = `mutation($t: [String!]!) { createSearchSynonym(terms: $t) { id terms } }`
	updateSynonym = `mutation($id: ID!, $t: [String!]!) { updateSearchSynonym(id: $id, terms: $t) { id terms } }`
)

// letters spells n in letters, so that every term of the race tests is one Latin token.
func letters(n int) string {
	var b []byte
	for ; ; n /= 26 {
		b = append(b, byte('a'+n%26))
		if n < 26 {
			return string(b)
		}
	}
}

// TestConcurrentSynonymGroupsShareNoTerm: in each round two admins create groups and a
// third moves an existing group onto the same term, at the same moment (the shared term
// spelled differently by each). The database lets exactly one of them have it; the others
// get CONFLICT naming the term (reason SYNONYM_TAKEN), and afterwards no term, normalised,
// is in two groups.
func TestConcurrentSynonymGroupsShareNoTerm(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			admins := []apitest.Session{s.NewAdmin(t, "syn1@example.com"), s.NewAdmin(t, "syn2@example.com"), s.NewAdmin(t, "syn3@example.com")}
			rounds := apitest.RaceRounds(d, 20)
			for round := range rounds {
				shared := "syn" + letters(round)
				var existing struct{ UpdateSearchSynonym, CreateSearchSynonym struct{ ID string } }
				s.MustQuery(admins[2].AccessToken, createSynonym, map[string]any{"t": []string{"pre" + letters(round), "old" + letters(round)}}).Decode(t, &existing)
				outs := apitest.Race(
					s.Request(admins[0].AccessToken, createSynonym, map[string]any{"t": []string{"one" + letters(round), shared}}),
					s.Request(admins[1].AccessToken, createSynonym, map[string]any{"t": []string{"two" + letters(round), " " + strings.ToUpper(shared)}}),
					s.Request(admins[2].AccessToken, updateSynonym, map[string]any{"id": existing.CreateSearchSynonym.ID,
						"t": []string{"pre" + letters(round), "  " + shared}}),
				)
				if n := apitest.Successes(t, "synonym writers", outs, "CONFLICT"); n != 1 {
					t.Fatalf("round %d: %d writers got %s; want exactly one: %v", round, n, shared, outs)
				}
				for _, o := range outs {
					if o.Code() == "CONFLICT" && (o.R.Errors[0].Extensions["reason"] != "SYNONYM_TAKEN" ||
						o.R.Errors[0].Extensions["term"] == nil || o.R.Field() != "terms") {
						t.Fatalf("round %d: a conflict that names no term: %s", round, o)
					}
				}
				checkSynonymsDisjoint(t, s, admins[0].AccessToken)
			}
		})
	}
}

// checkSynonymsDisjoint fails the test when a normalised term is in two synonym groups.
func checkSynonymsDisjoint(t *testing.T, s *apitest.Server, token string) {
	t.Helper()
	var list struct {
		SearchSynonyms struct {
			Nodes []struct {
				ID    string
				Terms []string
			}
		}
	}
	s.MustQuery(token, `{ searchSynonyms(first: 100) { nodes { id terms } } }`, nil).Decode(t, &list)
	owner := map[string]string{}
	for _, g := range list.SearchSynonyms.Nodes {
		for _, term := range g.Terms {
			k := search.NormalizeTerm(term)
			if o, ok := owner[k]; ok && o != g.ID {
				t.Fatalf("%q is in groups %s and %s", k, o, g.ID)
			}
			owner[k] = g.ID
		}
	}
	client, ctx := s.Client()
	var keys []string
	for _, r := range client.SearchSynonymTerm.Query().AllX(ctx) {
		if owner[r.Term] != fmt.Sprint(r.SynonymID) {
			t.Fatalf("the term index holds %q for group %d; the groups say %q", r.Term, r.SynonymID, owner[r.Term])
		}
		keys = append(keys, r.Term)
	}
	if len(keys) != len(owner) {
		sort.Strings(keys)
		t.Fatalf("the term index holds %v; the groups %v", keys, owner)
	}
}
