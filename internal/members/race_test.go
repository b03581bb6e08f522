package members_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/customergroupmember"
	"github.com/xiadan/xiadan/ent/membership"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/members"
)

// TestConcurrentJobReplicas runs the members job on two replicas (two services on one
// database) at the same moment, round after round as everything falls due again: every
// membership and rule group is recorded exactly once per round (the recorded counts add up
// to customers + groups), no row is duplicated, and the tiers and group members are those
// one run alone gives.
func TestConcurrentJobReplicas(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := apitest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			w := buildWorld(t, apitest.NewWithClock(t, d.URL(t), clock), clock)
			w.tiers(t)
			const customers = 6
			var sessions []apitest.Session
			for i := range customers {
				c := w.s.Register(fmt.Sprintf("c%d@example.com", i), "C")
				sessions = append(sessions, c)
				// Customer i: i orders of 300.00 with the shop (0: none with it, one elsewhere).
				for range i {
					w.paid(t, c, w.shop, 30000, clock.Now())
				}
				if i == 0 {
					w.paid(t, c, w.other, 100, clock.Now())
				}
			}
			w.s.MustQuery(w.shop.Owner.AccessToken, createGroupM, map[string]any{"i": map[string]any{"name": "老客", "minPaidOrders": 3}})
			// SILVER from 100.00, GOLD from 1000.00: 1.00, 300.00, 600.00, 900.00, 1200.00, 1500.00.
			want := []string{"", "SILVER", "SILVER", "SILVER", "GOLD", "GOLD"}
			other := members.New(w.s.Config.Members)
			client, ctx := w.s.Client()
			for round := range apitest.RaceRounds(d, 4) {
				// Everything falls due again: a day on, and the group's rule is stale.
				clock.Advance(25 * time.Hour)
				counts := make([]int, 2)
				outs := apitest.Race(
					func() (*apitest.Response, error) {
						n, err := w.s.App.Members.RunOnce(w.ctx(), w.s.DB.Client)
						counts[0] = n
						return nil, err
					},
					func() (*apitest.Response, error) {
						n, err := other.RunOnce(w.ctx(), w.s.DB.Client)
						counts[1] = n
						return nil, err
					},
				)
				for _, o := range outs {
					if o.Err != nil {
						t.Fatalf("round %d: %v", round, o.Err)
					}
				}
				t.Logf("round %d: replicas recorded %v", round, counts)
				if got := counts[0] + counts[1]; got != customers+1 {
					t.Errorf("round %d: recorded %v, want %d in all", round, counts, customers+1)
				}
				if n := client.Membership.Query().CountX(ctx); n != customers {
					t.Errorf("round %d: %d memberships, want %d", round, n, customers)
				}
				for i, c := range sessions {
					m := client.Membership.Query().Where(membership.UserID(uid(c))).WithTier().OnlyX(ctx)
					got := ""
					if m.Edges.Tier != nil {
						got = m.Edges.Tier.Code
					}
					if got != want[i] {
						t.Errorf("round %d: customer %d is %q, want %q", round, i, got, want[i])
					}
				}
				rule := client.CustomerGroupMember.Query().Where(customergroupmember.SourceEQ(customergroupmember.SourceRULE)).AllX(ctx)
				if len(rule) != 3 {
					t.Errorf("round %d: %d members by rule, want 3 (customers 3, 4, 5)", round, len(rule))
				}
			}
		})
	}
}
