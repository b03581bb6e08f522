package database

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	atlas "ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"
	"github.com/go-sql-driver/mysql"

	"github.com/xiadan/xiadan/ent/migrate"
)

// WriteMigration writes what the versioned MySQL migrations in dirPath lack compared with
// the Ent schema as a new migration file named name (plus an updated atlas.sum), and
// returns the names of the files it wrote: none when the directory is up to date.
//
// devURL (mysql://...) must name an empty scratch database: the directory is replayed on
// it and the result compared with the Ent schema, and it is left empty again. It is how
// ent/migrate/main.go generates migrations and how the tests prove the committed files
// match the schema, so both always see the same thing.
//
// The files target MySQL 8 even when the scratch server is MariaDB: Ent words a few
// columns differently for MariaDB, and those are put back to what it generates for MySQL 8
// (see mysql8Columns), so a file generated on either server runs on both.
func WriteMigration(ctx context.Context, devURL, dirPath, name string) ([]string, error) {
	dir, err := atlasmigrate.NewLocalDir(dirPath)
	if err != nil {
		return nil, fmt.Errorf("database: opening the migration directory: %w", err)
	}
	drv, closeDev, err := openDev(ctx, devURL)
	if err != nil {
		return nil, err
	}
	defer closeDev()
	return diffMigrations(ctx, drv, dir, name, schema.ModeReplay)
}

// openDev opens the scratch database for diffing.
func openDev(ctx context.Context, devURL string) (dialect.Driver, func(), error) {
	u, err := parseURL(devURL)
	if err != nil {
		return nil, nil, err
	}
	if u.Scheme != "mysql" {
		return nil, nil, fmt.Errorf("database: migrations are diffed on MySQL, not %q", u.Scheme)
	}
	cfg, err := mysqlConfig(u)
	if err != nil {
		return nil, nil, err
	}
	// MySQL 8's default, and MariaDB's since 10.10: without it the server gives the first
	// TIMESTAMP NOT NULL column of a table an implicit default, which the diff then sees.
	cfg.Params["explicit_defaults_for_timestamp"] = "1"
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("database: configuring MySQL for %s: %w", u.Redacted(), err)
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("database: connecting to %s: %w", u.Redacted(), err)
	}
	return entsql.OpenDB(dialect.MySQL, db), func() { _ = db.Close() }, nil
}

// diffMigrations compares dir, in the given mode, with the Ent schema on drv and writes
// the difference to dir as a migration named name. It returns the files written.
func diffMigrations(ctx context.Context, drv dialect.Driver, dir *atlasmigrate.LocalDir, name string, mode schema.Mode) ([]string, error) {
	entSchemaMu.Lock()
	defer entSchemaMu.Unlock()
	before, err := dirFiles(dir)
	if err != nil {
		return nil, err
	}
	err = migrate.NewSchema(drv).NamedDiff(ctx, name,
		schema.WithDir(dir),
		schema.WithMigrationMode(mode),
		schema.WithDialect(dialect.MySQL),
		// Atlas' own format (one file per version, no down file), which keeps atlas.sum.
		schema.WithFormatter(atlasmigrate.DefaultFormatter),
		// A generated file is reviewed before it is committed: show every change,
		// dropped columns and indexes included, rather than silently keep them.
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
		schema.WithDiffHook(mysql8Columns),
	)
	if err != nil {
		return nil, fmt.Errorf("database: diffing the Ent schema with the migrations: %w", err)
	}
	after, err := dirFiles(dir)
	if err != nil {
		return nil, err
	}
	var written []string
	for _, f := range after {
		if !slices.Contains(before, f) {
			written = append(written, f)
		}
	}
	return written, nil
}

// dirFiles lists the migration files of dir.
func dirFiles(dir *atlasmigrate.LocalDir) ([]string, error) {
	files, err := dir.Files()
	if err != nil {
		return nil, fmt.Errorf("database: listing the migration files: %w", err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name()
	}
	return names, nil
}

// mysql8Columns makes the desired state what Ent generates for MySQL 8 when the scratch
// database is MariaDB, where Ent deviates in two ways that matter:
//   - it declares TIMESTAMP columns NULL, to dodge MariaDB's implicit
//     DEFAULT CURRENT_TIMESTAMP (which explicit_defaults_for_timestamp also turns off);
//     on MySQL 8 they are NOT NULL unless the field is optional;
//   - it keeps literal defaults on TEXT and JSON columns, which MySQL 8 rejects
//     ("BLOB, TEXT, GEOMETRY or JSON column can't have a default value"); Ent applies
//     those defaults itself on create, so the database does not need them.
//
// On MySQL 8 the hook changes nothing.
func mysql8Columns(next schema.Differ) schema.Differ {
	return schema.DiffFunc(func(current, desired *atlas.Schema) ([]atlas.Change, error) {
		for _, et := range migrate.Tables {
			t, ok := desired.Table(et.Name)
			if !ok {
				continue
			}
			for _, ec := range et.Columns {
				c, ok := t.Column(ec.Name)
				if !ok {
					return nil, fmt.Errorf("column %s.%s is missing from the desired schema", et.Name, ec.Name)
				}
				if ec.Type == field.TypeTime && ec.SchemaType[dialect.MySQL] == "" {
					c.Type.Null = ec.Nullable
				}
				if ec.Default != nil && !mysqlSupportsDefault(ec) {
					c.Default = nil
				}
			}
		}
		return next.Diff(current, desired)
	})
}

// mysqlSupportsDefault mirrors Ent's rule (schema.Column.supportDefault) for which columns
// get a database default on MySQL: not TEXT, BLOB or JSON ones.
func mysqlSupportsDefault(c *schema.Column) bool {
	switch c.Type {
	case field.TypeString, field.TypeEnum:
		return c.Size < 1<<16
	case field.TypeBool, field.TypeTime, field.TypeUUID:
		return true
	default:
		return c.Type.Numeric()
	}
}
