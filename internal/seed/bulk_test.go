package seed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/searchtoken"
	"github.com/xiadan/xiadan/ent/translation"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// TestBulkScaleWritesWhatTheHooksWould: the scale products written by the bulk path (raw
// multi-row INSERTs, the index built once from the drafts) are, row for row, what Ent's
// builders and the product hooks write for the same drafts — products with their
// aggregates, on_sale and slugs, variants, translations and keyword index — and
// rebuilding their index from the stored rows (hooks.ReindexProducts) changes nothing.
// Three batches, on every dialect.
func TestBulkScaleWritesWhatTheHooksWould(t *testing.T) {
	t.Parallel()
	// Three batches, the last one short, so batch boundaries and the id run across them count.
	const scale, batch = 130, 50
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			seedWith := func(viaBuilders bool) (*ent.Client, seed.Summary) {
				db := testdb.Open(t, d.URL(t), database.Options{})
				sum, err := seed.Demo(context.Background(), db.Client,
					seed.ViaBuilders(seed.Options{Scale: scale, Password: password}, viaBuilders, now, batch))
				if err != nil {
					t.Fatal(err)
				}
				return db.Client, sum
			}
			bulk, bulkSum := seedWith(false)
			ref, refSum := seedWith(true)
			if bulkSum.Products != refSum.Products || bulkSum.Variants != refSum.Variants {
				t.Fatalf("bulk seeded %d products, %d variants; builders %d, %d",
					bulkSum.Products, bulkSum.Variants, refSum.Products, refSum.Variants)
			}
			got, want := scaleRows(t, bulk, scale), scaleRows(t, ref, scale)
			for _, part := range []string{"products", "variants", "translations", "tokens"} {
				if len(got[part]) != len(want[part]) {
					t.Errorf("%s: bulk wrote %d rows, builders %d", part, len(got[part]), len(want[part]))
					continue
				}
				for i := range got[part] {
					if !reflect.DeepEqual(got[part][i], want[part][i]) {
						t.Errorf("%s row %d:\n bulk     %s\n builders %s", part, i, got[part][i], want[part][i])
						break
					}
				}
			}
			// The index matches what the hooks build from the stored rows.
			ctx := viewer.SystemContext(context.Background())
			ids := scaleIDs(t, bulk, scale)
			if err := hooks.ReindexProducts(ctx, bulk, ids...); err != nil {
				t.Fatal(err)
			}
			if again := scaleRows(t, bulk, scale)["tokens"]; !reflect.DeepEqual(again, got["tokens"]) {
				t.Errorf("rebuilding the index of the bulk products changed it (%d rows, was %d)", len(again), len(got["tokens"]))
			}
		})
	}
}

// scaleIDs are the ids of the last n products.
func scaleIDs(t *testing.T, c *ent.Client, n int) []int {
	t.Helper()
	ids, err := c.Product.Query().Order(ent.Desc(product.FieldID)).Limit(n).IDs(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
		ids[i], ids[j] = ids[j], ids[i]
	}
	return ids
}

// scaleRows renders the rows of the last n products, their variants, translations and
// index entries, with every id replaced by the product's position among them.
func scaleRows(t *testing.T, c *ent.Client, n int) map[string][]string {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	ids := scaleIDs(t, c, n)
	pos := map[int]int{}
	for i, id := range ids {
		pos[id] = i
	}
	out := map[string][]string{}
	ps, err := c.Product.Query().Where(product.IDIn(ids...)).Order(product.ByID()).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		q := *p
		q.ID, q.Edges = pos[p.ID], ent.ProductEdges{}
		b, err := json.Marshal(q) // every field, pointers followed
		if err != nil {
			t.Fatal(err)
		}
		out["products"] = append(out["products"], string(b))
	}
	vs, err := c.ProductVariant.Query().Where(productvariant.ProductIDIn(ids...)).
		Order(productvariant.ByProductID(), productvariant.ByPosition()).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		out["variants"] = append(out["variants"], fmt.Sprintf("%d %s %v %d %s %d %d %d %v %v", pos[v.ProductID], v.Sku,
			v.Options, v.Price, v.Currency, v.Stock, v.LowStockThreshold, v.Position, v.CreatedAt.UTC(), v.UpdatedAt.UTC()))
	}
	ts, err := c.Translation.Query().
		Where(translation.EntityTypeEQ(translation.EntityTypePRODUCT), translation.EntityIDIn(ids...)).
		Order(translation.ByEntityID(), translation.ByLocale(), translation.ByField()).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts { // updated_at is the time of writing
		out["translations"] = append(out["translations"], fmt.Sprintf("%d %s %s %q", pos[x.EntityID], x.Locale, x.Field, x.Value))
	}
	toks, err := c.SearchToken.Query().Where(searchtoken.ProductIDIn(ids...)).
		Order(searchtoken.ByProductID(), searchtoken.ByToken()).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range toks {
		out["tokens"] = append(out["tokens"], fmt.Sprintf("%d %s %d", pos[x.ProductID], x.Token, x.Weight))
	}
	return out
}
