package promotest

import (
	"fmt"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestPlaceOrderConcurrentRetryPlain: no promotion at all — one plain order sent three
// times at once with the same idempotencyKey. Every answer must be the one checkout with
// its merchant and its one item (or a clean CONFLICT).
//
// On MySQL REPEATABLE READ the retries that lose the race for the key find the orders
// committed after their snapshot; they answered orders[0].merchant NOT_FOUND and items []
// from it until the losing transaction took a fresh snapshot (database.FreshSnapshot in
// internal/orders/place.go).
func TestPlaceOrderConcurrentRetryPlain(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			for round := range apitest.RaceRounds(d, 6) {
				t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
					shop := s.NewMerchant(t, fmt.Sprintf("plain-%d", round), merchant.StatusACTIVE)
					_, vid := s.NewProduct(t, shop, "Tea", product.KindPHYSICAL, fmt.Sprintf("PL-%d", round), 3000, 100)
					b := s.Register(fmt.Sprintf("plain-buyer-%d@example.com", round), "Buyer")
					req := s.Request(b.AccessToken, placeOrderQ, map[string]any{"i": orderInput(fmt.Sprintf("plain-%d", round), vid, 1)})
					for _, o := range apitest.Race(req, req, req) {
						switch c := o.Code(); c {
						case "":
							var p placed
							o.R.Decode(t, &p)
							if len(p.PlaceOrder.Orders) != 1 || len(p.PlaceOrder.Orders[0].Items) != 1 || p.PlaceOrder.Orders[0].Merchant.ID != shop.ID {
								t.Errorf("same key at once: answered %s", o)
							}
						case "CONFLICT":
						default:
							t.Errorf("same key at once: %s", o)
						}
					}
				})
			}
		})
	}
}
