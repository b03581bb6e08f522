package app_test

import (
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// Shoppers see how much of a variant is left as a level; the exact stock, the low-stock
// threshold and flag and the merchant's status reason are its own: its staff and admins
// read them, anyone else reads null — unless the merchant shows its exact stock. No
// filter on them is accepted.
func TestMerchantInternalsAreHiddenFromShoppers(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		client, ctx := s.Client()
		shop := s.NewMerchant(t, "stock-shop", merchant.StatusACTIVE)
		rival := s.NewMerchant(t, "stock-rival", merchant.StatusACTIVE)
		admin := s.NewAdmin(t, "stock-admin@example.com")
		buyer := s.Register("stock-buyer@example.com", "Buyer")
		client.Merchant.UpdateOneID(shop.IntID).SetStatusReason("warned: late shipping").ExecX(ctx)
		level := map[string]int{}
		for _, v := range []struct {
			sku              string
			stock, threshold int
		}{{"PLENTY", 50, 5}, {"FEW", 3, 5}, {"NONE", 0, 5}} {
			pid, vid := s.NewProduct(t, shop, "Tea "+v.sku, product.KindPHYSICAL, v.sku, 1000, v.stock)
			client.Product.UpdateOneID(pid).SetStatus(product.StatusACTIVE).ExecX(ctx)
			client.ProductVariant.UpdateOneID(vid).SetLowStockThreshold(v.threshold).ExecX(ctx)
			level[v.sku] = vid
		}
		q := `query($id: ID!) { node(id: $id) { ... on ProductVariant { availability stock lowStockThreshold lowStock product { totalStock } } }
			merchant(id: "` + shop.ID + `") { statusReason showExactStock } }`
		type answer struct {
			Node struct {
				Availability      string
				Stock             *int
				LowStockThreshold *int
				LowStock          *bool
				Product           struct{ TotalStock *int }
			}
			Merchant struct {
				StatusReason   *string
				ShowExactStock bool
			}
		}
		read := func(token string, variant int) answer {
			var a answer
			s.MustQuery(token, q, map[string]any{"id": strconv.Itoa(variant)}).Decode(t, &a)
			return a
		}
		for sku, want := range map[string]string{"PLENTY": "IN_STOCK", "FEW": "LOW_STOCK", "NONE": "OUT_OF_STOCK"} {
			for _, who := range []struct{ name, token string }{{"anonymous", ""}, {"customer", buyer.AccessToken}, {"other merchant", rival.Owner.AccessToken}} {
				a := read(who.token, level[sku])
				if a.Node.Availability != want {
					t.Errorf("%s: %s availability %s, want %s", who.name, sku, a.Node.Availability, want)
				}
				if a.Node.Stock != nil || a.Node.LowStockThreshold != nil || a.Node.LowStock != nil || a.Node.Product.TotalStock != nil ||
					a.Merchant.StatusReason != nil {
					t.Errorf("%s sees %s's internals: %+v", who.name, sku, a)
				}
			}
		}
		for _, who := range []struct{ name, token string }{{"owner", shop.Owner.AccessToken}, {"admin", admin.AccessToken}} {
			a := read(who.token, level["FEW"])
			if a.Node.Stock == nil || *a.Node.Stock != 3 || a.Node.LowStockThreshold == nil || *a.Node.LowStockThreshold != 5 ||
				a.Node.LowStock == nil || !*a.Node.LowStock || a.Node.Product.TotalStock == nil || *a.Node.Product.TotalStock != 3 ||
				a.Merchant.StatusReason == nil || *a.Merchant.StatusReason != "warned: late shipping" {
				t.Errorf("%s: %+v", who.name, a)
			}
		}
		// Filters on hidden fields do not exist, for anyone.
		for _, filter := range []string{
			`{ products(first: 5, where: {merchantID: "` + shop.ID + `"}) { totalCount } merchant(id: "` + shop.ID + `") { products(first: 5, where: {hasVariantWith: {stockGT: 10}}) { totalCount } } }`,
			`{ merchants(first: 5, where: {statusReasonContains: "late"}) { totalCount } }`,
		} {
			if r := s.Query("", filter, nil); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("filter on a hidden field: %s", r.Raw)
			}
		}
		// The owner opts in: everyone sees the exact stock, still not the threshold.
		s.MustQuery(shop.Owner.AccessToken, `mutation($id: ID!) { updateMerchant(id: $id, input: {showExactStock: true}) { showExactStock } }`,
			map[string]any{"id": shop.ID})
		a := read("", level["FEW"])
		if a.Node.Stock == nil || *a.Node.Stock != 3 || a.Node.Product.TotalStock == nil || a.Node.LowStockThreshold != nil ||
			a.Node.LowStock != nil || !a.Merchant.ShowExactStock || a.Merchant.StatusReason != nil {
			t.Errorf("anonymous, exact stock shown: %+v", a)
		}
	})
}
