package catalog_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// onSaleTruth is what Product.on_sale must say: ACTIVE, of an ACTIVE merchant not removed.
func checkOnSale(t *testing.T, client *ent.Client, ctx context.Context) {
	t.Helper()
	ps, err := client.Product.Query().WithMerchant().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		m := p.Edges.Merchant
		want := p.Status == product.StatusACTIVE && m.Status == merchant.StatusACTIVE && m.RemovedAt == nil
		if p.OnSale != want {
			t.Errorf("product %d (%s, merchant %d %s removed %v): on_sale %v, want %v",
				p.ID, p.Status, m.ID, m.Status, m.RemovedAt != nil, p.OnSale, want)
		}
	}
}

// TestOnSaleFollowsStatus proves the on_sale flag follows every kind of status change:
// product creates and updates (one and bulk, across merchants in different states),
// merchant status updates (one and bulk) and removals.
func TestOnSaleFollowsStatus(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			a := s.NewMerchant(t, "shop-a", merchant.StatusACTIVE)
			b := s.NewMerchant(t, "shop-b", merchant.StatusACTIVE)
			c := s.NewMerchant(t, "shop-c", merchant.StatusPENDING_REVIEW)
			var ids []int
			for _, m := range []apitest.Merchant{a, b, c} {
				for i, st := range []product.Status{product.StatusACTIVE, product.StatusDRAFT, product.StatusACTIVE} {
					p := client.Product.Create().SetMerchantID(m.IntID).SetTitle(fmt.Sprintf("%d-%d", m.IntID, i)).
						SetStatus(st).SaveX(ctx)
					ids = append(ids, p.ID)
				}
			}
			checkOnSale(t, client, ctx)
			steps := []struct {
				name string
				do   func() error
			}{
				{"bulk create", func() error {
					return client.Product.CreateBulk(
						client.Product.Create().SetMerchantID(a.IntID).SetTitle("bulk a").SetStatus(product.StatusACTIVE),
						client.Product.Create().SetMerchantID(c.IntID).SetTitle("bulk c").SetStatus(product.StatusACTIVE),
					).Exec(ctx)
				}},
				{"product delisted", func() error {
					return client.Product.UpdateOneID(ids[0]).SetStatus(product.StatusDELISTED).Exec(ctx)
				}},
				{"product published", func() error {
					return client.Product.UpdateOneID(ids[1]).SetStatus(product.StatusACTIVE).Exec(ctx)
				}},
				{"bulk publish across merchants", func() error {
					return client.Product.Update().Where(product.IDIn(ids...)).SetStatus(product.StatusACTIVE).Exec(ctx)
				}},
				{"merchant suspended", func() error {
					return client.Merchant.UpdateOneID(a.IntID).SetStatus(merchant.StatusSUSPENDED).Exec(ctx)
				}},
				{"bulk merchant status", func() error {
					return client.Merchant.Update().Where(merchant.IDIn(a.IntID, b.IntID, c.IntID)).
						SetStatus(merchant.StatusACTIVE).Exec(ctx)
				}},
				{"merchant removed", func() error {
					return client.Merchant.UpdateOneID(b.IntID).SetRemovedAt(time.Now()).Exec(ctx)
				}},
				{"removal lifted", func() error {
					return client.Merchant.UpdateOneID(b.IntID).ClearRemovedAt().Exec(ctx)
				}},
				{"bulk merchant restricted status", func() error {
					return client.Merchant.Update().Where(merchant.IDIn(a.IntID, c.IntID)).
						SetStatus(merchant.StatusRESTRICTED).Exec(ctx)
				}},
				{"bulk product draft", func() error {
					return client.Product.Update().Where(product.MerchantID(b.IntID)).SetStatus(product.StatusDRAFT).Exec(ctx)
				}},
			}
			for _, st := range steps {
				if err := st.do(); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				t.Run(st.name, func(t *testing.T) { checkOnSale(t, client, ctx) })
			}
		})
	}
}

// TestOnSaleConcurrent races product publications and delistings against status changes
// of their merchants, one by one and in bulk, on MySQL under both isolation levels: when
// the dust settles every flag agrees with the committed statuses.
func TestOnSaleConcurrent(t *testing.T) {
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			a := s.NewMerchant(t, "race-a", merchant.StatusACTIVE)
			b := s.NewMerchant(t, "race-b", merchant.StatusACTIVE)
			var ids []int
			for i := range 12 {
				m := a
				if i%2 == 1 {
					m = b
				}
				ids = append(ids, client.Product.Create().SetMerchantID(m.IntID).SetTitle("p"+strconv.Itoa(i)).SaveX(ctx).ID)
			}
			// retry runs f in a transaction until it commits: MySQL may pick a deadlock victim.
			retry := func(f func(tx *ent.Client) error) error {
				var err error
				for range 20 {
					var tx *ent.Tx
					if tx, err = client.Tx(ctx); err != nil {
						return err
					}
					if err = f(tx.Client()); err != nil {
						tx.Rollback()
						continue
					}
					if err = tx.Commit(); err == nil {
						return nil
					}
				}
				return err
			}
			var wg sync.WaitGroup
			errs := make(chan error, 6*(len(ids)+2))
			for round := range 6 {
				for i, id := range ids {
					status := product.StatusACTIVE
					if (i+round)%3 == 0 {
						status = product.StatusDELISTED
					}
					wg.Go(func() {
						errs <- retry(func(tx *ent.Client) error { return tx.Product.UpdateOneID(id).SetStatus(status).Exec(ctx) })
					})
				}
				mstatus := merchant.StatusSUSPENDED
				if round%2 == 1 {
					mstatus = merchant.StatusACTIVE
				}
				wg.Go(func() {
					errs <- retry(func(tx *ent.Client) error {
						return tx.Merchant.Update().Where(merchant.IDIn(a.IntID, b.IntID)).SetStatus(mstatus).Exec(ctx)
					})
				})
				wg.Go(func() {
					errs <- retry(func(tx *ent.Client) error {
						return tx.Product.Update().Where(product.IDIn(ids[:4]...)).SetStatus(product.StatusACTIVE).Exec(ctx)
					})
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			checkOnSale(t, client, ctx)
		})
	}
}

const pageQuery = `query($first: Int!, $after: Cursor, $order: ProductOrder, $where: ProductFilter) {
  products(first: $first, after: $after, orderBy: $order, where: $where) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id } }
  }
}`

type pageOut struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage bool
		EndCursor   *string
	}
	Edges []struct{ Node struct{ ID string } }
}

// TestKeysetPagesEveryProductOnce pages the storefront list under every order, with ties
// in every order column, and finds each visible product exactly once; totalCount counts
// those and never a hidden one (drafts, products of a suspended, restricted or unreviewed
// merchant).
func TestKeysetPagesEveryProductOnce(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			w := newShop(t, s)
			suspended := s.NewMerchant(t, "suspended", merchant.StatusACTIVE)
			restricted := s.NewMerchant(t, "restricted", merchant.StatusACTIVE)
			at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			visible := map[string]bool{}
			create := func(m apitest.Merchant, i int, status product.Status) int {
				p := client.Product.Create().SetMerchantID(m.IntID).SetTitle(fmt.Sprintf("商品 %d", i%4)).
					SetStatus(status).SetSalesCount(i % 3).SetCreatedAt(at.Add(time.Duration(i%5) * time.Hour)).SaveX(ctx)
				client.ProductVariant.Create().SetProductID(p.ID).SetMerchantID(m.IntID).SetSku(fmt.Sprint("sku-", p.ID)).
					SetPrice(int64(100 * (1 + i%3))).SetStock(1).ExecX(ctx)
				return p.ID
			}
			for i := range 23 {
				id := create(w.m, i, product.StatusACTIVE)
				visible[strconv.Itoa(id)] = true
				if i%2 == 0 {
					id := create(w.other, i, product.StatusACTIVE)
					visible[strconv.Itoa(id)] = true
				}
			}
			for i := range 4 {
				create(w.m, i, product.StatusDRAFT)
				create(w.review, i, product.StatusACTIVE)
				create(suspended, i, product.StatusACTIVE)
				create(restricted, i, product.StatusACTIVE)
			}
			until := time.Now().Add(24 * time.Hour)
			client.Merchant.UpdateOneID(suspended.IntID).SetSuspendedUntil(until).ExecX(ctx)
			client.Merchant.UpdateOneID(restricted.IntID).SetRestrictedUntil(until).ExecX(ctx)

			orders := []map[string]any{nil}
			for _, f := range []string{"CREATED_AT", "UPDATED_AT", "TITLE", "SALES_COUNT", "PRICE", "RATING"} {
				for _, dir := range []string{"ASC", "DESC"} {
					orders = append(orders, map[string]any{"field": f, "direction": dir})
				}
			}
			for _, who := range []struct {
				name  string
				token string
			}{{"anonymous", ""}, {"customer", w.customer.AccessToken}} {
				for _, o := range orders {
					t.Run(fmt.Sprintf("%s %v", who.name, o), func(t *testing.T) {
						seen := map[string]int{}
						var after any
						for pages := 0; ; pages++ {
							if pages > 20 {
								t.Fatal("more pages than products")
							}
							vars := map[string]any{"first": 7, "after": after}
							if o != nil {
								vars["order"] = o
							}
							var p pageOut
							r := s.Query(who.token, pageQuery, vars)
							if len(r.Errors) > 0 {
								t.Fatalf("page %d: %s", pages, r.Raw)
							}
							decodeField(t, r, &p)
							if p.TotalCount != len(visible) {
								t.Fatalf("totalCount %d, want %d", p.TotalCount, len(visible))
							}
							for _, e := range p.Edges {
								seen[e.Node.ID]++
							}
							if !p.PageInfo.HasNextPage {
								break
							}
							after = *p.PageInfo.EndCursor
						}
						var dup, missing, hidden []string
						for id, n := range seen {
							if n > 1 {
								dup = append(dup, id)
							}
							if !visible[id] {
								hidden = append(hidden, id)
							}
						}
						for id := range visible {
							if seen[id] == 0 {
								missing = append(missing, id)
							}
						}
						sort.Strings(dup)
						if len(dup)+len(missing)+len(hidden) > 0 {
							t.Fatalf("duplicates %v, missing %v, hidden shown %v", dup, missing, hidden)
						}
					})
				}
			}
			// A filter counts only what the viewer may see, too.
			var p pageOut
			decodeField(t, s.MustQuery("", pageQuery, map[string]any{"first": 1, "where": map[string]any{"merchantID": suspended.ID}}), &p)
			if p.TotalCount != 0 || len(p.Edges) != 0 {
				t.Fatalf("a suspended merchant's products: %d counted, %d shown", p.TotalCount, len(p.Edges))
			}
		})
	}
}
