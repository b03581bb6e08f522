// Command xiadan is the Xiadan headless-commerce GraphQL server.
//
//	xiadan [serve]                          migrate, then serve (the default)
//	xiadan migrate                          apply pending schema migrations and exit
//	xiadan seed [--scale N] [--if-empty]    fill an empty database with demo data
//	xiadan admin create --email E --password-stdin
//	xiadan search reindex                   rebuild the search server's indexes
//	xiadan backup FILE                      write a consistent copy of the database to FILE
//	xiadan restore FILE                     load a backup into an empty database
//	xiadan summary                          print row counts and money sums, to check a restore
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"entgo.io/ent/dialect"

	_ "github.com/xiadan/xiadan/ent/runtime"
	"github.com/xiadan/xiadan/internal/app"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/i18n"
	"github.com/xiadan/xiadan/internal/search/meili"
	"github.com/xiadan/xiadan/internal/search/meilifeed"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/telemetry"
)

// usage is what `xiadan help` prints.
const usage = `Usage: xiadan [command] [flags]

Commands:
  serve            migrate, then serve until SIGTERM (the default)
  migrate          apply pending schema migrations and exit
  seed             fill an empty database with the demo data
  admin create     create a platform admin
  search reindex   rebuild the search server's indexes (SEARCH_URL)
  backup FILE      write a consistent copy of the database to FILE (a new file)
  restore FILE     load a backup into an empty database
  summary          print each table's rows and money sums, to compare a restore with its source
  help [command]   print this help, or a command's

Every setting comes from the environment (DATABASE_URL, LISTEN_ADDR, …): see the
Configuration table of README.md. Run 'xiadan help <command>' for a command's flags.
`

// commandUsage is each command's own help.
var commandUsage = map[string]string{
	"serve": `Usage: xiadan serve

Applies pending migrations, then serves the GraphQL API on LISTEN_ADDR (default :8080)
until SIGINT or SIGTERM, draining requests for SHUTDOWN_TIMEOUT. It takes no flags;
settings come from the environment (see README.md, Configuration).
`,
	"migrate": `Usage: xiadan migrate

Applies the pending schema migrations to DATABASE_URL and exits. It takes no flags.
`,
	"seed": `Usage: xiadan seed [--scale N] [--if-empty]

Fills an empty database with the demo shop and prints where the demo accounts are listed.

  --scale N    add N more products (for benchmarks)
  --if-empty   do nothing, successfully, when the database already has data
`,
	"backup": `Usage: xiadan backup FILE

Writes a consistent copy of DATABASE_URL to FILE, which must not exist, while the server
goes on serving. SQLite: an online copy (VACUUM INTO), itself a SQLite database. MySQL: a
logical dump by mariadb-dump or mysqldump (--single-transaction), which must be installed.
See docs/OPERATIONS.md, Backup and restore.
`,
	"restore": `Usage: xiadan restore FILE

Loads the backup FILE into DATABASE_URL, which must be empty (a new database without
tables); SQLite copies are checked for integrity first. MySQL needs the mariadb or mysql
client. Run 'xiadan migrate' (or serve) afterwards to bring an older backup up to date.
`,
	"summary": `Usage: xiadan summary

Prints, one line each and sorted, the row count of every table of DATABASE_URL and the sum
of every money column (amounts, totals, balances in minor units), so that a restored
database can be compared with its source: the two outputs must be equal.
`,
	"admin": `Usage: xiadan admin create --email E [--name N] --password-stdin

Creates a platform admin; the password is read from standard input (there is no default).

  --email E          the admin's email address
  --name N           display name (default Administrator)
  --password-stdin   read the password from standard input (required)
`,
	"search": `Usage: xiadan search reindex

Rebuilds every index of the search server (SEARCH_URL, docs/SEARCH-SERVER.md) from the
database: each locale's index is filled anew beside the live one and swapped in, so
searches never see a half-built index, and the sync cursor is set to the catalog feed's
head as read before the rebuild. Run it while no replica syncs (SEARCH_SYNC=false
everywhere for the while), or delete the <prefix>_sync index instead to have the running
syncer rebuild. It takes no flags.
`,
}

// errHelp asks for the usage on standard output and exit status 0.
type errHelp struct{ text string }

func (e errHelp) Error() string { return "help requested" }

// errUsage is a command line that cannot be run: the message and the usage go to
// standard error, with exit status 2.
type errUsage struct {
	msg, text string
}

func (e errUsage) Error() string { return e.msg }

func main() { os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr)) }

// cli runs the command line args and returns the process's exit status: 0 on success and
// for help, 2 for a command line it does not understand, 1 when the command fails.
func cli(args []string, stdout, stderr io.Writer) int {
	err := run(args)
	var help errHelp
	var bad errUsage
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		fmt.Fprint(stdout, help.text)
		return 0
	case errors.As(err, &bad):
		fmt.Fprintf(stderr, "xiadan: %s\n\n%s", bad.msg, bad.text)
		return 2
	default:
		fmt.Fprintln(stderr, "xiadan:", err)
		return 1
	}
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// parseCommand splits args into the command and its arguments, answering help and
// refusing what no command takes before any setting is read or the database is touched.
func parseCommand(args []string) (string, []string, error) {
	if len(args) == 0 {
		return "serve", nil, nil
	}
	cmd, rest := args[0], args[1:]
	if isHelp(cmd) {
		if len(rest) > 0 {
			if text, ok := commandUsage[rest[0]]; ok {
				return "", nil, errHelp{text}
			}
			return "", nil, errUsage{fmt.Sprintf("no help for unknown command %q", rest[0]), usage}
		}
		return "", nil, errHelp{usage}
	}
	if strings.HasPrefix(cmd, "-") {
		return "", nil, errUsage{fmt.Sprintf("unknown flag %q (commands take their flags after the command)", cmd), usage}
	}
	text, ok := commandUsage[cmd]
	if !ok {
		return "", nil, errUsage{fmt.Sprintf("unknown command %q", cmd), usage}
	}
	for _, a := range rest {
		if isHelp(a) && a != "help" {
			return "", nil, errHelp{text}
		}
	}
	switch cmd {
	case "backup", "restore":
		if len(rest) != 1 || strings.HasPrefix(rest[0], "-") {
			return "", nil, errUsage{cmd + " needs one argument: the backup file", text}
		}
	case "serve", "migrate", "summary":
		if len(rest) > 0 {
			return "", nil, errUsage{fmt.Sprintf("%s takes no arguments, not %q", cmd, rest[0]), text}
		}
	case "admin":
		if len(rest) == 0 || rest[0] != "create" {
			return "", nil, errUsage{"admin needs a subcommand: admin create", text}
		}
	case "search":
		if len(rest) != 1 || rest[0] != "reindex" {
			return "", nil, errUsage{"search needs a subcommand: search reindex", text}
		}
	}
	return cmd, rest, nil
}

// parseFlags parses a command's flags, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string, text string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp{text}
		}
		return errUsage{err.Error(), text}
	}
	if fs.NArg() > 0 {
		return errUsage{fmt.Sprintf("unexpected argument %q", fs.Arg(0)), text}
	}
	return nil
}

func run(args []string) error {
	cmd, args, err := parseCommand(args)
	if err != nil {
		return err
	}
	if cmd == "seed" {
		// Check the flags before reading the settings and opening the database.
		if _, _, err := seedFlags(args); err != nil {
			return err
		}
	}
	if cmd == "admin" {
		if _, err := adminFlags(args); err != nil {
			return err
		}
	}
	cfg, err := config.FromOS()
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	logger := newLogger(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "serve":
		return serve(ctx, cfg, logger)
	case "migrate":
		db, err := openDB(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer db.Close()
		logger.Info("migrations applied", "dialect", db.Dialect)
		return nil
	case "seed":
		return seedCmd(ctx, cfg, logger, args)
	case "search":
		return reindexCmd(ctx, cfg, logger)
	case "backup":
		if err := database.Backup(ctx, cfg.DatabaseURL, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "backed up the database to %s\n", args[0])
		return nil
	case "restore":
		if err := database.Restore(ctx, cfg.DatabaseURL, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "restored %s; run 'xiadan migrate' if the backup is older than this binary\n", args[0])
		return nil
	case "summary":
		db, err := database.Open(ctx, cfg.DatabaseURL, database.Options{Logger: logger})
		if err != nil {
			return err
		}
		defer db.Close()
		lines, err := db.Summary(ctx)
		if err != nil {
			return err
		}
		for _, l := range lines {
			fmt.Println(l)
		}
		return nil
	default:
		return adminCmd(ctx, cfg, logger, args)
	}
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	// Records logged with a request's context carry its trace_id and span_id.
	if cfg.LogFormat == "json" {
		return telemetry.Logger(slog.New(slog.NewJSONHandler(os.Stderr, opts)))
	}
	return telemetry.Logger(slog.New(slog.NewTextHandler(os.Stderr, opts)))
}

// openDB opens the database and applies pending migrations; wrap, when set, wraps its
// driver (the telemetry's, which times and traces statements).
func openDB(ctx context.Context, cfg config.Config, logger *slog.Logger, wrap ...func(dialect.Driver) dialect.Driver) (*database.DB, error) {
	opts := database.Options{Logger: logger}
	if len(wrap) > 0 {
		opts.WrapDriver = wrap[0]
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, opts)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating: %w", err)
	}
	return db, nil
}

func serve(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	// Listen first: an address in use is reported before a long migration, not after.
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	defer ln.Close()
	var debugLn net.Listener
	if cfg.Telemetry.MetricsAddr != "" {
		if debugLn, err = net.Listen("tcp", cfg.Telemetry.MetricsAddr); err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		defer debugLn.Close()
	}
	tel, err := telemetry.New(cfg.Telemetry)
	if err != nil {
		return err
	}
	defer func() {
		// Export the spans still buffered.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			logger.Warn("flushing traces", "err", err)
		}
	}()
	db, err := openDB(ctx, cfg, logger, tel.WrapDriver)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := bootstrapAdmin(ctx, cfg, db, logger); err != nil {
		return err
	}
	a, err := app.New(cfg, db, logger, app.WithTelemetry(tel))
	if err != nil {
		return err
	}
	if debugLn != nil {
		go func() {
			if err := tel.ServeDebug(ctx, debugLn, logger); err != nil {
				logger.Error("metrics listener", "err", err)
			}
		}()
	}
	srv := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	logger.Info("xiadan is serving", "addr", ln.Addr().String(), "dialect", db.Dialect, "env", cfg.Env)
	if cfg.Playground {
		fmt.Fprintf(os.Stderr, "\n  GraphQL playground: %s\n  GraphQL endpoint:   %s\n\n", publicURL(ln, "/"), publicURL(ln, "/graphql"))
	}
	if err := a.RunEvents(ctx); err != nil {
		return err
	}
	go a.RunJobs(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	return nil
}

func publicURL(ln net.Listener, path string) string {
	host := ln.Addr().String()
	if h, port, err := net.SplitHostPort(host); err == nil && (h == "::" || h == "0.0.0.0" || h == "") {
		host = net.JoinHostPort("localhost", port)
	}
	return "http://" + host + path
}

// bootstrapAdmin creates the first admin from the environment, once, on a first start.
func bootstrapAdmin(ctx context.Context, cfg config.Config, db *database.DB, logger *slog.Logger) error {
	if cfg.BootstrapAdminEmail == "" {
		return nil
	}
	has, err := auth.HasAdmin(ctx, db.Client)
	if err != nil || has {
		return err
	}
	if _, err := auth.CreateAdmin(ctx, db.Client, cfg.BootstrapAdminEmail, cfg.BootstrapAdminPassword, ""); err != nil {
		return fmt.Errorf("creating the bootstrap admin: %w", err)
	}
	logger.Info("created the first admin from XIADAN_BOOTSTRAP_ADMIN_EMAIL", "email", cfg.BootstrapAdminEmail)
	return nil
}

// seedFlags parses seed's flags.
func seedFlags(args []string) (scale *int, ifEmpty *bool, err error) {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	scale = fs.Int("scale", 0, "add this many extra products (for benchmarks)")
	ifEmpty = fs.Bool("if-empty", false, "do nothing when the database already has data")
	if err := parseFlags(fs, args, commandUsage["seed"]); err != nil {
		return nil, nil, err
	}
	if *scale < 0 {
		return nil, nil, errUsage{"--scale must not be negative", commandUsage["seed"]}
	}
	return scale, ifEmpty, nil
}

func seedCmd(ctx context.Context, cfg config.Config, logger *slog.Logger, args []string) error {
	scale, ifEmpty, err := seedFlags(args)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	empty, err := seed.IsEmpty(ctx, db.Client)
	if err != nil {
		return err
	}
	if !empty {
		if *ifEmpty {
			logger.Info("database already has data; not seeding")
			return nil
		}
		return errors.New("the database is not empty; seed only fills an empty one")
	}
	password := randomPassword()
	sum, err := seed.Demo(ctx, db.Client, seed.Options{Scale: *scale, Password: password, Logger: logger,
		PublicURL: cfg.Payment.PublicURL})
	if err != nil {
		return err
	}
	if err := db.Analyze(ctx); err != nil {
		return err
	}
	path, err := writeDemoCredentials(cfg, sum, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\n  Seeded %d merchants, %d categories, %d products, %d variants, %d users, %d orders.\n",
		sum.Merchants, sum.Categories, sum.Products, sum.Variants, sum.Users, sum.Orders)
	fmt.Fprintf(os.Stderr, "  Demo accounts (password %q) are listed in %s\n\n", password, path)
	return nil
}

// writeDemoCredentials saves the demo accounts and their generated password for the developer.
func writeDemoCredentials(cfg config.Config, sum seed.Summary, password string) (string, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Demo accounts created by `xiadan seed`. Every account's password: %s\n", password)
	for _, acc := range sum.Accounts {
		fmt.Fprintf(&b, "%-12s %s\n", acc.Role, acc.Email)
	}
	path := cfg.DataDir + "/demo-accounts.txt"
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

func randomPassword() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return "demo-" + base64.RawURLEncoding.EncodeToString(b)
}

// adminArgs are the flags of admin create.
type adminArgs struct {
	email, name string
}

// adminFlags parses `admin create`'s flags (args starts with "create").
func adminFlags(args []string) (adminArgs, error) {
	text := commandUsage["admin"]
	fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
	email := fs.String("email", "", "the admin's email")
	name := fs.String("name", "Administrator", "display name")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	if err := parseFlags(fs, args[1:], text); err != nil {
		return adminArgs{}, err
	}
	if *email == "" || !*fromStdin {
		return adminArgs{}, errUsage{"admin create needs --email and --password-stdin (there is no default password)", text}
	}
	return adminArgs{email: *email, name: *name}, nil
}

func adminCmd(ctx context.Context, cfg config.Config, logger *slog.Logger, args []string) error {
	a, err := adminFlags(args)
	if err != nil {
		return err
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("reading the password from standard input: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	db, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := auth.CreateAdmin(ctx, db.Client, a.email, password, a.name)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "created admin %s (id %d)\n", *u.Email, u.ID)
	return nil
}

// reindexCmd rebuilds the search server's indexes (`xiadan search reindex`).
func reindexCmd(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	if !cfg.SearchServer.Enabled() {
		return errors.New("search reindex needs SEARCH_URL (and a SEARCH_KEY allowed to write)")
	}
	sc, err := meili.New(cfg.SearchServer, nil)
	if err != nil {
		return fmt.Errorf("SEARCH_URL: %w", err)
	}
	db, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	locales, err := i18n.NewLocales(cfg.Locales)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := meilifeed.NewSyncer(sc, db.Client, db.Dialect, locales, logger).Reindex(ctx); err != nil {
		return fmt.Errorf("reindexing: %w", err)
	}
	logger.Info("search indexes rebuilt", "locales", cfg.SearchServer.Locales, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
