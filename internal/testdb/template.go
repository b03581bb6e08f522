package testdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/xiadan/xiadan/internal/database"
)

// Migrating a database from scratch is the slowest part of most tests: a second or more on
// SQLite (Ent's schema diff, under a process-wide lock) and several on MySQL (every
// migration file's DDL, one table rebuild after another). So each test binary migrates one
// template per dialect, once, the way production does, and Open gives every fresh database
// a copy of it instead:
//
//   - SQLite: the migrated template file is kept in memory and written to the new path;
//   - MySQL: the template's tables are recreated from SHOW CREATE TABLE (indexes, foreign
//     keys, AUTO_INCREMENT starts and all) and its rows (the migration records) copied.
//
// Open then still runs Migrate on MySQL, which finds every migration applied (and so
// checks the copy). A database is only copied into when it is fresh: a SQLite file that
// does not exist yet, a MySQL database made by MySQLURL that has no table yet. Set
// XIADAN_TESTDB_TEMPLATE=off to migrate every test database from scratch instead.

// templatesOff reports whether XIADAN_TESTDB_TEMPLATE=off asks for no templates.
func templatesOff() bool {
	return strings.EqualFold(os.Getenv("XIADAN_TESTDB_TEMPLATE"), "off")
}

// quietLogger logs migration warnings only.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// sqliteTemplate is the migrated SQLite template file, made once per test binary.
var sqliteTemplate struct {
	once sync.Once
	data []byte
	err  error
}

// sqliteTemplateData returns the bytes of a freshly migrated SQLite database file.
func sqliteTemplateData() ([]byte, error) {
	sqliteTemplate.once.Do(func() {
		sqliteTemplate.data, sqliteTemplate.err = makeSQLiteTemplate()
	})
	return sqliteTemplate.data, sqliteTemplate.err
}

func makeSQLiteTemplate() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "xiadan-testdb-")
	if err != nil {
		return nil, fmt.Errorf("testdb: SQLite template: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	db, err := database.Open(ctx, "sqlite://"+path, database.Options{Logger: quietLogger()})
	if err != nil {
		return nil, fmt.Errorf("testdb: SQLite template: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("testdb: SQLite template: %w", err)
	}
	// Fold the write-ahead log into the file, so the file alone is the whole database.
	if _, err := db.SQL.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("testdb: SQLite template: checkpoint: %w", err)
	}
	if err := db.Close(); err != nil {
		return nil, fmt.Errorf("testdb: SQLite template: %w", err)
	}
	return os.ReadFile(path)
}

// cloneSQLite writes the template to the file of url when that file does not exist yet,
// and reports whether it did.
func cloneSQLite(rawURL string) (bool, error) {
	path := strings.TrimPrefix(rawURL, "sqlite://")
	if path == ":memory:" || path == "" || strings.Contains(path, "?") {
		return false, nil
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	data, err := sqliteTemplateData()
	if err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, fmt.Errorf("testdb: copying the SQLite template: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return false, fmt.Errorf("testdb: copying the SQLite template: %w", err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("testdb: copying the SQLite template: %w", err)
	}
	return true, nil
}

// mysqlTable is one table of the MySQL template: how to create it and its rows.
type mysqlTable struct {
	name   string
	create string
	cols   []string
	rows   [][]any
}

// mysqlTemplate is the migrated MySQL schema, read once per test binary from a template
// database that is dropped right after.
var mysqlTemplate struct {
	once   sync.Once
	tables []mysqlTable
	err    error
}

func mysqlTemplateTables(cfg *mysql.Config) ([]mysqlTable, error) {
	mysqlTemplate.once.Do(func() {
		mysqlTemplate.tables, mysqlTemplate.err = makeMySQLTemplate(cfg)
	})
	return mysqlTemplate.tables, mysqlTemplate.err
}

func makeMySQLTemplate(cfg *mysql.Config) (tables []mysqlTable, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	server, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	defer server.Close()
	name := newDatabaseName() + "_tpl"
	if _, err := server.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		return nil, fmt.Errorf("testdb: creating the MySQL template %s: %w", name, err)
	}
	defer func() {
		if _, dropErr := server.ExecContext(context.Background(), "DROP DATABASE IF EXISTS `"+name+"`"); dropErr != nil && err == nil {
			err = fmt.Errorf("testdb: dropping the MySQL template %s: %w", name, dropErr)
		}
	}()
	db, err := database.Open(ctx, databaseURL(cfg, name), database.Options{Logger: quietLogger()})
	if err != nil {
		return nil, fmt.Errorf("testdb: MySQL template: %w", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("testdb: MySQL template: %w", err)
	}
	rows, err := db.SQL.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", name)
	if err != nil {
		return nil, fmt.Errorf("testdb: MySQL template: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("testdb: MySQL template: %w", err)
		}
		names = append(names, n)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("testdb: MySQL template: %w", err)
	}
	// Rows are read as the server prints them (no time parsing), to be inserted back as is.
	plain := cfg.Clone()
	plain.DBName = name
	plain.ParseTime = false
	connector, err := mysql.NewConnector(plain)
	if err != nil {
		return nil, fmt.Errorf("testdb: MySQL template: %w", err)
	}
	raw := sql.OpenDB(connector)
	defer raw.Close()
	for _, n := range names {
		tb := mysqlTable{name: n}
		var ignored string
		if err := db.SQL.QueryRowContext(ctx, "SHOW CREATE TABLE `"+n+"`").Scan(&ignored, &tb.create); err != nil {
			return nil, fmt.Errorf("testdb: MySQL template: %s: %w", n, err)
		}
		if tb.cols, tb.rows, err = readRows(ctx, raw, n); err != nil {
			return nil, fmt.Errorf("testdb: MySQL template: %s: %w", n, err)
		}
		tables = append(tables, tb)
	}
	return tables, nil
}

// readRows reads every row of table as raw values (nil for NULL, bytes otherwise).
func readRows(ctx context.Context, db *sql.DB, table string) ([]string, [][]any, error) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM `"+table+"`")
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]any
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make([]any, len(cols))
		for i, b := range raw {
			if b != nil {
				row[i] = string(b)
			}
		}
		out = append(out, row)
	}
	return cols, out, rows.Err()
}

// cloneMySQL copies the template into the database name when it has no table yet, and
// reports whether it did.
func cloneMySQL(cfg *mysql.Config, name string) (bool, error) {
	if !strings.HasPrefix(name, dbPrefix) {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server, err := connect(cfg)
	if err != nil {
		return false, err
	}
	defer server.Close()
	var n int
	if err := server.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", name).Scan(&n); err != nil {
		return false, fmt.Errorf("testdb: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	tables, err := mysqlTemplateTables(cfg)
	if err != nil {
		return false, err
	}
	// Connections to the new database, with foreign key checks off so tables can be
	// created in any order. Each table is its own DDL transaction and the server's time
	// goes to flushing it, so a few connections creating tables side by side finish
	// several times sooner than one.
	c := cfg.Clone()
	c.DBName = name
	c.MultiStatements = true
	c.Params = map[string]string{"foreign_key_checks": "0"}
	connector, err := mysql.NewConnector(c)
	if err != nil {
		return false, fmt.Errorf("testdb: %w", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	const workers = 4
	db.SetMaxOpenConns(workers)
	db.SetMaxIdleConns(workers)
	var (
		wg   sync.WaitGroup
		errs = make([]error, workers)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var script strings.Builder
			for i := w; i < len(tables); i += workers {
				script.WriteString(tables[i].create)
				script.WriteString(";\n")
			}
			if script.Len() == 0 {
				return
			}
			if _, err := db.ExecContext(ctx, script.String()); err != nil {
				errs[w] = err
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return false, fmt.Errorf("testdb: copying the MySQL template into %s: %w", name, err)
	}
	for _, tb := range tables {
		if len(tb.rows) == 0 {
			continue
		}
		stmt := "INSERT INTO `" + tb.name + "` (`" + strings.Join(tb.cols, "`, `") + "`) VALUES (" +
			strings.TrimSuffix(strings.Repeat("?, ", len(tb.cols)), ", ") + ")"
		for _, row := range tb.rows {
			if _, err := db.ExecContext(ctx, stmt, row...); err != nil {
				return false, fmt.Errorf("testdb: copying the rows of %s into %s: %w", tb.name, name, err)
			}
		}
	}
	return true, nil
}

// databaseURL is the mysql:// URL of database name on the server of cfg.
func databaseURL(cfg *mysql.Config, name string) string {
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + name}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else if cfg.User != "" {
		u.User = url.User(cfg.User)
	}
	return u.String()
}

// mysqlDatabaseOf returns the database name of a mysql:// URL on the MYSQL_TEST_DSN server.
func mysqlDatabaseOf(rawURL string) (string, bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "mysql" {
		return "", false
	}
	return strings.TrimPrefix(u.Path, "/"), true
}
