package catalog

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/searchsynonym"
	"github.com/xiadan/xiadan/ent/searchsynonymterm"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/search"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Limits of a synonym group.
const (
	MaxSynonymTerms   = 20
	MaxSynonymTermLen = 64
)

// Concurrency. A term belongs to one group at most, and the database decides it: every
// group's terms are also rows of search_synonym_terms in their normalised form, under a
// unique index. A write inserts its group's terms there one by one, in the order of their
// normalised form, so two admins adding the same term at the same moment queue on that
// term: the first commits, the second's insert is refused (CONFLICT naming the term). The
// check before the inserts only gives the usual case a friendlier message (it names the
// group); it decides nothing. An update or a delete first locks its group's row (MySQL), so
// two changes of one group queue instead of refusing each other's terms.

// SynonymPage lists the synonym groups (platform admins only; the GraphQL field also
// requires the role), oldest first.
func SynonymPage(ctx context.Context, client *ent.Client, page Page) (*ent.SearchSynonymConnection, error) {
	if !viewer.FromContext(ctx).IsAdmin() {
		return nil, apperror.New(apperror.Forbidden, "only platform admins manage search synonyms")
	}
	return client.SearchSynonym.Query().Paginate(ctx, page.After, page.First, page.Before, page.Last)
}

// CreateSynonym adds a group of equivalent terms. It is used by the next search.
func CreateSynonym(ctx context.Context, client *ent.Client, terms []string) (*ent.SearchSynonym, error) {
	clean, err := checkSynonyms(ctx, client, 0, terms)
	if err != nil {
		return nil, err
	}
	s, err := client.SearchSynonym.Create().SetTerms(termsOf(clean)).Save(ctx)
	if err != nil {
		return nil, err
	}
	if err := claimTerms(ctx, client, s.ID, clean); err != nil {
		return nil, err
	}
	synonymsChanged(ctx)
	return s, nil
}

// UpdateSynonym replaces the terms of a group.
func UpdateSynonym(ctx context.Context, client *ent.Client, id int, terms []string) (*ent.SearchSynonym, error) {
	if _, err := lockSynonym(ctx, client, id); err != nil {
		return nil, err
	}
	clean, err := checkSynonyms(ctx, client, id, terms)
	if err != nil {
		return nil, err
	}
	if _, err := client.SearchSynonymTerm.Delete().Where(searchsynonymterm.SynonymID(id)).Exec(ctx); err != nil {
		return nil, err
	}
	if err := claimTerms(ctx, client, id, clean); err != nil {
		return nil, err
	}
	s, err := client.SearchSynonym.UpdateOneID(id).SetTerms(termsOf(clean)).Save(ctx)
	if err != nil {
		return nil, err
	}
	synonymsChanged(ctx)
	return s, nil
}

// DeleteSynonym removes a group and returns its id.
func DeleteSynonym(ctx context.Context, client *ent.Client, id int) (int, error) {
	if _, err := lockSynonym(ctx, client, id); err != nil {
		return 0, err
	}
	if _, err := client.SearchSynonymTerm.Delete().Where(searchsynonymterm.SynonymID(id)).Exec(ctx); err != nil {
		return 0, err
	}
	if err := client.SearchSynonym.DeleteOneID(id).Exec(ctx); err != nil {
		return 0, err
	}
	synonymsChanged(ctx)
	return id, nil
}

// lockSynonym reads group id for a change, locking its row until the transaction ends
// (MySQL; SQLite serialises writers anyway), so changes of one group queue.
func lockSynonym(ctx context.Context, client *ent.Client, id int) (*ent.SearchSynonym, error) {
	if !viewer.FromContext(ctx).IsAdmin() {
		return nil, apperror.New(apperror.Forbidden, "only platform admins manage search synonyms")
	}
	s, err := client.SearchSynonym.Query().Where(searchsynonym.ID(id)).Modify(hooks.LockRows).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("no search synonym group %d", id)
	}
	return s, err
}

// synonymTerm is a term as the admin wrote it (trimmed) and its normalised form, the key
// of its uniqueness.
type synonymTerm struct{ text, key string }

func termsOf(ts []synonymTerm) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.text
	}
	return out
}

// checkSynonyms validates a group's terms: 2 to MaxSynonymTerms terms of at most
// MaxSynonymTermLen characters, each with something to search for, no two alike once
// normalised ("T-Shirts" and "t shirt" are alike: the second is dropped), and, as far as
// this transaction can see, none in another group than id (claimTerms decides).
func checkSynonyms(ctx context.Context, client *ent.Client, id int, terms []string) ([]synonymTerm, error) {
	if !viewer.FromContext(ctx).IsAdmin() {
		return nil, apperror.New(apperror.Forbidden, "only platform admins manage search synonyms")
	}
	if len(terms) > 4*MaxSynonymTerms { // do not normalise a huge list only to refuse it
		return nil, apperror.BadInput("terms", "a group needs 2 to %d different terms", MaxSynonymTerms)
	}
	var clean []synonymTerm
	seen := map[string]bool{}
	for _, t := range terms {
		t = strings.TrimSpace(t)
		if utf8.RuneCountInString(t) > MaxSynonymTermLen {
			return nil, apperror.BadInput("terms", "a term is longer than %d characters", MaxSynonymTermLen)
		}
		n := search.NormalizeTerm(t)
		if n == "" {
			return nil, apperror.BadInput("terms", "%q has nothing to search for", t)
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		clean = append(clean, synonymTerm{text: t, key: n})
	}
	if len(clean) < 2 || len(clean) > MaxSynonymTerms {
		return nil, apperror.BadInput("terms", "a group needs 2 to %d different terms", MaxSynonymTerms)
	}
	if err := claimLegacyTerms(ctx, client); err != nil {
		return nil, err
	}
	keys := make([]string, len(clean))
	for i, t := range clean {
		keys[i] = t.key
	}
	taken, err := client.SearchSynonymTerm.Query().
		Where(searchsynonymterm.TermIn(keys...), searchsynonymterm.SynonymIDNEQ(id)).
		Order(ent.Asc(searchsynonymterm.FieldTerm)).First(ctx)
	switch {
	case err == nil:
		return nil, synonymTaken(textOf(clean, taken.Term), taken.SynonymID)
	case !ent.IsNotFound(err):
		return nil, err
	}
	return clean, nil
}

// claimTerms inserts the normalised terms of group id, in their order (so that two writers
// wanting the same terms queue on the first they share rather than deadlock). The unique
// index refuses a term another group holds, or one another transaction is inserting and
// then commits: that is CONFLICT naming the term. A deadlock the database breaks (possible
// among three or more writers) is CONFLICT too: the victim lost a race for a term.
func claimTerms(ctx context.Context, client *ent.Client, id int, terms []synonymTerm) error {
	sorted := slices.Clone(terms)
	slices.SortFunc(sorted, func(a, b synonymTerm) int { return strings.Compare(a.key, b.key) })
	for _, t := range sorted {
		err := client.SearchSynonymTerm.Create().SetTerm(t.key).SetSynonymID(id).Exec(ctx)
		switch {
		case err == nil:
			continue
		case database.IsRetryable(err):
			// The transaction is gone: read nothing more in it.
			return synonymTaken(t.text, 0)
		case ent.IsConstraintError(err):
			// A locking read sees the committed holder, which the snapshot may not.
			holder, qerr := client.SearchSynonymTerm.Query().Where(searchsynonymterm.Term(t.key)).
				Modify(hooks.ShareRows).Only(ctx)
			if qerr != nil {
				return synonymTaken(t.text, 0)
			}
			return synonymTaken(t.text, holder.SynonymID)
		default:
			return err
		}
	}
	return nil
}

// claimLegacyTerms gives the groups written before search_synonym_terms existed (they
// have no rows there) their rows, so that they too hold their terms. A term two such
// groups share stays with the first. It costs one indexed statement once done.
func claimLegacyTerms(ctx context.Context, client *ent.Client) error {
	legacy, err := client.SearchSynonym.Query().Where(searchsynonym.Not(searchsynonym.HasTermKeys())).
		Order(ent.Asc(searchsynonym.FieldID)).All(ctx)
	if err != nil || len(legacy) == 0 {
		return err
	}
	for _, g := range legacy {
		for _, t := range g.Terms {
			k := search.NormalizeTerm(t)
			if k == "" {
				continue
			}
			err := client.SearchSynonymTerm.Create().SetTerm(k).SetSynonymID(g.ID).Exec(ctx)
			if err != nil && !ent.IsConstraintError(err) {
				return err
			}
		}
	}
	return nil
}

// synonymTaken is the CONFLICT of a term that another group holds (group 0: one that was
// being written at the same moment).
func synonymTaken(term string, group int) error {
	var e *apperror.Error
	if group == 0 {
		e = apperror.ConflictOn("terms", "%q was added to another synonym group at the same moment", term)
	} else {
		e = apperror.ConflictOn("terms", "%q is already in synonym group %d", term, group)
	}
	e.Extensions = map[string]any{"reason": "SYNONYM_TAKEN", "term": term}
	return e
}

// textOf is the term of ts whose normalised form is key, as written.
func textOf(ts []synonymTerm, key string) string {
	for _, t := range ts {
		if t.key == key {
			return t.text
		}
	}
	return key
}

func synonymsChanged(ctx context.Context) {
	if d, _ := ctx.Value(searchDictsKey{}).(*SearchDicts); d != nil {
		d.SynonymsChanged()
	}
}
