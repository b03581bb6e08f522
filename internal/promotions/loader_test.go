package promotions_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/promotion"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// countingDriver counts the promotion queries sent through an Ent driver.
type countingDriver struct {
	dialect.Driver
	n *atomic.Int64
}

func (d countingDriver) Query(ctx context.Context, query string, args, v any) error {
	// Only the promotions' reads: background jobs (webhook deliveries) poll the same
	// database at any moment.
	if strings.Contains(query, "`promotions`") || strings.Contains(query, "`flash_sale_items`") ||
		strings.Contains(query, `"promotions"`) || strings.Contains(query, `"flash_sale_items"`) {
		d.n.Add(1)
	}
	return d.Driver.Query(ctx, query, args, v)
}

// TestPublicReadsAreBatched: a page of products with their promotions and their variants'
// flash sales costs the same number of promotion queries for 2 products as for 12 (the
// loaders batch them), on SQLite and MySQL.
func TestPublicReadsAreBatched(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			// NewWithDriver's loaders wait a second: the count is of batches, not of speed.
			s := apitest.NewWithDriver(t, d.URL(t), func(drv dialect.Driver) dialect.Driver { return countingDriver{drv, &n} })
			client, ctx := s.Client()
			now := time.Now().UTC()
			queries := func(first int) int64 {
				before := n.Load()
				r := s.MustQuery("", `query($n: Int) { products(first: $n) { nodes { id promotions { id label }
					variants { id flashSale { price { formatted } remaining } } } } }`, map[string]any{"n": first})
				if !r.Contains(`"flashSale":{`) || !r.Contains(`"promotions":[{`) {
					t.Fatalf("no promotions shown: %s", r.Raw)
				}
				return n.Load() - before
			}
			for i := range 12 {
				shop := s.NewMerchant(t, fmt.Sprintf("batch-%d", i), merchant.StatusACTIVE)
				_, vid := s.NewProduct(t, shop, "茶"+strconv.Itoa(i), product.KindPHYSICAL, fmt.Sprintf("B-%d", i), 10000, 10)
				client.Promotion.Create().SetMerchantID(shop.IntID).SetKind(promotion.KindFULL_REDUCTION).SetLabel("满减").
					SetStatus(promotion.StatusACTIVE).SetStartsAt(now.Add(-time.Hour)).SetEndsAt(now.Add(time.Hour)).
					SetCurrency("CNY").SetTiers(tiers(100, 10)).ExecX(ctx)
				p := client.Promotion.Create().SetMerchantID(shop.IntID).SetKind(promotion.KindFLASH_SALE).SetLabel("秒杀").
					SetStatus(promotion.StatusACTIVE).SetStartsAt(now.Add(-time.Hour)).SetEndsAt(now.Add(time.Hour)).
					SetCurrency("CNY").SaveX(ctx)
				client.FlashSaleItem.Create().SetPromotionID(p.ID).SetMerchantID(shop.IntID).SetVariantID(vid).
					SetPrice(8000).SetCap(10).ExecX(ctx)
			}
			few, many := queries(2), queries(12)
			if few != many {
				t.Fatalf("2 products cost %d queries, 12 cost %d: not batched", few, many)
			}
			t.Logf("a page of products with promotions and flash sales: %d promotion queries", many)
		})
	}
}
