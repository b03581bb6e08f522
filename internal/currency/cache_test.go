package currency_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	_ "github.com/xiadan/xiadan/ent/runtime" // privacy policies
	"github.com/xiadan/xiadan/internal/currency"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// TestCacheSharesOneReadAndDropsOnCommit: many requests asking for the rates at once
// share one statement; a rate written in a transaction is invisible to the cache until
// the commit, which drops it (the hook), so the next read has the new rate.
func TestCacheSharesOneReadAndDropsOnCommit(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	db := testdb.Open(t, testdb.SQLiteURL(t), database.Options{WrapDriver: func(d dialect.Driver) dialect.Driver { return counting{d, &n} }})
	cfg := currency.DefaultConfig()
	cfg.CacheTTL = time.Hour
	svc := currency.New(cfg, db.Client)
	db.Client.ExchangeRate.Use(currency.ExchangeRateChangedHook(svc.Invalidate))
	ctx := viewer.SystemContext(context.Background())
	if err := db.Client.ExchangeRate.Create().SetBase("CNY").SetQuote("USD").SetRate("0.1376").SetSource("admin").
		SetEffectiveAt(time.Now()).Exec(ctx); err != nil {
		t.Fatal(err)
	}

	usd := func() string {
		t.Helper()
		snap, err := svc.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ind, why := snap.Convert(money.Money{Minor: 12850, Currency: "CNY"}, "USD", time.Now(), 0)
		if ind == nil {
			t.Fatalf("not converted: %s", why)
		}
		return ind.Amount()
	}
	before := n.Load()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := svc.Current(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := n.Load() - before; got != 1 {
		t.Errorf("16 concurrent first reads sent %d statements, want 1", got)
	}
	if usd() != "17.68" {
		t.Fatal("first rate")
	}

	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.ExchangeRate.Create().SetBase("CNY").SetQuote("USD").SetRate("0.14").SetSource("admin").
		SetEffectiveAt(time.Now()).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if got := usd(); got != "17.68" {
		t.Errorf("an uncommitted rate is used: %s", got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	before = n.Load()
	if got := usd(); got != "17.99" {
		t.Errorf("after the commit: %s, want 17.99", got)
	}
	if usd(); n.Load()-before != 1 {
		t.Errorf("two reads after the commit sent %d statements, want 1", n.Load()-before)
	}
}
