package database

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"

	"entgo.io/ent/dialect"
)

// A request transaction on MySQL REPEATABLE READ reads from the snapshot of its first plain
// read. A mutation that finds, only after waiting on a lock, that another transaction did
// its work (the loser of a race for an idempotency key) must answer with that work, and
// every field resolver after it reads with plain reads: from the stale snapshot they would
// not see it. A transaction that has written nothing can safely end and begin again, which
// takes a new snapshot; renewing does exactly that behind the same Ent transaction.

// ErrWritten is returned by FreshSnapshot when the transaction has already written: ending
// it early would commit those writes before the operation is done.
var ErrWritten = errors.New("database: the transaction has written; its snapshot cannot be renewed")

// ErrNoRenewal is returned by FreshSnapshot when ctx carries no renewable transaction.
var ErrNoRenewal = errors.New("database: no renewable transaction in the context")

type renewalKey struct{}

// renewal is where the driver leaves the transaction it opens for a context prepared by
// WithRenewal.
type renewal struct {
	mu sync.Mutex
	tx *renewTx
}

// WithRenewal prepares ctx so that a transaction opened with it (the request transaction)
// can later be given a fresh snapshot with FreshSnapshot.
func WithRenewal(ctx context.Context) context.Context {
	return context.WithValue(ctx, renewalKey{}, &renewal{})
}

// FreshSnapshot ends the request transaction of ctx and begins a new one behind it, so
// that the reads that follow see every row committed until now. It refuses (ErrWritten)
// once the transaction has written anything.
func FreshSnapshot(ctx context.Context) error {
	r, ok := ctx.Value(renewalKey{}).(*renewal)
	if !ok {
		return ErrNoRenewal
	}
	r.mu.Lock()
	tx := r.tx
	r.mu.Unlock()
	if tx == nil {
		return ErrNoRenewal
	}
	return tx.renew(ctx)
}

// renewDriver opens renewable transactions.
type renewDriver struct{ dialect.Driver }

// Tx opens a transaction and, for a context prepared by WithRenewal, records it there.
func (d renewDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	rt := &renewTx{drv: d.Driver, cur: tx}
	if r, ok := ctx.Value(renewalKey{}).(*renewal); ok {
		r.mu.Lock()
		r.tx = rt
		r.mu.Unlock()
	}
	return rt, nil
}

// renewTx is a transaction whose underlying database transaction can be replaced by a new
// one while it has written nothing.
type renewTx struct {
	drv   dialect.Driver
	mu    sync.Mutex
	cur   dialect.Tx
	wrote bool
}

func (t *renewTx) current() dialect.Tx {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

// Exec runs a statement; a successful one counts as a write.
func (t *renewTx) Exec(ctx context.Context, query string, args, v any) error {
	err := t.current().Exec(ctx, query, args, v)
	if err == nil && !isRead(query) {
		t.mu.Lock()
		t.wrote = true
		t.mu.Unlock()
	}
	return err
}

// Query runs a query; an INSERT … RETURNING (SQLite) or other writing statement counts as
// a write even when it fails, as its effects are not known.
func (t *renewTx) Query(ctx context.Context, query string, args, v any) error {
	if !isRead(query) {
		t.mu.Lock()
		t.wrote = true
		t.mu.Unlock()
	}
	return t.current().Query(ctx, query, args, v)
}

func (t *renewTx) Commit() error   { return t.current().Commit() }
func (t *renewTx) Rollback() error { return t.current().Rollback() }

func (t *renewTx) renew(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.wrote {
		return ErrWritten
	}
	// Nothing was written: committing releases the locks taken by locking reads and the
	// snapshot, and changes nothing.
	if err := t.cur.Commit(); err != nil {
		return err
	}
	next, err := t.drv.Tx(ctx)
	if err != nil {
		return err
	}
	t.cur = next
	return nil
}

// isRead reports whether a statement only reads (SELECT, including locking reads).
func isRead(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

// execer is what Ent's ExecContext looks for on a driver or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// ExecContext passes raw statements on when the driver beneath supports them.
func (d renewDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := d.Driver.(execer)
	if !ok {
		return nil, errors.New("driver.ExecContext is not supported")
	}
	return ex.ExecContext(ctx, query, args...)
}

// ExecContext passes raw statements on when the transaction beneath supports them; one
// that succeeds counts as a write.
func (t *renewTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := t.current().(execer)
	if !ok {
		return nil, errors.New("Tx.ExecContext is not supported")
	}
	res, err := ex.ExecContext(ctx, query, args...)
	if err == nil && !isRead(query) {
		t.mu.Lock()
		t.wrote = true
		t.mu.Unlock()
	}
	return res, err
}
