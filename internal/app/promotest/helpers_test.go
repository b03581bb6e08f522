// Package promotest drives every promotion provider together, end to end, through the
// real GraphQL handler: cart, placeOrder, cancel and refund, on SQLite and MySQL.
package promotest

import (
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/apitest"
)

const createPromotionQ = `mutation($m: ID, $i: PromotionInput!) { createPromotion(merchantID: $m, input: $i) { id status running } }`
const activatePromotionQ = `mutation($id: ID!) { activatePromotion(id: $id) { id status running } }`

// promotion creates and activates a promotion of m running from an hour ago for a day.
func promotion(t *testing.T, s *apitest.Server, m apitest.Merchant, in map[string]any) (id int) {
	t.Helper()
	now := time.Now().UTC()
	in["startsAt"] = now.Add(-time.Hour).Format(time.RFC3339)
	in["endsAt"] = now.Add(24 * time.Hour).Format(time.RFC3339)
	var out struct {
		CreatePromotion struct{ ID string }
	}
	s.MustQuery(m.Owner.AccessToken, createPromotionQ, map[string]any{"i": in}).Decode(t, &out)
	var act struct{ ActivatePromotion struct{ Running bool } }
	s.MustQuery(m.Owner.AccessToken, activatePromotionQ, map[string]any{"id": out.CreatePromotion.ID}).Decode(t, &act)
	if !act.ActivatePromotion.Running {
		t.Fatalf("promotion %s not running after activation", out.CreatePromotion.ID)
	}
	id, _ = strconv.Atoi(out.CreatePromotion.ID)
	return id
}

const placeOrderQ = `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) {
  checkoutID total { minorUnits }
  orders { id merchant { id } subtotal { minorUnits } discount { minorUnits } shippingFee { minorUnits }
    shippingDiscount { minorUnits } total { minorUnits }
    adjustments { kind label fundedBy amount { minorUnits } shippingDiscount { minorUnits } }
    items { sku quantity discount { minorUnits } netTotal { minorUnits } lineTotal { minorUnits } } } } }`

type minor struct{ MinorUnits string }

func (m minor) n() int64 { v, _ := strconv.ParseInt(m.MinorUnits, 10, 64); return v }

type adjustment struct {
	Kind, Label, FundedBy    string
	Amount, ShippingDiscount minor
}

type placedOrder struct {
	ID                                                       string
	Merchant                                                 struct{ ID string }
	Subtotal, Discount, ShippingFee, ShippingDiscount, Total minor
	Adjustments                                              []adjustment
	Items                                                    []struct {
		Sku                           string
		Quantity                      int
		Discount, NetTotal, LineTotal minor
	}
}

type placed struct {
	PlaceOrder struct {
		CheckoutID string
		Total      minor
		Orders     []placedOrder
	}
}

// orderInput is a placeOrder input of lines (variant, quantity pairs) shipped to a test address.
func orderInput(key string, lines ...int) map[string]any {
	var ls []map[string]any
	for i := 0; i+1 < len(lines); i += 2 {
		ls = append(ls, map[string]any{"variantID": strconv.Itoa(lines[i]), "quantity": lines[i+1]})
	}
	return map[string]any{"lines": ls, "idempotencyKey": "checkout-" + key, "shippingAddress": map[string]any{
		"recipientName": "Li Lei", "phone": "13800000000", "province": "Shanghai", "city": "Shanghai", "street": "1 Nanjing Road"}}
}

// reason is the first error's extensions.reason.
func reason(r *apitest.Response) string {
	if r == nil || len(r.Errors) == 0 {
		return ""
	}
	s, _ := r.Errors[0].Extensions["reason"].(string)
	return s
}

// checkOrderSums checks an order's arithmetic: total = subtotal − discount + shipping −
// shippingDiscount, the items' discounts add up to the discount, and the adjustments add
// up to the discount and the shipping discount.
func checkOrderSums(t *testing.T, o placedOrder) {
	t.Helper()
	if got := o.Subtotal.n() - o.Discount.n() + o.ShippingFee.n() - o.ShippingDiscount.n(); got != o.Total.n() {
		t.Errorf("order %s: subtotal %d − discount %d + shipping %d − shippingDiscount %d = %d, total %d",
			o.ID, o.Subtotal.n(), o.Discount.n(), o.ShippingFee.n(), o.ShippingDiscount.n(), got, o.Total.n())
	}
	var items, lines, adj, adjShip int64
	for _, it := range o.Items {
		items += it.Discount.n()
		lines += it.LineTotal.n()
		if it.NetTotal.n() != it.LineTotal.n()-it.Discount.n() || it.Discount.n() < 0 || it.NetTotal.n() < 0 {
			t.Errorf("order %s item %s: lineTotal %d discount %d netTotal %d", o.ID, it.Sku, it.LineTotal.n(), it.Discount.n(), it.NetTotal.n())
		}
	}
	for _, a := range o.Adjustments {
		adj += a.Amount.n()
		adjShip += a.ShippingDiscount.n()
	}
	if items != o.Discount.n() {
		t.Errorf("order %s: items' discounts add up to %d, order discount %d", o.ID, items, o.Discount.n())
	}
	if lines != o.Subtotal.n() {
		t.Errorf("order %s: line totals add up to %d, subtotal %d", o.ID, lines, o.Subtotal.n())
	}
	if adj != o.Discount.n() || adjShip != o.ShippingDiscount.n() {
		t.Errorf("order %s: adjustments add up to %d + shipping %d, order discount %d + shipping %d",
			o.ID, adj, adjShip, o.Discount.n(), o.ShippingDiscount.n())
	}
}
