package loader_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// queryCounter counts the queries an Ent driver sends.
type queryCounter struct {
	dialect.Driver
	n *atomic.Int64
}

func (d queryCounter) Query(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Query(ctx, query, args, v)
}

// world is two merchants, one ACTIVE and one under review, with products and variants.
type world struct {
	client              *ent.Client
	queries             *atomic.Int64
	active, pending     int
	activeOwner         int
	onSale, draft, held *ent.Product // held: ACTIVE product of the pending merchant
	variants            []*ent.ProductVariant
}

func newWorld(t *testing.T, d testdb.Dialect) *world {
	t.Helper()
	w := &world{queries: new(atomic.Int64)}
	w.client = testdb.Open(t, d.URL(t), database.Options{WrapDriver: func(drv dialect.Driver) dialect.Driver {
		return queryCounter{Driver: drv, n: w.queries}
	}}).Client
	ctx := viewer.SystemContext(context.Background())
	newMerchant := func(slug string, status merchant.Status) (int, int) {
		u := w.client.User.Create().SetEmail(slug + "@example.com").SetPasswordHash("x").SetDisplayName(slug).
			SetRoles([]string{"CUSTOMER"}).SaveX(ctx)
		m := w.client.Merchant.Create().SetName(slug).SetSlug(slug).SetContactName("O").SetContactPhone("13800000000").
			SetContactEmail(slug + "@example.com").SetLicenceNumber("91310000MA1FL8XQ37").SetLegalName(slug).
			SetOwnerID(u.ID).SetStatus(status).SaveX(ctx)
		return m.ID, u.ID
	}
	w.active, w.activeOwner = newMerchant("active", merchant.StatusACTIVE)
	w.pending, _ = newMerchant("pending", merchant.StatusPENDING_REVIEW)
	newProduct := func(mid int, title string, status product.Status) *ent.Product {
		p := w.client.Product.Create().SetMerchantID(mid).SetTitle(title).SetStatus(status).SaveX(ctx)
		for i := range 2 {
			w.variants = append(w.variants, w.client.ProductVariant.Create().SetProductID(p.ID).SetMerchantID(mid).
				SetSku(title+string(rune('a'+i))).SetPrice(100).SetStock(5).SaveX(ctx))
		}
		return p
	}
	w.onSale = newProduct(w.active, "on-sale", product.StatusACTIVE)
	newProduct(w.active, "also-on-sale", product.StatusACTIVE)
	w.draft = newProduct(w.active, "draft", product.StatusDRAFT)
	w.held = newProduct(w.pending, "held", product.StatusACTIVE)
	return w
}

func (w *world) owner() context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{
		UserID: w.activeOwner, Roles: []viewer.Role{viewer.RoleCustomer, viewer.RoleMerchant},
		MerchantID: w.active, MerchantRole: viewer.MerchantOwner,
	})
}

// loadAll resolves fn for every item concurrently, as gqlgen resolves sibling fields.
func loadAll[T, R any](items []T, fn func(T) (R, error)) ([]R, error) {
	out := make([]R, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() { out[i], errs[i] = fn(it) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func TestProductStatusBatchesAndRespectsPrivacy(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			w := newWorld(t, d)
			for _, tc := range []struct {
				name string
				ctx  context.Context
				want map[int]product.Status // product id → status seen
			}{
				// The public cannot see the draft, nor the pending merchant's product: an
				// empty status, so its variants are not available.
				{"anonymous", context.Background(), map[int]product.Status{w.onSale.ID: product.StatusACTIVE, w.draft.ID: "", w.held.ID: ""}},
				{"owner", w.owner(), map[int]product.Status{w.onSale.ID: product.StatusACTIVE, w.draft.ID: product.StatusDRAFT, w.held.ID: ""}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					l := loader.New(w.client)
					w.queries.Store(0)
					got, err := loadAll(w.variants, func(v *ent.ProductVariant) (product.Status, error) {
						return l.ProductStatus(tc.ctx, v)
					})
					if err != nil {
						t.Fatal(err)
					}
					if n := w.queries.Load(); n != 1 {
						t.Fatalf("%d queries for %d variants", n, len(w.variants))
					}
					for i, v := range w.variants {
						if want, ok := tc.want[v.ProductID]; ok && got[i] != want {
							t.Fatalf("variant %s: status %q, want %q", v.Sku, got[i], want)
						}
					}
				})
			}

			t.Run("primed and eager-loaded statuses cost no query", func(t *testing.T) {
				l := loader.New(w.client)
				l.PrimeProductStatuses(context.Background(), w.onSale, &ent.Product{ID: w.draft.ID}) // no status: skipped
				eager := *w.variants[4]
				eager.Edges.Product = w.draft
				w.queries.Store(0)
				if s, err := l.ProductStatus(context.Background(), w.variants[0]); err != nil || s != product.StatusACTIVE {
					t.Fatalf("primed: %q %v", s, err)
				}
				if s, err := l.ProductStatus(context.Background(), &eager); err != nil || s != product.StatusDRAFT {
					t.Fatalf("eager: %q %v", s, err)
				}
				if n := w.queries.Load(); n != 0 {
					t.Fatalf("%d queries", n)
				}
			})

			t.Run("without loaders each call queries", func(t *testing.T) {
				var l *loader.Loaders
				l.PrimeProductStatuses(context.Background(), w.onSale) // harmless
				if s, err := l.ProductStatus(context.Background(), w.variants[0]); err != nil || s != product.StatusACTIVE {
					t.Fatalf("got %q %v", s, err)
				}
				if s, err := l.ProductStatus(context.Background(), w.variants[4]); err != nil || s != "" {
					t.Fatalf("draft for the public: %q %v", s, err)
				}
			})
		})
	}
}

func TestMerchantProductCountGroupsAndRespectsPrivacy(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			w := newWorld(t, d)
			sys := viewer.SystemContext(context.Background())
			merchants := w.client.Merchant.Query().Order(ent.Desc(merchant.FieldID)).AllX(sys)
			merchants = append(merchants, merchants...) // repeated keys
			for _, tc := range []struct {
				name string
				ctx  context.Context
				want map[int]int
			}{
				// ACTIVE products only; the public sees none of a merchant under review.
				{"anonymous", context.Background(), map[int]int{w.active: 2, w.pending: 0}},
				{"owner", w.owner(), map[int]int{w.active: 2, w.pending: 0}},
				{"system", sys, map[int]int{w.active: 2, w.pending: 1}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					l := loader.New(w.client)
					w.queries.Store(0)
					got, err := loadAll(merchants, func(m *ent.Merchant) (int, error) { return l.MerchantProductCount(tc.ctx, m) })
					if err != nil {
						t.Fatal(err)
					}
					if n := w.queries.Load(); n != 1 {
						t.Fatalf("%d queries for %d merchants", n, len(merchants))
					}
					for i, m := range merchants {
						if got[i] != tc.want[m.ID] {
							t.Fatalf("merchant %d: %d, want %d", m.ID, got[i], tc.want[m.ID])
						}
					}
					var none *loader.Loaders
					if n, err := none.MerchantProductCount(tc.ctx, merchants[0]); err != nil || n != tc.want[merchants[0].ID] {
						t.Fatalf("without loaders: %d %v", n, err)
					}
				})
			}
		})
	}
}

func TestMiddlewareGivesEachRequestItsLoaders(t *testing.T) {
	var seen []*loader.Loaders
	var mu sync.Mutex
	h := loader.Middleware(nil, 0, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, loader.For(r.Context()))
	}))
	for _, upgrade := range []string{"", "websocket"} {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		if upgrade != "" {
			r.Header.Set("Upgrade", upgrade)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if len(seen) != 2 || seen[0] == nil || seen[1] == nil || seen[0] == seen[1] {
		t.Fatalf("loaders per request: %v", seen)
	}
	if loader.For(context.Background()) != nil {
		t.Fatal("loaders outside a request")
	}
}

func TestWebsocketLoadersKeepNoCache(t *testing.T) {
	w := newWorld(t, testdb.Dialects()[0])
	var l *loader.Loaders
	h := loader.Middleware(w.client, 0, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		l = loader.For(r.Context())
	}))
	r := httptest.NewRequest(http.MethodGet, "/graphql", nil)
	r.Header.Set("Upgrade", "websocket")
	h.ServeHTTP(httptest.NewRecorder(), r)

	// A subscription event later in the connection must see the product as it is then.
	ctx := w.owner()
	if s, _ := l.ProductStatus(ctx, w.variants[0]); s != product.StatusACTIVE {
		t.Fatalf("status %q", s)
	}
	w.client.Product.UpdateOneID(w.onSale.ID).SetStatus(product.StatusDELISTED).ExecX(viewer.SystemContext(context.Background()))
	if s, _ := l.ProductStatus(ctx, w.variants[0]); s != product.StatusDELISTED {
		t.Fatalf("stale status %q", s)
	}
}
