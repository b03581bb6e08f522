package redpackets

import (
	"context"
	"fmt"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/redpacket"
	"github.com/xiadan/xiadan/ent/redpacketspend"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Provider spends the customer's red packets at checkout (pricing.StageRedPacket), after
// every coupon: the unexpired packets in the basket's currency, soonest-expiring first,
// each up to what is left of the basket, spread over all lines in proportion
// (Basket.Spread) and funded by the platform. A packet partly used keeps the rest as
// balance until it expires. Choice.UseRedPackets false spends none.
type Provider struct{ s *Service }

// Provider returns the checkout's red-packet provider.
func (s *Service) Provider() *Provider { return &Provider{s: s} }

var (
	_ pricing.Provider = (*Provider)(nil)
	_ pricing.Releaser = (*Provider)(nil)
)

// Stage is pricing.StageRedPacket.
func (p *Provider) Stage() pricing.Stage { return pricing.StageRedPacket }

// Quote adds one adjustment per packet it would spend; Data is the packet's amount spent.
func (p *Provider) Quote(ctx context.Context, db *ent.Client, b *pricing.Basket) error {
	if b.UserID == 0 || (b.Choice.UseRedPackets != nil && !*b.Choice.UseRedPackets) {
		return nil
	}
	packets, err := db.RedPacket.Query().
		Where(redpacket.UserID(b.UserID), redpacket.Currency(b.Currency), redpacket.BalanceGT(0), redpacket.ExpiresAtGT(b.Now)).
		Order(redpacket.ByExpiresAt(), redpacket.ByID()).Limit(50).
		All(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	lines := b.LinesOf(0)
	for _, pk := range packets {
		var left int64
		for _, i := range lines {
			left += b.Lines[i].Net()
		}
		if left <= 0 {
			break
		}
		amount := min(pk.Balance, left)
		b.Add(pricing.Adjustment{
			Stage: pricing.StageRedPacket, Kind: pricing.KindRedPacket, SourceID: pk.ID,
			FundedBy: pricing.FundedByPlatform, Label: "红包", Lines: b.Spread(lines, amount),
		})
	}
	return nil
}

// Commit spends what Quote chose: per packet a conditional UPDATE that takes the amount
// only while the packet is the customer's, holds that much and has not expired (0 rows:
// CONFLICT RED_PACKET_UNAVAILABLE, and the checkout rolls back); then one spend row per
// order and packet, what a full cancellation gives back.
func (p *Provider) Commit(ctx context.Context, db *ent.Client, b *pricing.Basket, orders map[int]int) error {
	sys := viewer.SystemContext(ctx)
	now := b.Now
	if t := p.s.now(); t.After(now) {
		now = t // a packet that expired since the quote is not spent
	}
	var spends []*ent.RedPacketSpendCreate
	for _, a := range b.Adjustments {
		if a.Stage != pricing.StageRedPacket || a.Kind != pricing.KindRedPacket || a.Amount <= 0 {
			continue
		}
		n, err := db.RedPacket.Update().
			Where(redpacket.ID(a.SourceID), redpacket.UserID(b.UserID), redpacket.BalanceGTE(a.Amount), redpacket.ExpiresAtGT(now)).
			AddBalance(-a.Amount).Save(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			return conflict(ReasonUnavailable, "a red packet the checkout used has been spent or has expired; check the cart again")
		}
		perOrder := map[int]int64{}
		for i, amt := range a.Lines {
			perOrder[b.Lines[i].MerchantID] += amt
		}
		for _, m := range b.Merchants() {
			amt := perOrder[m]
			if amt <= 0 {
				continue
			}
			oid, ok := orders[m]
			if !ok {
				return fmt.Errorf("red packets: no order for merchant %d", m)
			}
			spends = append(spends, db.RedPacketSpend.Create().SetRedPacketID(a.SourceID).SetOrderID(oid).
				SetUserID(b.UserID).SetAmount(amt))
		}
	}
	if len(spends) == 0 {
		return nil
	}
	return db.RedPacketSpend.CreateBulk(spends...).Exec(sys)
}

// Release gives back what order o took from red packets, once: each spend row is marked
// released by a conditional UPDATE, and only the caller that marked it adds the amount
// back to its packet. A packet that expired meanwhile gets its balance back but stays
// expired.
func (p *Provider) Release(ctx context.Context, db *ent.Client, o *ent.Order) error {
	sys := viewer.SystemContext(ctx)
	spends, err := db.RedPacketSpend.Query().
		Where(redpacketspend.OrderID(o.ID), redpacketspend.ReleasedAtIsNil()).
		Order(redpacketspend.ByID()).All(sys)
	if err != nil {
		return err
	}
	now := p.s.now()
	for _, sp := range spends {
		n, err := db.RedPacketSpend.Update().
			Where(redpacketspend.ID(sp.ID), redpacketspend.ReleasedAtIsNil()).
			SetReleasedAt(now).Save(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			continue // released by another transaction
		}
		if err := db.RedPacket.Update().Where(redpacket.ID(sp.RedPacketID)).AddBalance(sp.Amount).Exec(sys); err != nil {
			return err
		}
	}
	return nil
}
