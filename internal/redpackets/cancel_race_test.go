package redpackets_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/redpacket"
	"github.com/xiadan/xiadan/ent/redpacketcampaign"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/redpackets"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// A claim whose transaction read the campaign before an admin cancelled it is refused
// (CONFLICT ENDED) and takes no packet. Before, the claim decided on its snapshot of the
// campaign and gave a packet after the cancellation had committed.
func TestClaimAfterCancellationInItsSnapshot(t *testing.T) {
	t.Parallel()
	for _, level := range []string{testdb.RepeatableRead, testdb.ReadCommitted} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, testdb.MySQLURLAt(t, level))
			admin := s.NewAdmin(t, "ops@example.com")
			id := create(t, s, admin.AccessToken, input("cancel-race", nil))
			cid, _ := strconv.Atoi(id)
			buyer := s.Register("buyer@example.com", "Buyer")
			uid, _ := strconv.Atoi(buyer.UserID)
			client := s.DB.Client
			tx, err := client.Tx(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback() //nolint:errcheck // after the refusal
			ctx := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: uid})
			sys := viewer.SystemContext(ctx)
			if _, err := tx.Client().RedPacketCampaign.Get(sys, cid); err != nil { // the snapshot
				t.Fatal(err)
			}
			s.MustQuery(admin.AccessToken, `mutation($id: ID!) { cancelRedPacketCampaign(id: $id) { status } }`, map[string]any{"id": id})
			_, err = s.App.RedPackets.Claim(ctx, tx.Client(), cid)
			var ae *apperror.Error
			if !errors.As(err, &ae) || ae.Code != apperror.Conflict || ae.Extensions["reason"] != redpackets.ReasonEnded {
				t.Fatalf("claim after the cancellation: %v, want CONFLICT %s", err, redpackets.ReasonEnded)
			}
			_ = tx.Rollback()
			if n := client.RedPacket.Query().Where(redpacket.CampaignID(cid), redpacket.UserIDNotNil()).CountX(sys); n != 0 {
				t.Fatalf("%d packets given after the cancellation", n)
			}
			if st := client.RedPacketCampaign.GetX(sys, cid).Status; st != redpacketcampaign.StatusCANCELLED {
				t.Fatalf("campaign %s", st)
			}
		})
	}
}
