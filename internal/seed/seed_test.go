package seed_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "modernc.org/sqlite"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/category"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	_ "github.com/xiadan/xiadan/ent/runtime" // privacy policies and hooks
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/i18n"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/viewer"
)

const password = "demo-password-123"

// schemaMu serializes Ent's Schema.Create across the parallel tests. Every client's
// migration works on the same generated migrate.Tables: Atlas's setupTables writes their
// index names, foreign-key symbols and column links (under a per-table lock) while another
// migration's realm/aIndexes reads them without it, which the race detector reports even
// though each test has its own database (ent/ent#4519).
var schemaMu sync.Mutex

// open returns a client on a fresh, migrated SQLite database.
func open(t *testing.T) *ent.Client {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, db)))
	t.Cleanup(func() { _ = client.Close() })
	schemaMu.Lock()
	err = client.Schema.Create(context.Background())
	schemaMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// The demo that the read-only tests share: seeding is the slow part of this package, so it
// runs once (when a test first asks), in a folder TestMain removes.
var shared struct {
	once   sync.Once
	dir    string
	client *ent.Client
	sum    seed.Summary
	err    error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xiadan-seed-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.dir = dir
	code := m.Run()
	if shared.client != nil {
		_ = shared.client.Close()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// demo returns the shared demo database. Tests must only read it.
func demo(t *testing.T) (*ent.Client, seed.Summary) {
	t.Helper()
	shared.once.Do(func() {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(shared.dir, "demo.db")+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
		if err != nil {
			shared.err = err
			return
		}
		shared.client = ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, db)))
		schemaMu.Lock()
		err = shared.client.Schema.Create(context.Background())
		schemaMu.Unlock()
		if err != nil {
			shared.err = err
			return
		}
		shared.sum, shared.err = seed.Demo(context.Background(), shared.client, seed.Options{Password: password})
	})
	if shared.err != nil {
		t.Fatalf("seeding the shared demo: %v", shared.err)
	}
	return shared.client, shared.sum
}

// seeded returns a database of its own seeded with the demo catalogue (no orders) and
// scale extra products, batch per transaction.
func seeded(t *testing.T, scale, batch int) (*ent.Client, seed.Summary) {
	t.Helper()
	client := open(t)
	sum, err := seed.Demo(context.Background(), client, seed.CatalogueOnly(seed.Options{Scale: scale, Password: password}, batch))
	if err != nil {
		t.Fatal(err)
	}
	return client, sum
}

// catalogue reads every product with its variants, in id order.
func catalogue(t *testing.T, client *ent.Client) []*ent.Product {
	t.Helper()
	ps, err := client.Product.Query().
		WithVariants(func(q *ent.ProductVariantQuery) { q.Order(productvariant.ByPosition()) }).
		Order(product.ByID()).All(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestDemoMatchesItsSummary(t *testing.T) {
	t.Parallel()
	client, sum := demo(t)
	ctx := viewer.SystemContext(context.Background())
	count := func(n int, err error) int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"users", count(client.User.Query().Count(ctx)), sum.Users},
		{"merchants", count(client.Merchant.Query().Count(ctx)), sum.Merchants},
		{"categories", count(client.Category.Query().Count(ctx)), sum.Categories},
		{"products", count(client.Product.Query().Count(ctx)), sum.Products},
		{"variants", count(client.ProductVariant.Query().Count(ctx)), sum.Variants},
		{"accounts", len(sum.Accounts), sum.Users},
	} {
		if c.got != c.want {
			t.Errorf("%s: database has %d, summary says %d", c.what, c.got, c.want)
		}
	}
	if sum.Products < 200 || sum.Products > 500 {
		t.Errorf("demo has %d products, want a few hundred", sum.Products)
	}
}

func TestDemoAccounts(t *testing.T) {
	t.Parallel()
	client, sum := demo(t)
	ctx := viewer.SystemContext(context.Background())
	users, err := client.User.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byEmail := map[string]*ent.User{}
	staff := 0
	for _, u := range users {
		byEmail[*u.Email] = u
		if !slices.Contains(u.Roles, string(viewer.RoleCustomer)) {
			t.Errorf("%s has roles %v, want CUSTOMER among them", *u.Email, u.Roles)
		}
		if u.MerchantRole != nil && *u.MerchantRole == user.MerchantRoleSTAFF {
			staff++
		}
	}
	if staff == 0 {
		t.Error("no merchant has staff")
	}
	admin := byEmail[seed.AdminEmail]
	if admin == nil || !slices.Contains(admin.Roles, string(viewer.RoleAdmin)) {
		t.Fatalf("admin account missing or not an admin: %+v", admin)
	}
	for _, acc := range sum.Accounts {
		if byEmail[acc.Email] == nil || acc.Role == "" {
			t.Errorf("summary account %+v is not in the database", acc)
		}
	}
	// One hash serves every account, and it is of the given password.
	if ok, err := auth.VerifyPassword(admin.PasswordHash, password); err != nil || !ok {
		t.Errorf("admin password does not verify: %v", err)
	}
	for _, u := range users {
		if u.PasswordHash != admin.PasswordHash {
			t.Errorf("%s has its own hash; the demo hashes once", *u.Email)
		}
	}
}

func TestDemoMerchants(t *testing.T) {
	t.Parallel()
	client, _ := demo(t)
	ctx := viewer.SystemContext(context.Background())
	ms, err := client.Merchant.Query().WithOwner().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slugRE := regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	licenceRE := regexp.MustCompile(`^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$`)
	statuses := map[merchant.Status]int{}
	for _, m := range ms {
		statuses[m.Status]++
		if !slugRE.MatchString(m.Slug) {
			t.Errorf("merchant slug %q is not lower-case ascii with hyphens", m.Slug)
		}
		if !licenceRE.MatchString(m.LicenceNumber) {
			t.Errorf("%s: licence %q is not a unified social credit code", m.Slug, m.LicenceNumber)
		}
		if m.ContactName == "" || m.ContactPhone == "" || m.ContactEmail == "" || m.LegalName == "" {
			t.Errorf("%s: contact or legal details missing", m.Slug)
		}
		o := m.Edges.Owner
		if o.MerchantID == nil || *o.MerchantID != m.ID || o.MerchantRole == nil || *o.MerchantRole != user.MerchantRoleOWNER {
			t.Errorf("%s: owner %s is not its OWNER member", m.Slug, *o.Email)
		}
		if m.Status != merchant.StatusACTIVE {
			continue
		}
		n, err := m.QueryProducts().Where(product.StatusEQ(product.StatusACTIVE)).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("ACTIVE merchant %s has no ACTIVE products", m.Slug)
		}
	}
	if statuses[merchant.StatusACTIVE] < 5 {
		t.Errorf("%d ACTIVE merchants, want at least 5", statuses[merchant.StatusACTIVE])
	}
	if statuses[merchant.StatusPENDING_REVIEW] != 1 {
		t.Errorf("%d merchants PENDING_REVIEW, want 1", statuses[merchant.StatusPENDING_REVIEW])
	}
}

func TestDemoCategoryTree(t *testing.T) {
	t.Parallel()
	client, _ := demo(t)
	ctx := viewer.SystemContext(context.Background())
	tops, err := client.Category.Query().Where(category.ParentIDIsNil()).WithChildren().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tops) < 5 {
		t.Errorf("%d top-level categories, want about six", len(tops))
	}
	for _, c := range tops {
		if len(c.Edges.Children) == 0 {
			t.Errorf("top category %s has no children", c.Slug)
		}
		for _, ch := range c.Edges.Children {
			if n, err := ch.QueryChildren().Count(ctx); err != nil || n > 0 {
				t.Errorf("category %s is deeper than two levels (%d children, %v)", ch.Slug, n, err)
			}
			if ch.Name == "" || ch.NameEn == "" || ch.Name == ch.NameEn {
				t.Errorf("category %s wants a Chinese and an English name, has %q / %q", ch.Slug, ch.Name, ch.NameEn)
			}
		}
	}
}

func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}
func hasLatin(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 128 && unicode.IsLetter(r) }) >= 0
}

func TestDemoProducts(t *testing.T) {
	t.Parallel()
	client, _ := demo(t)
	ps := catalogue(t, client)
	kinds := map[product.Kind]int{}
	statuses := map[product.Status]int{}
	var soldOut, low int
	ids := make([]int, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	english, err := i18n.TextsOf(viewer.SystemContext(context.Background()), client, i18n.Product, ids, "en")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		kinds[p.Kind]++
		statuses[p.Status]++
		// The product holds the Chinese; its en translation the English (internal/i18n).
		en := english[p.ID]["en"]
		if !hasHan(p.Title) {
			t.Errorf("product %d title %q is not Chinese", p.ID, p.Title)
		}
		if !hasLatin(en["title"]) || hasHan(en["title"]) {
			t.Errorf("product %d English title %q", p.ID, en["title"])
		}
		if !hasHan(p.Description) || strings.Contains(p.Description, "\n\n") || !hasLatin(en["description"]) || hasHan(en["description"]) {
			t.Errorf("product %d description is not Chinese with an English translation: %q / %q", p.ID, p.Description, en["description"])
		}
		for i, a := range p.Attributes {
			if en[i18n.AttributeName(i)] == "" || en[i18n.AttributeValue(i)] == "" || hasHan(en[i18n.AttributeName(i)]) {
				t.Errorf("product %d attribute %d %+v has no English: %q", p.ID, i, a, en[i18n.AttributeName(i)])
			}
		}
		if len(p.Images) < 1 || len(p.Images) > 4 {
			t.Errorf("product %d has %d images", p.ID, len(p.Images))
		}
		for _, img := range p.Images {
			if !servedDemoPicture(img.URL) || img.Alt == "" {
				t.Errorf("product %d image %+v", p.ID, img)
			}
		}
		if len(p.Attributes) == 0 {
			t.Errorf("product %d has no attributes", p.ID)
		}
		if p.CategoryID == nil {
			t.Errorf("product %d has no category", p.ID)
		}
		if (p.Status == product.StatusDRAFT) != (p.PublishedAt == nil) {
			t.Errorf("product %d is %s with published_at %v", p.ID, p.Status, p.PublishedAt)
		}
		for _, v := range p.Edges.Variants {
			if v.Price < 1 || v.Currency != "CNY" || v.Stock < 0 || v.Stock > 500 {
				t.Errorf("variant %s: price %d %s, stock %d", v.Sku, v.Price, v.Currency, v.Stock)
			}
			if v.Stock == 0 {
				soldOut++
			} else if v.Stock < v.LowStockThreshold {
				low++
			}
		}
	}
	for _, k := range []product.Kind{product.KindPHYSICAL, product.KindVIRTUAL, product.KindSERVICE} {
		if kinds[k] == 0 {
			t.Errorf("no %s products", k)
		}
	}
	if kinds[product.KindPHYSICAL] <= len(ps)/2 {
		t.Errorf("%d of %d products are PHYSICAL, want most", kinds[product.KindPHYSICAL], len(ps))
	}
	for _, s := range []product.Status{product.StatusACTIVE, product.StatusDRAFT, product.StatusDELISTED} {
		if statuses[s] == 0 {
			t.Errorf("no %s products", s)
		}
	}
	if statuses[product.StatusACTIVE] <= len(ps)/2 {
		t.Errorf("%d of %d products are ACTIVE, want most", statuses[product.StatusACTIVE], len(ps))
	}
	if soldOut == 0 || low == 0 {
		t.Errorf("%d variants sold out and %d low on stock, want some of each", soldOut, low)
	}
	checkVariants(t, ps)
}

// checkVariants asserts what holds for every product: 1–6 variants with the product's
// merchant, the same option names in the same order, and SKUs unique per merchant.
func checkVariants(t *testing.T, ps []*ent.Product) {
	t.Helper()
	type key struct {
		merchant int
		sku      string
	}
	seen := map[key]bool{}
	for _, p := range ps {
		vs := p.Edges.Variants
		if len(vs) < 1 || len(vs) > 6 {
			t.Errorf("product %d has %d variants, want 1 to 6", p.ID, len(vs))
			continue
		}
		names := func(i int) []string {
			var out []string
			for _, o := range vs[i].Options {
				out = append(out, o.Name)
			}
			return out
		}
		combos := map[string]bool{}
		for i, v := range vs {
			if v.MerchantID != p.MerchantID {
				t.Errorf("variant %s has merchant %d, its product %d", v.Sku, v.MerchantID, p.MerchantID)
			}
			if !slices.Equal(names(i), names(0)) {
				t.Errorf("product %d: variant options %v differ from %v", p.ID, names(i), names(0))
			}
			combo := ""
			for _, o := range v.Options {
				combo += o.Name + "=" + o.Value + ";"
			}
			if combos[combo] {
				t.Errorf("product %d: two variants are %s", p.ID, combo)
			}
			combos[combo] = true
			k := key{v.MerchantID, v.Sku}
			if seen[k] {
				t.Errorf("SKU %s used twice by merchant %d", v.Sku, v.MerchantID)
			}
			seen[k] = true
		}
	}
}

func TestDemoRefusesANonEmptyDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if empty, err := seed.IsEmpty(ctx, open(t)); err != nil || !empty {
		t.Fatalf("fresh database: IsEmpty = %v, %v", empty, err)
	}
	client, first := demo(t)
	if empty, err := seed.IsEmpty(ctx, client); err != nil || empty {
		t.Fatalf("seeded database: IsEmpty = %v, %v", empty, err)
	}
	if _, err := seed.Demo(ctx, client, seed.Options{Password: password}); !errors.Is(err, seed.ErrNotEmpty) {
		t.Fatalf("second Demo: err = %v, want ErrNotEmpty", err)
	}
	n, err := client.Product.Query().Count(viewer.SystemContext(ctx))
	if err != nil || n != first.Products {
		t.Errorf("after the refused run: %d products (%v), want %d", n, err, first.Products)
	}
}

func TestDemoRejectsBadOptions(t *testing.T) {
	t.Parallel()
	client := open(t)
	for _, o := range []seed.Options{{Password: "short"}, {Password: password, Scale: -1}} {
		if _, err := seed.Demo(context.Background(), client, o); err == nil {
			t.Errorf("Demo(%+v) succeeded", o)
		}
	}
	if empty, err := seed.IsEmpty(context.Background(), client); err != nil || !empty {
		t.Errorf("a rejected run wrote data: IsEmpty = %v, %v", empty, err)
	}
}

// TestScaleAddsActiveProducts: a run with Scale is the demo, the same as every run makes
// it, plus that many ACTIVE products spread over the merchants.
func TestScaleAddsActiveProducts(t *testing.T) {
	t.Parallel()
	// Three batches of the bulk path, the last one short.
	const scale, batch = 150, 60
	client, sum := seeded(t, scale, batch)
	ctx := viewer.SystemContext(context.Background())
	ps := catalogue(t, client)
	if len(ps) != sum.Products {
		t.Fatalf("database has %d products, summary says %d", len(ps), sum.Products)
	}
	demoClient, demo := demo(t)
	if got := sum.Products - demo.Products; got != scale {
		t.Errorf("scale run has %d more products than the demo, want %d", got, scale)
	}
	variants, err := client.ProductVariant.Query().Count(ctx)
	if err != nil || variants != sum.Variants {
		t.Errorf("database has %d variants (%v), summary says %d", variants, err, sum.Variants)
	}
	// The scale run begins with the demo, exactly as the shared run made it: the demo is
	// repeatable (one seed fewer than a run of its own to compare; seeding is this package's
	// slow part).
	for i, p := range catalogue(t, demoClient) {
		q := ps[i]
		if p.Title != q.Title || len(p.Edges.Variants) != len(q.Edges.Variants) ||
			p.Edges.Variants[0].Sku != q.Edges.Variants[0].Sku || p.Edges.Variants[0].Price != q.Edges.Variants[0].Price {
			t.Fatalf("product %d differs between runs: %q vs %q", i, p.Title, q.Title)
		}
	}
	extra := ps[demo.Products:]
	perMerchant := map[int]int{}
	for _, p := range extra {
		if p.Status != product.StatusACTIVE {
			t.Errorf("scale product %d is %s", p.ID, p.Status)
		}
		perMerchant[p.MerchantID]++
	}
	active, err := client.Merchant.Query().Where(merchant.StatusEQ(merchant.StatusACTIVE)).IDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range active {
		if perMerchant[id] < scale/len(active)-1 {
			t.Errorf("ACTIVE merchant %d got %d scale products, want about %d", id, perMerchant[id], scale/len(active))
		}
	}
	if len(perMerchant) != len(active) {
		t.Errorf("scale products went to %d merchants, want the %d ACTIVE ones", len(perMerchant), len(active))
	}
	checkVariants(t, ps)
}
