// Package bench measures the storefront end to end: it seeds a large catalogue into a
// fresh database of each dialect, serves it with the real handler on a loopback listener,
// and drives it over HTTP with a closed-loop load generator (vegeta), next to a
// hand-written handler that is the limit of the machine. The benchmarks are in
// storefront_test.go; docs/BENCHMARKS.md has the results and how to run them.
package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
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
	// Clients is BENCH_CLIENTS (1 to Clients, default Clients): the closed-loop clients of
	// the orders and analytics benchmarks' runs (1 shows one request's own latency, with
	// no queueing behind the others on a small machine).
	Clients int
	// Stores is BENCH_STORES, the dialects to run, comma-separated: "mysql" (default, where
	// issue 12's targets are set) or "sqlite,mysql".
	Stores []string
	// Cache is false with BENCH_CACHE=off: no runs with the storefront cache on.
	Cache bool
	// RedisURL is BENCH_REDIS_URL: when set, the cache runs also use STOREFRONT_CACHE=redis
	// on that server. Give it a database of its own (redis://127.0.0.1:6379/15): the
	// benchmark's fresh catalogue reuses ids, so entries another run left would be wrong.
	RedisURL string
	// DatabaseURL is BENCH_DATABASE_URL: a database to keep between runs instead of a fresh
	// one dropped after. Empty, it is migrated and seeded and kept; seeded before (by a run
	// with the same BENCH_PRODUCTS, or by `xiadan seed --scale`), it is used as it is and
	// the seed time printed is the one recorded by the run that seeded it. Only its
	// dialect runs (BENCH_STORES is then that dialect).
	DatabaseURL string
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
	s.Clients = Clients
	if v := getenv("BENCH_CLIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > Clients {
			return s, fmt.Errorf("BENCH_CLIENTS must be a number of clients from 1 to %d, not %q", Clients, v)
		}
		s.Clients = n
	}
	s.Stores = []string{"mysql"}
	if v := getenv("BENCH_STORES"); v != "" {
		s.Stores = nil
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name != "sqlite" && name != "mysql" {
				return s, fmt.Errorf("BENCH_STORES must list sqlite and/or mysql, not %q", v)
			}
			s.Stores = append(s.Stores, name)
		}
	}
	s.Cache = getenv("BENCH_CACHE") != "off"
	s.RedisURL = getenv("BENCH_REDIS_URL")
	if v := getenv("BENCH_DATABASE_URL"); v != "" {
		name, _, _ := strings.Cut(v, "://")
		if name != "sqlite" && name != "mysql" {
			return s, errors.New("BENCH_DATABASE_URL must be a mysql:// or sqlite:// URL")
		}
		s.DatabaseURL = v
		s.Stores = []string{name}
	}
	return s, nil
}

// Store is a seeded database with the real server and the baseline in front of it.
type Store struct {
	// Name is the dialect: sqlite or mysql.
	Name string
	DB   *database.DB
	// Statements counts every statement the server and the baseline send.
	Statements *StatementCounter
	// GraphQL is the URL of the real server's /graphql with the storefront cache off
	// (STOREFRONT_CACHE=off); Baseline is the hand-written handler's base URL (its pages are
	// at Baseline+BaselineListPath and so on).
	GraphQL, Baseline string
	// Cached maps a STOREFRONT_CACHE mode ("memory", "redis") to the /graphql URL of a
	// server on the same database with that cache on (empty with BENCH_CACHE=off).
	Cached map[string]string
	// Seeded is what the seeder created, SeedTime how long it took, and AnalyzeTime how
	// long refreshing the planner's statistics afterwards took. With a kept database
	// seeded before (Settings.DatabaseURL), Reused says when, Seeded holds the counts of
	// products and variants, and the times are those recorded then (zero when it was
	// seeded outside the benchmark).
	Seeded                seed.Summary
	SeedTime, AnalyzeTime time.Duration
	Reused                *time.Time
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
	ctx := context.Background()
	var url string
	if s.DatabaseURL != "" {
		url = s.DatabaseURL
		st.DB = testdb.OpenFromScratch(tb, url, database.Options{WrapDriver: st.Statements.Wrap, Logger: logger})
		empty, err := seed.IsEmpty(ctx, st.DB.Client)
		if err != nil {
			tb.Fatalf("bench: %v", err)
		}
		if !empty {
			reuse(tb, st, s)
		}
	} else {
		url = d.URL(tb)
		st.DB = testdb.Open(tb, url, database.Options{WrapDriver: st.Statements.Wrap, Logger: logger})
	}
	if st.Reused == nil {
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
		if s.DatabaseURL != "" {
			if err := recordSeed(ctx, st, s.Products); err != nil {
				tb.Fatalf("bench: recording the seed in the kept database: %v", err)
			}
		}
	}

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

	dataDir := tb.TempDir()
	serve := func(cache, redisURL string) string {
		cfg, err := config.FromEnv(func(string) string { return "" })
		if err != nil {
			tb.Fatal(err)
		}
		cfg.DatabaseURL = url
		cfg.DataDir = dataDir
		cfg.Playground, cfg.Introspection = false, false
		cfg.RegistrationMaxPerAddress = 1 << 20 // every simulated client registers from 127.0.0.1
		cfg.RateLimit.QueryCostBudget = 0       // and queries from it, as fast as it can
		cfg.StorefrontCache.Mode, cfg.RedisURL = cache, redisURL
		if err := cfg.Validate(); err != nil {
			tb.Fatal(err)
		}
		a, err := app.New(cfg, st.DB, logger)
		if err != nil {
			tb.Fatal(err)
		}
		if a.StoreCache != nil {
			watchCache(a.StoreCache)
			// The cache keys answers by the catalog feed's generation and serves nothing
			// (BYPASS) while the feed does not run.
			feedCtx, stop := context.WithCancel(context.Background())
			tb.Cleanup(stop)
			go a.CatalogFeed.Run(feedCtx)
		}
		srv := httptest.NewServer(a.Handler())
		tb.Cleanup(srv.Close)
		return srv.URL + "/graphql"
	}
	st.GraphQL = serve(config.StorefrontCacheOff, "")
	st.Cached = map[string]string{}
	if s.Cache {
		st.Cached[config.StorefrontCacheMemory] = serve(config.StorefrontCacheMemory, "")
		if s.RedisURL != "" {
			st.Cached[config.StorefrontCacheRedis] = serve(config.StorefrontCacheRedis, s.RedisURL)
		}
	}
	base := httptest.NewServer(&Baseline{DB: st.DB.SQL, Statements: st.Statements, Dialect: d.Name})
	tb.Cleanup(base.Close)
	st.Baseline = base.URL
	return st
}

// seedTable records, in a kept database (Settings.DatabaseURL), the seed that filled it:
// how many scale products and how long it took. It is the benchmark's own table, not the
// application's; the migrations neither know nor touch it.
const seedTable = "bench_seed_runs"

// recordSeed writes st's seed into seedTable.
func recordSeed(ctx context.Context, st *Store, products int) error {
	if _, err := st.DB.SQL.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+seedTable+
		" (scale_products BIGINT NOT NULL, products BIGINT NOT NULL, variants BIGINT NOT NULL,"+
		" seed_ms BIGINT NOT NULL, scale_ms BIGINT NOT NULL, analyze_ms BIGINT NOT NULL, seeded_at VARCHAR(40) NOT NULL)"); err != nil {
		return err
	}
	_, err := st.DB.SQL.ExecContext(ctx, "INSERT INTO "+seedTable+" VALUES (?, ?, ?, ?, ?, ?, ?)",
		products, st.Seeded.Products, st.Seeded.Variants, st.SeedTime.Milliseconds(),
		st.Seeded.ScaleTime.Milliseconds(), st.AnalyzeTime.Milliseconds(), time.Now().UTC().Format(time.RFC3339))
	return err
}

// reuse takes the seed of the non-empty kept database of st: the one recorded in seedTable
// if any, which must be of s.Products scale products; otherwise (seeded by `xiadan seed
// --scale`) it must hold at least s.Products products, and the seed time is unknown.
func reuse(tb testing.TB, st *Store, s Settings) {
	tb.Helper()
	ctx := viewer.SystemContext(context.Background())
	var (
		scale, products, variants, seedMS, scaleMS, analyzeMS int64
		at                                                    string
	)
	err := st.DB.SQL.QueryRowContext(ctx, "SELECT scale_products, products, variants, seed_ms, scale_ms, analyze_ms, seeded_at FROM "+
		seedTable+" ORDER BY seeded_at DESC LIMIT 1").Scan(&scale, &products, &variants, &seedMS, &scaleMS, &analyzeMS, &at)
	if err == nil {
		if int(scale) != s.Products {
			tb.Fatalf("bench: BENCH_DATABASE_URL was seeded with %d scale products, not BENCH_PRODUCTS=%d: "+
				"drop it (or give an empty database) to seed again", scale, s.Products)
		}
		when, _ := time.Parse(time.RFC3339, at)
		st.Reused = &when
		st.Seeded.Products, st.Seeded.Variants = int(products), int(variants)
		st.SeedTime, st.AnalyzeTime = time.Duration(seedMS)*time.Millisecond, time.Duration(analyzeMS)*time.Millisecond
		st.Seeded.ScaleTime = time.Duration(scaleMS) * time.Millisecond
		fmt.Printf("bench: reusing the database seeded at %s with %d scale products: the seed times printed are that run's\n",
			at, scale)
		return
	}
	// No record: seeded outside the benchmark.
	n, err := st.DB.Client.Product.Query().Count(ctx)
	if err != nil {
		tb.Fatalf("bench: counting the kept database's products: %v", err)
	}
	if n < s.Products {
		tb.Fatalf("bench: BENCH_DATABASE_URL holds %d products, fewer than BENCH_PRODUCTS=%d, and no record of "+
			"a benchmark seed: give an empty database to seed", n, s.Products)
	}
	v, err := st.DB.Client.ProductVariant.Query().Count(ctx)
	if err != nil {
		tb.Fatalf("bench: counting the kept database's variants: %v", err)
	}
	when := time.Time{}
	st.Reused = &when
	st.Seeded.Products, st.Seeded.Variants = n, v
	fmt.Printf("bench: reusing a database of %d products seeded outside the benchmark (xiadan seed --scale?): "+
		"its seed time is unknown here, see that seed's log\n", n)
}
