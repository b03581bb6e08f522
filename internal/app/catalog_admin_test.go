package app_test

import (
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/internal/apitest"
)

// Every catalog management operation is closed to anonymous callers (UNAUTHENTICATED) and
// customers (FORBIDDEN), and another merchant's staff find nothing to act on (NOT_FOUND,
// or a NOT_FOUND item in bulk payloads) — the same answer as for a missing record.
func TestCatalogAdminRoleBoundaries(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		shop := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
		rival := s.NewMerchant(t, "coffee-bar", merchant.StatusACTIVE)
		customer := s.Register("customer@example.com", "Customer")
		admin := s.NewAdmin(t, "admin@example.com")

		r := s.MustQuery(shop.Owner.AccessToken, `mutation($i: CreateProductInput!) { createProduct(input: $i) { id variants { id } } }`,
			map[string]any{"i": map[string]any{"title": "龙井", "variants": []any{map[string]any{"sku": "LJ-50", "price": "19.90", "stock": 5}}}})
		var created struct {
			CreateProduct struct {
				ID       string
				Variants []struct{ ID string }
			}
		}
		r.Decode(t, &created)
		pid, vid := created.CreateProduct.ID, created.CreateProduct.Variants[0].ID

		ops := []struct {
			name, query string
			vars        map[string]any
			bulk        bool // another merchant's staff get a NOT_FOUND item, not an error
		}{
			{"createProduct", `mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }`,
				map[string]any{"i": map[string]any{"merchantID": shop.ID, "title": "x", "variants": []any{map[string]any{"sku": "X-1", "price": "1"}}}}, false},
			{"updateProduct", `mutation($id: ID!) { updateProduct(id: $id, input: {title: "x"}) { id } }`, map[string]any{"id": pid}, false},
			{"publishProduct", `mutation($id: ID!) { publishProduct(id: $id) { id } }`, map[string]any{"id": pid}, false},
			{"delistProduct", `mutation($id: ID!) { delistProduct(id: $id) { id } }`, map[string]any{"id": pid}, false},
			{"deleteProduct", `mutation($id: ID!) { deleteProduct(id: $id) }`, map[string]any{"id": pid}, false},
			{"addProductVariant", `mutation($id: ID!) { addProductVariant(productID: $id, input: {sku: "X-2", price: "1"}) { id } }`, map[string]any{"id": pid}, false},
			{"updateProductVariant", `mutation($id: ID!) { updateProductVariant(id: $id, input: {price: "2"}) { id } }`, map[string]any{"id": vid}, false},
			{"removeProductVariant", `mutation($id: ID!) { removeProductVariant(id: $id) { id } }`, map[string]any{"id": vid}, false},
			{"adjustStock", `mutation($id: ID!) { adjustStock(variantID: $id, delta: 1, reason: "x") { id } }`, map[string]any{"id": vid}, false},
			{"stockMovements", `query($id: ID!) { stockMovements(variantID: $id, first: 5) { totalCount } }`, map[string]any{"id": vid}, false},
			{"lowStockVariants", `query($m: ID!) { lowStockVariants(merchantID: $m, first: 5) { totalCount } }`, map[string]any{"m": shop.ID}, false},
			{"bulkSetProductStatus", `mutation($id: ID!) { bulkSetProductStatus(ids: [$id], status: ACTIVE) { products { id } errors { code } } }`, map[string]any{"id": pid}, true},
			{"bulkUpdateVariants", `mutation($id: ID!) { bulkUpdateVariants(inputs: [{variantID: $id, stock: 1}]) { variants { id } errors { code } } }`, map[string]any{"id": vid}, true},
		}
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				for _, c := range []struct{ who, token, code string }{
					{"anonymous", "", "UNAUTHENTICATED"},
					{"customer", customer.AccessToken, "FORBIDDEN"},
					{"another merchant", rival.Owner.AccessToken, "NOT_FOUND"},
				} {
					r := s.Query(c.token, op.query, op.vars)
					if op.bulk && c.code == "NOT_FOUND" {
						if len(r.Errors) > 0 || !r.Contains(`"errors":[{"code":"NOT_FOUND"}]`) {
							t.Fatalf("%s: %s", c.who, r.Raw)
						}
						continue
					}
					if r.Code() != c.code {
						t.Fatalf("%s: code %q, want %q: %s", c.who, r.Code(), c.code, r.Raw)
					}
					if strings.Contains(string(r.Raw), "tea-house") {
						t.Fatalf("%s: the answer names the merchant: %s", c.who, r.Raw)
					}
				}
			})
		}

		// Nothing the others tried changed the product; its owner and admins still see it whole.
		for _, token := range []string{shop.Owner.AccessToken, admin.AccessToken} {
			r := s.MustQuery(token, `query($id: ID!) { product(id: $id) { title status totalStock variants { sku } } }`, map[string]any{"id": pid})
			if string(r.Data) != `{"product":{"title":"龙井","status":"DRAFT","totalStock":5,"variants":[{"sku":"LJ-50"}]}}` {
				t.Fatalf("after the attempts: %s", r.Raw)
			}
		}
	})
}
