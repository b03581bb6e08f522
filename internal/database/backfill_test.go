package database_test

import (
	"context"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/migrate/migrations"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/testdb"
)

// productSlugsMigration is the migration that added products.slug with its backfill.
const productSlugsMigration = "20261206051945_product_slugs.sql"

// TestProductSlugBackfill checks that products created before slugs existed get unique
// slugs ("p-<id>") when the database is brought up to date: by the versioned migration on
// MySQL, by the backfill before Ent's automatic migration on SQLite.
func TestProductSlugBackfill(t *testing.T) {
	ctx := context.Background()
	// insertOld writes two products as the code before slugs did, on one connection with
	// foreign keys off (their merchant does not matter here).
	insertOld := func(t *testing.T, db *database.DB, fkOff, fkOn string) {
		t.Helper()
		conn, err := db.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, fkOff); err != nil {
			t.Fatal(err)
		}
		defer conn.ExecContext(ctx, fkOn) // the connection goes back to the pool
		for _, id := range []int{1 << 33, 1<<33 + 1} {
			if _, err := conn.ExecContext(ctx, "INSERT INTO `products` (`id`, `created_at`, `updated_at`, `merchant_id`, `title`, `description`, `kind`, `status`, `images`, `attributes`, `sales_count`) "+
				"VALUES (?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 42, '西湖龙井', '', 'PHYSICAL', 'DRAFT', '[]', '[]', 0)", id); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(t *testing.T, db *database.DB) {
		t.Helper()
		rows, err := db.SQL.QueryContext(ctx, "SELECT `id`, `slug` FROM `products` ORDER BY `id`")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id int
			var slug string
			if err := rows.Scan(&id, &slug); err != nil {
				t.Fatal(err)
			}
			got = append(got, slug)
		}
		if strings.Join(got, ",") != "p-8589934592,p-8589934593" {
			t.Fatalf("slugs %v", got)
		}
		// The column is unique now.
		if _, err := db.SQL.ExecContext(ctx, "UPDATE `products` SET `slug` = 'p-8589934592'"); err == nil {
			t.Fatal("duplicate slugs accepted")
		}
	}

	t.Run("mysql", func(t *testing.T) {
		t.Parallel()
		db, err := database.Open(ctx, testdb.MySQLURL(t), database.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		files := map[string]string{}
		entries, err := fs.ReadDir(migrations.FS, ".")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".sql") && e.Name() < productSlugsMigration {
				b, err := fs.ReadFile(migrations.FS, e.Name())
				if err != nil {
					t.Fatal(err)
				}
				files[e.Name()] = string(b)
			}
		}
		if err := database.MigrateFS(ctx, db, sumFS(t, files)); err != nil {
			t.Fatal(err)
		}
		insertOld(t, db, "SET FOREIGN_KEY_CHECKS = 0", "SET FOREIGN_KEY_CHECKS = 1")
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		check(t, db)
	})

	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		url := testdb.SQLiteURL(t)
		db, err := database.Open(ctx, url, database.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		// Back to the schema before slugs.
		for _, stmt := range []string{"DROP INDEX IF EXISTS `products_slug_key`", "DROP INDEX IF EXISTS `slug`", "ALTER TABLE `products` DROP COLUMN `slug`"} {
			if _, err := db.SQL.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		insertOld(t, db, "PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = ON")
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		check(t, db)
	})
}
