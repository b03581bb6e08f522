package bench

import (
	"context"
	stdsql "database/sql"
	"errors"
	"sync"
	"sync/atomic"

	"entgo.io/ent/dialect"
)

// StatementCounter counts the SQL statements sent to the database, so a run can report
// statements per request. Install it with database.Options{WrapDriver: c.Wrap}.
type StatementCounter struct {
	n atomic.Int64
	// recording, when set, keeps the text of each statement (see Record).
	recording atomic.Bool
	mu        sync.Mutex
	recorded  []string
	// only, when set, is the marker of the statements RecordCtx keeps.
	only *int
}

// Record returns the statements fn sends, in order. Nothing else may use the database
// meanwhile.
func (c *StatementCounter) Record(fn func()) []string {
	c.mu.Lock()
	c.recorded = nil
	c.mu.Unlock()
	c.recording.Store(true)
	fn()
	c.recording.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recorded
}

// count counts one statement, sent with ctx.
func (c *StatementCounter) count(ctx context.Context, query string) {
	c.n.Add(1)
	if c.recording.Load() {
		c.mu.Lock()
		if c.only == nil || ctx != nil && ctx.Value(recordKey{}) == c.only {
			c.recorded = append(c.recorded, query)
		}
		c.mu.Unlock()
	}
}

// recordKey marks the context of the statements RecordCtx keeps.
type recordKey struct{}

// RecordCtx returns the statements fn sends with the context it is given (or one derived
// from it), in order: the server's background work (the catalog feed, the event relay,
// jobs) may run meanwhile and is left out.
func (c *StatementCounter) RecordCtx(ctx context.Context, fn func(ctx context.Context)) []string {
	marker := new(int)
	c.mu.Lock()
	c.recorded, c.only = nil, marker
	c.mu.Unlock()
	c.recording.Store(true)
	fn(context.WithValue(ctx, recordKey{}, marker))
	c.recording.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.only = nil
	return c.recorded
}

// Wrap returns drv counting every statement sent through it, inside transactions too.
func (c *StatementCounter) Wrap(drv dialect.Driver) dialect.Driver {
	return &countingDriver{Driver: drv, c: c}
}

// Add counts a statement sent around the wrapped driver, as the baseline handler does.
func (c *StatementCounter) Add(query string) { c.count(nil, query) }

// Load returns the statements counted so far.
func (c *StatementCounter) Load() int64 { return c.n.Load() }

// countingDriver counts Exec and Query calls, and the raw ExecContext and QueryContext
// calls some hooks make, then passes them on.
type countingDriver struct {
	dialect.Driver
	c *StatementCounter
}

func (d *countingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.c.count(ctx, query)
	return d.Driver.Exec(ctx, query, args, v)
}

func (d *countingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.c.count(ctx, query)
	return d.Driver.Query(ctx, query, args, v)
}

func (d *countingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, c: d.c}, nil
}

// BeginTx is what ent.Client.BeginTx asserts the driver has.
func (d *countingDriver) BeginTx(ctx context.Context, opts *stdsql.TxOptions) (dialect.Tx, error) {
	b, ok := d.Driver.(interface {
		BeginTx(context.Context, *stdsql.TxOptions) (dialect.Tx, error)
	})
	if !ok {
		return nil, errors.New("bench: the wrapped driver has no BeginTx")
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, c: d.c}, nil
}

func (d *countingDriver) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	d.c.count(ctx, query)
	return execContext(ctx, d.Driver, query, args)
}

func (d *countingDriver) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	d.c.count(ctx, query)
	return queryContext(ctx, d.Driver, query, args)
}

// countingTx counts the statements of one transaction.
type countingTx struct {
	dialect.Tx
	c *StatementCounter
}

func (t *countingTx) Exec(ctx context.Context, query string, args, v any) error {
	t.c.count(ctx, query)
	return t.Tx.Exec(ctx, query, args, v)
}

func (t *countingTx) Query(ctx context.Context, query string, args, v any) error {
	t.c.count(ctx, query)
	return t.Tx.Query(ctx, query, args, v)
}

func (t *countingTx) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	t.c.count(ctx, query)
	return execContext(ctx, t.Tx, query, args)
}

func (t *countingTx) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	t.c.count(ctx, query)
	return queryContext(ctx, t.Tx, query, args)
}

func execContext(ctx context.Context, x any, query string, args []any) (stdsql.Result, error) {
	e, ok := x.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	})
	if !ok {
		return nil, errors.New("bench: the wrapped driver has no ExecContext")
	}
	return e.ExecContext(ctx, query, args...)
}

func queryContext(ctx context.Context, x any, query string, args []any) (*stdsql.Rows, error) {
	q, ok := x.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	})
	if !ok {
		return nil, errors.New("bench: the wrapped driver has no QueryContext")
	}
	return q.QueryContext(ctx, query, args...)
}
