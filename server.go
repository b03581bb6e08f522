// Command xiadan is the Xiadan headless-commerce GraphQL server.
//
//	xiadan [serve]                          migrate, then serve (the default)
//	xiadan migrate                          apply pending schema migrations and exit
//	xiadan seed [--scale N] [--if-empty]    fill an empty database with demo data
//	xiadan admin create --email E --password-stdin
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	_ "github.com/xiadan/xiadan/ent/runtime"
	"github.com/xiadan/xiadan/internal/app"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/seed"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "xiadan:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
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
	case "admin":
		return adminCmd(ctx, cfg, logger, args)
	default:
		return fmt.Errorf("unknown command %q (serve, migrate, seed, admin create)", cmd)
	}
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// openDB opens the database and applies pending migrations.
func openDB(ctx context.Context, cfg config.Config, logger *slog.Logger) (*database.DB, error) {
	db, err := database.Open(ctx, cfg.DatabaseURL, database.Options{Logger: logger})
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
	db, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := bootstrapAdmin(ctx, cfg, db, logger); err != nil {
		return err
	}
	a, err := app.New(cfg, db, logger)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
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

func seedCmd(ctx context.Context, cfg config.Config, logger *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	scale := fs.Int("scale", 0, "add this many extra products (for benchmarks)")
	ifEmpty := fs.Bool("if-empty", false, "do nothing when the database already has data")
	if err := fs.Parse(args); err != nil {
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

func adminCmd(ctx context.Context, cfg config.Config, logger *slog.Logger, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: xiadan admin create --email E --password-stdin")
	}
	fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
	email := fs.String("email", "", "the admin's email")
	name := fs.String("name", "Administrator", "display name")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *email == "" || !*fromStdin {
		return errors.New("usage: xiadan admin create --email E --password-stdin (there is no default password)")
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
	u, err := auth.CreateAdmin(ctx, db.Client, *email, password, *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "created admin %s (id %d)\n", *u.Email, u.ID)
	return nil
}
