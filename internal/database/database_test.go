package database_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Both dialects open, migrate, and round-trip an entity through Ent with the runtime
// (defaults, privacy) wired in and the global ID range of its type applied.
func TestOpenMigrateRoundTrip(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			var statements atomic.Int64
			db := testdb.Open(t, d.URL(t), database.Options{WrapDriver: func(drv dialect.Driver) dialect.Driver {
				return &countingDriver{Driver: drv, n: &statements}
			}})
			ctx := viewer.SystemContext(context.Background())
			if err := db.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			before := time.Now().UTC().Add(-time.Second)
			c, err := db.Client.Category.Create().SetName("Books").SetSlug("books").Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.ID>>32 != 1 {
				t.Errorf("category id %d is outside the categories range [1<<32, 2<<32)", c.ID)
			}
			got, err := db.Client.Category.Get(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, offset := got.CreatedAt.Zone(); got.Name != "Books" || offset != 0 ||
				got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) {
				t.Errorf("read back %+v (created_at %v)", got, got.CreatedAt)
			}
			if statements.Load() == 0 {
				t.Error("WrapDriver saw no statements")
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := db.Ping(ctx); err == nil {
				t.Error("Ping after Close succeeded")
			}
		})
	}
}

func TestSQLiteFilePersists(t *testing.T) {
	url := testdb.SQLiteURL(t)
	ctx := viewer.SystemContext(context.Background())
	db := testdb.Open(t, url, database.Options{})
	if db.Dialect != dialect.SQLite {
		t.Fatalf("dialect %q", db.Dialect)
	}
	if _, err := db.Client.Category.Create().SetName("Toys").SetSlug("toys").Save(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	again := testdb.Open(t, url, database.Options{}) // migrating again is a no-op
	if n := again.Client.Category.Query().CountX(ctx); n != 1 {
		t.Fatalf("%d categories after reopening, want 1", n)
	}
	var fk, journal string
	if err := again.SQL.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if err := again.SQL.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
		t.Fatal(err)
	}
	if fk != "1" || journal != "wal" {
		t.Errorf("foreign_keys=%s journal_mode=%s", fk, journal)
	}
}

// Each sqlite://:memory: is its own database, shared by all connections of its pool.
func TestSQLiteMemory(t *testing.T) {
	ctx := viewer.SystemContext(context.Background())
	a := testdb.Open(t, "sqlite://:memory:", database.Options{})
	b := testdb.Open(t, "sqlite://:memory:", database.Options{})
	if _, err := a.Client.Category.Create().SetName("Toys").SetSlug("toys").Save(ctx); err != nil {
		t.Fatal(err)
	}
	// Hold connections so that the next queries need others from the pool.
	var conns []any
	for range 3 {
		c, err := a.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if n := a.Client.Category.Query().CountX(ctx); n != 1 {
		t.Errorf("a has %d categories, want 1", n)
	}
	if n := b.Client.Category.Query().CountX(ctx); n != 0 {
		t.Errorf("b has %d categories, want 0", n)
	}
}

// Concurrent write transactions that read before they write queue for the write lock
// instead of failing with SQLITE_BUSY.
func TestSQLiteConcurrentWrites(t *testing.T) {
	for _, url := range []string{testdb.SQLiteURL(t), "sqlite://:memory:"} {
		t.Run(filepath.Base(url), func(t *testing.T) {
			db := testdb.Open(t, url, database.Options{})
			ctx := viewer.SystemContext(context.Background())
			const workers, each = 12, 15
			var wg sync.WaitGroup
			errs := make(chan error, workers*each)
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						errs <- writeCategory(ctx, db.Client, fmt.Sprintf("c-%d-%d", w, i))
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if n := db.Client.Category.Query().CountX(ctx); n != workers*each {
				t.Fatalf("%d categories, want %d", n, workers*each)
			}
		})
	}
}

// writeCategory reads, then writes, in one transaction: the pattern that fails at once on
// SQLite when transactions start deferred.
func writeCategory(ctx context.Context, client *ent.Client, slug string) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	n, err := tx.Category.Query().Count(ctx)
	if err == nil {
		_, err = tx.Category.Create().SetName(slug).SetSlug(slug).SetPosition(n).Save(ctx)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", slug, errors.Join(err, tx.Rollback()))
	}
	return tx.Commit()
}

// countingDriver counts the statements sent through it, as the N+1 tests do.
type countingDriver struct {
	dialect.Driver
	n *atomic.Int64
}

func (d *countingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Exec(ctx, query, args, v)
}

func (d *countingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Query(ctx, query, args, v)
}

// Debug logs statements, never their arguments.
func TestDebugLogsWithoutArguments(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db := testdb.Open(t, testdb.SQLiteURL(t), database.Options{Debug: true, Logger: logger})
	ctx := viewer.SystemContext(context.Background())
	if _, err := db.Client.Category.Create().SetName("arg-value-7f3a").SetSlug("arg-value-9c1d").Save(ctx); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "INSERT INTO") || strings.Contains(out, "arg-value-") {
		t.Errorf("debug log:\n%s", out)
	}
}
