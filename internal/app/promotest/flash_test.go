package promotest

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/flashsaleitem"
	"github.com/xiadan/xiadan/ent/flashsaleuse"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderadjustment"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestFlashSaleCrowdThroughPlaceOrder: a flash sale capped at 10 units, 1 per customer, on
// a 100.00 variant with 1000 units of real stock; 40 distinct buyers each placeOrder one
// unit at the same moment over HTTP. Exactly min(cap, buyers) = 10 orders carry a
// FLASH_SALE adjustment (in the response and in order_adjustments), sold is 10, 10 uses
// are recorded; every other buyer either bought at full price (the quote already saw the
// sale sold out) or got CONFLICT FLASH_SALE_SOLD_OUT (lost at Commit); stock moved by
// exactly the units ordered; nothing INTERNAL.
func TestFlashSaleCrowdThroughPlaceOrder(t *testing.T) {
	t.Parallel()
	const (
		buyers    = 40
		capUnits  = 10
		listPrice = 10000
		flash     = 7990
		stock     = 1000
	)
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			for round := range apitest.RaceRounds(d, 3) {
				t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
					shop := s.NewMerchant(t, fmt.Sprintf("flash-shop-%d", round), merchant.StatusACTIVE)
					_, vid := s.NewProduct(t, shop, "秒杀茶壶", product.KindPHYSICAL, fmt.Sprintf("FS-%d", round), listPrice, stock)
					promoID := promotion(t, s, shop, map[string]any{"kind": "FLASH_SALE", "label": "限时秒杀", "perUserLimit": 1,
						"flashItems": []map[string]any{{"variantID": strconv.Itoa(vid), "price": "79.90", "cap": capUnits}}})
					itemID := client.FlashSaleItem.Query().Where(flashsaleitem.PromotionID(promoID), flashsaleitem.VariantID(vid)).OnlyIDX(ctx)

					racers := make([]apitest.Racer, buyers)
					for i := range buyers {
						b := s.Register(fmt.Sprintf("flash-buyer-%d-%d@example.com", round, i), "Buyer")
						racers[i] = s.Request(b.AccessToken, placeOrderQ, map[string]any{"i": orderInput(fmt.Sprintf("flash-%d-%d", round, i), vid, 1)})
					}
					outs := apitest.Race(racers...)

					var atFlash, atFull, soldOut int
					for _, o := range outs {
						switch code := o.Code(); code {
						case "":
							var p placed
							o.R.Decode(t, &p)
							if len(p.PlaceOrder.Orders) != 1 {
								t.Fatalf("placed %d orders, want 1: %s", len(p.PlaceOrder.Orders), o)
							}
							ord := p.PlaceOrder.Orders[0]
							checkOrderSums(t, ord)
							hasFlash := false
							for _, a := range ord.Adjustments {
								hasFlash = hasFlash || a.Kind == "FLASH_SALE"
							}
							switch {
							case hasFlash && ord.Discount.n() == listPrice-flash:
								atFlash++
							case !hasFlash && ord.Discount.n() == 0 && ord.Subtotal.n() == listPrice:
								atFull++
							default:
								t.Errorf("order neither at the flash price nor at full price: %s", o)
							}
						case "CONFLICT":
							if r := reason(o.R); r != "FLASH_SALE_SOLD_OUT" {
								t.Errorf("CONFLICT with reason %q, want FLASH_SALE_SOLD_OUT: %s", r, o)
							}
							soldOut++
						default:
							t.Errorf("unexpected outcome %s", o)
						}
					}
					t.Logf("%d buyers for %d: %d at the flash price, %d at full price, %d CONFLICT FLASH_SALE_SOLD_OUT",
						buyers, capUnits, atFlash, atFull, soldOut)
					if atFlash != min(capUnits, buyers) {
						t.Errorf("%d orders at the flash price, want %d", atFlash, min(capUnits, buyers))
					}
					if atFlash+atFull+soldOut != buyers {
						t.Errorf("outcomes %d+%d+%d, want %d", atFlash, atFull, soldOut, buyers)
					}

					// The database agrees.
					if sold := client.FlashSaleItem.GetX(ctx, itemID).Sold; sold != atFlash || sold > capUnits {
						t.Errorf("flash_sale_items.sold = %d, want %d (≤ %d)", sold, atFlash, capUnits)
					}
					if n := client.FlashSaleUse.Query().Where(flashsaleuse.ItemID(itemID)).CountX(ctx); n != atFlash {
						t.Errorf("%d flash_sale_uses, want %d", n, atFlash)
					}
					withFlash := client.OrderAdjustment.Query().Where(orderadjustment.Kind("FLASH_SALE"),
						orderadjustment.HasOrderWith(order.MerchantID(shop.IntID))).CountX(ctx)
					if withFlash != atFlash {
						t.Errorf("%d orders carry a FLASH_SALE adjustment in the DB, want %d", withFlash, atFlash)
					}
					orders := client.Order.Query().Where(order.MerchantID(shop.IntID)).CountX(ctx)
					if orders != atFlash+atFull {
						t.Errorf("%d orders in the DB, want %d", orders, atFlash+atFull)
					}
					if left := client.ProductVariant.GetX(ctx, vid).Stock; left != stock-orders {
						t.Errorf("stock %d after %d units ordered, want %d", left, orders, stock-orders)
					}
				})
			}
		})
	}
}
