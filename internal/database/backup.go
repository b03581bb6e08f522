package database

// Backup and restore (docs/OPERATIONS.md, "Backup and restore"):
//
//   - SQLite: an online backup with VACUUM INTO, a consistent copy taken inside one read
//     transaction while the server keeps serving; restore checks the copy's integrity and
//     puts it in place of a missing or empty database file (the server stopped).
//   - MySQL: a logical dump by mariadb-dump (or mysqldump) with --single-transaction, one
//     consistent snapshot without locking the tables; restore feeds it to the mariadb (or
//     mysql) client, into an empty database only.
//
// Summary counts the rows of every table and sums the money columns, so that a restore
// can be checked against its source (.ci/backup-drill.sh).

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"entgo.io/ent/dialect"
	"github.com/go-sql-driver/mysql"
)

// Backup writes a consistent copy of the database at rawURL to file, which must not exist.
func Backup(ctx context.Context, rawURL, file string) error {
	u, err := parseURL(rawURL)
	if err != nil {
		return err
	}
	if _, err := os.Stat(file); err == nil {
		return fmt.Errorf("backup: %s exists; choose a new file", file)
	}
	switch u.Scheme {
	case "sqlite":
		return backupSQLite(ctx, u, file)
	case "mysql":
		return backupMySQL(ctx, u, file)
	}
	return fmt.Errorf("backup: unsupported database %q", u.Scheme)
}

// Restore loads the backup in file into the database at rawURL, which must be empty (a
// new database: no tables). Run migrations afterwards (xiadan migrate, or serve) when the
// backup is older than the binary.
func Restore(ctx context.Context, rawURL, file string) error {
	u, err := parseURL(rawURL)
	if err != nil {
		return err
	}
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	switch u.Scheme {
	case "sqlite":
		return restoreSQLite(ctx, u, file)
	case "mysql":
		return restoreMySQL(ctx, u, file)
	}
	return fmt.Errorf("restore: unsupported database %q", u.Scheme)
}

func backupSQLite(ctx context.Context, u *url.URL, file string) error {
	if u.Path == ":memory:" {
		return errors.New("backup: an in-memory database cannot be backed up from another process")
	}
	db, _, err := openSQLite(ctx, u)
	if err != nil {
		return err
	}
	defer db.Close()
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	// VACUUM INTO copies the database as of one read transaction, page by page, into a new
	// file: writers go on meanwhile, and the copy is compact and self-contained (no WAL).
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
		return fmt.Errorf("backup: VACUUM INTO: %w", err)
	}
	return nil
}

func restoreSQLite(ctx context.Context, u *url.URL, file string) error {
	if u.Path == ":memory:" {
		return errors.New("restore: restore into a file database, not :memory:")
	}
	if err := checkSQLiteFile(ctx, file); err != nil {
		return err
	}
	if info, err := os.Stat(u.Path); err == nil && info.Size() > 0 {
		n, err := sqliteTables(ctx, u)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("restore: %s already holds %d tables; restore into a new database", u.Path, n)
		}
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(u.Path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	// Copy beside the target and rename, so the target is either absent or complete.
	tmp := u.Path + ".restoring"
	if err := copyFile(file, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, u.Path)
}

// checkSQLiteFile opens a backup read-only and runs SQLite's integrity check on it.
func checkSQLiteFile(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: filepath.ToSlash(file)}).EscapedPath()+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&result); err != nil {
		return fmt.Errorf("restore: %s is not a SQLite database: %w", file, err)
	}
	if result != "ok" {
		return fmt.Errorf("restore: %s fails SQLite's integrity check: %s", file, result)
	}
	return nil
}

func sqliteTables(ctx context.Context, u *url.URL) (int, error) {
	db, _, err := openSQLite(ctx, u)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").Scan(&n)
	return n, err
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// mysqlTool returns the first of names found on PATH.
func mysqlTool(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("none of %s is installed (apt-get install mariadb-client, or use them from another host: see docs/OPERATIONS.md)",
		strings.Join(names, ", "))
}

// mysqlClientArgs are the connection flags of the MySQL command-line tools for u; the
// password goes in the environment (MYSQL_PWD), never on the command line.
func mysqlClientArgs(u *url.URL) (args, env []string, dbName string, err error) {
	cfg, err := mysqlConfig(u)
	if err != nil {
		return nil, nil, "", err
	}
	host, port, _ := strings.Cut(cfg.Addr, ":")
	host = strings.Trim(host, "[]")
	args = []string{"--protocol=TCP", "--host=" + host, "--port=" + port, "--default-character-set=utf8mb4"}
	if cfg.User != "" {
		args = append(args, "--user="+cfg.User)
	}
	env = os.Environ()
	if cfg.Passwd != "" {
		env = append(env, "MYSQL_PWD="+cfg.Passwd)
	}
	return args, env, cfg.DBName, nil
}

func backupMySQL(ctx context.Context, u *url.URL, file string) error {
	tool, err := mysqlTool("mariadb-dump", "mysqldump")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	args, env, dbName, err := mysqlClientArgs(u)
	if err != nil {
		return err
	}
	// --single-transaction: one consistent InnoDB snapshot, without locking the tables;
	// the schema has no routines, triggers or events to dump.
	args = append(args, "--single-transaction", "--quick", "--skip-lock-tables", "--no-tablespaces", "--hex-blob",
		"--skip-triggers", "--result-file="+file+".partial", dbName)
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		_ = os.Remove(file + ".partial")
		return fmt.Errorf("backup: %s: %w: %s", filepath.Base(tool), err, strings.TrimSpace(stderr.String()))
	}
	return os.Rename(file+".partial", file)
}

func restoreMySQL(ctx context.Context, u *url.URL, file string) error {
	tool, err := mysqlTool("mariadb", "mysql")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	cfg, err := mysqlConfig(u)
	if err != nil {
		return err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	var n int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&n)
	_ = db.Close()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("restore: the database already holds %d tables; restore into a new database", n)
	}
	args, env, dbName, err := mysqlClientArgs(u)
	if err != nil {
		return err
	}
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	cmd := exec.CommandContext(ctx, tool, append(args, "--batch", dbName)...)
	cmd.Env = env
	cmd.Stdin = in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("restore: %s: %w: %s", filepath.Base(tool), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// moneyColumn matches the integer columns Summary sums: amounts, totals, balances,
// prices, fees and points, all kept in minor units.
var moneyColumn = regexp.MustCompile(`amount|total|balance|price|fee|commission|points`)

// Summary is what a restore must keep: the rows of each table and the sum of each money
// column, one line each, sorted ("rows orders 42", "sum orders.total_amount 123456").
func (db *DB) Summary(ctx context.Context) ([]string, error) {
	tables, err := db.tableNames(ctx)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, t := range tables {
		var n int64
		if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteIdent(db.Dialect, t)).Scan(&n); err != nil {
			return nil, fmt.Errorf("summary: counting %s: %w", t, err)
		}
		lines = append(lines, fmt.Sprintf("rows %s %d", t, n))
		cols, err := db.integerColumns(ctx, t)
		if err != nil {
			return nil, err
		}
		for _, c := range cols {
			if !moneyColumn.MatchString(c) {
				continue
			}
			var sum sql.NullInt64
			q := fmt.Sprintf("SELECT SUM(%s) FROM %s", quoteIdent(db.Dialect, c), quoteIdent(db.Dialect, t))
			if err := db.SQL.QueryRowContext(ctx, q).Scan(&sum); err != nil {
				return nil, fmt.Errorf("summary: summing %s.%s: %w", t, c, err)
			}
			lines = append(lines, fmt.Sprintf("sum %s.%s %d", t, c, sum.Int64))
		}
	}
	sort.Strings(lines)
	return lines, nil
}

func quoteIdent(d, name string) string {
	if d == dialect.MySQL {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (db *DB) tableNames(ctx context.Context) ([]string, error) {
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	if db.Dialect == dialect.MySQL {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name"
	}
	return db.strings(ctx, q)
}

func (db *DB) integerColumns(ctx context.Context, table string) ([]string, error) {
	if db.Dialect == dialect.MySQL {
		return db.strings(ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? "+
			"AND data_type IN ('tinyint','smallint','mediumint','int','bigint') ORDER BY column_name", table)
	}
	return db.strings(ctx, "SELECT name FROM pragma_table_info(?) WHERE lower(type) IN ('integer','int','bigint','smallint','tinyint') ORDER BY name", table)
}

func (db *DB) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := db.SQL.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
