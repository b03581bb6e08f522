package storecache_test

import (
	"fmt"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/storecache"
	"github.com/xiadan/xiadan/internal/testdb"
)

// BenchmarkAnonymousList measures the anonymous product list (20 products with their
// merchant) over HTTP, with the cache off and on, on SQLite with 200 products. It reports
// the hit ratio; the req/s gain is ns/op off divided by ns/op on.
func BenchmarkAnonymousList(b *testing.B) {
	for _, mode := range []string{storecache.ModeOff, storecache.ModeMemory} {
		b.Run(mode, func(b *testing.B) {
			s := apitest.New(b, testdb.SQLiteURL(b), func(c *config.Config) { c.StorefrontCache.Mode = mode })
			m := s.NewMerchant(b, "bench", merchant.StatusACTIVE)
			for i := range 200 {
				s.NewProduct(b, m, fmt.Sprintf("product %d", i), product.KindPHYSICAL, fmt.Sprintf("sku-%d", i), 1000, 5)
			}
			if s.App.CatalogFeed != nil {
				if _, err := s.App.CatalogFeed.Poll(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Try(apitest.Request{Query: listQuery, Variables: listVars, OperationName: "List"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(s.App.StoreCache.Stats().HitRatio(), "hit-ratio")
		})
	}
}
