package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/app"
	"github.com/xiadan/xiadan/internal/bench"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The orders benchmark's shape. BENCH_ORDERS sizes the orders table; the rest is fixed.
const (
	defaultOrders = 1_000_000
	// 1,000 variants: 10 merchants × 10 products × 10 variants.
	orderMerchants       = 10
	productsPerMerchant  = 10
	variantsPerProduct   = 10
	hotStock             = 10_000_000
	spreadStock          = 100_000
	ordersPerReader      = 2_000
	ordersPerOtherBuyer  = 100
	orderInsertBatch     = 5_000
	statementRepetitions = 5
)

// placeOrderLean is what a checkout page needs back; placeOrderFull also reads every
// order's merchant, items and timeline, as internal/orders/place_test.go does.
const (
	placeOrderLean = `mutation PlaceOrder($i: PlaceOrderInput!) { placeOrder(input: $i) {
  checkoutID total { amount currency } paymentDeadline
  orders { id number status total { amount } } } }`
	placeOrderFull = `mutation PlaceOrder($i: PlaceOrderInput!) { placeOrder(input: $i) {
  checkoutID total { amount } paymentDeadline
  orders { id number status fulfilment merchant { name } subtotal { amount } shippingFee { amount }
    total { amount } shippingAddress { city phone } contactName contactPhone
    items { title sku quantity unitPrice { amount } lineTotal { amount } }
    timeline { type fromStatus toStatus actorRole } } } }`

	myOrdersPage = `query MyOrders { myOrders(first: 20) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { id number status total { amount } createdAt } } } }`
	merchantPaidPage = `query MerchantOrders { merchantOrders(first: 20, where: {status: [PAID]}) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { id number status total { amount } createdAt } } } }`
	merchantCounts = `query MerchantOrderCounts { merchantOrderCounts { status count } }`
)

var shippingAddress = map[string]any{"recipientName": "王小明", "phone": "13800138000", "province": "上海市",
	"city": "上海市", "district": "浦东新区", "street": "世纪大道 100 号"}

// BenchmarkOrders measures the order flow on MySQL: placeOrder under 16 closed-loop
// customers on one hot variant and spread over 1,000; the SQL statements of one
// placeOrder; and the order lists with BENCH_ORDERS orders in the table. BENCH_DURATION
// sets each run's length; BENCH_SQL=1 prints the statements of placeOrder. See
// docs/BENCHMARKS.md. Run it with -benchtime 1x.
func BenchmarkOrders(b *testing.B) {
	settings, err := bench.SettingsFromEnv(os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	n := defaultOrders
	if v := os.Getenv("BENCH_ORDERS"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			b.Fatalf("BENCH_ORDERS must be a number of orders (0 or more), not %q", v)
		}
	}

	setup := time.Now()
	w := openOrderShop(b)
	fmt.Printf("orders: shop of %d merchants, %d products, %d variants and %d customers set up in %s\n",
		orderMerchants, orderMerchants*productsPerMerchant+1, len(w.spread)+1, len(w.buyers)+len(w.readers),
		time.Since(setup).Round(10*time.Millisecond))
	seeded := w.seedOrders(b, n)
	fmt.Printf("orders: seeded %d orders of %d customers (%d users inserted) in %s (%.0f orders/s), then ANALYZE TABLE in %s\n",
		n, seeded.customers, seeded.users, seeded.insertTime.Round(10*time.Millisecond),
		float64(n)/seeded.insertTime.Seconds(), seeded.analyzeTime.Round(time.Millisecond))

	var rows, counts []string
	b.Run("statements", func(b *testing.B) { counts = w.countStatements(b) })

	// Every request of the loads gets a key of its own.
	var keys atomic.Int64
	place := func(variant func(c, i int) int) func(c, i int) ([]byte, string) {
		return func(c, i int) ([]byte, string) {
			in := map[string]any{
				"lines":           []any{map[string]any{"variantID": strconv.Itoa(variant(c, i)), "quantity": 1}},
				"shippingAddress": shippingAddress,
				"idempotencyKey":  fmt.Sprintf("bench-%012d", keys.Add(1)),
			}
			body, _ := json.Marshal(map[string]any{"query": placeOrderLean, "variables": map[string]any{"i": in}})
			return body, w.buyers[c].token
		}
	}
	hotBefore := w.stock(b, w.hot)
	var hotPlaced int
	b.Run("place-hot-variant", func(b *testing.B) {
		row, placed := w.measure(b, settings, "placeOrder, 16 buyers on one variant", place(func(int, int) int { return w.hot }))
		rows, hotPlaced = append(rows, row), placed
	})
	if got := hotBefore - w.stock(b, w.hot); hotPlaced > 0 && got != hotPlaced {
		b.Errorf("the hot variant's stock fell by %d for %d orders placed", got, hotPlaced)
	}
	b.Run("place-spread", func(b *testing.B) {
		// Each buyer walks the 1,000 variants in an order of its own.
		perm := make([][]int, bench.Clients)
		for c := range perm {
			perm[c] = rand.New(rand.NewPCG(uint64(c), 7)).Perm(len(w.spread))
		}
		row, _ := w.measure(b, settings, "placeOrder, 16 buyers over 1,000 variants", place(func(c, i int) int {
			return w.spread[perm[c][i%len(w.spread)]]
		}))
		rows = append(rows, row)
	})

	// Promotions (#11): the same one-line orders over one shop's 100 variants, without and
	// with a shop coupon and a platform coupon chosen (each request spends a claimed pair).
	shopVariants := w.spread[:productsPerMerchant*variantsPerProduct]
	onShop := func(c, i int) int { return shopVariants[(c*7+i)%len(shopVariants)] }
	b.Run("place-one-shop", func(b *testing.B) {
		row, _ := w.measure(b, settings, "placeOrder, 16 buyers over one shop's 100 variants, no coupons", place(onShop))
		rows = append(rows, row)
	})
	b.Run("place-one-shop-coupons", func(b *testing.B) {
		pairs := w.claimCoupons(b, couponsPerBuyer)
		var next [bench.Clients]atomic.Int64
		row, _ := w.measure(b, settings, "placeOrder, 16 buyers over one shop's 100 variants, a shop and a platform coupon",
			func(c, i int) ([]byte, string) {
				k := int(next[c].Add(1)-1) % couponsPerBuyer
				in := map[string]any{
					"lines":           []any{map[string]any{"variantID": strconv.Itoa(onShop(c, i)), "quantity": 1}},
					"shippingAddress": shippingAddress,
					"idempotencyKey":  fmt.Sprintf("bench-%012d", keys.Add(1)),
					"couponIDs":       []string{strconv.Itoa(pairs[c][k][0]), strconv.Itoa(pairs[c][k][1])},
				}
				body, _ := json.Marshal(map[string]any{"query": placeOrderLean, "variables": map[string]any{"i": in}})
				return body, w.buyers[c].token
			})
		rows = append(rows, row)
	})

	fixed := func(query string, sessions []orderSession) func(c, i int) ([]byte, string) {
		body, _ := json.Marshal(map[string]any{"query": query})
		return func(c, _ int) ([]byte, string) { return body, sessions[c%len(sessions)].token }
	}
	owners := make([]orderSession, len(w.merchants))
	for i, m := range w.merchants {
		owners[i] = m.owner
	}
	w.checkLists(b, seeded)
	for _, sc := range []struct {
		name, title, query string
		sessions           []orderSession
	}{
		{"my-orders", "myOrders(first: 20), 16 customers", myOrdersPage, w.readers},
		{"merchant-orders-paid", "merchantOrders(first: 20, PAID), 10 merchants", merchantPaidPage, owners},
		{"merchant-order-counts", "merchantOrderCounts, 10 merchants", merchantCounts, owners},
	} {
		b.Run(sc.name, func(b *testing.B) {
			row, _ := w.measure(b, settings, sc.title, fixed(sc.query, sc.sessions))
			rows = append(rows, row)
		})
	}

	fmt.Printf("\n%d orders seeded, %d clients, %s per run\n\n", n, settings.Clients, settings.Duration)
	fmt.Println("| request | statements (each of 5 runs) |")
	fmt.Println("|---|---|")
	for _, r := range counts {
		fmt.Println(r)
	}
	fmt.Println()
	fmt.Println("| scenario | req/s | p50 | p99 | errors | statements/request | CPU, Go process | CPU, mariadbd | row lock waits | row lock wait time |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		if r != "" {
			fmt.Println(r)
		}
	}
}

// orderSession is a signed-in user of the benchmark.
type orderSession struct {
	id    int
	token string
}

type orderMerchant struct {
	id    int
	owner orderSession
}

// orderShop is the benchmark's server and data: merchants with products, one hot
// variant, and two groups of 16 customers (buyers place orders, readers list theirs).
type orderShop struct {
	url        string
	db         *database.DB
	statements *bench.StatementCounter
	merchants  []orderMerchant
	// hot is the variant every buyer buys in the hot case; spread are the other 1,000,
	// merchant by merchant and product by product.
	hot     int
	spread  []int
	buyers  []orderSession
	readers []orderSession
}

func openOrderShop(b *testing.B) *orderShop {
	w := &orderShop{statements: &bench.StatementCounter{}}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	url := testdb.MySQLURL(b)
	w.db = testdb.Open(b, url, database.Options{WrapDriver: w.statements.Wrap, Logger: logger})
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	cfg.DatabaseURL = url
	cfg.DataDir = b.TempDir()
	cfg.Playground, cfg.Introspection = false, false
	cfg.RegistrationMaxPerAddress = 1 << 20 // every simulated client registers from 127.0.0.1
	cfg.AccessTokenTTL = 2 * time.Hour      // the whole run, seeding included
	cfg.RateLimit.QueryCostBudget = 0       // a load test, not a test of the budget
	// The event relay and the jobs do not run: their statements would land in the counts
	// of single requests. BenchmarkEvents measures the relay.
	a, err := app.New(cfg, w.db, logger)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	b.Cleanup(srv.Close)
	w.url = srv.URL + "/graphql"

	client, ctx := w.db.Client, viewer.SystemContext(context.Background())
	for m := range orderMerchants {
		slug := fmt.Sprintf("bench-shop-%02d", m)
		owner := w.register(b, slug+"-owner@example.com")
		mc, err := client.Merchant.Create().
			SetName(slug).SetSlug(slug).SetContactName("Owner").SetContactPhone("13800000000").
			SetContactEmail(slug + "@example.com").SetLicenceNumber("91310000MA1FL8XQ37").SetLegalName(slug + " Ltd").
			SetOwnerID(owner.id).SetStatus(merchant.StatusACTIVE).SetShippingFlatFee(1000).SetFreeShippingThreshold(9900).
			Save(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := client.User.UpdateOneID(owner.id).SetMerchantID(mc.ID).SetMerchantRole(user.MerchantRoleOWNER).Exec(ctx); err != nil {
			b.Fatal(err)
		}
		w.merchants = append(w.merchants, orderMerchant{id: mc.ID, owner: owner})
		for p := range productsPerMerchant {
			pr := client.Product.Create().SetMerchantID(mc.ID).SetTitle(fmt.Sprintf("Tea %d-%d", m, p)).
				SetKind(product.KindPHYSICAL).SetStatus(product.StatusACTIVE).SaveX(ctx)
			creates := make([]*ent.ProductVariantCreate, variantsPerProduct)
			for v := range creates {
				creates[v] = client.ProductVariant.Create().SetProductID(pr.ID).SetMerchantID(mc.ID).
					SetSku(fmt.Sprintf("T-%d-%d", p, v)).SetPrice(int64(1000 + 100*v)).SetStock(spreadStock).SetPosition(v)
			}
			for _, pv := range client.ProductVariant.CreateBulk(creates...).SaveX(ctx) {
				w.spread = append(w.spread, pv.ID)
			}
		}
	}
	pr := client.Product.Create().SetMerchantID(w.merchants[0].id).SetTitle("Hot tea").
		SetKind(product.KindPHYSICAL).SetStatus(product.StatusACTIVE).SaveX(ctx)
	w.hot = client.ProductVariant.Create().SetProductID(pr.ID).SetMerchantID(w.merchants[0].id).
		SetSku("HOT").SetPrice(3800).SetStock(hotStock).SaveX(ctx).ID
	for c := range bench.Clients {
		w.buyers = append(w.buyers, w.register(b, fmt.Sprintf("buyer-%02d@example.com", c)))
		w.readers = append(w.readers, w.register(b, fmt.Sprintf("reader-%02d@example.com", c)))
	}
	return w
}

// gql sends one GraphQL request and returns its body; a GraphQL error is an error.
func (w *orderShop) gql(token, query string, vars map[string]any) ([]byte, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer rsp.Body.Close()
	out, err := io.ReadAll(rsp.Body)
	if err != nil {
		return nil, err
	}
	if rsp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.300s", rsp.StatusCode, out)
	}
	return out, graphQLData(out)
}

func (w *orderShop) register(b *testing.B, email string) orderSession {
	out, err := w.gql("", `mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }`,
		map[string]any{"i": map[string]any{"email": email, "password": "correct horse battery staple", "displayName": "Bench"}})
	if err != nil {
		b.Fatalf("registering %s: %v", email, err)
	}
	var r struct {
		Data struct {
			Register struct {
				AccessToken string
				User        struct{ ID string }
			}
		}
	}
	if err := decode(out, &r); err != nil {
		b.Fatal(err)
	}
	id, err := strconv.Atoi(r.Data.Register.User.ID)
	if err != nil {
		b.Fatal(err)
	}
	return orderSession{id: id, token: r.Data.Register.AccessToken}
}

func (w *orderShop) stock(b *testing.B, variantID int) int {
	pv, err := w.db.Client.ProductVariant.Query().Where(productvariant.ID(variantID)).
		Only(viewer.SystemContext(context.Background()))
	if err != nil {
		b.Fatal(err)
	}
	return pv.Stock
}

// seededOrders is what seedOrders wrote.
type seededOrders struct {
	users, customers        int
	perReader               int
	paid                    map[int]int // merchant → PAID orders
	insertTime, analyzeTime time.Duration
}

// seedOrders writes n orders with multi-row INSERTs on the raw pool (not counted): each
// reader owns perReader of them, spread over the year; the rest belong to other
// customers, inserted as users alongside, about 100 orders each. Merchants, statuses,
// amounts and the other customers are drawn from a seeded random source; order numbers
// are sequential (S + 15 digits), so they never collide with real ones.
func (w *orderShop) seedOrders(b *testing.B, n int) seededOrders {
	ctx := context.Background()
	s := seededOrders{paid: map[int]int{}}
	s.perReader = min(ordersPerReader, n/(2*len(w.readers)))
	rest := n - s.perReader*len(w.readers)
	start := time.Now()
	s.users = max(rest/ordersPerOtherBuyer, 1)
	if rest == 0 {
		s.users = 0
	}
	now := time.Now().UTC()
	stamp := func(t time.Time) string { return "'" + t.Format("2006-01-02 15:04:05.000000") + "'" }
	var sb strings.Builder
	flush := func() {
		if sb.Len() == 0 {
			return
		}
		if _, err := w.db.SQL.ExecContext(ctx, sb.String()); err != nil {
			b.Fatalf("seeding: %v", err)
		}
		sb.Reset()
	}
	for i := range s.users {
		if sb.Len() == 0 {
			sb.WriteString("INSERT INTO users (created_at, updated_at, email, password_hash, display_name, locale, status, roles) VALUES ")
		} else {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "(%s,%s,'seed-%07d@bench.invalid','!','Customer %d','zh-CN','ACTIVE','[\"CUSTOMER\"]')",
			stamp(now), stamp(now), i, i)
		if (i+1)%orderInsertBatch == 0 {
			flush()
		}
	}
	flush()
	var others []int
	rows, err := w.db.SQL.QueryContext(ctx, "SELECT id FROM users WHERE email LIKE 'seed-%' ORDER BY id")
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		others = append(others, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil || len(others) != s.users {
		b.Fatalf("seeding: %d of %d users read back: %v", len(others), s.users, err)
	}
	s.customers = len(others)
	if s.perReader > 0 {
		s.customers += len(w.readers)
	}

	// Readers' orders fall every stride rows, so they span the whole year too.
	stride := 1
	if s.perReader > 0 {
		stride = max(n/(s.perReader*len(w.readers)), 1)
	}
	statuses := []struct {
		status string
		upTo   int // percent
	}{{"PENDING_PAYMENT", 2}, {"PAID", 7}, {"ACCEPTED", 10}, {"SHIPPED", 15}, {"DELIVERED", 20}, {"COMPLETED", 95}, {"CANCELLED", 100}}
	rng := rand.New(rand.NewPCG(1, 2))
	const address = `'{"recipientName":"王小明","phone":"13800138000","country":"CN","province":"上海市","city":"上海市","district":"浦东新区","street":"世纪大道 100 号","postalCode":"200120"}'`
	year := 365 * 24 * time.Hour
	readerRows := 0
	for i := range n {
		if sb.Len() == 0 {
			sb.WriteString("INSERT INTO orders (created_at, updated_at, number, checkout_id, status, currency, subtotal, shipping_fee, discount, total, " +
				"shipping_address, contact_name, contact_phone, note, paid_at, fulfilment, payment_deadline, refunded_amount, merchant_id, customer_id) VALUES ")
		} else {
			sb.WriteByte(',')
		}
		var customer int
		if s.perReader > 0 && i%stride == 0 && readerRows < s.perReader*len(w.readers) {
			customer = w.readers[readerRows%len(w.readers)].id
			readerRows++
		} else {
			customer = others[rng.IntN(len(others))]
		}
		m := w.merchants[rng.IntN(len(w.merchants))].id
		p := rng.IntN(100)
		k := slices.IndexFunc(statuses, func(s struct {
			status string
			upTo   int
		}) bool {
			return p < s.upTo
		})
		status := statuses[k].status
		if status == "PAID" {
			s.paid[m]++
		}
		created := now.Add(-year + time.Duration(int64(i)*int64(year)/int64(n)))
		paidAt := "NULL"
		if status != "PENDING_PAYMENT" && status != "CANCELLED" {
			paidAt = stamp(created.Add(3 * time.Minute))
		}
		subtotal := int64(1000 + rng.IntN(49_000))
		shipping := int64(0)
		if subtotal < 9900 {
			shipping = 1000
		}
		fmt.Fprintf(&sb, "(%s,%s,'S%015d','seed_%d','%s','CNY',%d,%d,0,%d,%s,'王小明','13800138000','',%s,'PHYSICAL',%s,0,%d,%d)",
			stamp(created), stamp(created), i, i, status, subtotal, shipping, subtotal+shipping, address,
			paidAt, stamp(created.Add(30*time.Minute)), m, customer)
		if (i+1)%orderInsertBatch == 0 {
			flush()
		}
	}
	flush()
	if readerRows != s.perReader*len(w.readers) {
		b.Fatalf("seeding: %d reader orders, want %d", readerRows, s.perReader*len(w.readers))
	}
	s.insertTime = time.Since(start)
	start = time.Now()
	if _, err := w.db.SQL.ExecContext(ctx, "ANALYZE TABLE orders, users"); err != nil {
		b.Fatal(err)
	}
	s.analyzeTime = time.Since(start)
	return s
}

// countStatements sends placeOrder alone, several times, and returns the Markdown rows of
// the statements each call sent: a 5-line cart of two merchants given as lines (with a
// lean and a full selection), and the same 5 lines from the cart.
func (w *orderShop) countStatements(b *testing.B) []string {
	perMerchant := productsPerMerchant * variantsPerProduct
	five := []int{w.spread[0], w.spread[variantsPerProduct], w.spread[2*variantsPerProduct],
		w.spread[perMerchant], w.spread[perMerchant+variantsPerProduct]}
	var lines []any
	for _, v := range five {
		lines = append(lines, map[string]any{"variantID": strconv.Itoa(v), "quantity": 1})
	}
	buyer := w.buyers[0]
	var rows []string
	for _, sc := range []struct {
		name, query string
		fromCart    bool
	}{
		{"placeOrder, 5 lines of 2 merchants, address given", placeOrderLean, false},
		{"placeOrder, the same with merchant, items and timeline selected", placeOrderFull, false},
		{"placeOrder fromCart: true, 5 cart lines of 2 merchants", placeOrderLean, true},
	} {
		var counts []int
		for rep := range statementRepetitions {
			in := map[string]any{"shippingAddress": shippingAddress, "idempotencyKey": fmt.Sprintf("count-%d-%d", len(rows), rep)}
			if sc.fromCart {
				for _, v := range five {
					if _, err := w.gql(buyer.token, `mutation($v: ID!) { addToCart(variantID: $v, quantity: 1) { quantity } }`,
						map[string]any{"v": strconv.Itoa(v)}); err != nil {
						b.Fatalf("adding to the cart: %v", err)
					}
				}
				in["fromCart"] = true
			} else {
				in["lines"] = lines
			}
			var out []byte
			var err error
			statements := w.statements.Record(func() { out, err = w.gql(buyer.token, sc.query, map[string]any{"i": in}) })
			if err != nil {
				b.Fatalf("%s: %v", sc.name, err)
			}
			var r struct {
				Data struct {
					PlaceOrder struct{ Orders []struct{ Status string } }
				}
			}
			if err := decode(out, &r); err != nil || len(r.Data.PlaceOrder.Orders) != 2 {
				b.Fatalf("%s: want 2 orders, got %.300s (%v)", sc.name, out, err)
			}
			counts = append(counts, len(statements))
			if rep == 0 && os.Getenv("BENCH_SQL") != "" {
				fmt.Printf("%s: %d statements\n", sc.name, len(statements))
				for i, q := range statements {
					fmt.Printf("  %2d. %s\n", i+1, q)
				}
			}
		}
		if slices.Min(counts) != slices.Max(counts) {
			b.Errorf("%s: the statement count varies between identical calls: %v", sc.name, counts)
		}
		b.ReportMetric(float64(counts[0]), "stmts/"+[]string{"lines", "lines-full", "cart"}[len(rows)])
		rows = append(rows, fmt.Sprintf("| %s | %s |", sc.name, strings.Trim(fmt.Sprint(counts), "[]")))
	}
	b.ReportMetric(0, "ns/op")
	return rows
}

// checkLists checks one response of each list before they are measured.
func (w *orderShop) checkLists(b *testing.B, s seededOrders) {
	type page struct {
		TotalCount int
		Edges      []struct {
			Node struct{ ID, Number, Status string }
		}
	}
	var mine struct{ Data struct{ MyOrders page } }
	out, err := w.gql(w.readers[0].token, myOrdersPage, nil)
	if err == nil {
		err = decode(out, &mine)
	}
	if p := mine.Data.MyOrders; err != nil || p.TotalCount != s.perReader || len(p.Edges) != min(20, s.perReader) {
		b.Fatalf("myOrders: want %d orders, got %.300s (%v)", s.perReader, out, err)
	}
	m := w.merchants[0]
	var paid struct{ Data struct{ MerchantOrders page } }
	out, err = w.gql(m.owner.token, merchantPaidPage, nil)
	if err == nil {
		err = decode(out, &paid)
	}
	if p := paid.Data.MerchantOrders; err != nil || p.TotalCount != s.paid[m.id] || len(p.Edges) != min(20, s.paid[m.id]) {
		b.Fatalf("merchantOrders: want %d PAID orders, got %.300s (%v)", s.paid[m.id], out, err)
	}
	var counts struct {
		Data struct {
			MerchantOrderCounts []struct {
				Status string
				Count  int
			}
		}
	}
	out, err = w.gql(m.owner.token, merchantCounts, nil)
	if err == nil {
		err = decode(out, &counts)
	}
	if err != nil || len(counts.Data.MerchantOrderCounts) != 9 || counts.Data.MerchantOrderCounts[1].Count != s.paid[m.id] {
		b.Fatalf("merchantOrderCounts: want 9 statuses with %d PAID, got %.300s (%v)", s.paid[m.id], out, err)
	}
	total := 0
	for _, c := range counts.Data.MerchantOrderCounts {
		total += c.Count
	}
	fmt.Printf("orders: reader 0 has %d orders; merchant 0 has %d orders, %d of them PAID\n", s.perReader, total, s.paid[m.id])
}

// measure warms up, runs the load b.N times and reports; it returns the Markdown table
// row ("" when the run failed) and the number of requests sent, warm-up included.
func (w *orderShop) measure(b *testing.B, s bench.Settings, title string, req func(c, i int) ([]byte, string)) (string, int) {
	sent := 0
	if os.Getenv("BENCH_SQL") != "" {
		body, token := req(0, 0)
		var err error
		statements := w.statements.Record(func() {
			var vars map[string]any
			var q struct {
				Query     string
				Variables map[string]any
			}
			if err = json.Unmarshal(body, &q); err == nil {
				vars = q.Variables
				_, err = w.gql(token, q.Query, vars)
			}
		})
		if err != nil {
			b.Fatalf("%s: %v", title, err)
		}
		sent++
		fmt.Printf("%s: %d statements\n", title, len(statements))
		for i, q := range statements {
			fmt.Printf("  %2d. %s\n", i+1, q)
		}
	}
	load := bench.ClientLoad{URL: w.url, Clients: s.Clients, Duration: s.Warmup, Request: req, Check: graphQLData}
	warm := load.Run()
	if warm.Errors > 0 {
		b.Fatalf("%s: warm-up: %d of %d requests failed, first: %s", title, warm.Errors, warm.Requests, warm.FirstError)
	}
	load.Duration = s.Duration
	var total bench.Outcome
	var statements int64
	var used usage
	b.ResetTimer()
	for range b.N {
		before, u0 := w.statements.Load(), w.usage(b)
		total = total.Merge(load.Run())
		statements += w.statements.Load() - before
		used = used.add(w.usage(b).sub(u0))
	}
	b.StopTimer()

	perRequest := float64(statements) / float64(max(total.Requests, 1))
	p50, p99 := total.Percentile(0.50), total.Percentile(0.99)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(total.Throughput(), "req/s")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(float64(total.Errors), "errors")
	b.ReportMetric(perRequest, "stmts/req")
	b.ReportMetric(float64(used.lockWaits), "row-lock-waits")
	// CPU as a share of the machine over the run: 100 % is both vCPUs busy.
	share := func(d time.Duration) float64 {
		return 100 * d.Seconds() / (total.Elapsed.Seconds() * float64(runtime.NumCPU()))
	}
	row := fmt.Sprintf("| %s | %.1f | %.2f ms | %.2f ms | %d | %.3f | %.0f %% | %s | %d | %d ms |",
		title, total.Throughput(), ms(p50), ms(p99), total.Errors, perRequest,
		share(used.process), mariadbShare(used, share), used.lockWaits, used.lockTime.Milliseconds())
	fmt.Println(row)
	if total.Errors > 0 {
		b.Errorf("%s: %d of %d requests failed, first: %s", title, total.Errors, total.Requests, total.FirstError)
		return "", sent + warm.Requests + total.Requests
	}
	return row, sent + warm.Requests + total.Requests
}

// usage is what the machine spent over a run: CPU time of this process (the load
// generator and the server) and of the local mariadbd, and InnoDB's row lock waits
// (server-wide counters: other databases on the server count too).
type usage struct {
	process, mariadb time.Duration
	haveMariaDB      bool
	lockWaits        int64
	lockTime         time.Duration
}

func (u usage) sub(v usage) usage {
	return usage{process: u.process - v.process, mariadb: u.mariadb - v.mariadb, haveMariaDB: u.haveMariaDB && v.haveMariaDB,
		lockWaits: u.lockWaits - v.lockWaits, lockTime: u.lockTime - v.lockTime}
}

func (u usage) add(v usage) usage {
	return usage{process: u.process + v.process, mariadb: u.mariadb + v.mariadb, haveMariaDB: u.haveMariaDB || v.haveMariaDB,
		lockWaits: u.lockWaits + v.lockWaits, lockTime: u.lockTime + v.lockTime}
}

func mariadbShare(u usage, share func(time.Duration) float64) string {
	if !u.haveMariaDB {
		return "n/a"
	}
	return fmt.Sprintf("%.0f %%", share(u.mariadb))
}

// usage reads the counters now.
func (w *orderShop) usage(b *testing.B) usage {
	var u usage
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		u.process = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	u.mariadb, u.haveMariaDB = mariadbCPU()
	rows, err := w.db.SQL.Query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_row_lock_waits', 'Innodb_row_lock_time')")
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			b.Fatal(err)
		}
		if name == "Innodb_row_lock_waits" {
			u.lockWaits = v
		} else {
			u.lockTime = time.Duration(v) * time.Millisecond
		}
	}
	return u
}

// mariadbCPU returns the CPU time (user + system) of a mariadbd or mysqld process on
// this machine, when there is exactly one.
func mariadbCPU() (time.Duration, bool) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var found []string
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if name := strings.TrimSpace(string(comm)); err == nil && (name == "mariadbd" || name == "mysqld") {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	stat, err := os.ReadFile(found[0] + "/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the parenthesised name: state is the first, utime the 12th, stime the
	// 13th, in clock ticks of 1/100 s (USER_HZ on Linux).
	_, rest, ok := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

// couponsPerBuyer is how many shop and platform coupon pairs each buyer holds for the
// coupon load: more than one client places in a run (the load fails when a pair is
// spent twice, so a longer BENCH_DURATION needs more).
const couponsPerBuyer = 4000

// claimCoupons issues a shop coupon (¥5.00 off, the first merchant) and a platform coupon
// (10 % off, at most ¥3.00) and gives each buyer n claimed pairs, written directly.
func (w *orderShop) claimCoupons(b *testing.B, n int) [][][2]int {
	client, ctx := w.db.Client, viewer.SystemContext(context.Background())
	now := time.Now().UTC()
	shopT := client.CouponTemplate.Create().SetMerchantID(w.merchants[0].id).SetName("bench shop").SetKind("FIXED").
		SetAmount(500).SetScope("ALL").SetValidDays(30).SetPerUserLimit(n).SetCreatedAt(now).SetUpdatedAt(now).SaveX(ctx)
	platT := client.CouponTemplate.Create().SetName("bench platform").SetKind("PERCENT").SetPercentBp(1000).
		SetMaxDiscount(300).SetScope("ALL").SetValidDays(30).SetPerUserLimit(n).SetCreatedAt(now).SetUpdatedAt(now).SaveX(ctx)
	pairs := make([][][2]int, len(w.buyers))
	for c, buyer := range w.buyers {
		pairs[c] = make([][2]int, n)
		for k, t := range []*ent.CouponTemplate{shopT, platT} {
			for lo := 0; lo < n; lo += 2000 {
				creates := make([]*ent.CouponCreate, 0, 2000)
				for seq := lo; seq < min(lo+2000, n); seq++ {
					creates = append(creates, client.Coupon.Create().SetTemplateID(t.ID).SetUserID(buyer.id).SetSeq(seq+1).
						SetNillableMerchantID(t.MerchantID).SetValidFrom(now.Add(-time.Minute)).
						SetValidUntil(now.AddDate(0, 0, 30)).SetClaimedAt(now))
				}
				for i, cp := range client.Coupon.CreateBulk(creates...).SaveX(ctx) {
					pairs[c][lo+i][k] = cp.ID
				}
			}
		}
	}
	return pairs
}
