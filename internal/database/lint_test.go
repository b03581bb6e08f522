package database_test

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/xiadan/xiadan/ent/migrate/migrations"
)

// The migrations are generated against MariaDB in development but run on MySQL 8 in
// production. This catches the MariaDB-only wording known to slip through a diff.
func TestMigrationsAvoidMariaDBOnlySQL(t *testing.T) {
	forbidden := map[string]*regexp.Regexp{
		"a literal DEFAULT on a TEXT, BLOB or JSON column (MySQL 8 accepts only DEFAULT (expr))": regexp.MustCompile(
			"(?i)\\b(tinytext|text|mediumtext|longtext|tinyblob|blob|mediumblob|longblob|json)\\b[^,;]*?\\bDEFAULT\\s+[^(\\s]"),
		"IF [NOT] EXISTS inside ALTER TABLE": regexp.MustCompile(
			"(?i)\\b(ADD|DROP|MODIFY|CHANGE)\\s+(COLUMN|INDEX|KEY|CONSTRAINT|FOREIGN KEY|PARTITION)?\\s*IF\\s+(NOT\\s+)?EXISTS"),
		"a MariaDB-only type":            regexp.MustCompile("(?i)`\\s+(uuid|inet4|inet6)\\b"),
		"MariaDB's JSON CHECK":           regexp.MustCompile("(?i)json_valid\\s*\\("),
		"CREATE OR REPLACE TABLE":        regexp.MustCompile("(?i)CREATE\\s+OR\\s+REPLACE\\s+TABLE"),
		"sequences":                      regexp.MustCompile("(?i)\\b(CREATE|DROP|ALTER)\\s+SEQUENCE\\b"),
		"a MariaDB-only storage engine":  regexp.MustCompile("(?i)ENGINE\\s*=?\\s*(Aria|ColumnStore|S3)\\b"),
		"system-versioned tables":        regexp.MustCompile("(?i)WITH\\s+SYSTEM\\s+VERSIONING"),
		"utf8mb4 collations MySQL lacks": regexp.MustCompile("(?i)utf8mb4_uca1400_"),
	}
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migration files: %v", err)
	}
	for _, name := range files {
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		for what, re := range forbidden {
			if m := re.Find(b); m != nil {
				t.Errorf("%s has %s: %q", name, what, m)
			}
		}
	}
}
