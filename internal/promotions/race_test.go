package promotions_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/flashsaleclaim"
	"github.com/xiadan/xiadan/ent/flashsaleuse"
	"github.com/xiadan/xiadan/ent/promotion"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/promotions"
	"github.com/xiadan/xiadan/internal/testdb"
)

// outcome is what one checkout of the race got.
type outcome int

const (
	flashBought outcome = iota // committed at the flash price
	fullPrice                  // the quote offered no flash price (sold out, limit reached)
	refused                    // Commit refused: CONFLICT with a flash-sale reason
)

// checkout is the flash-sale half of placeOrder: in one transaction, quote the basket,
// then (the orders written) Commit under order id orderID, and commit.
func checkout(ctx context.Context, client *ent.Client, w *world, user, orderID int) (outcome, error) {
	// The basket is read before the transaction, as a pool of N connections would
	// otherwise deadlock with N transactions each waiting for a second connection.
	b := w.basket(user, base)
	tx, err := client.Tx(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit a no-op
	svc := promotions.New()
	providers := []pricing.Provider{svc.FlashSale(), svc.Automatic()}
	if err := pricing.Run(ctx, tx.Client(), b, providers); err != nil {
		return 0, err
	}
	if b.TotalsOf(0).Discount == 0 {
		return fullPrice, tx.Commit()
	}
	if err := pricing.Commit(ctx, tx.Client(), b, providers, map[int]int{w.merchant: orderID}); err != nil {
		var ae *apperror.Error
		if errors.As(err, &ae) && ae.Code == apperror.Conflict &&
			(ae.Extensions["reason"] == promotions.ReasonSoldOut || ae.Extensions["reason"] == promotions.ReasonLimitReached) {
			return refused, nil
		}
		return 0, err
	}
	return flashBought, tx.Commit()
}

// race runs n checkouts at once, buyer i as user(i), and counts the outcomes.
func race(t *testing.T, client *ent.Client, w *world, n int, user func(i int) int, orderBase int) map[outcome]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[outcome]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			o, err := checkout(context.Background(), client, w, user(i), orderBase+i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("buyer %d: %v", i, err)
				return
			}
			counts[o]++
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

// TestConcurrentFlashSaleCommits: 200 buyers of one unit race for a flash sale capped at
// 50 in concurrent transactions: exactly 50 buy at the flash price, sold is 50 and 50 uses
// are recorded. One user racing themselves 20 times past a per-user limit of 3 gets
// exactly 3. Releasing an order twice at once gives its unit back once.
func TestConcurrentFlashSaleCommits(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			client := testdb.Open(t, d.URL(t), database.Options{}).Client
			for round := range apitest.RaceRounds(d, 3) {
				t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
					w := newWorld(t, client, item{10000, 1, 0})
					it := w.flash(0, 8000, 50, 0, 0)
					orders := 1_000_000 * (round + 1)
					counts := race(t, client, w, 200, func(i int) int { return 5000 + i }, orders)
					if counts[flashBought] != 50 || counts[fullPrice]+counts[refused] != 150 {
						t.Fatalf("crowd: %v, want 50 at the flash price and 150 not", counts)
					}
					t.Logf("crowd of 200 for 50: %d at the flash price, %d refused at Commit (CONFLICT), %d quoted full price",
						counts[flashBought], counts[refused], counts[fullPrice])
					if got := client.FlashSaleItem.GetX(w.ctx, it.ID).Sold; got != 50 {
						t.Fatalf("sold %d, want 50", got)
					}
					if n := client.FlashSaleUse.Query().Where(flashsaleuse.ItemID(it.ID)).CountX(w.ctx); n != 50 {
						t.Fatalf("%d uses recorded, want 50", n)
					}

					// One user racing themselves past the per-user limit.
					w2 := newWorld(t, client, item{10000, 1, 0})
					it2 := w2.flash(0, 8000, 50, 0, 3)
					counts = race(t, client, w2, 20, func(int) int { return 42 }, orders+500_000)
					if counts[flashBought] != 3 {
						t.Fatalf("one user: %v, want 3 at the flash price", counts)
					}
					if got := client.FlashSaleItem.GetX(w.ctx, it2.ID).Sold; got != 3 {
						t.Fatalf("sold %d, want 3", got)
					}
					c := client.FlashSaleClaim.Query().Where(flashsaleclaim.ItemID(it2.ID), flashsaleclaim.UserID(42)).OnlyX(w.ctx)
					if c.Quantity != 3 {
						t.Fatalf("claim %d, want 3", c.Quantity)
					}

					// Release one of the user's orders twice at once: one unit back, once.
					use := client.FlashSaleUse.Query().Where(flashsaleuse.ItemID(it2.ID)).FirstX(w.ctx)
					svc := promotions.New()
					var wg sync.WaitGroup
					for range 2 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							tx, err := client.Tx(context.Background())
							if err != nil {
								t.Error(err)
								return
							}
							if err := svc.FlashSale().Release(context.Background(), tx.Client(), &ent.Order{ID: use.OrderID}); err != nil {
								_ = tx.Rollback()
								t.Error(err)
								return
							}
							if err := tx.Commit(); err != nil {
								t.Error(err)
							}
						}()
					}
					wg.Wait()
					if got := client.FlashSaleItem.GetX(w.ctx, it2.ID).Sold; got != 2 {
						t.Fatalf("after release: sold %d, want 2", got)
					}
					if got := client.FlashSaleClaim.GetX(w.ctx, c.ID).Quantity; got != 2 {
						t.Fatalf("after release: claim %d, want 2", got)
					}
					// The allowance given back is usable again: one more, and no more.
					counts = race(t, client, w2, 3, func(int) int { return 42 }, orders+600_000)
					if counts[flashBought] != 1 {
						t.Fatalf("after release: %v, want 1 more at the flash price", counts)
					}
				})
			}
		})
	}
}

// A checkout that quoted a flash price before the merchant paused the sale (or edited or
// ended it) is refused at Commit with FLASH_SALE_CHANGED, and sells nothing at the old
// price; one that quotes after the sale resumes buys. Before, Commit re-checked only the
// cap, so the old price was committed after the pause. On SQLite the pause waits for the
// checkout's write lock instead, so this runs where the race is real.
func TestFlashSaleChangedAfterTheQuote(t *testing.T) {
	t.Parallel()
	for _, level := range []string{testdb.RepeatableRead, testdb.ReadCommitted} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			client := testdb.Open(t, testdb.MySQLURLAt(t, level), database.Options{}).Client
			w := newWorld(t, client, item{10000, 1, 0})
			it := w.flash(0, 8000, 50, 0, 0)
			b := w.basket(7, base)
			tx, err := client.Tx(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback() //nolint:errcheck // after a failed Commit
			svc := promotions.New()
			providers := []pricing.Provider{svc.FlashSale()}
			if err := pricing.Run(w.ctx, tx.Client(), b, providers); err != nil {
				t.Fatal(err)
			}
			if b.TotalsOf(0).Discount != 2000 {
				t.Fatalf("quoted discount %d, want the flash price's 20.00", b.TotalsOf(0).Discount)
			}
			// The merchant pauses the sale meanwhile (its own transaction, committed).
			p := client.FlashSaleItem.GetX(w.ctx, it.ID).PromotionID
			client.Promotion.UpdateOneID(p).SetStatus(promotion.StatusPAUSED).ExecX(w.ctx)
			err = pricing.Commit(w.ctx, tx.Client(), b, providers, map[int]int{w.merchant: 9_000_001})
			var ae *apperror.Error
			if !errors.As(err, &ae) || ae.Code != apperror.Conflict || ae.Extensions["reason"] != promotions.ReasonChanged {
				t.Fatalf("commit after the pause: %v, want CONFLICT %s", err, promotions.ReasonChanged)
			}
			_ = tx.Rollback()
			if got := client.FlashSaleItem.GetX(w.ctx, it.ID).Sold; got != 0 {
				t.Fatalf("sold %d after a refused checkout, want 0", got)
			}
			// Resumed: a new checkout buys at the flash price.
			client.Promotion.UpdateOneID(p).SetStatus(promotion.StatusACTIVE).ExecX(w.ctx)
			if o, err := checkout(context.Background(), client, w, 8, 9_000_002); err != nil || o != flashBought {
				t.Fatalf("after resuming: %v, %v; want bought at the flash price", o, err)
			}
		})
	}
}
