package seed_test

import (
	"context"
	"testing"

	"github.com/xiadan/xiadan/ent/redpacket"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The demo runs a red-packet rain whose 200 packets sum to its budget, and its first
// customer (王小明) holds one unexpired packet to spend at checkout.
func TestDemoRedPackets(t *testing.T) {
	t.Parallel()
	client, _ := demo(t)
	ctx := viewer.SystemContext(context.Background())
	camp, err := client.RedPacketCampaign.Query().Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := client.RedPacket.Query().Where(redpacket.CampaignID(camp.ID)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range ps {
		sum += p.Amount
	}
	if len(ps) != camp.Count || sum != camp.Budget {
		t.Errorf("%d packets summing to %d, want %d summing to %d", len(ps), sum, camp.Count, camp.Budget)
	}
	u, err := client.User.Query().Where(user.Email("xiaoming@demo.xiadan.dev")).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held, err := client.RedPacket.Query().Where(redpacket.UserID(u.ID), redpacket.BalanceGT(0)).All(ctx)
	if err != nil || len(held) != 1 || held[0].ExpiresAt == nil {
		t.Errorf("the demo customer holds %+v (%v), want one unexpired packet", held, err)
	}
}
