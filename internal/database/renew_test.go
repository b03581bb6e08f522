package database_test

import (
	"context"
	"errors"
	"testing"

	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// A request transaction that has only read takes a fresh snapshot with FreshSnapshot and
// then sees a row committed after its first read, as plain reads (MySQL REPEATABLE READ
// would otherwise answer from the old snapshot); once it has written, it refuses. (SQLite's
// request transactions take the write lock at BEGIN, so no other writer commits meanwhile.)
func TestFreshSnapshot(t *testing.T) {
	dialects := []testdb.Dialect{
		{Name: "mysql-repeatable-read", URL: func(t testing.TB) string { return testdb.MySQLURLAt(t, testdb.RepeatableRead) }},
	}
	for _, d := range dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			db := testdb.Open(t, d.URL(t), database.Options{})
			ctx := viewer.SystemContext(context.Background())
			if err := database.FreshSnapshot(ctx); !errors.Is(err, database.ErrNoRenewal) {
				t.Fatalf("without a renewable transaction: %v", err)
			}
			rctx := database.WithRenewal(ctx)
			tx, err := db.Client.Tx(rctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			if n := tx.Category.Query().CountX(rctx); n != 0 {
				t.Fatalf("%d categories at first", n)
			}
			// Committed by another transaction after this one's first read.
			db.Client.Category.Create().SetName("Tea").SetSlug("tea").SaveX(ctx)
			if n := tx.Category.Query().CountX(rctx); n != 0 {
				t.Fatalf("REPEATABLE READ saw %d categories before the renewal; the test proves nothing", n)
			}
			if err := database.FreshSnapshot(rctx); err != nil {
				t.Fatal(err)
			}
			if n := tx.Category.Query().CountX(rctx); n != 1 {
				t.Fatalf("after a fresh snapshot: %d categories, want 1", n)
			}
			tx.Category.Create().SetName("Cups").SetSlug("cups").SaveX(rctx)
			if err := database.FreshSnapshot(rctx); !errors.Is(err, database.ErrWritten) {
				t.Fatalf("after a write: %v, want ErrWritten", err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if n := db.Client.Category.Query().CountX(ctx); n != 2 {
				t.Errorf("%d categories after commit, want 2", n)
			}
		})
	}
}
