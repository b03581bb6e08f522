package app_test

import (
	"bytes"
	"context"
	stdsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/ent/address"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/testdb"
)

// blockedStatement is a statement the server sent that matched a watch: when it started,
// and how it ended.
type blockedStatement struct {
	started chan struct{}
	ended   chan error
}

// statementWatch tells a test when the server starts, and ends, its first statement that
// matches: the signal that a request is blocked in the database, and then that it
// stopped.
type statementWatch struct {
	match func(query string) bool
	armed atomic.Bool // statements before arm (the test's set-up) are not watched
	// requestOnly watches only statements of HTTP requests.
	requestOnly bool
	once        sync.Once
	st          blockedStatement
}

func newStatementWatch(match func(string) bool) *statementWatch {
	return &statementWatch{match: match, st: blockedStatement{started: make(chan struct{}), ended: make(chan error, 1)}}
}

// observe runs one statement (BEGIN for a transaction) and reports it if it is the watched
// one. With requestOnly, only a request's statements are watched (its context carries a
// request id): on SQLite the event relay's and the jobs' transactions wait for the test's
// write lock too, and on a busy machine one of them could be the first.
func (w *statementWatch) observe(ctx context.Context, query string, run func() error) error {
	if !w.armed.Load() || !w.match(query) || w.requestOnly && audit.RequestID(ctx) == "" {
		return run()
	}
	mine := false
	w.once.Do(func() { mine = true; close(w.st.started) })
	err := run()
	if mine {
		w.st.ended <- err
	}
	return err
}

// watchingDriver reports the watched statement of a statementWatch.
type watchingDriver struct {
	dialect.Driver
	w *statementWatch
}

func (d watchingDriver) Exec(ctx context.Context, query string, args, v any) error {
	return d.w.observe(ctx, query, func() error { return d.Driver.Exec(ctx, query, args, v) })
}

func (d watchingDriver) Query(ctx context.Context, query string, args, v any) error {
	return d.w.observe(ctx, query, func() error { return d.Driver.Query(ctx, query, args, v) })
}

func (d watchingDriver) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	return d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	}).ExecContext(ctx, query, args...)
}

func (d watchingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	var tx dialect.Tx
	err := d.w.observe(ctx, "BEGIN", func() (err error) { tx, err = d.Driver.Tx(ctx); return err })
	if err != nil {
		return nil, err
	}
	return watchingTx{Tx: tx, w: d.w}, nil
}

type watchingTx struct {
	dialect.Tx
	w *statementWatch
}

func (t watchingTx) Exec(ctx context.Context, query string, args, v any) error {
	return t.w.observe(ctx, query, func() error { return t.Tx.Exec(ctx, query, args, v) })
}

func (t watchingTx) Query(ctx context.Context, query string, args, v any) error {
	return t.w.observe(ctx, query, func() error { return t.Tx.Query(ctx, query, args, v) })
}

func (t watchingTx) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	return t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	}).ExecContext(ctx, query, args...)
}

// watchedServer is the real handler on a database whose blocked statement a test watches.
type watchedServer struct {
	*apitest.Server
	watch *statementWatch
}

// newWatchedServer starts the real handler on dbURL with the request timeout given, and
// watches the first statement that matches: on SQLite the request transaction's BEGIN
// (which waits for the write lock), on MySQL the UPDATE of merchants (which waits for the
// row lock).
func newWatchedServer(t *testing.T, d testdb.Dialect, timeout time.Duration) *watchedServer {
	t.Helper()
	match := func(q string) bool { return strings.HasPrefix(q, "UPDATE `merchants`") }
	if d.Name == "sqlite" {
		match = func(q string) bool { return q == "BEGIN" }
	}
	w := newStatementWatch(match)
	w.requestOnly = d.Name == "sqlite"
	url := d.URL(t)
	if d.Name == "mysql" {
		// Without a kill the blocked statement would wait for its lock this long: far past
		// the test's guard, however slow the machine, so only the kill can end it in time.
		url += "?innodb_lock_wait_timeout=600"
	}
	s := apitest.NewWithDriver(t, url, func(drv dialect.Driver) dialect.Driver {
		return watchingDriver{Driver: drv, w: w}
	}, func(c *config.Config) { c.RequestTimeout = timeout })
	return &watchedServer{Server: s, watch: w}
}

// holdLock takes, on a connection of the test's own, the lock the request will wait for:
// SQLite's write lock, or MySQL's lock on the merchant's row. Release it with the
// returned func.
func holdLock(t *testing.T, s *watchedServer, merchantID int) func() {
	t.Helper()
	ctx := context.Background()
	tx, err := s.DB.SQL.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE takes the write lock
	if err != nil {
		t.Fatal(err)
	}
	if s.DB.Dialect == dialect.MySQL {
		var id int
		if err := tx.QueryRowContext(ctx, "SELECT id FROM merchants WHERE id = ? FOR UPDATE", merchantID).Scan(&id); err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Once
	release := func() { once.Do(func() { _ = tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

// runningUpdates counts the server's statements still running on MySQL that update
// merchants, other than the test's own.
func runningUpdates(t *testing.T, s *watchedServer) int {
	t.Helper()
	var n int
	err := s.DB.SQL.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM information_schema.PROCESSLIST "+
		"WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE 'UPDATE `merchants`%'").Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// processList describes the server's threads on the test's database, for a failure.
func processList(t *testing.T, s *watchedServer) string {
	t.Helper()
	rows, err := s.DB.SQL.QueryContext(context.Background(), "SELECT ID, COMMAND, TIME, COALESCE(STATE, ''), "+
		"COALESCE(LEFT(INFO, 120), '') FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()")
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, secs int64
		var cmd, state, info string
		if err := rows.Scan(&id, &cmd, &secs, &state, &info); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "thread %d %s %ds %q %q\n", id, cmd, secs, state, info)
	}
	return b.String()
}

// waitUntilNoUpdateRuns waits for MySQL to stop the blocked UPDATE. Without a KILL it
// would wait for the row lock until innodb_lock_wait_timeout (600 s for these servers).
func waitUntilNoUpdateRuns(t *testing.T, s *watchedServer) {
	t.Helper()
	guard := time.Now().Add(45 * time.Second) // a failure guard, far under the lock wait timeout (600 s)
	for runningUpdates(t, s) > 0 {
		if time.Now().After(guard) {
			t.Fatalf("the timed-out request's UPDATE is still running on the MySQL server:\n%s", processList(t, s))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// blockedMutation adds an address (a write) and then edits the merchant, whose lock the
// test holds: the request cannot finish before its deadline whatever the machine's speed.
const blockedMutation = `mutation($m: ID!, $a: AddressInput!) {
	addAddress(input: $a) { id }
	updateMerchant(id: $m, input: {description: "changed under a lock"}) { description }
}`

func blockedVars(m apitest.Merchant) map[string]any {
	return map[string]any{"m": m.ID, "a": map[string]any{"recipientName": "王小明", "phone": "13800138000",
		"province": "上海市", "city": "上海市", "street": "世纪大道 100 号"}}
}

// TestRequestTimeoutStopsTheDatabaseWork: a mutation blocked in the database past the
// request timeout is answered TIMEOUT, its statement is stopped on the server (MySQL
// kills it, SQLite stops waiting for the lock), and what it wrote before is rolled back.
func TestRequestTimeoutStopsTheDatabaseWork(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			// The lock is held until the answer arrives: no race with the machine's speed. Long
			// enough for the setup's requests (sign-ups hash passwords) on a loaded machine.
			const timeout = 5 * time.Second
			s := newWatchedServer(t, d, timeout)
			m := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
			release := holdLock(t, s, m.IntID)

			s.watch.armed.Store(true)
			r := s.Query(m.Owner.AccessToken, blockedMutation, blockedVars(m))
			select {
			case <-s.watch.st.started:
			default:
				t.Fatalf("the request never reached the locked statement: %s", r.Raw)
			}
			if r.Code() != "TIMEOUT" || len(r.Errors) != 1 || string(r.Data) != "null" ||
				r.Errors[0].Extensions["timeoutSeconds"] != timeout.Seconds() || r.Status != http.StatusOK {
				t.Fatalf("want one TIMEOUT error and no data, got (%d) %s", r.Status, r.Raw)
			}
			// The blocked statement returned, with the context's error, while the lock is
			// still held: it was stopped, not let through.
			select {
			case err := <-s.watch.st.ended:
				if !stoppedByContext(err) {
					t.Fatalf("the blocked statement ended with %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the blocked statement is still waiting")
			}
			if d.Name == "mysql" {
				waitUntilNoUpdateRuns(t, s)
			}
			release()

			client, ctx := s.Client()
			uid, _ := strconv.Atoi(m.Owner.UserID)
			if n := client.Address.Query().Where(address.UserID(uid)).CountX(ctx); n != 0 {
				t.Fatalf("the timed-out mutation's address was kept (%d)", n)
			}
			if got := client.Merchant.GetX(ctx, m.IntID).Description; got == "changed under a lock" {
				t.Fatal("the timed-out mutation's change was kept")
			}
			// The server is fine afterwards.
			s.MustQuery(m.Owner.AccessToken, `mutation($m: ID!) { updateMerchant(id: $m, input: {description: "later"}) { description } }`,
				map[string]any{"m": m.ID})
		})
	}
}

// TestDisconnectedClientStopsItsRequest: a client that goes away cancels its request; the
// server stops the statement it was blocked in instead of computing (or waiting) for
// nobody.
func TestDisconnectedClientStopsItsRequest(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := newWatchedServer(t, d, 10*time.Minute) // only the client ends this request
			m := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
			holdLock(t, s, m.IntID)

			s.watch.armed.Store(true)
			body, _ := json.Marshal(map[string]any{"query": blockedMutation, "variables": blockedVars(m)})
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.HTTP.URL+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+m.Owner.AccessToken)
			done := make(chan error, 1)
			go func() {
				res, err := http.DefaultClient.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
					err = errors.New("the server answered " + res.Status)
				}
				done <- err
			}()
			select {
			case <-s.watch.st.started:
			case err := <-done:
				t.Fatalf("the request ended before it was blocked: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("the request never reached the locked statement")
			}
			cancel() // the client goes away
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("client: %v", err)
			}
			select {
			case err := <-s.watch.st.ended:
				if !stoppedByContext(err) {
					t.Fatalf("the blocked statement ended with %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the abandoned request's statement is still waiting")
			}
			if d.Name == "mysql" {
				waitUntilNoUpdateRuns(t, s)
			}
		})
	}
}

// stoppedByContext reports whether a statement ended because its context did (rather
// than, say, SQLite's own busy timeout or MySQL's lock wait timeout).
func stoppedByContext(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		err != nil && strings.Contains(err.Error(), "interrupted")
}

// TestSubscriptionsOutliveTheRequestTimeout: a subscription is not a request with a
// deadline — it still delivers after a request started later has timed out.
func TestSubscriptionsOutliveTheRequestTimeout(t *testing.T) {
	t.Parallel()
	d := testdb.Dialects()[0]                  // SQLite: the deadline is the same code on both
	s := newWatchedServer(t, d, 5*time.Second) // long enough for the setup on a loaded machine
	w := newEvShop(t, s.Server)
	ws := s.DialWS(t, w.a.Owner.AccessToken)
	sub := ws.MustSubscribe(t, `subscription($m: ID!) { orderEvents(merchantID: $m) { type order { id } } }`,
		map[string]any{"m": w.a.ID})

	// A request that must wait for a lock past its deadline: when it is answered TIMEOUT,
	// the subscription has lived longer than REQUEST_TIMEOUT.
	release := holdLock(t, s, w.a.IntID)
	s.watch.armed.Store(true)
	if r := s.Query(w.a.Owner.AccessToken, blockedMutation, blockedVars(w.a)); r.Code() != "TIMEOUT" {
		t.Fatalf("the blocked request: %s", r.Raw)
	}
	release()

	order, _, _ := w.place(t, w.buyer.AccessToken, w.tea, "after-the-deadline")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil || ev.Type != "next" || !ev.Response.Contains(order) {
		t.Fatalf("the subscription after the deadline: %+v %v", ev, err)
	}
}
