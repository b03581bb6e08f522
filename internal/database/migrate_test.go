package database_test

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"github.com/xiadan/xiadan/ent/migrate/migrations"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/testdb"
)

// The committed migration files and the Ent schema must describe the same database.
// When this fails, generate the missing migration: go run -mod=mod ./ent/migrate/main.go <name>
func TestMigrationsMatchEntSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// As the generator sees it: the files replayed on an empty database.
	t.Run("replayed", func(t *testing.T) {
		t.Parallel()
		dir := copyMigrations(t)
		written, err := database.WriteMigration(ctx, testdb.MySQLURL(t), dir, "drift")
		if err != nil {
			t.Fatal(err)
		}
		reportDrift(t, dir, written)
	})
	// As production sees it: the files applied by Migrate.
	t.Run("applied", func(t *testing.T) {
		t.Parallel()
		db := testdb.Open(t, testdb.MySQLURL(t), database.Options{})
		dir := copyMigrations(t)
		written, err := database.InspectDiff(ctx, db, dir)
		if err != nil {
			t.Fatal(err)
		}
		reportDrift(t, dir, written)
	})
}

func reportDrift(t *testing.T, dir string, written []string) {
	t.Helper()
	for _, f := range written {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		t.Errorf("the Ent schema differs from ent/migrate/migrations; run `go run -mod=mod ./ent/migrate/main.go <name>` to write:\n%s", b)
	}
}

// copyMigrations copies the embedded migrations to a temporary directory.
func copyMigrations(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, migrations.FS); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logs syncBuffer
	db := testdb.OpenFromScratch(t, testdb.MySQLURL(t), database.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if !strings.Contains(logs.String(), "applied migration") {
		t.Fatalf("the first Migrate logged no migration:\n%s", logs.String())
	}
	first := revisions(t, db)
	files, _ := fs.Glob(migrations.FS, "*.sql")
	if len(first) != len(files) {
		t.Fatalf("%d revisions for %d files", len(first), len(files))
	}
	logs.Reset()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if logs.Len() > 0 {
		t.Errorf("the second Migrate logged:\n%s", logs.String())
	}
	if second := revisions(t, db); strings.Join(second, "\n") != strings.Join(first, "\n") {
		t.Errorf("revisions changed:\n%v\n%v", first, second)
	}
}

// Processes starting together apply each migration once.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.MySQLURL(t)
	var (
		wg   sync.WaitGroup
		errs = make([]error, 3)
		dbs  = make([]*database.DB, len(errs))
	)
	for i := range dbs {
		db, err := database.Open(ctx, url, database.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	files, _ := fs.Glob(migrations.FS, "*.sql")
	if got := revisions(t, dbs[0]); len(got) != len(files) {
		t.Fatalf("revisions %v for %d files", got, len(files))
	}
}

// A migration edited, added or removed after atlas.sum was written is refused before
// anything runs.
func TestMigrateRefusesTamperedFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mysql, err := database.Open(ctx, testdb.MySQLURL(t), database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mysql.Close() })
	good := fsFrom(t, migrations.FS)
	files, _ := fs.Glob(good, "*.sql")
	first := files[0]

	edited := fsFrom(t, good)
	edited[first] = &fstest.MapFile{Data: append(bytes.Clone(good[first].Data), "\nDROP TABLE `users`;\n"...)}
	added := fsFrom(t, good)
	added["99990101000000_sneaky.sql"] = &fstest.MapFile{Data: []byte("DROP TABLE `users`;\n")}
	noSum := fsFrom(t, good)
	delete(noSum, atlasmigrate.HashFileName)

	for name, tc := range map[string]struct {
		fsys fs.FS
		want string
	}{
		"edited":  {edited, first + " was edited"},
		"added":   {added, "99990101000000_sneaky.sql was added"},
		"no sum":  {noSum, "no atlas.sum"},
		"garbled": {withFile(good, atlasmigrate.HashFileName, "h1:nonsense\n"), "atlas.sum"},
	} {
		err := database.MigrateFS(ctx, mysql, tc.fsys)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, tc.want)
		}
	}
	var tables int
	if err := mysql.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("%d tables exist after refusing every directory", tables)
	}
}

// A failing statement is reported with its file and position; once the cause is fixed,
// Migrate resumes at that statement, as the ones before it cannot be rolled back.
func TestMigrateFailureAndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := database.Open(ctx, testdb.MySQLURL(t), database.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v1 := sumFS(t, map[string]string{
		"20200101000000_first.sql": "-- create a\nCREATE TABLE `a` (`id` int NOT NULL);\n" +
			"INSERT INTO `missing` (`id`) VALUES (1);\n" +
			"CREATE TABLE `b` (`id` int NOT NULL);\n",
	})
	err = database.MigrateFS(ctx, db, v1)
	if err == nil || !strings.Contains(err.Error(), "20200101000000_first.sql: statement 2 of 3") || !strings.Contains(err.Error(), "INSERT INTO `missing`") {
		t.Fatalf("got %v", err)
	}
	if _, err := db.SQL.ExecContext(ctx, "CREATE TABLE `missing` (`id` int NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if err := database.MigrateFS(ctx, db, v1); err != nil {
		t.Fatalf("resuming: %v", err)
	}
	if got := revisions(t, db); len(got) != 1 || !strings.HasPrefix(got[0], "20200101000000 first 3/3") {
		t.Errorf("revisions %v", got)
	}

	// A later file applies on top; an older one arriving afterwards is refused.
	v2 := sumFS(t, map[string]string{
		"20200101000000_first.sql": string(v1["20200101000000_first.sql"].Data),
		"20200301000000_third.sql": "ALTER TABLE `b` ADD COLUMN `name` varchar(10) NULL;\n",
	})
	if err := database.MigrateFS(ctx, db, v2); err != nil {
		t.Fatal(err)
	}
	v3 := withSQL(t, v2, "20200201000000_second.sql", "CREATE TABLE `c` (`id` int NOT NULL);\n")
	if err := database.MigrateFS(ctx, db, v3); err == nil || !strings.Contains(err.Error(), "20200201000000_second.sql is older than") {
		t.Fatalf("got %v", err)
	}
}

// revisions lists the revisions table as "version description applied/total complete".
func revisions(t *testing.T, db *database.DB) []string {
	t.Helper()
	rows, err := db.SQL.QueryContext(context.Background(),
		"SELECT CONCAT(`version`, ' ', `description`, ' ', `applied`, '/', `total`, ' ', COALESCE(`applied_at`, 'partial')) FROM `"+
			database.RevisionsTable+"` ORDER BY `version`")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sumFS builds a migration directory of files, with a matching atlas.sum.
func sumFS(t *testing.T, files map[string]string) fstest.MapFS {
	t.Helper()
	dir := &atlasmigrate.MemDir{}
	out := fstest.MapFS{}
	for name, content := range files {
		if err := dir.WriteFile(name, []byte(content)); err != nil {
			t.Fatal(err)
		}
		out[name] = &fstest.MapFile{Data: []byte(content)}
	}
	sum, err := dir.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	b, err := sum.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	out[atlasmigrate.HashFileName] = &fstest.MapFile{Data: b}
	return out
}

// withSQL returns fsys plus one more migration, atlas.sum updated.
func withSQL(t *testing.T, fsys fstest.MapFS, name, content string) fstest.MapFS {
	t.Helper()
	files := map[string]string{name: content}
	for n, f := range fsys {
		if strings.HasSuffix(n, ".sql") {
			files[n] = string(f.Data)
		}
	}
	return sumFS(t, files)
}

// withFile returns a copy of fsys with one file replaced, atlas.sum untouched.
func withFile(fsys fstest.MapFS, name, content string) fstest.MapFS {
	out := fstest.MapFS{}
	for n, f := range fsys {
		out[n] = f
	}
	out[name] = &fstest.MapFile{Data: []byte(content)}
	return out
}

// fsFrom copies the files of fsys into a MapFS.
func fsFrom(t *testing.T, fsys fs.FS) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = &fstest.MapFile{Data: b}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
