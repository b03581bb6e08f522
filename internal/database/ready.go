package database

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"entgo.io/ent/dialect"

	entmigrate "github.com/xiadan/xiadan/ent/migrate"
	"github.com/xiadan/xiadan/ent/migrate/migrations"
)

// Reasons a database is not ready, in NotReadyError.Reason.
const (
	// NotReachable: the database does not answer, or refuses a query on its catalogue
	// (it was dropped, the account lost its rights).
	NotReachable = "database_unreachable"
	// SchemaIncomplete: a table of the Ent schema is missing.
	SchemaIncomplete = "schema_incomplete"
	// MigrationsPending: a migration file embedded in this binary has not been applied
	// completely (MySQL).
	MigrationsPending = "migrations_pending"
)

// NotReadyError says why the database cannot serve the API.
type NotReadyError struct {
	// Reason is one of NotReachable, SchemaIncomplete or MigrationsPending.
	Reason string
	// Detail names what is missing, for the log.
	Detail string
	Err    error
}

func (e *NotReadyError) Error() string {
	msg := "database: not ready: " + e.Reason
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *NotReadyError) Unwrap() error { return e.Err }

// Ready reports whether the schema is usable, for readiness probes: that the database
// answers, that every table of the Ent schema exists, and on MySQL that every migration
// file embedded in this binary has been applied completely (a database ahead of the
// binary, during a rolling deploy, is ready). It costs two catalogue reads on MySQL and
// one on SQLite, cheap enough to poll every few seconds; it does not compare columns,
// which only a migration changes. The error is a *NotReadyError.
func (db *DB) Ready(ctx context.Context) error {
	var listTables string
	switch db.Dialect {
	case dialect.MySQL:
		listTables = "SHOW TABLES"
	case dialect.SQLite:
		listTables = "SELECT name FROM sqlite_master WHERE type = 'table'"
	default:
		return &NotReadyError{Reason: NotReachable, Detail: "unknown dialect " + db.Dialect}
	}
	present, err := db.names(ctx, listTables)
	if err != nil {
		return &NotReadyError{Reason: NotReachable, Err: err}
	}
	var missing []string
	for _, t := range entmigrate.Tables {
		if !present[t.Name] {
			missing = append(missing, t.Name)
		}
	}
	if len(missing) > 0 {
		return &NotReadyError{Reason: SchemaIncomplete, Detail: fmt.Sprintf("missing tables %v", missing)}
	}
	if db.Dialect != dialect.MySQL {
		return nil // SQLite's schema is Ent's auto-migration, made at start
	}
	want, err := embeddedVersions()
	if err != nil {
		return &NotReadyError{Reason: MigrationsPending, Err: err}
	}
	if !present[revisionsTable] {
		return &NotReadyError{Reason: MigrationsPending, Detail: "no " + revisionsTable + " table"}
	}
	done, err := db.names(ctx, "SELECT `version` FROM `"+revisionsTable+"` WHERE `applied_at` IS NOT NULL")
	if err != nil {
		return &NotReadyError{Reason: NotReachable, Err: err}
	}
	var pending []string
	for _, v := range want {
		if !done[v] {
			pending = append(pending, v)
		}
	}
	if len(pending) > 0 {
		return &NotReadyError{Reason: MigrationsPending, Detail: fmt.Sprintf("versions %v not applied", pending)}
	}
	return nil
}

// names runs a query of one string column and returns its values as a set.
func (db *DB) names(ctx context.Context, query string) (map[string]bool, error) {
	rows, err := db.SQL.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out[s] = true
	}
	return out, rows.Err()
}

// embeddedVersions are the versions of the migration files in the binary, read once.
var embeddedVersions = sync.OnceValues(func() ([]string, error) {
	files, err := loadMigrations(migrations.FS)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("no migration files embedded")
	}
	versions := make([]string, len(files))
	for i, f := range files {
		versions[i] = f.version
	}
	return slices.Clip(versions), nil
})
