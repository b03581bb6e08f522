package catalog_test

import (
	"testing"

	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/apitest"
)

const (
	addVariant    = `mutation($p: ID!, $i: ProductVariantInput!) { addProductVariant(productID: $p, input: $i) { id sku stock position options { name value } price { amount } product { totalStock priceRange { min { amount } max { amount } } } } }`
	updateVariant = `mutation($id: ID!, $i: UpdateProductVariantInput!) { updateProductVariant(id: $id, input: $i) { id sku lowStockThreshold stock options { name value } price { amount } product { priceRange { min { amount } max { amount } } } } }`
)

func TestProductVariants(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		staff := w.staff.AccessToken
		p := mustCreate(t, s, staff, productIn("T恤 T-shirt",
			variantIn("TS-R-M", "59", 10, "颜色=红", "尺码=M"),
			variantIn("TS-R-L", "69", 4, "颜色=红", "尺码=L")))
		single := mustCreate(t, s, staff, productIn("Mug", variantIn("MUG-1", "30", 1)))
		foreign := mustCreate(t, s, w.other.Owner.AccessToken, productIn("Coffee", variantIn("CF-1", "30", 1)))
		add := func(productID string, in map[string]any) map[string]any {
			return map[string]any{"p": productID, "i": in}
		}
		upd := func(id string, in map[string]any) map[string]any { return map[string]any{"id": id, "i": in} }
		red, large := p.Variants[0].ID, p.Variants[1].ID

		steps := []struct {
			name, token, query string
			vars               map[string]any
			code, field, want  string
		}{
			{"add anonymously", "", addVariant, add(p.ID, variantIn("TS-B-M", "59", 1, "颜色=蓝", "尺码=M")), "UNAUTHENTICATED", "", ""},
			{"add as a customer", w.customer.AccessToken, addVariant, add(p.ID, variantIn("TS-B-M", "59", 1, "颜色=蓝", "尺码=M")), "FORBIDDEN", "", ""},
			{"add to another merchant's product", staff, addVariant, add(foreign.ID, variantIn("TS-B-M", "59", 1)), "NOT_FOUND", "", ""},
			{"add to a missing product", staff, addVariant, add("123456", variantIn("TS-B-M", "59", 1)), "NOT_FOUND", "", ""},
			{"add with a taken SKU", staff, addVariant, add(p.ID, variantIn("MUG-1", "59", 1, "颜色=蓝", "尺码=M")), "CONFLICT", "sku", ""},
			{"add with a bad SKU", staff, addVariant, add(p.ID, variantIn("TS/B", "59", 1, "颜色=蓝", "尺码=M")), "BAD_USER_INPUT", "sku", ""},
			{"add with a bad price", staff, addVariant, add(p.ID, variantIn("TS-B-M", "0.001", 1, "颜色=蓝", "尺码=M")), "BAD_USER_INPUT", "price", ""},
			{"add with negative stock", staff, addVariant, add(p.ID, variantIn("TS-B-M", "1", -2, "颜色=蓝", "尺码=M")), "BAD_USER_INPUT", "stock", ""},
			{"add with other option names", staff, addVariant, add(p.ID, variantIn("TS-B-M", "59", 1, "颜色=蓝")), "BAD_USER_INPUT", "options", ""},
			{"add with options in another order", staff, addVariant, add(p.ID, variantIn("TS-B-M", "59", 1, "尺码=M", "颜色=蓝")), "BAD_USER_INPUT", "options", ""},
			{"add a duplicate combination", staff, addVariant, add(p.ID, variantIn("TS-R-M2", "59", 1, "颜色=红", "尺码=M")), "BAD_USER_INPUT", "options", ""},
			{"add in another currency", staff, addVariant, add(p.ID, with(variantIn("TS-B-M", "59", 1, "颜色=蓝", "尺码=M"), "currency", "USD")), "BAD_USER_INPUT", "currency", ""},
			{"add", staff, addVariant, add(p.ID, variantIn("TS-B-M", "49.5", 3, "颜色=蓝", "尺码=M")), "", "",
				`"position":2,"options":[{"name":"颜色","value":"蓝"},{"name":"尺码","value":"M"}],"price":{"amount":"49.50"},"product":{"totalStock":17,"priceRange":{"min":{"amount":"49.50"},"max":{"amount":"69.00"}}}`},
			{"update another merchant's variant", staff, updateVariant, upd(foreign.Variants[0].ID, map[string]any{"price": "1"}), "NOT_FOUND", "", ""},
			{"update as a customer", w.customer.AccessToken, updateVariant, upd(red, map[string]any{"price": "1"}), "FORBIDDEN", "", ""},
			{"update to a sibling's SKU", staff, updateVariant, upd(red, map[string]any{"sku": "TS-R-L"}), "CONFLICT", "sku", ""},
			{"update to a bad SKU", staff, updateVariant, upd(red, map[string]any{"sku": ""}), "BAD_USER_INPUT", "sku", ""},
			{"update to a sibling's options", staff, updateVariant, upd(red, map[string]any{"options": []any{map[string]any{"name": "颜色", "value": "红"}, map[string]any{"name": "尺码", "value": "L"}}}), "BAD_USER_INPUT", "options", ""},
			{"update to other option names", staff, updateVariant, upd(red, map[string]any{"options": []any{map[string]any{"name": "色", "value": "红"}}}), "BAD_USER_INPUT", "options", ""},
			{"update to a zero price", staff, updateVariant, upd(red, map[string]any{"price": "0"}), "BAD_USER_INPUT", "price", ""},
			{"update to a price above the most (overflow at checkout)", staff, updateVariant, upd(red, map[string]any{"price": "100000000.01"}), "BAD_USER_INPUT", "price", ""},
			{"update to a negative threshold", staff, updateVariant, upd(red, map[string]any{"lowStockThreshold": -1}), "BAD_USER_INPUT", "lowStockThreshold", ""},
			{"update keeping its own SKU", staff, updateVariant, upd(red, map[string]any{"sku": "TS-R-M", "price": "99.99", "lowStockThreshold": 3}), "", "",
				`"sku":"TS-R-M","lowStockThreshold":3,"stock":10,"options":[{"name":"颜色","value":"红"},{"name":"尺码","value":"M"}],"price":{"amount":"99.99"},"product":{"priceRange":{"min":{"amount":"49.50"},"max":{"amount":"99.99"}}}`},
			{"a lone variant may rename its options", staff, updateVariant, upd(single.Variants[0].ID, map[string]any{"options": []any{map[string]any{"name": "容量", "value": "350ml"}}}), "", "", `"options":[{"name":"容量","value":"350ml"}]`},
			{"remove another merchant's variant", staff, removeVariant, map[string]any{"id": foreign.Variants[0].ID}, "NOT_FOUND", "", ""},
			{"remove", staff, removeVariant, map[string]any{"id": large}, "", "", `"totalStock":13`},
			{"remove again", staff, removeVariant, map[string]any{"id": large}, "NOT_FOUND", "", ""},
		}
		for _, st := range steps {
			r := s.Query(st.token, st.query, st.vars)
			if r.Code() != st.code || r.Field() != st.field || (st.want != "" && !r.Contains(st.want)) {
				t.Fatalf("%s: code %q field %q, want %q %q %s: %s", st.name, r.Code(), r.Field(), st.code, st.field, st.want, r.Raw)
			}
		}

		// The added variant's opening stock is in the ledger; the removed one's ledger is gone.
		client, ctx := s.Client()
		if n := client.StockMovement.Query().Where(stockmovement.VariantID(atoi(t, large))).CountX(ctx); n != 0 {
			t.Fatalf("%d ledger rows of the removed variant remain", n)
		}
		added := client.StockMovement.Query().Where(stockmovement.KindEQ(stockmovement.KindINITIAL), stockmovement.StockAfter(3)).AllX(ctx)
		if len(added) != 1 || added[0].Delta != 3 {
			t.Fatalf("opening stock of the added variant: %+v", added)
		}
		checkAggregates(t, client)
	})
}
