package recommend_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/recommendwatermark"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/recommend"
)

// TestConcurrentRefreshCountsEachOrderOnce: several replicas' jobs run at once, in small
// batches, round after round while paid orders arrive; every pair and daily count equals
// the count of the orders written, and the watermark has counted each order once.
func TestConcurrentRefreshCountsEachOrderOnce(t *testing.T) {
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			shop := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
			var products []shopper
			merchantOf := map[int]int{}
			for i := range 8 {
				p, _ := s.NewProduct(t, shop, fmt.Sprintf("Tea %d", i), product.KindPHYSICAL, fmt.Sprintf("sku-%d", i), 1000, 100)
				products = append(products, shopper{id: p, merchant: shop.IntID, category: i % 2})
				merchantOf[p] = shop.IntID
			}
			buyer := s.Register("buyer@example.com", "Buyer")
			var customers []int
			customers = append(customers, mustAtoi(t, buyer.UserID))
			want := map[[2]int]int{}
			units := 0
			total := 0
			rounds := apitest.RaceRounds(d, 15)
			start := time.Now().UTC().Add(-24 * time.Hour)
			for round := range rounds {
				// The same buyer many times over: synthetic draws 2 to 6 orders per customer.
				cs := make([]int, 6)
				for i := range cs {
					cs[i] = customers[0]
				}
				bs := synthetic(uint64(round), products, cs, time.Now().UTC())
				for i := range bs { // paid in time order, as real payments are (after the settle lag)
					bs[i].paidAt = start.Add(time.Duration(total+i) * time.Second)
				}
				if err := insertPaid(ctx, client, fmt.Sprintf("R%03d", round), bs, merchantOf); err != nil {
					t.Fatal(err)
				}
				for _, b := range bs {
					units += len(b.products)
					for _, a := range b.products {
						for _, o := range b.products {
							want[[2]int{a, o}]++
						}
					}
				}
				total += len(bs)
				var wg sync.WaitGroup
				counted := make([]int, 4)
				errs := make([]error, 4)
				for r := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						counted[r], errs[r] = (&recommend.Service{Batch: 3}).Refresh(ctx, client)
					}()
				}
				wg.Wait()
				sum := 0
				for r := range 4 {
					if errs[r] != nil && !retryable(errs[r]) {
						t.Fatalf("round %d: replica %d: %v", round, r, errs[r])
					}
					sum += counted[r]
				}
				// A replica that lost a deadlock leaves its batch to the next run.
				rest, err := (&recommend.Service{}).Refresh(ctx, client)
				if err != nil {
					t.Fatal(err)
				}
				wm := client.RecommendWatermark.Query().Where(recommendwatermark.Name(recommend.WatermarkOrders)).OnlyX(ctx)
				if wm.Orders != total || sum+rest != len(bs) {
					t.Fatalf("round %d: watermark counted %d orders, replicas %d+%d this round, want %d in all, %d this round", round, wm.Orders, sum, rest, total, len(bs))
				}
				for _, e := range client.ProductPair.Query().AllX(ctx) {
					if e.Orders != want[[2]int{e.ProductID, e.OtherID}] {
						t.Fatalf("round %d: pair %d-%d counted %d, want %d", round, e.ProductID, e.OtherID, e.Orders, want[[2]int{e.ProductID, e.OtherID}])
					}
				}
				sold := 0
				for _, e := range client.ProductDailySales.Query().AllX(ctx) {
					sold += e.Units
				}
				if sold != units {
					t.Fatalf("round %d: %d units counted, want %d", round, sold, units)
				}
				if n := client.ProductPair.Query().CountX(ctx); n != len(want) {
					t.Fatalf("round %d: %d pairs, want %d", round, n, len(want))
				}
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// retryable reports a deadlock or lock wait a replica may lose under contention (MySQL);
// its transaction rolled back whole, so the next run counts its batch.
func retryable(err error) bool {
	m := err.Error()
	return strings.Contains(m, "Deadlock") || strings.Contains(m, "Lock wait timeout") || strings.Contains(m, "database is locked") || strings.Contains(m, "SQLITE_BUSY")
}
