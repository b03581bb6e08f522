package catalog_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/ent/searchtoken"
	"github.com/xiadan/xiadan/internal/catalog"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/search"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// indexDB opens a database whose client counts the statements writing search_tokens.
func indexDB(t *testing.T, d testdb.Dialect, indexWrites *atomic.Int64) *ent.Client {
	t.Helper()
	wrap := func(drv dialect.Driver) dialect.Driver {
		return dialect.DebugWithContext(drv, func(_ context.Context, v ...any) {
			q := fmt.Sprint(v...)
			if strings.Contains(q, "search_tokens") && !strings.Contains(q, "SELECT") {
				indexWrites.Add(1)
			}
		})
	}
	return testdb.Open(t, d.URL(t), database.Options{WrapDriver: wrap}).Client
}

// indexOf returns a product's index rows, token → weight.
func indexOf(t *testing.T, client *ent.Client, id int) map[string]int {
	t.Helper()
	rows := client.SearchToken.Query().Where(searchtoken.ProductID(id)).AllX(viewer.SystemContext(context.Background()))
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Token] = r.Weight
	}
	return out
}

// wantIndex is the index a product's text should have: its tokens, and the pinyin of the
// Chinese words of its title and attributes.
func wantIndex(title, description string, attrs ...schematype.Attribute) map[string]int {
	as := make([]string, len(attrs))
	for i, a := range attrs {
		as[i] = a.Name + " " + a.Value
	}
	return search.IndexTexts(search.ProductTexts(title, description, as...))
}

func sameIndex(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func newIndexProduct(client *ent.Client, merchantID int, title string) *ent.ProductCreate {
	return client.Product.Create().SetMerchantID(merchantID).SetTitle(title).
		SetDescription("下单后48小时内发货 Longjing lovers welcome").
		SetAttributes([]schematype.Attribute{{Name: "产地 Origin", Value: "杭州 Hangzhou"}})
}

func TestProductSearchIndexHook(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			var writes atomic.Int64
			client := indexDB(t, d, &writes)
			ctx := viewer.SystemContext(context.Background())
			mid := newMerchantRow(t, client, "index-shop")

			t.Run("a bulk create indexes every product with a few inserts", func(t *testing.T) {
				creates := make([]*ent.ProductCreate, 300)
				for i := range creates {
					creates[i] = newIndexProduct(client, mid, fmt.Sprintf("西湖龙井%d号 Longjing No. %d", i, i))
				}
				writes.Store(0)
				products := client.Product.CreateBulk(creates...).SaveX(ctx)
				if n := writes.Load(); n < 1 || n > 3 {
					t.Fatalf("%d index statements for 300 products", n)
				}
				for _, p := range []*ent.Product{products[0], products[150], products[299]} {
					want := wantIndex(p.Title, p.Description, p.Attributes...)
					if got := indexOf(t, client, p.ID); !sameIndex(got, want) {
						t.Fatalf("product %q: index %v, want %v", p.Title, got, want)
					}
				}
				// Title words outweigh attribute words, which outweigh description words;
				// a token in several places weighs their sum.
				idx := indexOf(t, client, products[7].ID)
				if idx["西湖"] != search.TitleWeight || idx["杭州"] != search.AttributeWeight ||
					idx["发货"] != search.DescriptionWeight || idx["longjing"] != search.TitleWeight+search.DescriptionWeight {
					t.Fatalf("weights: %v", idx)
				}
			})

			t.Run("a failed bulk create leaves nothing behind", func(t *testing.T) {
				before := client.SearchToken.Query().CountX(ctx)
				bad := []*ent.ProductCreate{newIndexProduct(client, mid, "好茶 Good tea"), newIndexProduct(client, mid, "")}
				if _, err := client.Product.CreateBulk(bad...).Save(ctx); err == nil {
					t.Fatal("an empty title was accepted")
				}
				if after := client.SearchToken.Query().CountX(ctx); after != before {
					t.Fatalf("index rows %d → %d", before, after)
				}
				// The same context indexes the next create normally.
				p := newIndexProduct(client, mid, "好茶 Good tea").SaveX(ctx)
				if len(indexOf(t, client, p.ID)) == 0 {
					t.Fatal("not indexed after a failed bulk")
				}
			})

			t.Run("a rolled-back create leaves no index rows", func(t *testing.T) {
				tx, err := client.Tx(ctx)
				if err != nil {
					t.Fatal(err)
				}
				p := newIndexProduct(tx.Client(), mid, "回滚 Rollback").SaveX(ctx)
				if err := tx.Rollback(); err != nil {
					t.Fatal(err)
				}
				if n := client.SearchToken.Query().Where(searchtoken.ProductID(p.ID)).CountX(ctx); n != 0 {
					t.Fatalf("%d rows", n)
				}
			})

			t.Run("staff creating a product index it as the system", func(t *testing.T) {
				staff := viewer.NewContext(context.Background(), &viewer.Viewer{
					UserID: 1, Roles: []viewer.Role{viewer.RoleCustomer, viewer.RoleMerchant},
					MerchantID: mid, MerchantRole: viewer.MerchantStaff,
				})
				p := newIndexProduct(client, mid, "员工上架 Staff listing").SaveX(staff)
				if len(indexOf(t, client, p.ID)) == 0 {
					t.Fatal("not indexed")
				}
				// The index itself stays closed to anyone but the system.
				if err := client.SearchToken.Create().SetProductID(p.ID).SetToken("spam").SetWeight(99).Exec(staff); err == nil {
					t.Fatal("staff wrote an index row")
				}
			})

			t.Run("edits of the text reindex, other edits do not touch the index", func(t *testing.T) {
				p := newIndexProduct(client, mid, "安溪铁观音 Tieguanyin").SaveX(ctx)
				writes.Store(0)
				client.Product.UpdateOneID(p.ID).SetSalesCount(5).SetMinPrice(100).ExecX(ctx)
				if n := writes.Load(); n != 0 {
					t.Fatalf("%d index statements for a non-text update", n)
				}
				p = client.Product.UpdateOneID(p.ID).SetTitle("凤凰单丛 Dancong").SaveX(ctx)
				if got, want := indexOf(t, client, p.ID), wantIndex(p.Title, p.Description, p.Attributes...); !sameIndex(got, want) {
					t.Fatalf("after retitling: %v, want %v", got, want)
				}
				if _, ok := indexOf(t, client, p.ID)["铁观"]; ok {
					t.Fatal("the old title is still indexed")
				}
				extra := schematype.Attribute{Name: "香型 Aroma", Value: "蜜兰香 Honey orchid"}
				// (SetAttributes: Ent's AppendAttributes writes CAST(? AS JSON), which MariaDB lacks.)
				p = client.Product.UpdateOneID(p.ID).SetAttributes(append(p.Attributes, extra)).SaveX(ctx)
				if idx := indexOf(t, client, p.ID); idx["蜜兰"] != search.AttributeWeight {
					t.Fatalf("appended attribute not indexed: %v", idx)
				}
				n := client.Product.Update().Where(product.TitleHasPrefix("凤凰")).SetDescription("清香型 Fresh").SaveX(ctx)
				if n != 1 {
					t.Fatalf("updated %d", n)
				}
				if idx := indexOf(t, client, p.ID); idx["清香"] != search.DescriptionWeight || idx["发货"] != 0 {
					t.Fatalf("after a bulk update: %v", idx)
				}
			})

			t.Run("deletes remove the index rows first", func(t *testing.T) {
				a := newIndexProduct(client, mid, "待删除甲 Delete A").SaveX(ctx)
				b := newIndexProduct(client, mid, "待删除乙 Delete B").SaveX(ctx)
				client.Product.DeleteOneID(a.ID).ExecX(ctx)
				if len(indexOf(t, client, a.ID)) != 0 {
					t.Fatal("rows of a deleted product remain")
				}
				if n := client.Product.Delete().Where(product.ID(b.ID)).ExecX(ctx); n != 1 {
					t.Fatalf("deleted %d", n)
				}
				if len(indexOf(t, client, b.ID)) != 0 {
					t.Fatal("rows of a bulk-deleted product remain")
				}
			})

			t.Run("concurrent creates each index their product", func(t *testing.T) {
				var wg sync.WaitGroup
				ids := make([]int, 8)
				for i := range ids {
					wg.Go(func() {
						// Each goroutine its own context, as each request has.
						ctx := viewer.SystemContext(context.Background())
						ids[i] = newIndexProduct(client, mid, fmt.Sprintf("并发%d Concurrent %d", i, i)).SaveX(ctx).ID
					})
				}
				wg.Wait()
				for _, id := range ids {
					if len(indexOf(t, client, id)) == 0 {
						t.Fatalf("product %d not indexed", id)
					}
				}
			})
		})
	}
}

func TestListProductsOutsideGraphQL(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			var writes atomic.Int64
			client := indexDB(t, d, &writes)
			ctx := viewer.SystemContext(context.Background())
			mid := newMerchantRow(t, client, "list-shop")
			client.Merchant.UpdateOneID(mid).SetStatus("ACTIVE").ExecX(ctx)
			titles := []string{"绿茶 Green tea", "红茶 Black tea", "龙井绿茶 Longjing green tea", "茶杯 Tea cup", "咖啡 Coffee"}
			for _, title := range titles {
				client.Product.Create().SetMerchantID(mid).SetTitle(title).SetStatus(product.StatusACTIVE).SaveX(ctx)
			}
			anon := context.Background()
			one := 2
			kw := "green tea"
			var got []string
			var after *ent.Cursor
			for range 5 {
				conn, err := catalog.ListProducts(anon, client, catalog.Page{First: &one, After: after}, &catalog.ProductFilter{Keyword: &kw}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if conn.TotalCount != 2 {
					t.Fatalf("totalCount %d", conn.TotalCount)
				}
				for _, e := range conn.Edges {
					got = append(got, e.Node.Title)
				}
				if !conn.PageInfo.HasNextPage {
					break
				}
				after = conn.PageInfo.EndCursor
			}
			// Both match both words with the same weight: the newer comes first.
			if want := []string{"龙井绿茶 Longjing green tea", "绿茶 Green tea"}; !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			conn, err := catalog.ListProducts(anon, client, catalog.Page{First: &one}, nil, nil)
			if err != nil || conn.TotalCount != len(titles) || conn.Edges[0].Node.Title != "咖啡 Coffee" {
				t.Fatalf("default list: %+v, %v", conn, err)
			}
		})
	}
}
