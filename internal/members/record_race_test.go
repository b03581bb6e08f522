package members_test

import (
	"context"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/membership"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/members"
	"github.com/xiadan/xiadan/internal/testdb"
)

// A transaction whose snapshot predates a customer's first membership row (a payment or
// an admin's recompute that read something first) records the membership on the row
// another process created meanwhile. Before, its retry after the duplicate insert read
// the old snapshot again and looped until the request's deadline (found by an audit
// probe on MariaDB REPEATABLE READ: 3 s, the whole timeout).
func TestRecordAfterLosingTheFirstInsert(t *testing.T) {
	t.Parallel()
	for _, level := range []string{testdb.RepeatableRead, testdb.ReadCommitted} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			clock := apitest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			w := buildWorld(t, apitest.NewWithClock(t, testdb.MySQLURLAt(t, level), clock), clock)
			w.tiers(t)
			w.paid(t, w.buyer, w.shop, 30000, clock.Now())
			client := w.s.DB.Client
			ctx, cancel := context.WithTimeout(w.ctx(), 10*time.Second)
			defer cancel()
			tx, err := client.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			tctx := ent.NewTxContext(ctx, tx)
			if _, err := tx.Client().User.Query().Where(user.ID(uid(w.buyer))).Exist(tctx); err != nil {
				t.Fatal(err)
			}
			if _, err := members.New(w.s.Config.Members).Upgrade(w.ctx(), client, uid(w.buyer)); err != nil {
				t.Fatal(err)
			}
			if _, err := w.s.App.Members.Upgrade(tctx, tx.Client(), uid(w.buyer)); err != nil {
				t.Fatalf("recording over the row created meanwhile: %v", err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if n := client.Membership.Query().Where(membership.UserID(uid(w.buyer))).CountX(w.ctx()); n != 1 {
				t.Fatalf("%d membership rows, want 1", n)
			}
		})
	}
}
