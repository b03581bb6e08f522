package catalog_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/productvariant"
	_ "github.com/xiadan/xiadan/ent/runtime" // privacy policies and hooks
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// countingDB opens a database whose client counts the UPDATE statements on products.
func countingDB(t *testing.T, d testdb.Dialect, productUpdates *atomic.Int64) *ent.Client {
	t.Helper()
	wrap := func(drv dialect.Driver) dialect.Driver {
		return dialect.DebugWithContext(drv, func(_ context.Context, v ...any) {
			q := fmt.Sprint(v...)
			// The variant aggregates' recomputation (it sets min_price); the demo orders'
			// stock reservations and sales counts are statements of their own.
			if (strings.Contains(q, "UPDATE `products`") || strings.Contains(q, `UPDATE "products"`)) && strings.Contains(q, "min_price") {
				productUpdates.Add(1)
			}
		})
	}
	return testdb.Open(t, d.URL(t), database.Options{WrapDriver: wrap}).Client
}

// newMerchantRow writes an owner and a merchant directly.
func newMerchantRow(t *testing.T, client *ent.Client, slug string) int {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	u := client.User.Create().SetEmail(slug + "@example.com").SetPasswordHash("x").SetDisplayName(slug).
		SetRoles([]string{"CUSTOMER"}).SaveX(ctx)
	m := client.Merchant.Create().SetName(slug).SetSlug(slug).SetContactName("O").SetContactPhone("13800000000").
		SetContactEmail(slug + "@example.com").SetLicenceNumber("91310000MA1FL8XQ37").SetLegalName(slug).
		SetOwnerID(u.ID).SaveX(ctx)
	return m.ID
}

// checkAggregates compares every product's stored aggregates with its variants.
func checkAggregates(t *testing.T, client *ent.Client) {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	ps := client.Product.Query().WithVariants().AllX(ctx)
	for _, p := range ps {
		var minP, maxP int64
		stock := 0
		for i, v := range p.Edges.Variants {
			if i == 0 || v.Price < minP {
				minP = v.Price
			}
			maxP = max(maxP, v.Price)
			stock += v.Stock
			if v.Currency != p.Currency {
				t.Errorf("product %d has currency %s, its variant %s", p.ID, p.Currency, v.Currency)
			}
		}
		if p.MinPrice != minP || p.MaxPrice != maxP || p.TotalStock != stock || p.VariantCount != len(p.Edges.Variants) {
			t.Errorf("product %d: min %d max %d stock %d count %d, its variants say %d %d %d %d",
				p.ID, p.MinPrice, p.MaxPrice, p.TotalStock, p.VariantCount, minP, maxP, stock, len(p.Edges.Variants))
		}
	}
}

func TestVariantAggregateHook(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			var productUpdates atomic.Int64
			client := countingDB(t, d, &productUpdates)
			ctx := viewer.SystemContext(context.Background())
			mid := newMerchantRow(t, client, "shop")
			// Variants are priced in their merchant's currency.
			client.Merchant.UpdateOneID(mid).SetCurrency("USD").ExecX(ctx)
			p := client.Product.Create().SetMerchantID(mid).SetTitle("p").SaveX(ctx)
			q := client.Product.Create().SetMerchantID(mid).SetTitle("q").SaveX(ctx)
			variant := func(c *ent.Client, pr *ent.Product, sku string, price int64, stock int) *ent.ProductVariantCreate {
				return c.ProductVariant.Create().SetProductID(pr.ID).SetMerchantID(mid).SetSku(sku).
					SetPrice(price).SetCurrency("USD").SetStock(stock)
			}
			want := func(step string, pr *ent.Product, minP, maxP int64, stock, count int) {
				t.Helper()
				got := client.Product.GetX(ctx, pr.ID)
				if got.MinPrice != minP || got.MaxPrice != maxP || got.TotalStock != stock || got.VariantCount != count || got.Currency != "USD" {
					t.Fatalf("%s: product %s has min %d max %d stock %d count %d %s, want %d %d %d %d USD", step, got.Title,
						got.MinPrice, got.MaxPrice, got.TotalStock, got.VariantCount, got.Currency, minP, maxP, stock, count)
				}
			}
			updates := func(step string, want int64) {
				t.Helper()
				if n := productUpdates.Swap(0); n != want {
					t.Fatalf("%s: %d product UPDATEs, want %d", step, n, want)
				}
			}

			variant(client, p, "P1", 500, 3).SaveX(ctx)
			want("lone create", p, 500, 500, 3, 1)
			updates("lone create", 1)

			// A bulk create in a transaction recomputes each product once, after the insert.
			tx, err := client.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tc := tx.Client()
			tc.ProductVariant.CreateBulk(variant(tc, p, "P2", 200, 1), variant(tc, p, "P3", 900, 0),
				variant(tc, q, "Q1", 100, 7), variant(tc, q, "Q2", 300, 2)).SaveX(ctx)
			// Visible inside the transaction already.
			if got := tc.Product.GetX(ctx, p.ID); got.TotalStock != 4 || got.VariantCount != 3 {
				t.Fatalf("inside the transaction: %+v", got)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			want("bulk create", p, 200, 900, 4, 3)
			want("bulk create", q, 100, 300, 9, 2)
			updates("bulk create in a transaction", 2)

			// Outside a transaction each create recomputes its own product: slower, still right.
			client.ProductVariant.CreateBulk(variant(client, q, "Q3", 50, 1), variant(client, q, "Q4", 60, 1)).SaveX(ctx)
			want("bulk create without a transaction", q, 50, 300, 11, 4)
			updates("bulk create without a transaction", 2)

			p3 := client.ProductVariant.Query().Where(productvariant.Sku("P3")).OnlyX(ctx)
			edited := client.Product.GetX(ctx, p.ID).UpdatedAt
			client.ProductVariant.UpdateOne(p3).SetPrice(1000).AddStock(5).SaveX(ctx)
			want("update one", p, 200, 1000, 9, 3)
			updates("update one", 1)
			// Aggregates are not an edit of the product.
			if got := client.Product.GetX(ctx, p.ID).UpdatedAt; !got.Equal(edited) {
				t.Fatalf("updated_at moved from %v to %v", edited, got)
			}

			// Changes that cannot move an aggregate leave the product alone.
			client.ProductVariant.UpdateOne(p3).SetSku("P3-NEW").SetLowStockThreshold(4).SetOptions(nil).SaveX(ctx)
			updates("SKU and threshold update", 0)

			n := client.ProductVariant.Update().Where(productvariant.MerchantID(mid)).AddStock(1).SaveX(ctx)
			if n != 7 {
				t.Fatalf("bulk update touched %d variants", n)
			}
			want("bulk update", p, 200, 1000, 12, 3)
			want("bulk update", q, 50, 300, 15, 4)
			updates("bulk update", 2)

			client.ProductVariant.DeleteOne(p3).ExecX(ctx)
			want("delete one", p, 200, 500, 6, 2)

			client.ProductVariant.Delete().Where(productvariant.ProductID(q.ID)).ExecX(ctx)
			if got := client.Product.GetX(ctx, q.ID); got.TotalStock != 0 || got.VariantCount != 0 || got.MinPrice != 0 || got.MaxPrice != 0 {
				t.Fatalf("after deleting every variant: %+v", got)
			}
			checkAggregates(t, client)

			// A failed create changes nothing: the duplicate SKU rolls the insert back.
			if _, err := variant(client, p, "P1", 1, 100).Save(ctx); !ent.IsConstraintError(err) {
				t.Fatalf("duplicate SKU: %v", err)
			}
			want("failed create", p, 200, 500, 6, 2)
		})
	}
}

// The demo seeder bulk-inserts variants with raw statements and creates each product with
// its aggregates already computed (internal/seed insert): they must be right, and no
// product needs an UPDATE afterwards.
func TestSeedAggregates(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			var productUpdates atomic.Int64
			client := countingDB(t, d, &productUpdates)
			sum, err := seed.Demo(context.Background(), client, seed.Options{Password: apitest.Password})
			if err != nil {
				t.Fatal(err)
			}
			checkAggregates(t, client)
			if n := productUpdates.Load(); n != 0 {
				t.Errorf("seeding %d products (%d variants) took %d product UPDATEs, want none",
					sum.Products, sum.Variants, n)
			}
		})
	}
}
