package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// A cancelled context does not stop MySQL. go-sql-driver/mysql answers a context that ends
// mid-statement by closing its socket, but the server goes on running the statement — a
// long join, or a wait for a row lock (innodb_lock_wait_timeout, 50 s by default) — until
// it next reads from or writes to that socket. A request that timed out, or whose client
// went away, would leave its statement computing and its locks held.
//
// So every connection learns its server thread id when it opens, and a statement whose
// context ends before the statement returns is stopped on the server by killing its
// connection (KILL CONNECTION), sent on a small pool of its own (the main pool may be
// exhausted by the very statements that need stopping). The driver has closed the socket
// already, so nothing is lost by ending the server's side of it too, and the kill cannot
// miss: KILL QUERY only stops the statement running at that moment, and MariaDB clears a
// query kill when the thread begins its next statement, so a kill that reached the server
// before the statement did (a loaded machine) was lost, and the statement then waited for
// its lock until innodb_lock_wait_timeout. The killed connection is never reused. SQLite needs none of this: modernc.org/sqlite interrupts the statement (and a wait
// for the write lock) itself when its context ends.

// killTimeout bounds one attempt at a kill. Failed attempts are retried, waiting
// killBackoff and then twice as long each time, until killGiveUp has passed: longer than
// innodb_lock_wait_timeout (50 s by default), so a kill that cannot get through at first
// (a server out of connections, a loaded machine) still ends a lock wait before MySQL
// would have.
const (
	killTimeout = 5 * time.Second
	killBackoff = 50 * time.Millisecond
	killGiveUp  = time.Minute
)

// errUnknownThread is MySQL's ER_NO_SUCH_THREAD.
const errUnknownThread = 1094

// killingConnector opens connections that stop their statement on the server when its
// context ends.
type killingConnector struct {
	driver.Connector
	killer *sql.DB
	logger *slog.Logger
}

// Connect opens a connection and reads its server thread id.
func (k *killingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := k.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	id, err := connectionID(ctx, c)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("database: reading the MySQL connection id: %w", err)
	}
	return &killableConn{conn: c, id: id, k: k}, nil
}

func connectionID(ctx context.Context, c driver.Conn) (uint64, error) {
	q, ok := c.(driver.QueryerContext)
	if !ok {
		return 0, errors.New("the driver's connection cannot run queries")
	}
	rows, err := q.QueryContext(ctx, "SELECT CONNECTION_ID()", nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		return 0, err
	}
	switch v := dest[0].(type) {
	case int64:
		return uint64(v), nil
	case uint64:
		return v, nil
	case []byte:
		return strconv.ParseUint(string(v), 10, 64)
	}
	return 0, fmt.Errorf("unexpected connection id %T", dest[0])
}

// kill ends server thread id and the statement it runs, trying again while the kill
// itself fails.
func (k *killingConnector) kill(id uint64) {
	giveUp := time.Now().Add(killGiveUp)
	wait := killBackoff
	for {
		err := k.killOnce(id)
		if err == nil || strings.Contains(err.Error(), "database is closed") { // shut down
			return
		}
		if time.Now().Add(wait).After(giveUp) {
			k.logger.Warn("database: stopping a cancelled MySQL statement", "thread", id, "err", err)
			return
		}
		time.Sleep(wait)
		wait = min(2*wait, 5*time.Second)
	}
}

func (k *killingConnector) killOnce(id uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	_, err := k.killer.ExecContext(ctx, "KILL CONNECTION "+strconv.FormatUint(id, 10))
	var my *mysql.MySQLError
	if errors.As(err, &my) && my.Number == errUnknownThread {
		return nil // the server had already ended the connection the driver closed
	}
	return err
}

// killableConn is a driver connection whose statements are killed on the server when
// their context ends. It offers what go-sql-driver's connection offers database/sql.
type killableConn struct {
	conn driver.Conn
	id   uint64
	k    *killingConnector
	// killed marks a connection a kill was sent for: it is never used again.
	killed atomic.Bool
}

var _ interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
} = (*killableConn)(nil)

// watch kills the connection's statement if ctx ends before the returned func is called.
// The func waits until a kill under way has marked the connection (so database/sql never
// hands it out again), not for the kill itself: that goes on in the background, retried
// until it gets through, and the caller has its answer (the context's error) already.
func (c *killableConn) watch(ctx context.Context) func() {
	if ctx.Done() == nil {
		return func() {}
	}
	marked := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.killed.Store(true)
		close(marked)
		c.k.kill(c.id)
	})
	return func() {
		if !stop() {
			<-marked
		}
	}
}

func (c *killableConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *killableConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &killableStmt{Stmt: st, c: c}, nil
}

func (c *killableConn) Close() error { return c.conn.Close() }

func (c *killableConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *killableConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *killableConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	defer c.watch(ctx)()
	res, err := c.conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	noteDeadlock(ctx, err)
	return res, err
}

func (c *killableConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	defer c.watch(ctx)()
	rows, err := c.conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	noteDeadlock(ctx, err)
	return rows, err
}

func (c *killableConn) Ping(ctx context.Context) error {
	if c.killed.Load() {
		return driver.ErrBadConn
	}
	return c.conn.(driver.Pinger).Ping(ctx)
}

func (c *killableConn) ResetSession(ctx context.Context) error {
	if c.killed.Load() {
		return driver.ErrBadConn
	}
	return c.conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *killableConn) IsValid() bool {
	return !c.killed.Load() && c.conn.(driver.Validator).IsValid()
}

func (c *killableConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

// killableStmt is a prepared statement of a killableConn (go-sql-driver prepares only when
// it cannot inline the arguments itself).
type killableStmt struct {
	driver.Stmt
	c *killableConn
}

func (s *killableStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	defer s.c.watch(ctx)()
	res, err := s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	noteDeadlock(ctx, err)
	return res, err
}

func (s *killableStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	defer s.c.watch(ctx)()
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	noteDeadlock(ctx, err)
	return rows, err
}

func (s *killableStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
