package apitest

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/xiadan/xiadan/internal/app"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/testdb"
)

// NewReachable is New for tests of payment providers: the server listens on an address
// chosen before it is built, and that address is its PAYMENT_PUBLIC_URL, so the sandbox's
// notifications and pay-page links reach this very server.
func NewReachable(t testing.TB, url string, opts ...func(*config.Config)) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = url
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = "error"
	cfg.Payment.PublicURL = "http://" + l.Addr().String()
	for _, o := range opts {
		o(&cfg)
	}
	db := testdb.Open(t, url, database.Options{})
	level := slog.LevelError
	if os.Getenv("XIADAN_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	a, err := app.New(cfg, db, logger)
	if err != nil {
		_ = l.Close()
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(a.Handler())
	_ = hs.Listener.Close()
	hs.Listener = l
	hs.Start()
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := a.RunEvents(ctx); err != nil {
		t.Fatal(err)
	}
	return &Server{t: t, App: a, DB: db, HTTP: hs, Config: cfg}
}

// ForEachDialectReachable is ForEachDialect with servers built by NewReachable.
func ForEachDialectReachable(t *testing.T, fn func(t *testing.T, s *Server)) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			fn(t, NewReachable(t, d.URL(t)))
		})
	}
}
