package database

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
)

// revisionsTable records, per migration file, how many of its statements have run. MySQL
// cannot roll DDL back, so a file that fails halfway is resumed at the failing statement
// rather than rerun from the top.
const revisionsTable = "xiadan_schema_revisions"

const createRevisionsTable = "CREATE TABLE IF NOT EXISTS `" + revisionsTable + "` (" +
	"`version` varchar(64) NOT NULL, " +
	"`description` varchar(255) NOT NULL, " +
	"`hash` char(64) NOT NULL, " +
	"`applied` int NOT NULL DEFAULT 0, " +
	"`total` int NOT NULL, " +
	"`started_at` datetime(6) NOT NULL, " +
	"`applied_at` datetime(6) NULL, " +
	"`execution_ms` bigint NOT NULL DEFAULT 0, " +
	"`error` text NULL, " +
	"PRIMARY KEY (`version`)" +
	") CHARSET utf8mb4 COLLATE utf8mb4_bin"

// lockWait is how long one GET_LOCK call waits before Migrate checks its context again.
const lockWait = 5 * time.Second

// migrationFile is one parsed migration file.
type migrationFile struct {
	name, version, desc string
	hash                string // hex SHA-256 of the file, to notice files edited after applying
	stmts               []string
}

// revision is one row of the revisions table.
type revision struct {
	version, description, hash string
	applied, total             int
	complete                   bool // applied_at is set
	lastError                  sql.NullString
}

// migrateMySQL applies the pending files of fsys (*.sql and atlas.sum) in version order,
// under a server-side lock so that concurrent starts apply each file once.
func (db *DB) migrateMySQL(ctx context.Context, fsys fs.FS) (err error) {
	files, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return fmt.Errorf("database: migrate: %w", err)
	}
	defer conn.Close()
	unlock, err := db.lockMigrations(ctx, conn)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	if _, err := conn.ExecContext(ctx, createRevisionsTable); err != nil {
		return fmt.Errorf("database: migrate: creating %s: %w", revisionsTable, err)
	}
	revs, err := readRevisions(ctx, conn)
	if err != nil {
		return err
	}
	inDir := make(map[string]bool, len(files))
	for _, f := range files {
		inDir[f.version] = true
	}
	latest := ""
	for v := range revs {
		latest = max(latest, v)
		if !inDir[v] {
			db.logger.WarnContext(ctx, "the database has a migration this binary does not know; is the binary older than the schema?",
				"version", v, "description", revs[v].description)
		}
	}
	applied := 0
	for _, f := range files {
		start := 0
		switch rev, ok := revs[f.version]; {
		case ok && rev.complete:
			if rev.hash != f.hash {
				db.logger.WarnContext(ctx, "migration file changed after it was applied; the change will not run", "file", f.name)
			}
			continue
		case ok:
			if rev.hash != f.hash {
				return fmt.Errorf("database: migration %s stopped after %d of %d statements (%s) and has been edited since: "+
					"finish or undo its remaining changes by hand, then delete its row from %s",
					f.name, rev.applied, rev.total, rev.lastError.String, revisionsTable)
			}
			start = rev.applied
			db.logger.InfoContext(ctx, "resuming a partly applied migration", "file", f.name, "statement", start+1, "of", rev.total)
		case f.version < latest:
			return fmt.Errorf("database: migration %s is older than the applied migration %s: "+
				"migrations must be applied in order; regenerate it on top of the latest one", f.name, latest)
		default:
			if _, err := conn.ExecContext(ctx, "INSERT INTO `"+revisionsTable+"` "+
				"(`version`, `description`, `hash`, `applied`, `total`, `started_at`) VALUES (?, ?, ?, 0, ?, UTC_TIMESTAMP(6))",
				f.version, f.desc, f.hash, len(f.stmts)); err != nil {
				return fmt.Errorf("database: migration %s: recording its start: %w", f.name, err)
			}
		}
		if err := db.applyFile(ctx, conn, f, start); err != nil {
			return err
		}
		applied++
	}
	if applied > 0 {
		db.logger.InfoContext(ctx, "database schema migrated", "files", applied)
	}
	return nil
}

// applyFile runs the statements of f from index start on, recording progress after each.
func (db *DB) applyFile(ctx context.Context, conn *sql.Conn, f migrationFile, start int) error {
	began := time.Now()
	for i := start; i < len(f.stmts); i++ {
		if _, err := conn.ExecContext(ctx, f.stmts[i]); err != nil {
			// Record the failure even when ctx is what failed.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_, rerr := conn.ExecContext(rctx, "UPDATE `"+revisionsTable+"` SET `error` = ? WHERE `version` = ?", err.Error(), f.version)
			cancel()
			if rerr != nil {
				err = errors.Join(err, fmt.Errorf("recording the failure: %w", rerr))
			}
			return fmt.Errorf("database: migration %s: statement %d of %d failed: %w\n\t%s",
				f.name, i+1, len(f.stmts), err, abbreviate(f.stmts[i]))
		}
		if _, err := conn.ExecContext(ctx, "UPDATE `"+revisionsTable+"` SET `applied` = ? WHERE `version` = ?", i+1, f.version); err != nil {
			return fmt.Errorf("database: migration %s: recording statement %d: %w", f.name, i+1, err)
		}
	}
	took := time.Since(began)
	if _, err := conn.ExecContext(ctx, "UPDATE `"+revisionsTable+"` SET `applied_at` = UTC_TIMESTAMP(6), `execution_ms` = ?, `error` = NULL WHERE `version` = ?",
		took.Milliseconds(), f.version); err != nil {
		return fmt.Errorf("database: migration %s: recording its completion: %w", f.name, err)
	}
	db.logger.InfoContext(ctx, "applied migration", "file", f.name, "statements", len(f.stmts)-start, "took", took.Round(time.Millisecond))
	return nil
}

// lockMigrations takes the per-database migration lock on conn. GET_LOCK locks belong to
// the connection, so every migration statement runs on conn too, and a crashed process
// releases the lock by losing its connection.
func (db *DB) lockMigrations(ctx context.Context, conn *sql.Conn) (unlock func() error, err error) {
	var schema sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("database: migrate: %w", err)
	}
	// Lock names are server-wide and at most 64 characters.
	name := "xiadan_migrate:" + schema.String
	if len(name) > 64 {
		sum := sha256.Sum256([]byte(schema.String))
		name = "xiadan_migrate:" + hex.EncodeToString(sum[:16])
	}
	for waited := false; ; waited = true {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, int(lockWait.Seconds())).Scan(&got); err != nil {
			return nil, fmt.Errorf("database: migrate: taking the migration lock: %w", err)
		}
		if got.Valid && got.Int64 == 1 {
			break
		}
		if !got.Valid {
			return nil, fmt.Errorf("database: migrate: GET_LOCK(%q) failed", name)
		}
		if !waited {
			db.logger.InfoContext(ctx, "waiting for another process to finish migrating", "lock", name)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("database: migrate: waiting for the migration lock: %w", err)
		}
	}
	return func() error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(rctx, "SELECT RELEASE_LOCK(?)", name); err != nil {
			// Closing the connection releases the lock: make the pool discard it.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			return fmt.Errorf("database: migrate: releasing the migration lock: %w", err)
		}
		return nil
	}, nil
}

// readRevisions loads the revisions table, keyed by version.
func readRevisions(ctx context.Context, conn *sql.Conn) (map[string]revision, error) {
	rows, err := conn.QueryContext(ctx, "SELECT `version`, `description`, `hash`, `applied`, `total`, `applied_at` IS NOT NULL, `error` FROM `"+revisionsTable+"`")
	if err != nil {
		return nil, fmt.Errorf("database: migrate: reading %s: %w", revisionsTable, err)
	}
	defer rows.Close()
	revs := make(map[string]revision)
	for rows.Next() {
		var r revision
		if err := rows.Scan(&r.version, &r.description, &r.hash, &r.applied, &r.total, &r.complete, &r.lastError); err != nil {
			return nil, fmt.Errorf("database: migrate: reading %s: %w", revisionsTable, err)
		}
		revs[r.version] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("database: migrate: reading %s: %w", revisionsTable, err)
	}
	return revs, nil
}

// loadMigrations reads the migration files of fsys in version order, after checking them
// against atlas.sum: a file edited, added or removed by hand since the sum was written is
// refused, as it was never checked against the Ent schema.
func loadMigrations(fsys fs.FS) ([]migrationFile, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("database: reading the migration files: %w", err)
	}
	dir := &migrate.MemDir{}
	for _, e := range entries {
		if e.IsDir() || (path.Ext(e.Name()) != ".sql" && e.Name() != migrate.HashFileName) {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("database: reading migration %s: %w", e.Name(), err)
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, fmt.Errorf("database: reading migration %s: %w", e.Name(), err)
		}
	}
	if err := migrate.Validate(dir); err != nil {
		var ce *migrate.ChecksumError
		switch {
		case errors.As(err, &ce):
			return nil, fmt.Errorf("database: migration files do not match atlas.sum: %s was %s; "+
				"migrations are generated, not edited (see ent/migrate/main.go, which can also rehash a hand-written file): %w",
				ce.File, ce.Reason, err)
		case errors.Is(err, migrate.ErrChecksumNotFound):
			return nil, fmt.Errorf("database: migration files have no atlas.sum: %w", err)
		default:
			return nil, fmt.Errorf("database: checking the migration files against atlas.sum: %w", err)
		}
	}
	all, err := dir.Files()
	if err != nil {
		return nil, fmt.Errorf("database: listing the migration files: %w", err)
	}
	files := make([]migrationFile, 0, len(all))
	for _, f := range all {
		if f.Version() == "" || len(f.Version()) > 64 {
			return nil, fmt.Errorf("database: migration %s: the name must start with a version (e.g. 20250101000000_name.sql)", f.Name())
		}
		if len(files) > 0 && files[len(files)-1].version == f.Version() {
			return nil, fmt.Errorf("database: migrations %s and %s have the same version", files[len(files)-1].name, f.Name())
		}
		stmts, err := f.Stmts()
		if err != nil {
			return nil, fmt.Errorf("database: migration %s: splitting statements: %w", f.Name(), err)
		}
		sum := sha256.Sum256(f.Bytes())
		files = append(files, migrationFile{
			name:    f.Name(),
			version: f.Version(),
			desc:    f.Desc(),
			hash:    hex.EncodeToString(sum[:]),
			stmts:   stmts,
		})
	}
	return files, nil
}

// abbreviate shortens a statement for an error message.
func abbreviate(stmt string) string {
	stmt = strings.Join(strings.Fields(stmt), " ")
	if len(stmt) > 300 {
		return stmt[:300] + "..."
	}
	return stmt
}
