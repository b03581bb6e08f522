package promotest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/commission"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestPaymentTimeoutReleasesPromotions: the fully stacked order left unpaid past its
// payment deadline is cancelled by the orders job (RunJobsOnce) — racing the buyer's own
// cancelOrder — and everything comes back exactly once: coupons AVAILABLE, red packet
// 5.00, flash sold 0, commission REVERSED.
func TestPaymentTimeoutReleasesPromotions(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			for round := range apitest.RaceRounds(d, 3) {
				t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
					w := newWorld(t, s, fmt.Sprintf("exp%d", round), round, 500)
					in := orderInput(fmt.Sprintf("exp-%d", round), w.vA, 1, w.vB, 2, w.vC, 1)
					in["couponIDs"] = []string{w.shopCoupon, w.platCoupon}
					in["attributionCode"] = w.code
					in["expectedTotal"] = "130.33"
					var p placed
					s.MustQuery(w.buyer.AccessToken, placeOrderQ, map[string]any{"i": in}).Decode(t, &p)
					oid, _ := strconv.Atoi(p.PlaceOrder.Orders[0].ID)
					client.Order.UpdateOneID(oid).SetPaymentDeadline(time.Now().Add(-time.Hour)).ExecX(ctx)
					var expired int
					var jobErr error
					outs := apitest.Race(
						s.Request(w.buyer.AccessToken, cancelQ, map[string]any{"id": p.PlaceOrder.Orders[0].ID}),
						func() (*apitest.Response, error) {
							expired, _, jobErr = s.App.Orders.RunJobsOnce(context.Background(), s.DB.Client)
							return &apitest.Response{}, nil
						})
					if c := outs[0].Code(); c != "" && c != "INVALID_STATE" {
						t.Errorf("buyer's cancel: %s", outs[0])
					}
					if jobErr != nil {
						t.Errorf("job: %v", jobErr)
					}
					t.Logf("buyer's cancel %q, job expired %d", outs[0].Code(), expired)
					if st := client.Order.GetX(ctx, oid).Status; st != order.StatusCANCELLED {
						t.Fatalf("order %s, want CANCELLED", st)
					}
					w.checkCoupons(t, "after expiry", "AVAILABLE")
					w.checkRedPacket(t, "after expiry", 500)
					if sold := client.FlashSaleItem.GetX(ctx, w.flashItem).Sold; sold != 0 {
						t.Errorf("flash sold %d, want 0", sold)
					}
					c := client.Commission.Query().Where(commission.OrderID(oid)).OnlyX(ctx)
					if c.Reversed != c.Amount || string(c.Status) != "REVERSED" {
						t.Errorf("commission %s reversed %d of %d", c.Status, c.Reversed, c.Amount)
					}
				})
			}
		})
	}
}
