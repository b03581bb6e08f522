package catalogfeed_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/catalogchange"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	_ "github.com/xiadan/xiadan/ent/runtime" // privacy policies and hooks
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/catalogfeed"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// collector keeps what a feed delivered.
type collector struct {
	mu  sync.Mutex
	got []catalogfeed.Change
}

func (c *collector) add(cs []catalogfeed.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, cs...)
}

func (c *collector) ids() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int, len(c.got))
	for i, ch := range c.got {
		out[i] = ch.ID
	}
	return out
}

func newFeed(t *testing.T, db *ent.Client) (*catalogfeed.Feed, *collector) {
	t.Helper()
	f := catalogfeed.New(db, nil, quiet)
	c := &collector{}
	f.Subscribe(c.add)
	poll(t, f)
	return f, c
}

func poll(t *testing.T, f *catalogfeed.Feed) {
	t.Helper()
	if _, err := f.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// record commits one change in its own transaction and returns its id.
func record(t testing.TB, db *ent.Client, entity string, id int) int {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	c, err := db.CatalogChange.Create().SetEntity(entity).SetEntityID(id).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestHooksRecordCatalogWritesInTheirTransaction(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := apitest.NewWithoutEvents(t, d.URL(t)) // its client has the hooks (app.New)
			db, ctx := s.Client()
			m := s.NewMerchant(t, "tea", merchant.StatusACTIVE)
			pid, vid := s.NewProduct(t, m, "Longjing", product.KindPHYSICAL, "LJ", 100, 5)
			p, v := &ent.Product{ID: pid}, &ent.ProductVariant{ID: vid}
			changes := func() []string {
				rows, err := db.CatalogChange.Query().Order(ent.Asc(catalogchange.FieldID)).All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, r := range rows {
					out = append(out, r.Entity)
				}
				return out
			}
			// The variant's aggregates update the product: derived, not recorded twice.
			want := []string{catalogfeed.Merchant, catalogfeed.Product, catalogfeed.Variant}
			if got := changes(); !slices.Equal(got, want) {
				t.Fatalf("after creating: %v, want %v", got, want)
			}
			// Stock that stays above zero shows shoppers nothing; running out does.
			if err := db.ProductVariant.UpdateOneID(v.ID).SetStock(3).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if got := changes(); len(got) != 3 {
				t.Fatalf("a stock change within stock recorded %v", got)
			}
			if err := db.ProductVariant.UpdateOneID(v.ID).SetStock(0).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if got := changes(); len(got) != 4 || got[3] != catalogfeed.Variant {
				t.Fatalf("running out recorded %v", got)
			}
			// A rolled-back change leaves no row.
			tx, err := db.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.Product.UpdateOneID(p.ID).SetTitle("Rolled back").Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if got := changes(); len(got) != 4 {
				t.Fatalf("a rolled-back update left %v", got)
			}
			// Merchant status (suspension hides the products) is a change.
			if err := db.Merchant.UpdateOneID(m.IntID).SetStatus(merchant.StatusSUSPENDED).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			// (It takes the merchant's products off sale too, which records them.)
			if got := changes(); len(got) < 5 || !slices.Contains(got[4:], catalogfeed.Merchant) {
				t.Fatalf("suspension recorded %v", got)
			}
		})
	}
}

func TestFeedDeliversInOrderAndMovesTheGeneration(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			db := testdb.Open(t, d.URL(t), database.Options{}).Client
			old := record(t, db, catalogfeed.Product, 1) // before the feed starts: not delivered
			f, c := newFeed(t, db)
			g0 := f.Generation()
			if g0 == "" {
				t.Fatal("no generation after the first poll")
			}
			a := record(t, db, catalogfeed.Product, 2)
			b := record(t, db, catalogfeed.Rate, 0)
			changed := f.Changed()
			poll(t, f)
			select {
			case <-changed:
			default:
				t.Error("Changed was not closed by a delivery")
			}
			if got := c.ids(); !slices.Equal(got, []int{a, b}) {
				t.Fatalf("delivered %v, want %v (not %d, older than the feed)", got, []int{a, b}, old)
			}
			if f.Generation() == g0 {
				t.Error("the generation did not move")
			}
			g1 := f.Generation()
			poll(t, f)
			if f.Generation() != g1 || len(c.ids()) != 2 {
				t.Error("a poll with nothing new changed something")
			}
			// Another replica that read the same changes has the same generation.
			other := catalogfeed.New(db, nil, quiet)
			poll(t, other)
			if other.Generation() != g1 {
				t.Errorf("generations differ: %q and %q", other.Generation(), g1)
			}
		})
	}
}

// TestLateCommitIsNotSkipped: on MySQL, a transaction that took id n may commit after one
// that took n+1; the feed must still deliver n.
func TestLateCommitIsNotSkipped(t *testing.T) {
	db := testdb.Open(t, testdb.MySQLURL(t), database.Options{}).Client
	ctx := viewer.SystemContext(context.Background())
	f, c := newFeed(t, db)
	slow, err := db.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = slow.Rollback() }()
	early, err := slow.CatalogChange.Create().SetEntity(catalogfeed.Product).SetEntityID(1).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	later := record(t, db, catalogfeed.Product, 2)
	if later < early.ID {
		t.Fatalf("ids %d then %d: the test needs the later insert to have the larger id", early.ID, later)
	}
	poll(t, f)
	if got := c.ids(); !slices.Equal(got, []int{later}) {
		t.Fatalf("before the slow commit: delivered %v, want [%d]", got, later)
	}
	g := f.Generation()
	if err := slow.Commit(); err != nil {
		t.Fatal(err)
	}
	poll(t, f)
	if got := c.ids(); !slices.Equal(got, []int{later, early.ID}) {
		t.Fatalf("after the slow commit: delivered %v, want [%d %d]", got, later, early.ID)
	}
	if f.Generation() == g {
		t.Error("the late change did not move the generation")
	}
	// A replica that read both at once names the same set the same way.
	other := catalogfeed.New(db, nil, quiet)
	poll(t, other)
	if other.Generation() != f.Generation() {
		t.Errorf("generations differ: %q and %q", other.Generation(), f.Generation())
	}
}

// TestConcurrentWritersLoseNothing races writers that commit in random order against a
// polling feed: every committed change is delivered exactly once, rolled-back ones never.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			db := testdb.Open(t, d.URL(t), database.Options{}).Client
			ctx := viewer.SystemContext(context.Background())
			f, c := newFeed(t, db)
			f.GapTimeout = time.Minute
			stop := make(chan struct{})
			polled := make(chan struct{})
			go func() {
				defer close(polled)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := f.Poll(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			var mu sync.Mutex
			var committed []int
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Go(func() {
					for i := range 15 {
						tx, err := db.Tx(ctx)
						if err != nil {
							t.Error(err)
							return
						}
						ch, err := tx.CatalogChange.Create().SetEntity(catalogfeed.Product).SetEntityID(w*100 + i).Save(ctx)
						if err != nil {
							_ = tx.Rollback()
							t.Error(err)
							return
						}
						time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
						if i%5 == 4 {
							_ = tx.Rollback()
							continue
						}
						if err := tx.Commit(); err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						committed = append(committed, ch.ID)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			close(stop)
			<-polled
			poll(t, f)
			got := c.ids()
			slices.Sort(got)
			slices.Sort(committed)
			if !slices.Equal(got, committed) {
				t.Fatalf("delivered %d changes, committed %d:\n got %v\nwant %v", len(got), len(committed), got, committed)
			}
		})
	}
}

func TestPruneDeletesOldChanges(t *testing.T) {
	db := testdb.Open(t, testdb.SQLiteURL(t), database.Options{}).Client
	ctx := context.Background()
	record(t, db, catalogfeed.Product, 1)
	record(t, db, catalogfeed.Product, 2)
	n, err := catalogfeed.Prune(ctx, db, time.Now().Add(-time.Hour))
	if err != nil || n != 0 {
		t.Fatalf("pruning nothing old: %d, %v", n, err)
	}
	n, err = catalogfeed.Prune(ctx, db, time.Now().Add(time.Second))
	if err != nil || n != 2 {
		t.Fatalf("pruning everything: %d, %v", n, err)
	}
}
