// Package database opens Xiadan's store, MySQL in production or SQLite for local runs and
// tests, and brings its schema up to date.
//
// Both stores are reached through one URL (DATABASE_URL) so that switching between them
// is a configuration change, never a code change:
//
//	mysql://user:pass@host:3306/dbname?param=value
//	sqlite://path/to/file.db
//	sqlite://:memory:
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/migrate/migrations"
	// The runtime wires the schema's privacy policies, hooks and defaults into the client;
	// importing it here means no program can get a client without them.
	_ "github.com/xiadan/xiadan/ent/runtime"
)

// Options tune how Open builds the Ent client. The zero value is what production uses.
type Options struct {
	// WrapDriver, when set, wraps the Ent driver before the client is built, so tests can
	// observe (for example count) every statement the client sends.
	WrapDriver func(dialect.Driver) dialect.Driver
	// Debug logs every statement the client sends at debug level. Arguments are never
	// logged, because they carry password hashes, tokens and personal data.
	Debug bool
	// Logger receives migration progress and debug output; nil means slog.Default().
	Logger *slog.Logger
}

// DB is an open store: the Ent client the application uses, plus the underlying pool for
// the few things Ent does not cover (health checks, raw maintenance statements).
type DB struct {
	// Client is the Ent client; it owns the pool, so closing the DB closes it.
	Client *ent.Client
	// SQL is the connection pool beneath Client.
	SQL *sql.DB
	// Dialect is dialect.MySQL or dialect.SQLite.
	Dialect string

	logger *slog.Logger
	// keep pins an in-memory SQLite database: it lives only while a connection to it is
	// open, and the pool is free to close idle connections.
	keep *sql.Conn
	// killer stops the MySQL statements of cancelled contexts (mysql_cancel.go).
	killer *sql.DB
}

// Open connects to the store named by rawURL and returns it ready to use, except that the
// schema may still be out of date: call Migrate before serving.
//
// It fails on an unknown scheme, a malformed URL, or a store it cannot reach. Error
// messages never contain the password.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	db := &DB{logger: logger}
	switch u.Scheme {
	case "mysql":
		db.Dialect = dialect.MySQL
		db.SQL, db.killer, err = openMySQL(u, logger)
	case "sqlite":
		db.Dialect = dialect.SQLite
		db.SQL, db.keep, err = openSQLite(ctx, u)
	default:
		return nil, fmt.Errorf("database: unsupported URL scheme %q (want mysql:// or sqlite://)", u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	if err := db.SQL.PingContext(ctx); err != nil {
		db.closePool()
		return nil, fmt.Errorf("database: connecting to %s: %w", u.Redacted(), err)
	}
	var drv dialect.Driver = entsql.OpenDB(db.Dialect, db.SQL)
	if opts.Debug {
		drv = dialect.DebugWithContext(drv, func(ctx context.Context, v ...any) {
			logger.DebugContext(ctx, "sql", "statement", withoutArgs(fmt.Sprint(v...)))
		})
	}
	if opts.WrapDriver != nil {
		drv = opts.WrapDriver(drv)
	}
	drv = renewDriver{drv}
	db.Client = ent.NewClient(ent.Driver(drv))
	return db, nil
}

// Close releases the client and every pooled connection. Calling it twice is harmless.
func (db *DB) Close() error {
	var errs []error
	if db.keep != nil {
		if err := db.keep.Close(); err != nil && !errors.Is(err, sql.ErrConnDone) {
			errs = append(errs, err)
		}
	}
	// The client closes the pool; closing it again, as tests that break the pool on
	// purpose do, is harmless.
	errs = append(errs, db.Client.Close())
	if db.killer != nil {
		errs = append(errs, db.killer.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("database: closing: %w", err)
	}
	return nil
}

func (db *DB) closePool() {
	if db.keep != nil {
		_ = db.keep.Close()
	}
	if db.killer != nil {
		_ = db.killer.Close()
	}
	_ = db.SQL.Close()
}

// Ping reports whether the store answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.SQL.PingContext(ctx); err != nil {
		return fmt.Errorf("database: ping: %w", err)
	}
	return nil
}

// Migrate brings the schema up to date and is safe to call at every start.
//
// On MySQL it applies the versioned migration files embedded in the binary (see
// ent/migrate/migrations), so production schemas only ever change through reviewed SQL.
// On SQLite, used for local runs and tests, Ent creates or extends the schema directly.
func (db *DB) Migrate(ctx context.Context) error {
	switch db.Dialect {
	case dialect.MySQL:
		return db.migrateMySQL(ctx, migrations.FS)
	case dialect.SQLite:
		entSchemaMu.Lock()
		defer entSchemaMu.Unlock()
		if err := db.sqliteBackfill(ctx); err != nil {
			return err
		}
		if err := db.Client.Schema.Create(ctx); err != nil {
			return fmt.Errorf("database: creating the SQLite schema: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("database: cannot migrate dialect %q", db.Dialect)
	}
}

// parseURL parses a database URL without ever echoing it back: url.Parse errors quote the
// input, and the input holds the password.
func parseURL(rawURL string) (*url.URL, error) {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok || scheme == "" {
		return nil, errors.New("database: malformed URL: want mysql://user:pass@host:3306/dbname or sqlite://path.db")
	}
	if scheme == "sqlite" {
		// A SQLite path is not a URL path: keep it verbatim (":memory:", "C:\x.db", "a b.db").
		u := &url.URL{Scheme: scheme}
		rest := rawURL[len("sqlite://"):]
		u.Path, u.RawQuery, _ = strings.Cut(rest, "?")
		if u.Path == "" {
			return nil, errors.New("database: malformed URL: sqlite:// needs a file path or :memory:")
		}
		return u, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("database: malformed %s URL: %w", scheme, err)
	}
	return u, nil
}

// withoutArgs drops the argument list from one of Ent's debug lines ("...: query=... args=[...]").
func withoutArgs(line string) string {
	if i := strings.LastIndex(line, " args="); i >= 0 {
		return line[:i]
	}
	return line
}

// entSchemaMu serialises Ent's schema work (auto-migration and diffs): Ent's Atlas code
// writes index and foreign-key names on the shared package-level tables of ent/migrate
// while other goroutines read them (ent/ent#4519), which the race detector reports when
// tests migrate several databases at once.
var entSchemaMu sync.Mutex

// LockEntSchema holds the lock around Ent schema work for callers outside this package
// (tests that migrate with client.Schema.Create themselves). Call the returned func to
// release it.
func LockEntSchema() func() {
	entSchemaMu.Lock()
	return entSchemaMu.Unlock
}

// Analyze refreshes the planner's statistics after a bulk load, so keyword and ordered
// queries get good plans at once rather than after the server's own sampling catches up.
func (db *DB) Analyze(ctx context.Context) error {
	var stmt string
	switch db.Dialect {
	case dialect.MySQL:
		stmt = "ANALYZE TABLE products, product_variants, search_tokens, merchants, categories"
	case dialect.SQLite:
		stmt = "ANALYZE"
	default:
		return nil
	}
	rows, err := db.SQL.QueryContext(ctx, stmt)
	if err != nil {
		return fmt.Errorf("database: analyze: %w", err)
	}
	return rows.Close()
}
