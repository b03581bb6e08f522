package telemetry

import (
	"context"
	stdsql "database/sql"
	"errors"
	"time"

	"entgo.io/ent/dialect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// maxStatementText bounds the statement text recorded on a span (long IN lists).
const maxStatementText = 2048

// WrapDriver returns drv timing and counting every statement, inside transactions too,
// and recording a span for each one sent while a request's span is active. Spans carry
// the statement text with its placeholders, never the argument values. With metrics and
// tracing off it returns drv itself. Install it with database.Options{WrapDriver: …}.
func (t *Telemetry) WrapDriver(drv dialect.Driver) dialect.Driver {
	if !t.MetricsOn() && !t.TracingOn() {
		return drv
	}
	return &tracedDriver{Driver: drv, t: t}
}

// statementKind is the metric label of a statement: its first keyword when it is one of
// a few, OTHER otherwise.
func statementKind(query string) string {
	i := 0
	for i < len(query) && (query[i] == ' ' || query[i] == '\t' || query[i] == '\r' || query[i] == '\n' || query[i] == '(') {
		i++
	}
	j := i
	for j < len(query) && j-i < 8 && (query[j] >= 'A' && query[j] <= 'Z' || query[j] >= 'a' && query[j] <= 'z') {
		j++
	}
	switch w := query[i:j]; {
	case equalFold(w, "SELECT"):
		return "SELECT"
	case equalFold(w, "INSERT"):
		return "INSERT"
	case equalFold(w, "UPDATE"):
		return "UPDATE"
	case equalFold(w, "DELETE"):
		return "DELETE"
	}
	return "OTHER"
}

// equalFold is strings.EqualFold for ASCII words, without its Unicode tables.
func equalFold(a, upper string) bool {
	if len(a) != len(upper) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

// statement starts the span of one statement (when the context has a recording span)
// and returns the func that ends it and records its duration.
func (t *Telemetry) statement(ctx context.Context, kind, query string) (context.Context, func(error)) {
	start := time.Now()
	var span trace.Span
	if t.tracer != nil && trace.SpanFromContext(ctx).IsRecording() {
		text := query
		if len(text) > maxStatementText {
			text = text[:maxStatementText]
		}
		ctx, span = t.tracer.Start(ctx, kind, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.query.text", text), attribute.String("db.operation.name", kind)))
	}
	return ctx, func(err error) {
		if t.m != nil {
			t.m.sqlDuration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
			if err != nil && !errors.Is(err, context.Canceled) {
				t.m.sqlErrors.WithLabelValues(kind).Inc()
			}
		}
		if span != nil {
			if err != nil {
				span.SetStatus(codes.Error, "statement failed")
			}
			span.End()
		}
	}
}

// tracedDriver observes the statements of an Ent driver.
type tracedDriver struct {
	dialect.Driver
	t *Telemetry
}

func (d *tracedDriver) Exec(ctx context.Context, query string, args, v any) error {
	ctx, done := d.t.statement(ctx, statementKind(query), query)
	err := d.Driver.Exec(ctx, query, args, v)
	done(err)
	return err
}

func (d *tracedDriver) Query(ctx context.Context, query string, args, v any) error {
	ctx, done := d.t.statement(ctx, statementKind(query), query)
	err := d.Driver.Query(ctx, query, args, v)
	done(err)
	return err
}

func (d *tracedDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	ctx, done := d.t.statement(ctx, "BEGIN", "BEGIN")
	tx, err := d.Driver.Tx(ctx)
	done(err)
	if err != nil {
		return nil, err
	}
	return &tracedTx{Tx: tx, t: d.t, ctx: ctx}, nil
}

// BeginTx is what ent.Client.BeginTx asserts the driver has.
func (d *tracedDriver) BeginTx(ctx context.Context, opts *stdsql.TxOptions) (dialect.Tx, error) {
	b, ok := d.Driver.(interface {
		BeginTx(context.Context, *stdsql.TxOptions) (dialect.Tx, error)
	})
	if !ok {
		return nil, errors.New("telemetry: the wrapped driver has no BeginTx")
	}
	ctx, done := d.t.statement(ctx, "BEGIN", "BEGIN")
	tx, err := b.BeginTx(ctx, opts)
	done(err)
	if err != nil {
		return nil, err
	}
	return &tracedTx{Tx: tx, t: d.t, ctx: ctx}, nil
}

func (d *tracedDriver) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	ctx, done := d.t.statement(ctx, statementKind(query), query)
	res, err := execContext(ctx, d.Driver, query, args)
	done(err)
	return res, err
}

func (d *tracedDriver) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	ctx, done := d.t.statement(ctx, statementKind(query), query)
	rows, err := queryContext(ctx, d.Driver, query, args)
	done(err)
	return rows, err
}

// tracedTx observes the statements of one transaction; ctx is the one it began with, for
// the spans of its commit or rollback.
type tracedTx struct {
	dialect.Tx
	t   *Telemetry
	ctx context.Context
}

func (x *tracedTx) Exec(ctx context.Context, query string, args, v any) error {
	ctx, done := x.t.statement(ctx, statementKind(query), query)
	err := x.Tx.Exec(ctx, query, args, v)
	done(err)
	return err
}

func (x *tracedTx) Query(ctx context.Context, query string, args, v any) error {
	ctx, done := x.t.statement(ctx, statementKind(query), query)
	err := x.Tx.Query(ctx, query, args, v)
	done(err)
	return err
}

func (x *tracedTx) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	ctx, done := x.t.statement(ctx, statementKind(query), query)
	res, err := execContext(ctx, x.Tx, query, args)
	done(err)
	return res, err
}

func (x *tracedTx) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	ctx, done := x.t.statement(ctx, statementKind(query), query)
	rows, err := queryContext(ctx, x.Tx, query, args)
	done(err)
	return rows, err
}

func (x *tracedTx) Commit() error {
	_, done := x.t.statement(x.ctx, "COMMIT", "COMMIT")
	err := x.Tx.Commit()
	done(err)
	return err
}

func (x *tracedTx) Rollback() error {
	_, done := x.t.statement(x.ctx, "ROLLBACK", "ROLLBACK")
	err := x.Tx.Rollback()
	done(err)
	return err
}

func execContext(ctx context.Context, x any, query string, args []any) (stdsql.Result, error) {
	e, ok := x.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	})
	if !ok {
		return nil, errors.New("driver.ExecContext is not supported")
	}
	return e.ExecContext(ctx, query, args...)
}

func queryContext(ctx context.Context, x any, query string, args []any) (*stdsql.Rows, error) {
	q, ok := x.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	})
	if !ok {
		return nil, errors.New("driver.QueryContext is not supported")
	}
	return q.QueryContext(ctx, query, args...)
}
