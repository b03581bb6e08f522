package database_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// TestBackupRestore seeds the demo, backs it up while another transaction has written a
// row it has not committed yet (the backup is online and consistent: the row is not in
// it), restores the backup into a new database and checks that the restored database's
// Summary — rows per table, sums of money columns — equals the source's before that
// commit. Restoring into a database that has tables and backing up over a file are
// refused. On MySQL it needs mariadb-dump (or mysqldump) and the mariadb (or mysql)
// client, and is skipped without them.
func TestBackupRestore(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			if d.Name == "mysql" {
				for _, tools := range [][]string{{"mariadb-dump", "mysqldump"}, {"mariadb", "mysql"}} {
					if _, err := exec.LookPath(tools[0]); err != nil {
						if _, err := exec.LookPath(tools[1]); err != nil {
							t.Skipf("neither %s is installed", strings.Join(tools, " nor "))
						}
					}
				}
			}
			ctx := context.Background()
			srcURL := d.URL(t)
			src := testdb.Open(t, srcURL, database.Options{})
			if _, err := seed.Demo(ctx, src.Client, seed.Options{Password: "drill-password-1"}); err != nil {
				t.Fatal(err)
			}
			want, err := src.Summary(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(want, func(l string) bool { return strings.HasPrefix(l, "rows orders ") && l != "rows orders 0" }) {
				t.Fatalf("the demo has no orders: %v", want)
			}

			// A write in flight during the backup.
			tx, err := src.Client.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.AuditLog.Create().SetAction("drill.uncommitted").SetTargetType("User").SetTargetID(1).
				Exec(viewer.SystemContext(ctx)); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "backup")
			if err := database.Backup(ctx, srcURL, file); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := database.Backup(ctx, srcURL, file); err == nil || !strings.Contains(err.Error(), "exists") {
				t.Errorf("a backup over an existing file: %v", err)
			}
			if err := database.Restore(ctx, srcURL, file); err == nil || !strings.Contains(err.Error(), "restore into a new database") {
				t.Errorf("a restore into a database with tables: %v", err)
			}

			dstURL := d.URL(t)
			if err := database.Restore(ctx, dstURL, file); err != nil {
				t.Fatal(err)
			}
			dst, err := database.Open(ctx, dstURL, database.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			// The restored database is current: migrating it has nothing to do.
			if err := dst.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := dst.Summary(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("restored summary differs:\n got %v\nwant %v", got, want)
			}
			if _, err := os.Stat(file); err != nil {
				t.Error(err)
			}
		})
	}
}
