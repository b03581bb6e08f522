// Package bench measures the storefront end to end: it seeds a large catalogue into a
// fresh database of each dialect, serves it with the real handler on a loopback listener,
// and drives it over HTTP with a closed-loop load generator (vegeta), next to a
// hand-written handler that is the limit of the machine. The benchmarks are in
// storefront_test.go; docs/BENCHMARKS.md has the results and how to run them.
package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/category"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/app"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Clients is the number of concurrent closed-loop clients of every run.
const Clients = 16

// Settings are read from the environment once per benchmark binary.
type Settings struct {
	// Products is BENCH_PRODUCTS, the number of extra ACTIVE products seeded (seed --scale).
	Products int
	// Duration is BENCH_DURATION, the length of each measured run.
	Duration time.Duration
	// Warmup precedes each measured run with the same load, unmeasured: min(2s, Duration).
	Warmup time.Duration
}

// Defaults of Settings, the recorded configuration.
const (
	DefaultProducts = 100_000
	DefaultDuration = 10 * time.Second
)

// SettingsFromEnv reads BENCH_PRODUCTS and BENCH_DURATION from getenv (os.Getenv).
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{Products: DefaultProducts, Duration: DefaultDuration}
	if v := getenv("BENCH_PRODUCTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s, fmt.Errorf("BENCH_PRODUCTS must be a number of products (0 or more), not %q", v)
		}
		s.Products = n
	}
	if v := getenv("BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("BENCH_DURATION must be a positive duration such as 10s, not %q", v)
		}
		s.Duration = d
	}
	s.Warmup = min(2*time.Second, s.Duration)
	return s, nil
}

// Store is a seeded database with the real server and the baseline in front of it.
type Store struct {
	// Name is the dialect: sqlite or mysql.
	Name string
	DB   *database.DB
	// Statements counts every statement the server and the baseline send.
	Statements *StatementCounter
	// GraphQL is the URL of the real server's /graphql; Baseline the hand-written handler's.
	GraphQL, Baseline string
	// Seeded is what the seeder created, SeedTime how long it took, and AnalyzeTime how
	// long refreshing the planner's statistics afterwards took.
	Seeded                seed.Summary
	SeedTime, AnalyzeTime time.Duration
	// ProductIDs are ACTIVE products of ACTIVE merchants, spread over the whole catalogue.
	ProductIDs []int
	// TopCategories are the slugs of the top-level categories.
	TopCategories []string
}

// seedPassword is the password of the demo accounts; nobody signs in during a benchmark.
const seedPassword = "benchmark-demo-password"

// sampleProducts is how many product ids the detail scenario rotates over.
const sampleProducts = 1000

// OpenStore creates a fresh database of dialect d, seeds it with the demo and
// s.Products extra products, and starts the real server and the baseline on loopback
// listeners. Everything is removed when tb ends.
func OpenStore(tb testing.TB, d testdb.Dialect, s Settings) *Store {
	tb.Helper()
	st := &Store{Name: d.Name, Statements: &StatementCounter{}}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	url := d.URL(tb)
	st.DB = testdb.Open(tb, url, database.Options{WrapDriver: st.Statements.Wrap, Logger: logger})

	ctx := context.Background()
	start := time.Now()
	sum, err := seed.Demo(ctx, st.DB.Client, seed.Options{Scale: s.Products, Password: seedPassword, Logger: logger})
	if err != nil {
		tb.Fatalf("bench: seeding %s: %v", d.Name, err)
	}
	st.SeedTime, st.Seeded = time.Since(start), sum
	// As `xiadan seed` does: fresh planner statistics after the bulk load.
	start = time.Now()
	if err := st.DB.Analyze(ctx); err != nil {
		tb.Fatalf("bench: %v", err)
	}
	st.AnalyzeTime = time.Since(start)

	ids, err := st.DB.Client.Product.Query().
		Where(product.StatusEQ(product.StatusACTIVE), product.HasMerchantWith(merchant.StatusEQ(merchant.StatusACTIVE))).
		Order(product.ByID()).IDs(viewer.SystemContext(ctx))
	if err != nil {
		tb.Fatalf("bench: listing products: %v", err)
	}
	if len(ids) == 0 {
		tb.Fatal("bench: the seeded store has no product on sale")
	}
	step := max(len(ids)/sampleProducts, 1)
	for i := 0; i < len(ids) && len(st.ProductIDs) < sampleProducts; i += step {
		st.ProductIDs = append(st.ProductIDs, ids[i])
	}

	st.TopCategories, err = st.DB.Client.Category.Query().Where(category.ParentIDIsNil()).
		Order(category.ByPosition()).Select(category.FieldSlug).Strings(viewer.SystemContext(ctx))
	if err != nil || len(st.TopCategories) == 0 {
		tb.Fatalf("bench: listing top-level categories: %d, %v", len(st.TopCategories), err)
	}

	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DatabaseURL = url
	cfg.DataDir = tb.TempDir()
	cfg.Playground, cfg.Introspection = false, false
	cfg.RegistrationMaxPerAddress = 1 << 20 // every simulated client registers from 127.0.0.1
	a, err := app.New(cfg, st.DB, logger)
	if err != nil {
		tb.Fatal(err)
	}
	gql := httptest.NewServer(a.Handler())
	tb.Cleanup(gql.Close)
	base := httptest.NewServer(&Baseline{DB: st.DB.SQL, Statements: st.Statements})
	tb.Cleanup(base.Close)
	st.GraphQL, st.Baseline = gql.URL+"/graphql", base.URL+"/products"
	return st
}
