//go:build ignore

// Command migrate writes the next versioned MySQL migration from the Ent schema:
//
//	go run -mod=mod ./ent/migrate/main.go <name>      (make migration NAME=<name>)
//
// It replays ent/migrate/migrations on a scratch MySQL database, compares the result with
// the Ent schema, and writes the difference to ent/migrate/migrations/<version>_<name>.sql,
// updating atlas.sum. Nothing is written when the files already match the schema. Review
// the file, then commit it with atlas.sum.
//
// The scratch database comes from ATLAS_DEV_URL, by default
// mysql://root@127.0.0.1:3306/xiadan_atlas_dev. It is created when missing and then
// dropped again; an existing database must be empty, and is left in place.
//
// A hand-written migration (say, to backfill data) gets its checksum with:
//
//	go run -mod=mod ./ent/migrate/main.go -rehash
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"github.com/go-sql-driver/mysql"

	"github.com/xiadan/xiadan/internal/database"
)

const defaultDevURL = "mysql://root@127.0.0.1:3306/xiadan_atlas_dev"

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)

func main() {
	log.SetFlags(0)
	log.SetPrefix("migrate: ")
	rehash := flag.Bool("rehash", false, "only rewrite atlas.sum, after editing or adding a migration by hand")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: go run -mod=mod ./ent/migrate/main.go <name> | -rehash")
		flag.PrintDefaults()
	}
	flag.Parse()
	dir := migrationsDir()
	if *rehash {
		if err := rehashDir(dir); err != nil {
			log.Fatal(err)
		}
		log.Printf("rewrote %s", filepath.Join(dir, atlasmigrate.HashFileName))
		return
	}
	if flag.NArg() != 1 || !validName.MatchString(flag.Arg(0)) {
		flag.Usage()
		log.Fatal("give one migration name of lower-case letters, digits and underscores, e.g. add_coupons")
	}
	devURL := os.Getenv("ATLAS_DEV_URL")
	if devURL == "" {
		devURL = defaultDevURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, devURL, dir, flag.Arg(0)); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, devURL, dir, name string) (err error) {
	drop, err := ensureDevDB(ctx, devURL)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, drop()) }()
	written, err := database.WriteMigration(ctx, devURL, dir, name)
	if err != nil {
		return err
	}
	if len(written) == 0 {
		log.Print("the migrations already match the Ent schema; nothing written")
		return nil
	}
	for _, f := range written {
		log.Printf("wrote %s", filepath.Join(dir, f))
	}
	return nil
}

// migrationsDir is ent/migrate/migrations beside this file, whatever the working directory.
func migrationsDir() string {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		return filepath.Join(filepath.Dir(file), "migrations")
	}
	return filepath.Join("ent", "migrate", "migrations")
}

func rehashDir(path string) error {
	dir, err := atlasmigrate.NewLocalDir(path)
	if err != nil {
		return err
	}
	sum, err := dir.Checksum()
	if err != nil {
		return err
	}
	return atlasmigrate.WriteSumFile(dir, sum)
}

// ensureDevDB creates the scratch database named by devURL when it does not exist, and
// returns a function dropping it again if this run created it.
func ensureDevDB(ctx context.Context, devURL string) (drop func() error, err error) {
	u, err := url.Parse(devURL)
	if err != nil || u.Scheme != "mysql" {
		return nil, errors.New("ATLAS_DEV_URL must look like mysql://user:pass@host:3306/scratch_db")
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || strings.ContainsAny(name, "`/") {
		return nil, errors.New("ATLAS_DEV_URL must name the scratch database")
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", u.Host
	if u.Port() == "" {
		cfg.Addr = u.Host + ":3306"
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	var exists int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&exists)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to the scratch server %s: %w", u.Redacted(), err)
	}
	if exists > 0 {
		db.Close()
		return func() error { return nil }, nil
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the scratch database %s: %w", name, err)
	}
	return func() error {
		defer db.Close()
		if _, err := db.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE `"+name+"`"); err != nil {
			return fmt.Errorf("dropping the scratch database %s: %w", name, err)
		}
		return nil
	}, nil
}
