// Package migrations holds Xiadan's versioned MySQL migrations, compiled into the binary so
// that a deployed server always carries the schema it was built for.
//
// The files are generated from the Ent schema by ent/migrate/main.go, reviewed, and
// committed with atlas.sum, which guards them against hand edits. They are applied by
// internal/database's Migrate; SQLite, for local runs and tests, is migrated by Ent
// directly instead.
package migrations

import "embed"

// FS holds the migration files (*.sql, named <version>_<name>.sql) and atlas.sum.
//
//go:embed *.sql atlas.sum
var FS embed.FS
