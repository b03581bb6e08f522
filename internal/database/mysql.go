package database

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL pool limits. The server's max_connections (151 by default) is shared by every
// instance of the service, so each instance keeps a modest pool; connections are recycled
// well before wait_timeout (8 h) and any proxy idle timeout would cut them.
const (
	mysqlMaxOpenConns    = 25
	mysqlMaxIdleConns    = 10
	mysqlConnMaxLifetime = 5 * time.Minute
	mysqlConnMaxIdleTime = time.Minute
	mysqlDialTimeout     = 10 * time.Second
	// mysqlKillerConns is the pool that kills the connections of cancelled statements.
	mysqlKillerConns = 2
)

// openMySQL opens a pool for a mysql:// URL, and the small pool that stops the statements
// of cancelled contexts on the server (see mysql_cancel.go).
func openMySQL(u *url.URL, logger *slog.Logger) (db, killer *sql.DB, err error) {
	cfg, err := mysqlConfig(u)
	if err != nil {
		return nil, nil, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("database: configuring MySQL for %s: %w", u.Redacted(), err)
	}
	killer = sql.OpenDB(connector)
	killer.SetMaxOpenConns(mysqlKillerConns)
	killer.SetMaxIdleConns(1)
	killer.SetConnMaxLifetime(mysqlConnMaxLifetime)
	killer.SetConnMaxIdleTime(mysqlConnMaxIdleTime)
	db = sql.OpenDB(&killingConnector{Connector: connector, killer: killer, logger: logger})
	db.SetMaxOpenConns(mysqlMaxOpenConns)
	db.SetMaxIdleConns(mysqlMaxIdleConns)
	db.SetConnMaxLifetime(mysqlConnMaxLifetime)
	db.SetConnMaxIdleTime(mysqlConnMaxIdleTime)
	return db, killer, nil
}

// mysqlConfig turns mysql://user:pass@host:3306/dbname?param=value into a driver config.
//
// Query parameters are go-sql-driver/mysql DSN parameters (tls, timeout, readTimeout, ...;
// unknown ones become session variables). The settings the application depends on are
// forced whatever the URL says:
//   - parseTime and loc=UTC, with the session time_zone at +00:00, so TIMESTAMP columns
//     hold and return UTC whatever the server's zone is;
//   - utf8mb4 with utf8mb4_bin, the collation of every table, which compares strings
//     byte for byte exactly as SQLite does, so both dialects agree on equality and order;
//   - no multi-statements, which would let one injected string run several statements;
//   - clientFoundRows, so an UPDATE's rows affected counts the rows its WHERE matched, as on
//     SQLite, not only those whose values changed: a conditional write (… WHERE status = ?)
//     is won exactly when it reports a row.
func mysqlConfig(u *url.URL) (*mysql.Config, error) {
	if u.Opaque != "" || u.Host == "" {
		return nil, errors.New("database: malformed mysql URL: want mysql://user:pass@host:3306/dbname")
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	if dbName == "" || strings.Contains(dbName, "/") {
		return nil, fmt.Errorf("database: malformed mysql URL %s: the path must be the database name", u.Redacted())
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "3306"
	}
	cfg, err := mysql.ParseDSN("tcp(" + net.JoinHostPort(host, port) + ")/?" + u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("database: bad parameters in mysql URL %s: %w", u.Redacted(), err)
	}
	cfg.DBName = dbName
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Collation = "utf8mb4_bin"
	cfg.MultiStatements = false
	cfg.ClientFoundRows = true
	// With a safe charset the driver inlines arguments itself, saving the prepare and
	// close round trips a server-side prepared statement costs for every query.
	cfg.InterpolateParams = true
	if cfg.Timeout == 0 {
		cfg.Timeout = mysqlDialTimeout
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	return cfg, nil
}
