package promotest

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/coupon"
	"github.com/xiadan/xiadan/ent/orderadjustment"
	"github.com/xiadan/xiadan/ent/redpacketspend"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestRedPacketAndCouponSpendRaces: one buyer fires 4 placeOrders at the same moment.
//
// Red packet: a 50.00 packet, each checkout a 30.00 tea (28.50 after the GOLD tier
// discount) that would spend 28.50 of it. The red-packet adjustments of the placed
// orders plus the packet's final balance add up to exactly 50.00, the balance never goes
// below zero, the spend rows match the adjustments, and every loser is CONFLICT
// RED_PACKET_UNAVAILABLE (or placed spending only what was left when it quoted).
//
// Coupon: the same chosen platform coupon (满50减10) on 4 checkouts of 60.00: exactly one
// order is placed with it, the coupon is USED by that order, and the losers are CONFLICT
// COUPON_UNAVAILABLE or BAD_USER_INPUT on couponIDs[0] — never INTERNAL.
func TestRedPacketAndCouponSpendRaces(t *testing.T) {
	t.Parallel()
	const racers = 4
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			for round := range apitest.RaceRounds(d, 3) {
				t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
					w := newWorld(t, s, fmt.Sprintf("spend%d", round), round, 5000)

					// The red packet.
					var rs []apitest.Racer
					for i := range racers {
						in := orderInput(fmt.Sprintf("rp-%d-%d", round, i), w.vC, 1)
						in["couponIDs"] = []string{}
						rs = append(rs, s.Request(w.buyer.AccessToken, placeOrderQ, map[string]any{"i": in}))
					}
					var spent int64
					var withPacket, without, conflicts int
					for _, o := range apitest.Race(rs...) {
						switch o.Code() {
						case "":
							var p placed
							o.R.Decode(t, &p)
							for _, ord := range p.PlaceOrder.Orders {
								checkOrderSums(t, ord)
								var rp int64
								for _, a := range ord.Adjustments {
									if a.Kind == "RED_PACKET" {
										rp += a.Amount.n()
									}
								}
								if rp > 0 {
									withPacket++
								} else {
									without++
								}
								spent += rp
							}
						case "CONFLICT":
							if r := reason(o.R); r != "RED_PACKET_UNAVAILABLE" {
								t.Errorf("red packet: CONFLICT reason %q, want RED_PACKET_UNAVAILABLE: %s", r, o)
							}
							conflicts++
						default:
							t.Errorf("red packet: unexpected outcome %s", o)
						}
					}
					balance := client.RedPacket.GetX(ctx, w.redPacket).Balance
					t.Logf("red packet 5000, %d checkouts of 2850: %d placed spending it (%d in all), %d placed without, %d CONFLICT; balance %d",
						racers, withPacket, spent, without, conflicts, balance)
					if balance < 0 || spent+balance != 5000 {
						t.Errorf("red packet: spent %d + balance %d, want 5000 (balance ≥ 0)", spent, balance)
					}
					if withPacket < 1 || withPacket > 2 {
						t.Errorf("red packet: %d orders spent it, want 1 or 2 (2850, then what was left)", withPacket)
					}
					var spendRows int64
					for _, sp := range client.RedPacketSpend.Query().Where(redpacketspend.RedPacketID(w.redPacket)).AllX(ctx) {
						spendRows += sp.Amount
					}
					if spendRows != spent {
						t.Errorf("red packet: spend rows add up to %d, want %d", spendRows, spent)
					}
					dbSpent := 0
					for _, a := range client.OrderAdjustment.Query().Where(orderadjustment.Kind("RED_PACKET"), orderadjustment.SourceID(w.redPacket)).AllX(ctx) {
						dbSpent += int(a.Amount)
					}
					if int64(dbSpent) != spent {
						t.Errorf("red packet: order_adjustments sum %d, want %d", dbSpent, spent)
					}

					// The coupon.
					rs = nil
					for i := range racers {
						in := orderInput(fmt.Sprintf("cp-%d-%d", round, i), w.vC, 2)
						in["couponIDs"] = []string{w.platCoupon}
						in["useRedPackets"] = false
						rs = append(rs, s.Request(w.buyer.AccessToken, placeOrderQ, map[string]any{"i": in}))
					}
					var winners []string
					var losers []string
					for _, o := range apitest.Race(rs...) {
						switch code := o.Code(); code {
						case "":
							var p placed
							o.R.Decode(t, &p)
							ord := p.PlaceOrder.Orders[0]
							checkOrderSums(t, ord)
							has := false
							for _, a := range ord.Adjustments {
								has = has || a.Kind == "PLATFORM_COUPON" && a.Amount.n() == 1000
							}
							if !has {
								t.Errorf("coupon: placed without the chosen coupon: %s", o)
							}
							winners = append(winners, ord.ID)
						case "CONFLICT":
							if r := reason(o.R); r != "COUPON_UNAVAILABLE" {
								t.Errorf("coupon: CONFLICT reason %q, want COUPON_UNAVAILABLE: %s", r, o)
							}
							losers = append(losers, code+"/"+reason(o.R))
						case "BAD_USER_INPUT":
							if f := o.R.Field(); f != "couponIDs[0]" && f != "input.couponIDs[0]" {
								t.Errorf("coupon: BAD_USER_INPUT on %q, want couponIDs[0]: %s", f, o)
							}
							losers = append(losers, code)
						default:
							t.Errorf("coupon: unexpected outcome %s", o)
						}
					}
					t.Logf("chosen coupon, %d checkouts: winners %v, losers %v", racers, winners, losers)
					if len(winners) != 1 {
						t.Fatalf("coupon: %d orders placed with it, want exactly 1", len(winners))
					}
					cid, _ := strconv.Atoi(w.platCoupon)
					c := client.Coupon.Query().Where(coupon.ID(cid)).OnlyX(ctx)
					if c.Status != coupon.StatusUSED || c.OrderID == nil || strconv.Itoa(*c.OrderID) != winners[0] {
						t.Errorf("coupon: status %s order %v, want USED by %s", c.Status, c.OrderID, winners[0])
					}
					if n := client.OrderAdjustment.Query().Where(orderadjustment.Kind("PLATFORM_COUPON"), orderadjustment.SourceID(cid)).CountX(ctx); n != 1 {
						t.Errorf("coupon: %d PLATFORM_COUPON adjustments name it, want 1", n)
					}
				})
			}
		})
	}
}
