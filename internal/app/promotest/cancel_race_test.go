package promotest

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/coupon"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

const cancelQ = `mutation($id: ID!) { cancelOrder(id: $id, reason: "changed my mind") { id status } }`

// TestPlatformCouponSpreadOverTwoOrdersComesBack: a platform coupon 满50减10 and a 5.00 red packet spread over
// the two orders of one checkout (shop A 100.00, shop B 30.00: shares 7.69 and 2.31). It
// stays USED while one order is live and comes back AVAILABLE when the second order is
// cancelled, one after the other; the red packet gets back each order's share (3.85, then 1.15).
func TestPlatformCouponSpreadOverTwoOrdersComesBack(t *testing.T) {
	t.Parallel()
	spreadCouponCancel(t, false)
}

// TestPlatformCouponSpreadOverTwoOrdersCancelledAtOnce: the same, but the customer
// cancels both orders at the same moment. It found that on MySQL (RR and RC) the coupon
// stayed USED for good in most rounds: each cancellation's coupons.Release saw the other
// order still live in its snapshot. Cancellations of one checkout now take turns on its
// row (orders.lockCheckout) and read the siblings with a locking read.
func TestPlatformCouponSpreadOverTwoOrdersCancelledAtOnce(t *testing.T) {
	t.Parallel()
	spreadCouponCancel(t, true)
}

func spreadCouponCancel(t *testing.T, together bool) {
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			admin := s.NewAdmin(t, fmt.Sprintf("spread-admin-%v@example.com", together))
			a := s.NewMerchant(t, "spread-a", merchant.StatusACTIVE)
			b := s.NewMerchant(t, "spread-b", merchant.StatusACTIVE)
			_, vA := s.NewProduct(t, a, "Teapot", product.KindPHYSICAL, "SP-A", 10000, 1000)
			_, vB := s.NewProduct(t, b, "Tea", product.KindPHYSICAL, "SP-B", 3000, 1000)
			w := &world{s: s, admin: admin}
			for round := range apitest.RaceRounds(d, 3) {
				{
					t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
						w.buyer = s.Register(fmt.Sprintf("spread-buyer-%d-%v@example.com", round, together), "Buyer")
						cid := w.coupon(t, admin.AccessToken, map[string]any{"kind": "FIXED", "amount": "10.00", "threshold": "50.00", "scope": "ALL"})
						now := time.Now().UTC()
						var camp struct{ CreateRedPacketCampaign struct{ ID string } }
						s.MustQuery(admin.AccessToken, `mutation($i: CreateRedPacketCampaignInput!) { createRedPacketCampaign(input: $i) { id } }`, map[string]any{"i": map[string]any{
							"name": "红包雨", "currency": "CNY", "split": "FIXED", "budget": 500, "count": 1,
							"startsAt": now.Add(-time.Minute).Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339),
							"perUserLimit": 1, "validityHours": 72}}).Decode(t, &camp)
						s.MustQuery(w.buyer.AccessToken, `mutation($c: ID!) { claimRedPacket(campaignID: $c) { id } }`, map[string]any{"c": camp.CreateRedPacketCampaign.ID})
						in := orderInput(fmt.Sprintf("spread-%d-%v", round, together), vA, 1, vB, 1)
						in["couponIDs"] = []string{cid}
						var p placed
						s.MustQuery(w.buyer.AccessToken, placeOrderQ, map[string]any{"i": in}).Decode(t, &p)
						if len(p.PlaceOrder.Orders) != 2 {
							t.Fatalf("%d orders, want 2", len(p.PlaceOrder.Orders))
						}
						// 10.00 over 100.00 : 30.00 → 7.69 / 2.31 (7.6923, 2.3077: the larger remainder is B's).
						// Red packet 5.00 over what is left, 92.31 : 27.69 → 3.8462 / 1.1537: A 3.85, B 1.15.
						// Shipping: A's 100.00 list reaches the shop's 99.00; B pays 10.00.
						var got []string
						for _, o := range p.PlaceOrder.Orders {
							checkOrderSums(t, o)
							byKind := map[string]int64{}
							for _, a := range o.Adjustments {
								byKind[a.Kind] += a.Amount.n()
							}
							got = append(got, fmt.Sprintf("%d+%d=%d total %d", byKind["PLATFORM_COUPON"], byKind["RED_PACKET"], o.Discount.n(), o.Total.n()))
						}
						if want := "[769+385=1154 total 8846 231+115=346 total 3654]"; fmt.Sprint(got) != want {
							t.Errorf("orders %v, want %s", got, want)
						}
						id, _ := strconv.Atoi(cid)
						status := func() coupon.Status { return client.Coupon.GetX(ctx, id).Status }
						o1, o2 := p.PlaceOrder.Orders[0].ID, p.PlaceOrder.Orders[1].ID
						if !together {
							s.MustQuery(w.buyer.AccessToken, cancelQ, map[string]any{"id": o1})
							if st := status(); st != coupon.StatusUSED {
								t.Errorf("one of two orders cancelled: coupon %s, want USED", st)
							}
							w.checkRedPacket(t, "A's order cancelled", 385)
							s.MustQuery(w.buyer.AccessToken, cancelQ, map[string]any{"id": o2})
						} else {
							outs := apitest.Race(s.Request(w.buyer.AccessToken, cancelQ, map[string]any{"id": o1}),
								s.Request(w.buyer.AccessToken, cancelQ, map[string]any{"id": o2}))
							if n := apitest.Successes(t, "cancel both", outs); n != 2 {
								t.Fatalf("%d of 2 cancellations succeeded", n)
							}
						}
						w.checkRedPacket(t, "both cancelled", 500)
						if st := status(); st != coupon.StatusAVAILABLE {
							t.Errorf("both orders cancelled (at once: %v): coupon %s, want AVAILABLE", together, st)
						}
					})
				}
			}
		})
	}
}
