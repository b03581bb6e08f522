// Package seed fills an empty database with a believable bilingual demo — an admin,
// merchants with their owners and staff, customers, a category tree and a few hundred
// products — and, for benchmarks, with as many more products as asked.
package seed

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/demoimage"
	"github.com/xiadan/xiadan/internal/i18n"
	"github.com/xiadan/xiadan/internal/slug"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Options tune a seeding run.
type Options struct {
	// Scale is the number of extra ACTIVE products to add for benchmarks; 0 seeds just the demo.
	Scale int
	// Password is given to every demo account.
	Password string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// PublicURL is the server's base URL as browsers reach it (PAYMENT_PUBLIC_URL): the
	// demo's pictures are served there (/assets/demo/…, internal/demoimage), and the demo
	// orders' sandbox payments name it. Default http://localhost:8080.
	PublicURL string

	// viaBuilders sends the scale products through Ent's builders and hooks instead of the
	// bulk path, and now replaces the clock: for the tests that compare the two.
	viaBuilders bool
	now         time.Time
	// catalogueOnly seeds the demo catalogue (and the scale products) without the orders
	// and everything after them.
	catalogueOnly bool
	// batch replaces productsPerBatch, so a test crosses batch boundaries with few products.
	batch int
}

// DefaultPublicURL is Options.PublicURL when unset.
const DefaultPublicURL = "http://localhost:8080"

// Account is one demo sign-in.
type Account struct {
	Email string
	// Role is a label for printing: admin, owner, staff, applicant (owner of a merchant
	// awaiting review) or customer.
	Role string
	// Merchant is the name of the account's merchant, if any.
	Merchant string
}

// Summary counts what a run created.
type Summary struct {
	Users, Merchants, Categories, Products, Variants int
	// Orders is how many demo orders were placed (and taken through their life).
	Orders int
	// Reviews is how many demo reviews were written (internal/seed/reviews.go).
	Reviews int
	// AfterSales is how many demo after-sales requests were made (internal/seed/aftersales.go).
	AfterSales int
	// ScaleTime is how long the Options.Scale products took, the demo before them aside.
	ScaleTime time.Duration
	Accounts  []Account
}

// ErrNotEmpty is returned by Demo when the database already holds data.
var ErrNotEmpty = errors.New("seed: the database is not empty")

// The fixed seeds of the random sources: the demo and the scale products draw from separate
// streams, so the demo is the same whatever the scale, and a larger scale run starts with
// the products of a smaller one.
const (
	demoSeed  = 20250601
	scaleSeed = 20250602
)

// Batch sizes. A batch of products and their variants is one transaction; statements stay
// well below SQLite's 32,766 and MySQL's 65,535 placeholders.
const (
	productsPerBatch  = 1000
	variantsPerInsert = 2000
)

// IsEmpty reports whether the database has no users at all.
func IsEmpty(ctx context.Context, client *ent.Client) (bool, error) {
	exists, err := client.User.Query().Exist(viewer.SystemContext(ctx))
	return !exists, err
}

// Demo seeds an empty database: the demo in one transaction, then opts.Scale extra products
// in batches. It refuses, with ErrNotEmpty, to touch a database that holds any user,
// merchant, category or product.
func Demo(ctx context.Context, client *ent.Client, opts Options) (Summary, error) {
	if opts.Scale < 0 {
		return Summary{}, fmt.Errorf("seed: scale must not be negative, got %d", opts.Scale)
	}
	if err := auth.CheckPasswordPolicy(opts.Password); err != nil {
		return Summary{}, fmt.Errorf("seed: demo password %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx = viewer.SystemContext(ctx)
	if err := checkEmpty(ctx, client); err != nil {
		return Summary{}, err
	}
	// One hash for everyone: argon2 is slow on purpose.
	hash, err := auth.HashPassword(opts.Password)
	if err != nil {
		return Summary{}, err
	}
	if opts.PublicURL == "" {
		opts.PublicURL = DefaultPublicURL
	}
	now := time.Now().UTC().Truncate(time.Second)
	if !opts.now.IsZero() {
		now = opts.now
	}
	s := &seeder{
		logger: logger,
		hash:   hash,
		bulk:   !opts.viaBuilders,
		batch:  cmp.Or(opts.batch, productsPerBatch),
		gen: &generator{rng: rand.New(rand.NewPCG(demoSeed, demoSeed)), now: now, categories: map[string]int{},
			publicURL: opts.PublicURL},
	}
	start := time.Now()
	if err := inTx(ctx, client, s.demo); err != nil {
		return Summary{}, fmt.Errorf("seed: demo: %w", err)
	}
	logger.Info("seeded the demo", "users", s.sum.Users, "merchants", s.sum.Merchants,
		"categories", s.sum.Categories, "products", s.sum.Products, "variants", s.sum.Variants,
		"took", time.Since(start).Round(time.Millisecond))
	if !opts.catalogueOnly {
		if err := s.activity(ctx, client, opts.PublicURL); err != nil {
			return s.sum, err
		}
	}
	if opts.Scale > 0 {
		start := time.Now()
		if err := s.scale(ctx, client, opts.Scale); err != nil {
			return s.sum, fmt.Errorf("seed: scale: %w", err)
		}
		s.sum.ScaleTime = time.Since(start)
	}
	return s.sum, nil
}

// activity seeds what happens on the catalogue: orders through the services, reviews,
// after-sales, customer service, credit, coupons, promotions, members, red packets,
// experiments and creators.
func (s *seeder) activity(ctx context.Context, client *ent.Client, publicURL string) error {
	// The orders go through the order, payment and fulfilment services, each step in its
	// own transaction, so they need the catalogue committed.
	start := time.Now()
	if err := s.placeOrders(ctx, client, publicURL); err != nil {
		return fmt.Errorf("seed: orders: %w", err)
	}
	s.logger.Info("seeded the demo orders", "orders", s.sum.Orders, "took", time.Since(start).Round(time.Millisecond))
	var err error
	if s.sum.Reviews, err = s.seedReviews(ctx, client); err != nil {
		return fmt.Errorf("seed: reviews: %w", err)
	}
	if err := s.placeAfterSales(ctx, client, publicURL); err != nil {
		return fmt.Errorf("seed: after-sales: %w", err)
	}
	// Customer service (internal/seed/support.go): the help centre, and tickets on the orders.
	if err := inTx(ctx, client, s.helpCentre); err != nil {
		return fmt.Errorf("seed: help centre: %w", err)
	}
	if err := s.tickets(ctx, client); err != nil {
		return fmt.Errorf("seed: tickets: %w", err)
	}
	if err := s.credit(ctx, client); err != nil {
		return fmt.Errorf("seed: credit: %w", err)
	}
	// Coupons (internal/seed/coupons.go), after the orders so their totals stay as they were.
	if err := s.coupons(ctx, client); err != nil {
		return fmt.Errorf("seed: coupons: %w", err)
	}
	// Automatic promotions (internal/seed/promotions.go), after the orders they would price.
	if err := inTx(ctx, client, s.automaticPromotions); err != nil {
		return fmt.Errorf("seed: promotions: %w", err)
	}
	// VIP tiers, member prices and a customer group (internal/seed/members.go).
	if err := s.members(ctx, client); err != nil {
		return fmt.Errorf("seed: members: %w", err)
	}
	// A red-packet rain and the demo customer's packet (internal/seed/redpackets.go).
	if err := s.redPackets(ctx, client); err != nil {
		return fmt.Errorf("seed: red packets: %w", err)
	}
	// A running experiment and a creator with a commission rule (internal/seed/growth.go).
	if err := s.growth(ctx, client); err != nil {
		return fmt.Errorf("seed: growth: %w", err)
	}
	return nil
}

func checkEmpty(ctx context.Context, c *ent.Client) error {
	for _, exist := range []func(context.Context) (bool, error){
		c.User.Query().Exist, c.Merchant.Query().Exist, c.Category.Query().Exist, c.Product.Query().Exist,
	} {
		found, err := exist(ctx)
		if err != nil {
			return err
		}
		if found {
			return ErrNotEmpty
		}
	}
	return nil
}

// inTx runs fn in a new transaction.
func inTx(ctx context.Context, client *ent.Client, fn func(context.Context, *ent.Client) error) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(ctx, tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

type seeder struct {
	logger *slog.Logger
	batch  int // products per transaction (productsPerBatch but in tests)
	hash   string
	gen    *generator
	shops  []*shop // in the order of merchants
	sum    Summary
	// slugs holds the slugs given so far: a seed runs on an empty database only, so no
	// other product holds one.
	slugs map[string]bool
	// nextSlug is the next number to try for a base, so repeats cost no rescan.
	nextSlug map[string]int
	// bulk sends the scale products through insertBulk, and tokens caches the index
	// entries of their texts.
	bulk   bool
	tokens tokenCache
}

// slugFor returns base, or its first numbered alternative ("-2", …) not given yet.
func (s *seeder) slugFor(base string) string {
	if s.slugs == nil {
		s.slugs, s.nextSlug = map[string]bool{}, map[string]int{}
	}
	out := base
	for s.slugs[out] {
		n := max(s.nextSlug[base], 2)
		s.nextSlug[base] = n + 1
		out = slug.WithSuffix(base, n)
	}
	s.slugs[out] = true
	return out
}

// demo creates everything but the scale products.
func (s *seeder) demo(ctx context.Context, c *ent.Client) error {
	// Checked again inside the transaction, in case another seed raced this one.
	if err := checkEmpty(ctx, c); err != nil {
		return err
	}
	if err := s.categories(ctx, c); err != nil {
		return err
	}
	if err := s.people(ctx, c); err != nil {
		return err
	}
	g := s.gen
	var drafts []productDraft
	for _, sh := range s.shops {
		for k := range sh.spec.products {
			l := sh.listings[k%len(sh.listings)]
			title := plainTitle(l)
			if k >= len(sh.listings) {
				title = g.decoratedTitle(l)
			}
			status := product.StatusDRAFT
			if sh.spec.status == merchant.StatusACTIVE {
				switch r := g.rng.IntN(100); {
				case k == 0 || r < 84:
					status = product.StatusACTIVE
				case r < 92:
					status = product.StatusDRAFT
				default:
					status = product.StatusDELISTED
				}
			}
			created := g.between(sh.joined.Add(24*time.Hour), g.now.Add(-time.Hour))
			drafts = append(drafts, g.product(sh, l, title, status, created))
		}
	}
	return s.insert(ctx, c, drafts)
}

// categories creates the two-level category tree.
func (s *seeder) categories(ctx context.Context, c *ent.Client) error {
	created := s.gen.now.AddDate(-2, 0, 0)
	tops := make([]*ent.CategoryCreate, len(categoryTree))
	for i, t := range categoryTree {
		tops[i] = c.Category.Create().SetName(t.name.zh).SetNameEn(t.name.en).SetSlug(t.slug).
			SetPosition(i).SetCreatedAt(created).SetUpdatedAt(created)
	}
	parents, err := c.Category.CreateBulk(tops...).Save(ctx)
	if err != nil {
		return err
	}
	var children []*ent.CategoryCreate
	for i, t := range categoryTree {
		for j, ch := range t.children {
			children = append(children, c.Category.Create().SetName(ch.name.zh).SetNameEn(ch.name.en).
				SetSlug(ch.slug).SetPosition(j).SetParentID(parents[i].ID).
				SetCreatedAt(created).SetUpdatedAt(created))
		}
	}
	leaves, err := c.Category.CreateBulk(children...).Save(ctx)
	if err != nil {
		return err
	}
	for _, l := range leaves {
		s.gen.categories[l.Slug] = l.ID
	}
	s.sum.Categories = len(parents) + len(leaves)
	return nil
}

// people creates the admin, the merchants with their owners and staff, and the customers.
func (s *seeder) people(ctx context.Context, c *ent.Client) error {
	g := s.gen
	// Demo addresses count as verified: nobody reads their mail, and the demo's staff
	// and invitation flows should work as they do for real, verified people.
	newUser := func(p person, created time.Time, roles ...string) *ent.UserCreate {
		return c.User.Create().SetEmail(p.email).SetDisplayName(p.name).SetLocale(p.locale).
			SetPasswordHash(s.hash).SetRoles(append([]string{string(viewer.RoleCustomer)}, roles...)).
			SetEmailVerifiedAt(created).SetCreatedAt(created).SetUpdatedAt(created)
	}
	// Owners first: a merchant needs its owner, and the owner then points back at it.
	owners := make([]*ent.UserCreate, len(merchants))
	joined := make([]time.Time, len(merchants))
	for i := range merchants {
		m := &merchants[i]
		joined[i] = g.now.AddDate(0, 0, -m.daysOld)
		owners[i] = newUser(m.owner, joined[i].Add(-time.Hour))
	}
	ownerUsers, err := c.User.CreateBulk(owners...).Save(ctx)
	if err != nil {
		return err
	}
	shops := make([]*ent.MerchantCreate, len(merchants))
	for i := range merchants {
		m := &merchants[i]
		mc := c.Merchant.Create().
			SetName(m.name.zh).
			SetSlug(m.slug).
			SetDescription(m.description.zh).
			SetLogoURL(demoimage.URL(g.publicURL, demoimage.Logo(m.slug))).
			SetContactName(m.owner.name).
			SetContactPhone(m.phone).
			SetContactEmail(m.owner.email).
			SetLicenceNumber(licenceNumber(g.rng, m.region)).
			SetLegalName(m.legalName).
			SetStatus(m.status).
			SetOwnerID(ownerUsers[i].ID).
			SetShippingFlatFee(m.shippingFee).
			SetFreeShippingThreshold(m.freeFrom).
			SetCreatedAt(joined[i]).
			SetUpdatedAt(joined[i])
		if m.status == merchant.StatusACTIVE {
			mc.SetStatusReason("资料齐全，审核通过 Documents complete, approved")
		}
		shops[i] = mc
	}
	ms, err := c.Merchant.CreateBulk(shops...).Save(ctx)
	if err != nil {
		return err
	}
	var names []*ent.TranslationCreate
	for i, m := range ms {
		names = append(names, englishOf(c, i18n.Merchant, m.ID, []i18n.Input{
			{Field: "name", Value: cmp.Or(merchants[i].name.en, merchants[i].name.zh)},
			{Field: "description", Value: cmp.Or(merchants[i].description.en, merchants[i].description.zh)}})...)
	}
	if err := c.Translation.CreateBulk(names...).Exec(ctx); err != nil {
		return err
	}
	for i, m := range ms {
		err := c.User.UpdateOneID(ownerUsers[i].ID).SetMerchantID(m.ID).SetMerchantRole(user.MerchantRoleOWNER).Exec(ctx)
		if err != nil {
			return err
		}
		s.shops = append(s.shops, newShop(&merchants[i], m.ID, joined[i]))
	}

	admin := person{"平台管理员", AdminEmail, "zh-CN"}
	rest := []*ent.UserCreate{newUser(admin, g.now.AddDate(-2, 0, 0), string(viewer.RoleAdmin))}
	s.sum.Accounts = append(s.sum.Accounts, Account{Email: AdminEmail, Role: "admin"})
	for i := range merchants {
		m := &merchants[i]
		role := "owner"
		if m.status != merchant.StatusACTIVE {
			role = "applicant"
		}
		s.sum.Accounts = append(s.sum.Accounts, Account{Email: m.owner.email, Role: role, Merchant: m.name.String()})
		for _, p := range m.staff {
			rest = append(rest, newUser(p, g.between(joined[i], g.now)).
				SetMerchantID(ms[i].ID).SetMerchantRole(user.MerchantRoleSTAFF))
			s.sum.Accounts = append(s.sum.Accounts, Account{Email: p.email, Role: "staff", Merchant: m.name.String()})
		}
	}
	for _, p := range customers {
		rest = append(rest, newUser(p, g.between(g.now.AddDate(-1, 0, 0), g.now)))
		s.sum.Accounts = append(s.sum.Accounts, Account{Email: p.email, Role: "customer"})
	}
	if err := c.User.CreateBulk(rest...).Exec(ctx); err != nil {
		return err
	}
	s.sum.Users = len(ownerUsers) + len(rest)
	s.sum.Merchants = len(ms)
	return nil
}

// scale adds n ACTIVE products spread over the active merchants, a batch per transaction.
// This goroutine draws the batches; bulkWriters write them (insertBulk) while it draws the
// next, unless the driver runs no raw statements, where the builders write them in turn.
func (s *seeder) scale(ctx context.Context, client *ent.Client, n int) error {
	var active []*shop
	for _, sh := range s.shops {
		if sh.spec.status == merchant.StatusACTIVE {
			active = append(active, sh)
		}
	}
	g := s.gen
	g.rng = rand.New(rand.NewPCG(scaleSeed, scaleSeed))
	bulk := s.bulk
	if bulk {
		raw, err := rawSQL(ctx, client)
		if err != nil {
			return err
		}
		bulk = raw
	}
	w := &scaleWriter{s: s, client: client, n: n, start: time.Now()}
	if bulk {
		dialect, err := dialectOf(ctx, client)
		if err != nil {
			return err
		}
		// SQLite writes one transaction at a time: a second writer would only wait.
		writers := 1
		if dialect == "mysql" {
			writers = bulkWriters
		}
		next, err := nextProductID(ctx, client)
		if err != nil {
			return err
		}
		w.startBulk(ctx, writers)
		s.logger.Info("adding scale products", "products", n, "batch", s.batch, "writers", writers)
		for done := 0; done < n && w.ok(); {
			b, err := s.prepare(s.drawScale(active, done, n), next)
			if err != nil {
				w.fail(err)
				break
			}
			w.queue <- b
			done += len(b.drafts)
			next += len(b.drafts)
		}
		return w.finish()
	}
	s.logger.Info("adding scale products through the builders", "products", n, "batch", s.batch)
	for done := 0; done < n; {
		drafts := s.drawScale(active, done, n)
		variants := s.sum.Variants
		if err := inTx(ctx, client, func(ctx context.Context, c *ent.Client) error { return s.insert(ctx, c, drafts) }); err != nil {
			return err
		}
		s.sum.Products -= len(drafts) // insert counted them; w.done counts again
		done += len(drafts)
		w.done(len(drafts), s.sum.Variants-variants, false)
	}
	return nil
}

// drawScale drafts the scale products done… (at most a batch, at most n in all).
func (s *seeder) drawScale(active []*shop, done, n int) []productDraft {
	g := s.gen
	drafts := make([]productDraft, 0, min(s.batch, n-done))
	for i := done; i < n && len(drafts) < s.batch; i++ {
		sh := active[i%len(active)]
		l := pick(g.rng, sh.listings)
		from := g.now.AddDate(-1, 0, 0)
		if sh.joined.After(from) {
			from = sh.joined
		}
		created := g.between(from, g.now.Add(-time.Minute))
		drafts = append(drafts, g.product(sh, l, g.decoratedTitle(l), product.StatusACTIVE, created))
	}
	return drafts
}

// bulkWriters is how many transactions write scale batches at once on MySQL: while one
// waits for the server, the other's statements run on the second core.
const bulkWriters = 2

// bulkRetries is how often a batch is tried again after a deadlock or lock wait timeout.
const bulkRetries = 3

// scaleWriter writes the scale batches and keeps the count and the progress log.
type scaleWriter struct {
	s      *seeder
	client *ent.Client
	n      int
	start  time.Time
	queue  chan *bulkBatch
	wg     sync.WaitGroup
	cancel context.CancelFunc

	mu                 sync.Mutex
	products, variants int
	lastLog            time.Time
	err                error
}

func (w *scaleWriter) startBulk(ctx context.Context, writers int) {
	ctx, w.cancel = context.WithCancel(ctx)
	w.queue = make(chan *bulkBatch, writers)
	for range writers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for b := range w.queue {
				if !w.ok() {
					continue // drain
				}
				if err := w.write(ctx, b); err != nil {
					w.fail(err)
					continue
				}
				w.done(len(b.drafts), b.variants, true)
			}
		}()
	}
}

// write runs insertBulk for b in a transaction, again after a deadlock.
func (w *scaleWriter) write(ctx context.Context, b *bulkBatch) error {
	for try := 1; ; try++ {
		err := inTx(ctx, w.client, func(ctx context.Context, c *ent.Client) error { return insertBulk(ctx, c, b) })
		if err == nil || try > bulkRetries || !database.IsRetryable(err) {
			return err
		}
		w.s.logger.Info("scale batch rolled back, trying again", "try", try, "err", err)
	}
}

func (w *scaleWriter) ok() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err == nil
}

func (w *scaleWriter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		if w.cancel != nil {
			w.cancel()
		}
	}
}

// done counts a written batch and logs the progress every five seconds and at the end.
func (w *scaleWriter) done(products, variants int, count bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.products += products
	w.variants += variants
	w.s.sum.Products += products
	if count {
		w.s.sum.Variants += variants
	}
	if time.Since(w.lastLog) >= 5*time.Second || w.products == w.n {
		w.lastLog = time.Now()
		elapsed := time.Since(w.start)
		w.s.logger.Info("scale progress", "products", w.products, "of", w.n, "variants", w.variants,
			"elapsed", elapsed.Round(time.Millisecond),
			"per_second", int(float64(w.products)/max(elapsed.Seconds(), 1e-3)))
	}
}

// finish waits for the writers and returns the first error.
func (w *scaleWriter) finish() error {
	close(w.queue)
	w.wg.Wait()
	w.cancel()
	return w.err
}

// insert writes drafts and their variants with bulk inserts.
//
// The variants go in as plain multi-row INSERT statements on the transaction's driver, and
// each product is created with its aggregates (price range, currency, total stock, variant
// count) already computed from its drafts, as ProductVariantAggregateHook would leave them.
// Through Ent's builders every variant cost a currency check and every product a lock, a
// recompute and an UPDATE: six round trips per product, which held a MySQL scale seed to
// about 900 products/s. The rows written are the same; the merchant's currency, which the
// currency hook checks per variant, is checked once per call. Drivers that cannot run raw
// statements (some test wrappers) get the builders.
func (s *seeder) insert(ctx context.Context, c *ent.Client, drafts []productDraft) error {
	if len(drafts) == 0 {
		return nil
	}
	if err := checkCurrency(ctx, c, drafts); err != nil {
		return err
	}
	raw := true
	for lo := 0; lo < len(drafts); lo += s.batch {
		batch := drafts[lo:min(lo+s.batch, len(drafts))]
		creates := make([]*ent.ProductCreate, len(batch))
		for i := range batch {
			d := &batch[i]
			pc := c.Product.Create().
				SetMerchantID(d.merchantID).
				SetCategoryID(d.categoryID).
				SetTitle(d.title).
				SetSlug(s.slugFor(d.slugBase)).
				SetDescription(d.description).
				SetKind(d.kind).
				SetStatus(d.status).
				SetImages(d.images).
				SetAttributes(d.attributes).
				SetSalesCount(d.salesCount).
				SetCreatedAt(d.createdAt).
				SetUpdatedAt(d.createdAt)
			if d.publishedAt != nil {
				pc.SetPublishedAt(*d.publishedAt).SetUpdatedAt(*d.publishedAt)
			}
			if raw {
				a := aggregateOf(d.variants)
				pc.SetMinPrice(a.minPrice).SetMaxPrice(a.maxPrice).SetCurrency(variantCurrency).
					SetTotalStock(a.totalStock).SetVariantCount(len(d.variants))
			}
			creates[i] = pc
		}
		products, err := c.Product.CreateBulk(creates...).Save(ctx)
		if err != nil {
			return err
		}
		if raw {
			ids := make([]int, len(products))
			for i, p := range products {
				ids[i] = p.ID
			}
			var err error
			for _, d := range batch {
				for _, v := range d.variants {
					if err = validateVariant(v); err != nil {
						return fmt.Errorf("variant %s: %w", v.sku, err)
					}
				}
			}
			n, err := insertVariantsRaw(ctx, c, batch, ids)
			s.sum.Variants += n
			if err != nil && strings.Contains(err.Error(), "ExecContext is not supported") {
				// Nothing was written: fall back to the builders, which keep the aggregates.
				raw = false
				err = s.insertVariantsWithEnt(ctx, c, batch, products)
			}
			if err != nil {
				return err
			}
		} else if err := s.insertVariantsWithEnt(ctx, c, batch, products); err != nil {
			return err
		}
		// The English of the batch's titles, descriptions and attributes (internal/i18n).
		var en []*ent.TranslationCreate
		for i, p := range products {
			en = append(en, englishOf(c, i18n.Product, p.ID, batch[i].en)...)
			if len(en) >= translationsPerInsert {
				if err := c.Translation.CreateBulk(en...).Exec(ctx); err != nil {
					return err
				}
				en = en[:0]
			}
		}
		if len(en) > 0 {
			if err := c.Translation.CreateBulk(en...).Exec(ctx); err != nil {
				return err
			}
		}
		// The keyword index was written with each product, before its translations.
		ids := make([]int, len(products))
		for i, p := range products {
			ids[i] = p.ID
		}
		if err := hooks.ReindexProducts(ctx, c, ids...); err != nil {
			return err
		}
		s.sum.Products += len(products)
	}
	return nil
}

// variantCurrency is the currency of every seeded price: the merchants' default.
const variantCurrency = "CNY"

// checkCurrency refuses drafts of a merchant that does not sell in variantCurrency, as
// ProductVariantCurrencyHook would refuse their variants.
func checkCurrency(ctx context.Context, c *ent.Client, drafts []productDraft) error {
	ids := make([]int, 0, 16)
	seen := map[int]bool{}
	for i := range drafts {
		if id := drafts[i].merchantID; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	other, err := c.Merchant.Query().
		Where(merchant.IDIn(ids...), merchant.CurrencyNEQ(variantCurrency)).
		Select(merchant.FieldID, merchant.FieldCurrency).
		All(ctx)
	if err != nil {
		return err
	}
	if len(other) > 0 {
		return fmt.Errorf("merchant %d sells in %s, the seed prices in %s", other[0].ID, other[0].Currency, variantCurrency)
	}
	return nil
}

// draftAggregate is what ProductVariantAggregateHook computes from a product's variants.
type draftAggregate struct {
	minPrice, maxPrice int64
	totalStock         int
}

func aggregateOf(vs []variantDraft) draftAggregate {
	var a draftAggregate
	for i, v := range vs {
		if i == 0 || v.price < a.minPrice {
			a.minPrice = v.price
		}
		if i == 0 || v.price > a.maxPrice {
			a.maxPrice = v.price
		}
		a.totalStock += v.stock
	}
	return a
}

// variantColumns are the columns of a raw variant insert, in the order of its values.
const variantColumns = "(product_id, merchant_id, sku, options, price, currency, stock, low_stock_threshold, position, created_at, updated_at)"

// variantPlaceholders is one row of variantColumns.
const variantPlaceholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// insertVariantsRaw writes the variants of batch (products ids) with multi-row INSERTs of
// up to variantsPerInsert rows, and returns how many. The caller has run validateVariant.
func insertVariantsRaw(ctx context.Context, c *ent.Client, batch []productDraft, ids []int) (int, error) {
	var (
		sb          strings.Builder
		args        []any
		rows, total int
	)
	flush := func() error {
		if rows == 0 {
			return nil
		}
		_, err := c.ExecContext(ctx, sb.String(), args...)
		if err == nil {
			total += rows
		}
		sb.Reset()
		args, rows = args[:0], 0
		return err
	}
	for i, id := range ids {
		d := &batch[i]
		for pos, v := range d.variants {
			options, err := json.Marshal(v.options)
			if err != nil {
				return total, err
			}
			if rows == 0 {
				sb.WriteString("INSERT INTO product_variants " + variantColumns + " VALUES ")
			} else {
				sb.WriteString(", ")
			}
			sb.WriteString(variantPlaceholders)
			args = append(args, id, d.merchantID, v.sku, options, v.price, variantCurrency, v.stock,
				v.lowStockThreshold, pos, d.createdAt, d.createdAt)
			rows++
		}
		if rows >= variantsPerInsert-6 {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	return total, flush()
}

// validateVariant runs the validators the builders would.
func validateVariant(v variantDraft) error {
	return errors.Join(productvariant.SkuValidator(v.sku), productvariant.PriceValidator(v.price),
		productvariant.CurrencyValidator(variantCurrency), productvariant.StockValidator(v.stock),
		productvariant.LowStockThresholdValidator(v.lowStockThreshold))
}

// insertVariantsWithEnt writes the variants of products with Ent's bulk create, whose
// hooks keep the products' aggregates.
func (s *seeder) insertVariantsWithEnt(ctx context.Context, c *ent.Client, batch []productDraft, products []*ent.Product) error {
	variants := make([]*ent.ProductVariantCreate, 0, len(batch)*4)
	flush := func() error {
		if len(variants) == 0 {
			return nil
		}
		err := c.ProductVariant.CreateBulk(variants...).Exec(ctx)
		s.sum.Variants += len(variants)
		variants = variants[:0]
		return err
	}
	for i, p := range products {
		d := &batch[i]
		for pos, v := range d.variants {
			variants = append(variants, c.ProductVariant.Create().
				SetProductID(p.ID).
				SetMerchantID(d.merchantID).
				SetSku(v.sku).
				SetOptions(v.options).
				SetPrice(v.price).
				SetCurrency(variantCurrency).
				SetStock(v.stock).
				SetLowStockThreshold(v.lowStockThreshold).
				SetPosition(pos).
				SetCreatedAt(d.createdAt).
				SetUpdatedAt(d.createdAt))
		}
		if len(variants) >= variantsPerInsert-6 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// translationsPerInsert keeps a bulk insert of translations (6 values a row) well under
// SQLite's and MySQL's placeholder limits.
const translationsPerInsert = 2000

// englishOf builds the en translation rows of record id of kind.
func englishOf(c *ent.Client, kind i18n.Kind, id int, in []i18n.Input) []*ent.TranslationCreate {
	out := make([]*ent.TranslationCreate, 0, len(in))
	for _, x := range in {
		out = append(out, c.Translation.Create().SetEntityType(kind).SetEntityID(id).SetLocale("en").SetField(x.Field).SetValue(x.Value))
	}
	return out
}
