package recommend_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/recommend"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// BenchmarkRecommendations times each query on the demo seed with BENCH_RECOMMEND_SCALE
// extra products (5,000 by default) and synthetic buyers (BENCH_RECOMMEND_BUYERS, 3,000 by
// default, 2 to 6 paid orders each), counted by the job, on each database:
//
//	go test -run '^$' -bench Recommendations -benchtime 200x ./internal/recommend
func BenchmarkRecommendations(b *testing.B) {
	scale := envInt("BENCH_RECOMMEND_SCALE", 5000)
	buyers := envInt("BENCH_RECOMMEND_BUYERS", 3000)
	for _, d := range testdb.Dialects() {
		b.Run(d.Name, func(b *testing.B) {
			s := apitest.New(b, d.URL(b))
			client, sys := s.Client()
			if _, err := seed.Demo(sys, client, seed.Options{Scale: scale, Password: "benchmark"}); err != nil {
				b.Fatal(err)
			}
			now := time.Now().UTC()
			ps, err := client.Product.Query().Where(standing.ProductOnSale(now), standing.ProductOfListedMerchant(now), product.CategoryIDNotNil()).
				Order(ent.Asc(product.FieldID)).All(sys)
			if err != nil {
				b.Fatal(err)
			}
			products := make([]shopper, len(ps))
			merchantOf := map[int]int{}
			for i, p := range ps {
				products[i] = shopper{id: p.ID, merchant: p.MerchantID, category: *p.CategoryID}
				merchantOf[p.ID] = p.MerchantID
			}
			users := make([]*ent.UserCreate, buyers)
			for i := range users {
				users[i] = client.User.Create().SetDisplayName(fmt.Sprintf("Bench %d", i)).SetRoles([]string{"CUSTOMER"})
			}
			var customers []int
			for i := 0; i < len(users); i += 500 {
				us := client.User.CreateBulk(users[i:min(i+500, len(users))]...).SaveX(sys)
				for _, u := range us {
					customers = append(customers, u.ID)
				}
			}
			orders := synthetic(7, products, customers, now)
			if err := insertPaid(sys, client, "B", orders, merchantOf); err != nil {
				b.Fatal(err)
			}
			job := &recommend.Service{}
			start := time.Now()
			if _, err := job.Refresh(sys, client); err != nil {
				b.Fatal(err)
			}
			pairs := client.ProductPair.Query().CountX(sys)
			b.Logf("%s: %d visible products, %d buyers, %d paid orders, %d pair rows; the job counted them in %s",
				d.Name, len(products), len(customers), len(orders), pairs, time.Since(start).Round(time.Millisecond))
			// The catalogue's first product, its category and a buyer with history.
			top := ps[0]
			k := 10
			anon := context.Background()
			buyer := viewer.NewContext(anon, &viewer.Viewer{UserID: customers[0], Roles: []viewer.Role{viewer.RoleCustomer}})
			for name, q := range map[string]func() ([]*ent.Product, error){
				"boughtTogether":    func() ([]*ent.Product, error) { return job.BoughtTogether(anon, client, top, &k) },
				"similar":           func() ([]*ent.Product, error) { return job.Similar(anon, client, top, &k) },
				"trending":          func() ([]*ent.Product, error) { return job.Trending(anon, client, nil, &k) },
				"trendingCategory":  func() ([]*ent.Product, error) { return job.Trending(anon, client, top.CategoryID, &k) },
				"recommendedForYou": func() ([]*ent.Product, error) { return job.ForYou(buyer, client, &k) },
			} {
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						if _, err := q(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
