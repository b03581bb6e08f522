package coupons_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// world is two shops (A: 100.00 and 50.00 goods, B: 30.00 goods; 10.00 shipping, free
// from 99.00) and an admin who issues platform coupons.
type world struct {
	s            *apitest.Server
	admin        apitest.Session
	a, b         apitest.Merchant
	pA1, pA2, pB int
	vA1, vA2, vB int
	n            int
}

func newWorld(t *testing.T, s *apitest.Server) *world {
	t.Helper()
	w := &world{s: s}
	w.admin = s.NewAdmin(t, "coupon-admin@example.com")
	w.a = s.NewMerchant(t, "coupon-shop-a", merchant.StatusACTIVE)
	w.b = s.NewMerchant(t, "coupon-shop-b", merchant.StatusACTIVE)
	w.pA1, w.vA1 = s.NewProduct(t, w.a, "Teapot", product.KindPHYSICAL, "A1", 10000, 100000)
	w.pA2, w.vA2 = s.NewProduct(t, w.a, "Cups", product.KindPHYSICAL, "A2", 5000, 100000)
	w.pB, w.vB = s.NewProduct(t, w.b, "Tea", product.KindPHYSICAL, "B1", 3000, 100000)
	return w
}

func (w *world) buyer(t *testing.T) apitest.Session {
	t.Helper()
	w.n++
	return w.s.Register(fmt.Sprintf("coupon-buyer-%d@example.com", w.n), "Buyer")
}

const createTemplate = `mutation($i: CreateCouponTemplateInput!) { createCouponTemplate(input: $i) { id label } }`

// template issues a coupon template as token (shop staff or admin) and returns its id.
func (w *world) template(t *testing.T, token string, in map[string]any) string {
	t.Helper()
	if _, ok := in["validDays"]; !ok {
		in["validDays"] = 30
	}
	if _, ok := in["name"]; !ok {
		in["name"] = "Test coupon"
	}
	var out struct{ CreateCouponTemplate struct{ ID string } }
	w.s.MustQuery(token, createTemplate, map[string]any{"i": in}).Decode(t, &out)
	return out.CreateCouponTemplate.ID
}

// shop issues a shop coupon of merchant m.
func (w *world) shop(t *testing.T, m apitest.Merchant, in map[string]any) string {
	t.Helper()
	in["merchantID"] = m.ID
	return w.template(t, m.Owner.AccessToken, in)
}

const claimCoupon = `mutation($id: ID!) { claimCoupon(templateID: $id) { id status } }`

func (w *world) claim(t *testing.T, token, templateID string) string {
	t.Helper()
	var out struct{ ClaimCoupon struct{ ID string } }
	w.s.MustQuery(token, claimCoupon, map[string]any{"id": templateID}).Decode(t, &out)
	return out.ClaimCoupon.ID
}

const placeOrder = `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) {
  checkoutID total { minorUnits }
  orders { id merchant { id } subtotal { minorUnits } discount { minorUnits } shippingFee { minorUnits }
    shippingDiscount { minorUnits } total { minorUnits }
    adjustments { kind label fundedBy amount { minorUnits } }
    items { sku discount { minorUnits } netTotal { minorUnits } lineTotal { minorUnits } } } } }`

type minor struct{ MinorUnits string }

func (m minor) n() int64 { v, _ := strconv.ParseInt(m.MinorUnits, 10, 64); return v }

type placed struct {
	PlaceOrder struct {
		CheckoutID string
		Total      minor
		Orders     []struct {
			ID                                                       string
			Merchant                                                 struct{ ID string }
			Subtotal, Discount, ShippingFee, ShippingDiscount, Total minor
			Adjustments                                              []struct {
				Kind, Label, FundedBy string
				Amount                minor
			}
			Items []struct {
				Sku                           string
				Discount, NetTotal, LineTotal minor
			}
		}
	}
}

// input is a placeOrder input of lines (variant, quantity pairs) shipped to a test address.
func input(key string, couponIDs any, lines ...int) map[string]any {
	var ls []map[string]any
	for i := 0; i+1 < len(lines); i += 2 {
		ls = append(ls, map[string]any{"variantID": strconv.Itoa(lines[i]), "quantity": lines[i+1]})
	}
	in := map[string]any{"lines": ls, "idempotencyKey": "checkout-" + key, "shippingAddress": map[string]any{
		"recipientName": "Li Lei", "phone": "13800000000", "province": "Shanghai", "city": "Shanghai", "street": "1 Nanjing Road"}}
	if couponIDs != nil {
		in["couponIDs"] = couponIDs
	}
	return in
}

func (w *world) place(token string, in map[string]any) *apitest.Response {
	return w.s.Query(token, placeOrder, map[string]any{"i": in})
}
