package redpackets_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/xiadan/xiadan/ent/redpacket"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// TestRedisCompensationAndReconcile: when Redis grants a claim the database refuses (here
// Redis lost its per-user counts, so the database's counter says LIMIT_REACHED), the
// request rolls back and the packet goes back to the Redis list; a packet lost from the
// list (a crash between the pop and the commit) is given back by Reconcile, which rebuilds
// the keys from the database. Every packet is claimed in the end, exactly once.
func TestRedisCompensationAndReconcile(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t), paths[1].opts(t))
			rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
			defer rdb.Close()
			ctx := context.Background()
			admin := s.NewAdmin(t, "ops@example.com")
			id := create(t, s, admin.AccessToken, input("redis", map[string]any{"budget": 500, "count": 5, "minAmount": 50, "maxAmount": 200}))
			tag := fmt.Sprintf("%s{c%s}:", s.Config.RedPacketRedisPrefix, id)
			a := s.Register("a@example.com", "A")
			if r := s.Query(a.AccessToken, claimM, map[string]any{"c": id}); r.Code() != "" {
				t.Fatalf("first claim: %s", r.Raw)
			}
			if n := rdb.LLen(ctx, tag+"packets").Val(); n != 4 {
				t.Fatalf("list holds %d after one claim, want 4", n)
			}
			rdb.Del(ctx, tag+"users")
			if r := s.Query(a.AccessToken, claimM, map[string]any{"c": id}); reason(r) != "LIMIT_REACHED" {
				t.Fatalf("second claim with Redis's counts lost: %s", r.Raw)
			}
			if n := rdb.LLen(ctx, tag+"packets").Val(); n != 4 {
				t.Fatalf("list holds %d after the refused claim, want the packet back (4)", n)
			}
			rdb.LPop(ctx, tag+"packets") // a crash after the pop, before the commit
			if err := s.App.RedPackets.Reconcile(ctx, s.DB.Client); err != nil {
				t.Fatal(err)
			}
			if n := rdb.LLen(ctx, tag+"packets").Val(); n != 4 {
				t.Fatalf("list holds %d after Reconcile, want 4", n)
			}
			if r := s.Query(a.AccessToken, claimM, map[string]any{"c": id}); reason(r) != "LIMIT_REACHED" {
				t.Fatalf("Reconcile forgot the per-user counts: %s", r.Raw)
			}
			// A stale entry (a packet the database gave already) is refused and dropped.
			held, err := rdb.LIndex(ctx, tag+"packets", 0).Result()
			if err != nil {
				t.Fatal(err)
			}
			client, sys := s.Client()
			mine, err := client.RedPacket.Query().Where(redpacket.UserIDNotNil()).Only(sys)
			if err != nil {
				t.Fatal(err)
			}
			rdb.LPush(ctx, tag+"packets", fmt.Sprintf("%d:%d", mine.ID, mine.Amount))
			stale := s.Register("stale@example.com", "Stale")
			if r := s.Query(stale.AccessToken, claimM, map[string]any{"c": id}); r.Code() != "INTERNAL" {
				t.Fatalf("claim of a stale entry: %s", r.Raw)
			}
			if head := rdb.LIndex(ctx, tag+"packets", 0).Val(); head != held || rdb.LLen(ctx, tag+"packets").Val() != 4 {
				t.Fatalf("after the stale entry the list starts %q (len %d), want %q (len 4)", head, rdb.LLen(ctx, tag+"packets").Val(), held)
			}
			if r := s.Query(stale.AccessToken, claimM, map[string]any{"c": id}); r.Code() != "" {
				t.Fatalf("claim after the stale entry: %s", r.Raw)
			}
			for i := range 3 {
				u := s.Register(fmt.Sprintf("u%d@example.com", i), "U")
				if r := s.Query(u.AccessToken, claimM, map[string]any{"c": id}); r.Code() != "" {
					t.Fatalf("claim %d: %s", i, r.Raw)
				}
			}
			u := s.Register("late@example.com", "Late")
			if r := s.Query(u.AccessToken, claimM, map[string]any{"c": id}); reason(r) != "EXHAUSTED" {
				t.Fatalf("claim of the emptied campaign: %s", r.Raw)
			}
			r := s.MustQuery("", campQ, map[string]any{"id": id})
			if !r.Contains(`"claimedCount":5`) || !r.Contains(`"claimedAmount":500`) {
				t.Errorf("campaign: %s", r.Raw)
			}
		})
	}
}
