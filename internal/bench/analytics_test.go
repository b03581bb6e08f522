package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/analytics"
	"github.com/xiadan/xiadan/internal/bench"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/ratelimit"
)

// defaultAnalyticsOrders keeps `go test -bench Analytics` to minutes; BENCH_ORDERS=1000000
// is the size.
const defaultAnalyticsOrders = 100_000

const analyticsDashboard = `query($from: String!, $to: String!, $g: AnalyticsGranularity) {
  merchantAnalytics(from: $from, to: $to, granularity: $g) {
    series { start orders paidOrders sales { amount } averageOrderValue { amount } refunds { amount } units }
    totals { orders paidOrders sales { amount } averageOrderValue { amount } refunds { amount } }
    topProducts { productID paidOrders units sales { amount } }
    funnel { views addsToCart checkouts orders paidOrders }
    buyers repeatBuyers repeatBuyerRate
    channels { channel views orders sales { amount } }
    lowStock { sku }
    paymentFailures { count recent { orderNumber } }
  } }`

// BenchmarkAnalyticsDashboard measures merchantAnalytics on MySQL, every field asked for,
// with BENCH_ORDERS (default 100,000) orders of 10 merchants spread over a year, each
// with one line, rolled up (analytics.Rebuild) before the runs: 16 closed-loop merchant
// owners read the last 30 days by day, then the last 365 days by month. docs/ANALYTICS.md
// has the figures. Run it with -benchtime 1x.
func BenchmarkAnalyticsDashboard(b *testing.B) {
	settings, err := bench.SettingsFromEnv(os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	n := defaultAnalyticsOrders
	if v := os.Getenv("BENCH_ORDERS"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			b.Fatalf("BENCH_ORDERS must be a number of orders (0 or more), not %q", v)
		}
	}
	w := openOrderShop(b)
	seeded := w.seedOrders(b, n)
	ctx := context.Background()
	start := time.Now()
	// One line per order, of one of its merchant's ten products (their ids are consecutive).
	if _, err := w.db.SQL.ExecContext(ctx, `INSERT INTO order_items
  (title, sku, options, kind, unit_price, currency, quantity, line_total, discount, after_sales_status, order_id, product_id, variant_id)
SELECT 'Tea', 'T', '[]', 'PHYSICAL', o.subtotal, 'CNY', 1, o.subtotal, 0, 'NONE', o.id, p.first + o.id % 10, NULL
FROM orders o JOIN (SELECT merchant_id, MIN(id) AS first FROM products GROUP BY merchant_id) p ON p.merchant_id = o.merchant_id`); err != nil {
		b.Fatal(err)
	}
	items := time.Since(start)
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	svc, err := analytics.New(w.db.Client, w.db.SQL, ratelimit.NewMemory(), cfg.Analytics, slog.Default())
	if err != nil {
		b.Fatal(err)
	}
	loc, _ := time.LoadLocation(cfg.Analytics.TimeZone)
	day := func(t time.Time) int { y, m, d := t.In(loc).Date(); return y*10000 + int(m)*100 + d }
	now := time.Now()
	start = time.Now()
	for _, m := range w.merchants {
		if err := svc.Rebuild(ctx, m.id, day(now.AddDate(-1, 0, -1)), day(now)); err != nil {
			b.Fatal(err)
		}
	}
	fmt.Printf("analytics: %d orders (%d customers) seeded in %s, their lines in %s, rolled up in %s\n",
		n, seeded.customers, seeded.insertTime.Round(10*time.Millisecond), items.Round(10*time.Millisecond),
		time.Since(start).Round(10*time.Millisecond))

	owners := make([]orderSession, len(w.merchants))
	for i, m := range w.merchants {
		owners[i] = m.owner
	}
	today := now.In(loc)
	var rows []string
	// Buyers and repeat buyers are read from the orders' index, not a rollup: the last
	// scenario leaves them out to show what the rollups alone cost.
	withoutBuyers := strings.Replace(analyticsDashboard, "buyers repeatBuyers repeatBuyerRate", "", 1)
	for _, sc := range []struct {
		name, title, query string
		from               time.Time
		g                  string
	}{
		{"last-30-days-by-day", "merchantAnalytics, all fields, 30 days by DAY, 10 merchants", analyticsDashboard, today.AddDate(0, 0, -29), "DAY"},
		{"last-365-days-by-month", "merchantAnalytics, all fields, 365 days by MONTH, 10 merchants", analyticsDashboard, today.AddDate(0, 0, -364), "MONTH"},
		{"last-365-days-without-buyers", "merchantAnalytics without buyers, 365 days by MONTH, 10 merchants", withoutBuyers, today.AddDate(0, 0, -364), "MONTH"},
	} {
		body, _ := json.Marshal(map[string]any{"query": sc.query, "variables": map[string]any{
			"from": sc.from.Format(time.DateOnly), "to": today.Format(time.DateOnly), "g": sc.g}})
		b.Run(sc.name, func(b *testing.B) {
			row, _ := w.measure(b, settings, sc.title, func(c, _ int) ([]byte, string) { return body, owners[c%len(owners)].token })
			rows = append(rows, row)
		})
	}
	fmt.Printf("\n%d orders seeded, %d clients, %s per run\n\n", n, settings.Clients, settings.Duration)
	fmt.Println("| scenario | req/s | p50 | p99 | errors | statements/request | CPU, Go process | CPU, mariadbd | row lock waits | row lock wait time |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		if r != "" {
			fmt.Println(r)
		}
	}
}
