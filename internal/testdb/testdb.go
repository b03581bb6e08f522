// Package testdb gives every database-facing test a fresh, private database, so tests can
// run in parallel and never see each other's rows, on each dialect Xiadan supports:
//
//	for _, d := range testdb.Dialects() {
//		t.Run(d.Name, func(t *testing.T) {
//			db := testdb.Open(t, d.URL(t), database.Options{})
//			...
//		})
//	}
//
// Open gives a fresh database a copy of a schema migrated once per test binary (template.go),
// so a database per test costs tens of milliseconds on SQLite and about a second on MySQL
// rather than a full migration; OpenFromScratch migrates for real.
//
// MySQL tests use the server named by MYSQL_TEST_DSN (a go-sql-driver DSN without a
// database, by default root@tcp(127.0.0.1:3306)/). When it cannot be reached they are
// skipped locally, and fail when CI=true, so CI never passes on SQLite alone.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/xiadan/xiadan/internal/database"
)

// DefaultMySQLDSN is the server used when MYSQL_TEST_DSN is unset.
const DefaultMySQLDSN = "root@tcp(127.0.0.1:3306)/"

// dbPrefix starts the name of every database MySQLURL creates, followed by the creation
// time in Unix seconds, so leftovers of killed test runs can be recognized and dropped.
const dbPrefix = "xiadan_t_"

// staleAfter is the age after which a leftover test database is dropped.
const staleAfter = 6 * time.Hour

// Dialect is one database flavour the tests run against.
type Dialect struct {
	// Name is the subtest name: "sqlite" or "mysql".
	Name string
	// URL returns the URL of a fresh, empty database of this dialect, removed when the test ends.
	URL func(testing.TB) string
}

// Dialects returns every supported dialect, SQLite first as it needs no server.
func Dialects() []Dialect {
	return []Dialect{
		{Name: "sqlite", URL: SQLiteURL},
		{Name: "mysql", URL: MySQLURL},
	}
}

// SQLiteURL returns the URL of a new SQLite database file in a temporary directory of its
// own, deleted when the test ends.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "xiadan-sqlite-")
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() { removeDir(t, dir) })
	return "sqlite://" + filepath.Join(dir, "xiadan.db")
}

// removeDir removes dir, trying again for up to five seconds. Closing a database/sql pool
// does not wait for connections still in use, so a background goroutine of the server
// under test may close its connection just after, and SQLite then writes or deletes its
// -wal, -shm or -journal file while the directory is being removed (t.TempDir's removal
// fails the test with "directory not empty" then).
func removeDir(t testing.TB, dir string) {
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("testdb: removing %s: %v", dir, err)
}

// MySQLURL creates an empty database with a unique name on the MYSQL_TEST_DSN server and
// returns its mysql:// URL. The database is dropped when the test ends.
func MySQLURL(t testing.TB) string {
	t.Helper()
	cfg, err := serverConfig()
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	server, err := connect(cfg)
	if err != nil {
		unreachable(t, cfg, err)
	}
	defer server.Close()
	name := newDatabaseName()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := server.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("testdb: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		server, err := connect(cfg)
		if err != nil {
			t.Errorf("testdb: dropping database %s: %v", name, err)
			return
		}
		defer server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := server.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("testdb: dropping database %s: %v", name, err)
		}
	})
	return databaseURL(cfg, name)
}

// newDatabaseName returns a unique name for a test database.
func newDatabaseName() string {
	return dbPrefix + strconv.FormatInt(time.Now().Unix(), 10) + "_" + strings.ToLower(rand.Text()[:12])
}

// Open opens the database at url, migrates it, and closes it when the test ends. Migration
// progress is not logged unless it warns; set opts.Logger to see it.
//
// A fresh database (a SQLite file that does not exist yet, or an empty database made by
// MySQLURL) gets a copy of a template migrated once per test binary rather than its own
// migration, which is what makes a database per test cheap (template.go); OpenFromScratch
// migrates for real.
func Open(t testing.TB, url string, opts database.Options) *database.DB {
	t.Helper()
	return open(t, url, opts, !templatesOff())
}

// OpenFromScratch is Open that always runs every migration on the database itself, for
// tests of migrating.
func OpenFromScratch(t testing.TB, url string, opts database.Options) *database.DB {
	t.Helper()
	return open(t, url, opts, false)
}

func open(t testing.TB, url string, opts database.Options, useTemplate bool) *database.DB {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	cloned := false
	if useTemplate {
		var err error
		switch {
		case strings.HasPrefix(url, "sqlite://"):
			cloned, err = cloneSQLite(url)
		case strings.HasPrefix(url, "mysql://"):
			if name, ok := mysqlDatabaseOf(url); ok {
				cfg, cerr := serverConfig()
				if cerr != nil {
					t.Fatalf("testdb: %v", cerr)
				}
				_, err = cloneMySQL(cfg, name)
			}
		}
		if err != nil {
			t.Fatalf("testdb: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := database.Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	// A SQLite copy is the template this binary migrated, byte for byte; a MySQL copy is
	// checked by Migrate, which finds every migration applied.
	if !cloned {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("testdb: %v", err)
		}
	}
	return db
}

// serverConfig parses MYSQL_TEST_DSN.
func serverConfig() (*mysql.Config, error) {
	dsn := os.Getenv("MYSQL_TEST_DSN")
	if dsn == "" {
		dsn = DefaultMySQLDSN
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("MYSQL_TEST_DSN is not a valid go-sql-driver DSN (like %s): %w", DefaultMySQLDSN, err)
	}
	if cfg.Net != "tcp" {
		return nil, fmt.Errorf("MYSQL_TEST_DSN must use tcp(host:port), not %q", cfg.Net)
	}
	cfg.DBName = ""
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	return cfg, nil
}

// probe remembers, for the whole test binary, whether the MySQL server answered, so an
// absent server costs one dial timeout and one banner, not one per test.
var probe struct {
	once sync.Once
	err  error
}

// connect opens a connection to the test server, with no database selected. The first
// call also drops databases left behind by killed test runs.
func connect(cfg *mysql.Config) (*sql.DB, error) {
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	probe.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout+time.Second)
		defer cancel()
		if probe.err = db.PingContext(ctx); probe.err == nil {
			dropStale(ctx, db)
		}
	})
	if probe.err != nil {
		_ = db.Close()
		return nil, probe.err
	}
	return db, nil
}

// dropStale drops test databases older than staleAfter, best effort.
func dropStale(ctx context.Context, db *sql.DB) {
	rows, err := db.QueryContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?", dbPrefix+"%")
	if err != nil {
		return
	}
	var stale []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) != nil {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(name, dbPrefix), "_")
		if sec, err := strconv.ParseInt(ts, 10, 64); err == nil && time.Since(time.Unix(sec, 0)) > staleAfter {
			stale = append(stale, name)
		}
	}
	_ = rows.Close()
	for _, name := range stale {
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
	}
}

// banner is printed once per test binary when MySQL tests are skipped.
var banner sync.Once

// unreachable skips the test, or fails it on CI, when the MySQL server does not answer.
func unreachable(t testing.TB, cfg *mysql.Config, err error) {
	t.Helper()
	msg := fmt.Sprintf("MySQL test server %s is unreachable (%v); start MySQL 8 or MariaDB there, or point MYSQL_TEST_DSN at one",
		cfg.Addr, err)
	if os.Getenv("CI") == "true" {
		t.Fatalf("testdb: %s", msg)
	}
	banner.Do(func() {
		line := strings.Repeat("!", 78)
		fmt.Fprintf(os.Stderr, "\n%s\n!! SKIPPING EVERY MYSQL TEST: %s\n%s\n\n", line, msg, line)
	})
	t.Skipf("testdb: SKIPPED ON MYSQL: %s", msg)
}

// Isolation levels a MySQL test database can be opened with (MySQLURLAt).
const (
	RepeatableRead = "REPEATABLE-READ"
	ReadCommitted  = "READ-COMMITTED"
)

// MySQLURLAt is MySQLURL with every session of the database's pool at the given
// transaction isolation level (RepeatableRead, InnoDB's default, or ReadCommitted), set by
// a session variable in the URL: transaction_isolation on MySQL 8 and MariaDB 11.1+,
// tx_isolation on older MariaDB.
func MySQLURLAt(t testing.TB, level string) string {
	t.Helper()
	u := MySQLURL(t)
	cfg, err := serverConfig()
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	server, err := connect(cfg)
	if err != nil {
		unreachable(t, cfg, err)
	}
	defer server.Close()
	name := "transaction_isolation"
	var v string
	if server.QueryRow("SELECT @@transaction_isolation").Scan(&v) != nil {
		name = "tx_isolation"
	}
	return u + "?" + name + "=" + url.QueryEscape("'"+level+"'")
}
