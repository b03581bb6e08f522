package testdb_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

func TestDialects(t *testing.T) {
	want := map[string]string{"sqlite": dialect.SQLite, "mysql": dialect.MySQL}
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			a, b := d.URL(t), d.URL(t)
			if a == b {
				t.Fatalf("two calls returned the same database %s", a)
			}
			db := testdb.Open(t, a, database.Options{})
			if db.Dialect != want[d.Name] {
				t.Errorf("dialect %q, want %q", db.Dialect, want[d.Name])
			}
			if n, err := db.Client.Category.Query().Count(context.Background()); err != nil || n != 0 {
				t.Errorf("fresh database: %d categories, %v", n, err)
			}
		})
	}
}

// The database MySQLURL creates is gone once its test ends.
func TestMySQLURLDropsDatabase(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		raw := testdb.MySQLURL(t)
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
		if !strings.HasPrefix(name, "xiadan_t_") {
			t.Errorf("database name %q", name)
		}
	})
	if name == "" {
		t.Skip("MySQL is unavailable")
	}
	db := testdb.Open(t, testdb.MySQLURL(t), database.Options{})
	var n int
	err := db.SQL.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n)
	if err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists", name)
	}
}

// Without a reachable server, MySQL tests are skipped with a banner, or fail when CI=true.
// The reachability probe runs once per process, so each case runs in a child process.
func TestUnreachableServer(t *testing.T) {
	if os.Getenv("TESTDB_CHILD") == "1" {
		testdb.MySQLURL(t)
		t.Fatal("MySQLURL returned for an unreachable server")
	}
	for _, ci := range []string{"", "true"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUnreachableServer$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTDB_CHILD=1", "MYSQL_TEST_DSN=root@tcp(127.0.0.1:1)/", "CI="+ci)
		out, err := cmd.CombinedOutput()
		switch {
		case ci == "" && (err != nil || !strings.Contains(string(out), "SKIPPING EVERY MYSQL TEST") || !strings.Contains(string(out), "--- SKIP")):
			t.Errorf("locally: %v\n%s", err, out)
		case ci == "true" && (err == nil || !strings.Contains(string(out), "--- FAIL") || !strings.Contains(string(out), "unreachable")):
			t.Errorf("on CI: %v\n%s", err, out)
		}
	}
}

// A database Open copies from the template has exactly the schema (tables, columns,
// indexes, foreign keys, ID ranges) and migration records of one migrated from scratch.
func TestTemplateCopyMatchesMigration(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			copied := testdb.Open(t, d.URL(t), database.Options{})
			// A second copy, to be sure copies do not share anything.
			testdb.Open(t, d.URL(t), database.Options{})
			scratch := testdb.OpenFromScratch(t, d.URL(t), database.Options{})
			got, want := schemaOf(t, copied), schemaOf(t, scratch)
			if len(want) < 20 {
				t.Fatalf("the migrated schema has only %d entries", len(want))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("copied schema:\n%s\n\nmigrated schema:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			ctx := viewer.SystemContext(context.Background())
			c, err := copied.Client.Category.Create().SetName("Books").SetSlug("books").Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.ID>>32 != 1 {
				t.Errorf("category id %d is outside the categories range [1<<32, 2<<32)", c.ID)
			}
		})
	}
}

// schemaOf describes db's schema: each table's definition and, on MySQL, the migration
// records.
func schemaOf(t *testing.T, db *database.DB) []string {
	t.Helper()
	var out []string
	query := "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
	if db.Dialect == dialect.MySQL {
		query = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME"
	}
	rows, err := db.SQL.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if db.Dialect == dialect.SQLite {
		rows, err := db.SQL.Query("SELECT name || ' ' || seq FROM sqlite_sequence ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, "sequence "+s)
		}
		_ = rows.Close()
		return out
	}
	tables := out
	out = nil
	for _, name := range tables {
		var ignored, create string
		if err := db.SQL.QueryRow("SHOW CREATE TABLE `"+name+"`").Scan(&ignored, &create); err != nil {
			t.Fatal(err)
		}
		out = append(out, create)
	}
	rows, err = db.SQL.Query("SELECT CONCAT(version, ' ', description, ' ', hash, ' ', applied, '/', total, ' ', applied_at IS NOT NULL) FROM xiadan_schema_revisions ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, "revision "+s)
	}
	_ = rows.Close()
	return out
}
