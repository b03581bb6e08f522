package database

import (
	"context"
	"io/fs"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
)

// Hooks for the external tests.

// RevisionsTable is the name of the table recording applied migrations.
const RevisionsTable = revisionsTable

// MigrateFS applies the MySQL migrations of fsys instead of the embedded ones.
func MigrateFS(ctx context.Context, db *DB, fsys fs.FS) error { return db.migrateMySQL(ctx, fsys) }

// InspectDiff writes to dirPath what db's schema lacks compared with the Ent schema.
func InspectDiff(ctx context.Context, db *DB, dirPath string) ([]string, error) {
	dir, err := atlasmigrate.NewLocalDir(dirPath)
	if err != nil {
		return nil, err
	}
	return diffMigrations(ctx, entsql.OpenDB(dialect.MySQL, db.SQL), dir, "drift", schema.ModeInspect)
}
