package database

import (
	"context"
	"fmt"
)

// sqliteBackfill prepares an existing SQLite database for what Ent's automatic migration
// cannot do alone: a new required, unique column on a table that already has rows. Each
// step mirrors the backfill of a versioned MySQL migration and does nothing on a new
// database or one that already has the column.
func (db *DB) sqliteBackfill(ctx context.Context) error {
	steps := []struct{ table, column, add, fill string }{
		// 20261206051945_product_slugs.sql: products get slug "p-<id>".
		{"products", "slug", "ALTER TABLE `products` ADD COLUMN `slug` text NULL",
			"UPDATE `products` SET `slug` = 'p-' || `id` WHERE `slug` IS NULL"},
		// The storefront_on_sale migration: products flagged on sale from their and their
		// merchant's status (internal/catalog/hooks ProductOnSaleHook keeps it after).
		{"products", "on_sale", "ALTER TABLE `products` ADD COLUMN `on_sale` bool NOT NULL DEFAULT false",
			"UPDATE `products` SET `on_sale` = true WHERE `status` = 'ACTIVE' AND `merchant_id` IN " +
				"(SELECT `id` FROM `merchants` WHERE `status` = 'ACTIVE' AND `removed_at` IS NULL)"},
	}
	for _, s := range steps {
		var tables, columns int
		if err := db.SQL.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", s.table).Scan(&tables); err != nil {
			return fmt.Errorf("database: backfilling %s.%s: %w", s.table, s.column, err)
		}
		if tables == 0 {
			continue
		}
		if err := db.SQL.QueryRowContext(ctx, "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?", s.table, s.column).Scan(&columns); err != nil {
			return fmt.Errorf("database: backfilling %s.%s: %w", s.table, s.column, err)
		}
		if columns > 0 {
			continue
		}
		for _, stmt := range []string{s.add, s.fill} {
			if _, err := db.SQL.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("database: backfilling %s.%s: %w", s.table, s.column, err)
			}
		}
	}
	return nil
}
