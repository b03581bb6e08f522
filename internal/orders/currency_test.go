package orders_test

import (
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// An order is in its merchant's currency through and through: its lines, its shipping fee
// and its total. A variant priced in another currency than its merchant's (written around
// the catalog) is never sold, so no amount is relabelled as another currency; one checkout
// pays in one currency.
func TestOrdersNeverRelabelACurrency(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s) // a: CNY, 10.00 shipping, free from 99.00
		client, ctx := s.Client()
		us := s.NewMerchant(t, "us-shop", merchant.StatusACTIVE)
		client.Merchant.UpdateOneID(us.IntID).SetCurrency("USD").SetShippingFlatFee(700).SetFreeShippingThreshold(0).ExecX(ctx)
		_, mug := s.NewProduct(t, us, "Mug", product.KindPHYSICAL, "MUG-1", 1250, 10)
		tea := w.variant(t, w.a, product.KindPHYSICAL, "TEA-1", 3800, 10)
		// A variant of the CNY shop turned into dollars in the database.
		_, dollars := s.NewProduct(t, w.a, "Imported tea", product.KindPHYSICAL, "IMP-1", 2000, 10)
		if _, err := client.ExecContext(ctx, "UPDATE product_variants SET currency = 'USD' WHERE id = ?", dollars); err != nil {
			t.Fatal(err)
		}

		const q = `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { total { amount currency formatted }
		  orders { currency subtotal { currency } shippingFee { amount currency } total { amount currency formatted }
		    items { unitPrice { currency } } } } }`
		key := 0
		place := func(lines ...any) *apitest.Response {
			key++
			return s.Query(w.buyer.AccessToken, q, map[string]any{"i": map[string]any{
				"lines": lines, "shippingAddress": address, "idempotencyKey": "currency-" + strconv.Itoa(key)}})
		}

		// The dollar shop's order is in dollars, its shipping fee too.
		var out struct {
			PlaceOrder struct {
				Total  struct{ Amount, Currency, Formatted string }
				Orders []struct {
					Currency    string
					Subtotal    struct{ Currency string }
					ShippingFee struct{ Amount, Currency string }
					Total       struct{ Amount, Currency, Formatted string }
					Items       []struct{ UnitPrice struct{ Currency string } }
				}
			}
		}
		place(line(mug, 2)).Decode(t, &out)
		o := out.PlaceOrder.Orders
		if len(o) != 1 || o[0].Currency != "USD" || o[0].Subtotal.Currency != "USD" || o[0].ShippingFee.Currency != "USD" ||
			o[0].ShippingFee.Amount != "7.00" || o[0].Total.Amount != "32.00" || o[0].Items[0].UnitPrice.Currency != "USD" ||
			out.PlaceOrder.Total.Currency != "USD" || out.PlaceOrder.Total.Amount != "32.00" {
			t.Fatalf("dollar order: %+v", out.PlaceOrder)
		}

		// A dollar variant of the yuan shop is not sold: not alone (its price would be
		// added to the shop's ¥ shipping fee relabelled $), not with others.
		for _, tc := range []struct {
			name        string
			lines       []any
			code, field string
		}{
			{"buy now", []any{line(dollars, 1)}, "CONFLICT", "lines[0]"},
			{"with the shop's yuan tea", []any{line(tea, 1), line(dollars, 1)}, "CONFLICT", "lines[1]"},
			{"two shops in two currencies", []any{line(tea, 1), line(mug, 1)}, "BAD_USER_INPUT", "lines[1]"},
		} {
			r := place(tc.lines...)
			if r.Code() != tc.code || r.Field() != tc.field {
				t.Errorf("%s: want %s on %s: %s", tc.name, tc.code, tc.field, r.Raw)
			}
			if tc.code == "CONFLICT" && (len(r.Errors) == 0 || r.Errors[0].Extensions["reason"] != "UNAVAILABLE") {
				t.Errorf("%s: want reason UNAVAILABLE: %s", tc.name, r.Raw)
			}
		}
		r := s.Query(w.buyer.AccessToken, `mutation($v: ID!) { addToCart(variantID: $v, quantity: 1) { quantity } }`,
			map[string]any{"v": strconv.Itoa(dollars)})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "variantID" {
			t.Errorf("addToCart of the dollar variant: %s", r.Raw)
		}
		if n := client.Order.Query().CountX(ctx); n != 1 {
			t.Errorf("%d orders, want the dollar shop's only", n)
		}
	})
}
