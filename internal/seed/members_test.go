package seed_test

import (
	"context"
	"testing"

	"github.com/xiadan/xiadan/ent/customergroup"
	"github.com/xiadan/xiadan/ent/membership"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The demo shows members: three tiers, the first demo customer at GOLD or above, member
// prices on a few variants, and the tea house's 老客 group filled by its rule.
func TestDemoMembers(t *testing.T) {
	t.Parallel()
	client, _ := demo(t)
	ctx := viewer.SystemContext(context.Background())
	if n := client.MemberTier.Query().CountX(ctx); n != 3 {
		t.Errorf("%d tiers", n)
	}
	m := client.Membership.Query().Where(membership.HasTier(), membership.UserID(
		client.User.Query().Where(user.Email("xiaoming@demo.xiadan.dev")).OnlyIDX(ctx))).WithTier().OnlyX(ctx)
	if m.Edges.Tier.Level < 2 {
		t.Errorf("the demo customer is %s", m.Edges.Tier.Code)
	}
	if n := client.MemberPrice.Query().CountX(ctx); n < 4 {
		t.Errorf("%d member prices", n)
	}
	g := client.CustomerGroup.Query().Where(customergroup.Name("老客")).OnlyX(ctx)
	if g.ComputedAt == nil {
		t.Error("the 老客 group's rule was not applied")
	}
}
