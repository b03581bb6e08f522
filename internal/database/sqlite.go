package database

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// sqliteMaxConns bounds the SQLite pool. WAL lets readers run beside the one writer, so a
// few connections serve concurrent requests; it is not 1 because a request holding the
// write transaction may still read through the pool, and a pool of one would deadlock it.
const sqliteMaxConns = 8

// sqlitePragmas are applied to every connection the pool opens:
//   - foreign_keys: SQLite ignores foreign keys unless asked, and Ent relies on them;
//   - journal_mode WAL: readers do not block the writer nor the writer readers;
//   - busy_timeout: a connection waits up to 10 s for the write lock instead of failing;
//   - synchronous NORMAL: durable across application crashes, and the usual WAL pairing.
//
// _txlock=immediate takes the write lock when a transaction begins. A deferred transaction
// that reads, then writes, cannot wait for the lock (SQLITE_BUSY at once, busy_timeout or
// not), so with immediate locking concurrent write transactions queue instead of failing.
// _time_format=sqlite stores times in SQLite's own sortable text format.
const sqlitePragmas = "_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
	"&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite"

// openSQLite opens a pool for sqlite://path or sqlite://:memory:. For an in-memory
// database it also returns the connection that keeps the database alive.
func openSQLite(ctx context.Context, u *url.URL) (*sql.DB, *sql.Conn, error) {
	if u.RawQuery != "" {
		return nil, nil, fmt.Errorf("database: sqlite URL %q: parameters are not supported", u.String())
	}
	memory := u.Path == ":memory:"
	var dsn string
	if memory {
		// Every connection to ":memory:" would get its own empty database. The memdb VFS
		// shares one database among all connections of the process that use its name,
		// with proper locking, so the pool behaves as it does on a file.
		dsn = "file:/xiadan-" + rand.Text() + "?vfs=memdb&" + sqlitePragmas
	} else {
		dsn = "file:" + (&url.URL{Path: filepath.ToSlash(u.Path)}).EscapedPath() + "?" + sqlitePragmas
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("database: opening SQLite %q: %w", u.Path, err)
	}
	db.SetMaxOpenConns(sqliteMaxConns)
	db.SetMaxIdleConns(sqliteMaxConns)
	// Connections are cheap to keep and SQLite has no server to time them out.
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if !memory {
		return db, nil, nil
	}
	keep, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("database: opening in-memory SQLite: %w", err)
	}
	return db, keep, nil
}
