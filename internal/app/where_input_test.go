package app_test

import (
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/testdb"
)

// TestWhereInputsTheDatabaseCannotRunAreBadInput: an empty condition inside a where
// filter ({not: {}}, {and: [{}]}), which Ent refuses, and a time MySQL cannot compare
// (outside years 1000–9999 in UTC) are the client's mistakes — BAD_USER_INPUT naming
// what is wrong — on SQLite and MySQL alike; they were INTERNAL.
func TestWhereInputsTheDatabaseCannotRunAreBadInput(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			for _, c := range []struct {
				where, reason, field string
			}{
				{`{and: [{}]}`, apperror.ReasonEmptyFilter, ""},
				{`{not: {}}`, apperror.ReasonEmptyFilter, ""},
				{`{or: [{nameContains: "tea"}, {}]}`, apperror.ReasonEmptyFilter, ""},
				{`{createdAtGT: "0000-01-01T00:00:00Z"}`, "", "where.createdAtGT"},
				{`{createdAtLT: "9999-12-31T23:59:59-10:00"}`, "", "where.createdAtLT"},
				{`{and: [{createdAtGTE: "0999-12-31T23:59:59Z"}]}`, "", "where.and[0].createdAtGTE"},
			} {
				r := s.Query("", `{ merchants(first: 2, where: `+c.where+`) { totalCount } }`, nil)
				if r.Code() != "BAD_USER_INPUT" || len(r.Errors) != 1 {
					t.Errorf("%s: %s", c.where, r.Raw)
					continue
				}
				if reason, _ := r.Errors[0].Extensions["reason"].(string); reason != c.reason {
					t.Errorf("%s: reason %q, want %q: %s", c.where, reason, c.reason, r.Raw)
				}
				if c.field != "" && r.Field() != c.field {
					t.Errorf("%s: field %q, want %q: %s", c.where, r.Field(), c.field, r.Raw)
				}
			}
			// Within the range, filters run as before.
			for _, where := range []string{`{createdAtGT: "1000-01-01T00:00:00Z"}`, `{createdAtLT: "9999-12-31T23:59:59Z"}`, `{and: [{nameContains: "x"}]}`} {
				if r := s.Query("", `{ merchants(first: 2, where: `+where+`) { totalCount } }`, nil); r.Code() != "" {
					t.Errorf("%s: %s", where, r.Raw)
				}
			}
		})
	}
}
