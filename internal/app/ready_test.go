package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/testdb"
)

// readyz asks /readyz and returns its status and reason.
func readyz(t *testing.T, s *apitest.Server) (int, string) {
	t.Helper()
	res, err := http.Get(s.HTTP.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var body struct{ Status, Reason string }
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("/readyz: %d %s", res.StatusCode, b)
	}
	return res.StatusCode, body.Reason
}

// TestReadyzNoticesAnUnusableSchema: /readyz is 200 on a migrated database and 503, with
// the reason, once the schema cannot serve the API — a table dropped, on either database;
// on MySQL a migration not recorded as applied, one left half-applied, the record of
// migrations gone, or the whole database dropped — although the server still reaches the
// database server.
func TestReadyzNoticesAnUnusableSchema(t *testing.T) {
	t.Parallel()
	exec := func(t *testing.T, s *apitest.Server, stmt string) {
		t.Helper()
		if _, err := s.DB.SQL.ExecContext(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	const revisions = "xiadan_schema_revisions" // internal/database's record of applied migrations
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			cases := []struct {
				name, dialect string
				break_        []string
				reason        string
			}{
				{"a table dropped", "", []string{"DROP TABLE review_votes"}, database.SchemaIncomplete},
				{"the last migration not applied", "mysql", []string{"DELETE FROM " + revisions +
					" WHERE version = (SELECT v FROM (SELECT MAX(version) AS v FROM " + revisions + ") AS m)"}, database.MigrationsPending},
				{"a migration half applied", "mysql", []string{"UPDATE " + revisions +
					" SET applied_at = NULL ORDER BY version LIMIT 1"}, database.MigrationsPending},
				{"no record of migrations", "mysql", []string{"DROP TABLE " + revisions}, database.MigrationsPending},
				{"the database dropped", "mysql", []string{"DROP DATABASE"}, ""},
			}
			for _, c := range cases {
				if c.dialect != "" && c.dialect != d.Name {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					s := apitest.New(t, d.URL(t))
					if status, reason := readyz(t, s); status != http.StatusOK {
						t.Fatalf("fresh database: %d %s", status, reason)
					}
					for _, stmt := range c.break_ {
						if stmt == "DROP DATABASE" {
							var name string
							if err := s.DB.SQL.QueryRow("SELECT DATABASE()").Scan(&name); err != nil {
								t.Fatal(err)
							}
							stmt += " `" + name + "`"
						}
						exec(t, s, stmt)
					}
					status, reason := readyz(t, s)
					if status != http.StatusServiceUnavailable || (c.reason != "" && reason != c.reason) || reason == "" {
						t.Errorf("want 503 %s, got %d %s", c.reason, status, reason)
					}
				})
			}
		})
	}
}
