package catalog_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/searchtoken"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/apitest"
)

// createProduct validates every field, naming it in extensions.field, and writes a
// product with its variants, aggregates and opening ledger entries in one go.
func TestCreateProduct(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		t.Run("rejects bad input", func(t *testing.T) {
			owner, staff := w.m.Owner.AccessToken, w.staff.AccessToken
			ok := productIn("龙井 Longjing", variantIn("LJ-50", "19.90", 5))
			many := func(n int, item func(i int) any) []any {
				out := make([]any, n)
				for i := range out {
					out[i] = item(i)
				}
				return out
			}
			// Another product of the merchant holds the SKU TAKEN-1.
			mustCreate(t, s, owner, productIn("Taken", variantIn("TAKEN-1", "1", 0)))
			// Another merchant's SKU does not count.
			mustCreate(t, s, w.other.Owner.AccessToken, productIn("Coffee", variantIn("ELSEWHERE-1", "1", 0)))

			cases := []struct {
				name, token string
				in          map[string]any
				code, field string
			}{
				{"anonymous", "", ok, "UNAUTHENTICATED", ""},
				{"customer", w.customer.AccessToken, ok, "FORBIDDEN", ""},
				{"staff naming another merchant", staff, with(ok, "merchantID", w.other.ID), "NOT_FOUND", ""},
				{"admin without a merchant", w.admin.AccessToken, ok, "BAD_USER_INPUT", "merchantID"},
				{"admin naming no merchant", w.admin.AccessToken, with(ok, "merchantID", "8589999999"), "NOT_FOUND", ""},
				{"empty title", staff, with(ok, "title", "  "), "BAD_USER_INPUT", "title"},
				{"long title", staff, with(ok, "title", strings.Repeat("茶", 201)), "BAD_USER_INPUT", "title"},
				{"long description", staff, with(ok, "description", strings.Repeat("a", 20001)), "BAD_USER_INPUT", "description"},
				{"unknown category", staff, with(ok, "categoryID", "12345"), "BAD_USER_INPUT", "categoryID"},
				{"too many images", staff, with(ok, "images", many(21, func(int) any { return map[string]any{"url": "https://img.example.com/a.jpg"} })), "BAD_USER_INPUT", "images"},
				{"http image", staff, with(ok, "images", []any{map[string]any{"url": "http://img.example.com/a.jpg"}}), "BAD_USER_INPUT", "images[0].url"},
				{"long alt", staff, with(ok, "images", []any{map[string]any{"url": "https://img.example.com/a.jpg", "alt": strings.Repeat("a", 201)}}), "BAD_USER_INPUT", "images[0].alt"},
				{"too many attributes", staff, with(ok, "attributes", many(51, func(i int) any { return map[string]any{"name": "n" + strconv.Itoa(i), "value": "v"} })), "BAD_USER_INPUT", "attributes"},
				{"empty attribute name", staff, with(ok, "attributes", []any{map[string]any{"name": "", "value": "v"}}), "BAD_USER_INPUT", "attributes[0].name"},
				{"long attribute value", staff, with(ok, "attributes", []any{map[string]any{"name": "产地", "value": strings.Repeat("a", 101)}}), "BAD_USER_INPUT", "attributes[0].value"},
				{"no variants", staff, productIn("x"), "BAD_USER_INPUT", "variants"},
				{"too many variants", staff, with(ok, "variants", many(101, func(i int) any { return variantIn("S"+strconv.Itoa(i), "1", 0, "n="+strconv.Itoa(i)) })), "BAD_USER_INPUT", "variants"},
				{"bad SKU", staff, productIn("x", variantIn("LJ 50", "1", 0)), "BAD_USER_INPUT", "variants[0].sku"},
				{"long SKU", staff, productIn("x", variantIn(strings.Repeat("A", 65), "1", 0)), "BAD_USER_INPUT", "variants[0].sku"},
				{"SKU twice in the input", staff, productIn("x", variantIn("A", "1", 0, "色=红"), variantIn("B", "1", 0, "色=绿"), variantIn("A", "1", 0, "色=蓝")), "CONFLICT", "variants[2].sku"},
				{"SKU of another product", staff, productIn("x", variantIn("NEW-1", "1", 0, "色=红"), variantIn("TAKEN-1", "1", 0, "色=绿")), "CONFLICT", "variants[1].sku"},
				{"zero price", staff, productIn("x", variantIn("A", "0", 0)), "BAD_USER_INPUT", "variants[0].price"},
				{"negative price", staff, productIn("x", variantIn("A", "-1", 0)), "BAD_USER_INPUT", "variants[0].price"},
				{"price with too many decimals", staff, productIn("x", variantIn("A", "1.999", 0)), "BAD_USER_INPUT", "variants[0].price"},
				{"price not a number", staff, productIn("x", variantIn("A", "cheap", 0)), "BAD_USER_INPUT", "variants[0].price"},
				{"lower-case currency", staff, productIn("x", with(variantIn("A", "1", 0), "currency", "cny")), "BAD_USER_INPUT", "variants[0].currency"},
				{"mixed currencies", staff, productIn("x", variantIn("A", "1", 0, "色=红"), with(variantIn("B", "1", 0, "色=绿"), "currency", "USD")), "BAD_USER_INPUT", "variants[1].currency"},
				{"negative stock", staff, productIn("x", variantIn("A", "1", -1)), "BAD_USER_INPUT", "variants[0].stock"},
				{"negative threshold", staff, productIn("x", with(variantIn("A", "1", 0), "lowStockThreshold", -1)), "BAD_USER_INPUT", "variants[0].lowStockThreshold"},
				{"empty option name", staff, productIn("x", variantIn("A", "1", 0, "=红")), "BAD_USER_INPUT", "variants[0].options[0].name"},
				{"option named twice", staff, productIn("x", variantIn("A", "1", 0, "色=红", "色=绿")), "BAD_USER_INPUT", "variants[0].options"},
				{"different option names", staff, productIn("x", variantIn("A", "1", 0, "色=红"), variantIn("B", "1", 0, "尺码=L")), "BAD_USER_INPUT", "variants[1].options"},
				{"options in another order", staff, productIn("x", variantIn("A", "1", 0, "色=红", "尺码=L"), variantIn("B", "1", 0, "尺码=M", "色=红")), "BAD_USER_INPUT", "variants[1].options"},
				{"same option values", staff, productIn("x", variantIn("A", "1", 0, "色=红"), variantIn("B", "1", 0, "色=绿"), variantIn("C", "1", 0, "色=红")), "BAD_USER_INPUT", "variants[2].options"},
				{"two variants without options", staff, productIn("x", variantIn("A", "1", 0), variantIn("B", "1", 0)), "BAD_USER_INPUT", "variants[1].options"},
				{"another merchant's SKU is free", staff, productIn("x", variantIn("ELSEWHERE-1", "1", 0)), "", ""},
				{"staff naming their own merchant", staff, with(productIn("x", variantIn("MINE-1", "1", 0)), "merchantID", w.m.ID), "", ""},
				{"admin for a merchant", w.admin.AccessToken, with(productIn("x", variantIn("ADMIN-1", "1", 0)), "merchantID", w.m.ID), "", ""},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := s.Query(tc.token, createProduct, map[string]any{"i": tc.in})
					expect(t, r, tc.code, tc.field)
				})
			}
			// Nothing of the rejected products was written.
			client, ctx := s.Client()
			if n := client.Product.Query().CountX(ctx); n != 5 {
				t.Fatalf("%d products after the failures, want 5", n)
			}
		})
		t.Run("creates a draft with its variants and ledger", func(t *testing.T) {
			in := productIn(" 西湖龙井 West Lake Longjing ",
				with(variantIn("LJ-50", "19.90", 5, "规格=50g", "等级=特级"), "lowStockThreshold", 2),
				variantIn("LJ-100", "36.5", 0, "规格=100g", "等级=特级"),
				variantIn("LJ-250", "88", 12, "规格=250g", "等级=特级"))
			in["description"] = "明前茶"
			in["kind"] = "PHYSICAL"
			in["categoryID"] = w.category
			in["images"] = []any{map[string]any{"url": "https://img.example.com/lj.jpg", "alt": "龙井"}, map[string]any{"url": "https://img.example.com/lj2.jpg"}}
			in["attributes"] = []any{map[string]any{"name": "产地", "value": "杭州"}}
			p := mustCreate(t, s, w.staff.AccessToken, in)

			if p.Status != "DRAFT" || p.Title != "西湖龙井 West Lake Longjing" || p.Category == nil || p.Category.ID != w.category ||
				len(p.Images) != 2 || p.Images[1].Alt != "" || len(p.Attributes) != 1 || p.PublishedAt != nil {
				t.Fatalf("created product: %+v", p)
			}
			if p.PriceRange.Min.Amount != "19.90" || p.PriceRange.Max.Amount != "88.00" || p.PriceRange.Min.Currency != "CNY" ||
				p.TotalStock != 17 || p.Currency != "CNY" {
				t.Fatalf("aggregates: %+v", p)
			}
			if len(p.Variants) != 3 || p.Variants[1].Price.Amount != "36.50" || p.Variants[0].LowStockThreshold != 2 ||
				p.Variants[2].Position != 2 || p.Variants[0].Options[1].Value != "特级" {
				t.Fatalf("variants: %+v", p.Variants)
			}

			// Each variant's opening stock is in the ledger, by the staff member who created it.
			client, ctx := s.Client()
			for _, v := range p.Variants {
				ms := client.StockMovement.Query().Where(stockmovement.VariantID(atoi(t, v.ID))).AllX(ctx)
				if len(ms) != 1 || ms[0].Kind != stockmovement.KindINITIAL || ms[0].Delta != v.Stock ||
					ms[0].StockBefore != 0 || ms[0].StockAfter != v.Stock || ms[0].ActorID == nil || strconv.Itoa(*ms[0].ActorID) != w.staff.UserID {
					t.Fatalf("ledger of %s: %+v", v.Sku, ms)
				}
			}
			if pr := client.Product.GetX(ctx, atoi(t, p.ID)); pr.VariantCount != 3 || pr.MinPrice != 1990 || pr.MaxPrice != 8800 {
				t.Fatalf("stored aggregates: %+v", pr)
			}

			// Admins create for the merchant they name, in its currency.
			usd := s.NewMerchant(t, "usd-shop", merchant.StatusACTIVE)
			client.Merchant.UpdateOneID(usd.IntID).SetCurrency("USD").ExecX(ctx)
			a := mustCreate(t, s, w.admin.AccessToken, with(productIn("Admin's", with(variantIn("USD-1", "2.5", 1), "currency", "USD")), "merchantID", usd.ID))
			if a.Currency != "USD" || a.PriceRange.Min.Amount != "2.50" || a.PriceRange.Min.Currency != "USD" {
				t.Fatalf("admin-created product: %+v", a)
			}
			if pr := client.Product.GetX(ctx, atoi(t, a.ID)); pr.MerchantID != usd.IntID {
				t.Fatalf("admin created for merchant %d, want %d", pr.MerchantID, usd.IntID)
			}
		})
	})
}

const (
	updateProduct  = `mutation($id: ID!, $i: UpdateProductInput!) { updateProduct(id: $id, input: $i) { ` + productFields + ` } }`
	publishProduct = `mutation($id: ID!) { publishProduct(id: $id) { id status publishedAt } }`
	delistProduct  = `mutation($id: ID!) { delistProduct(id: $id) { id status publishedAt } }`
	deleteProduct  = `mutation($id: ID!) { deleteProduct(id: $id) }`
	removeVariant  = `mutation($id: ID!) { removeProductVariant(id: $id) { id totalStock variants { id } } }`
	storefrontGet  = `query($id: ID!) { product(id: $id) { id status totalStock variants { availability } priceRange { min { amount } max { amount } } } }`
)

func TestProductLifecycle(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		staff, other := w.staff.AccessToken, w.other.Owner.AccessToken
		in := productIn("龙井", variantIn("LJ-50", "19.90", 5, "规格=50g"))
		in["categoryID"] = w.category
		in["images"] = []any{map[string]any{"url": "https://img.example.com/a.jpg"}}
		in["attributes"] = []any{map[string]any{"name": "产地", "value": "杭州"}}
		p := mustCreate(t, s, staff, in)
		id := map[string]any{"id": p.ID}
		upd := func(i map[string]any) map[string]any { return map[string]any{"id": p.ID, "i": i} }

		// Nil fields stay; lists given replace; clearCategory empties the category.
		var got productOut
		decodeField(t, s.MustQuery(staff, updateProduct, upd(map[string]any{"description": "新茶", "attributes": []any{}})), &got)
		if got.Title != "龙井" || got.Description != "新茶" || len(got.Attributes) != 0 || len(got.Images) != 1 || got.Category == nil {
			t.Fatalf("after a partial update: %+v", got)
		}
		decodeField(t, s.MustQuery(staff, updateProduct, upd(map[string]any{"clearCategory": true, "kind": "VIRTUAL"})), &got)
		if got.Category != nil || got.Kind != "VIRTUAL" || len(got.Images) != 1 {
			t.Fatalf("after clearing the category: %+v", got)
		}
		// The storefront does not show drafts.
		if r := s.MustQuery("", storefrontGet, id); string(r.Data) != `{"product":null}` {
			t.Fatalf("public sees a draft: %s", r.Raw)
		}

		steps := []struct {
			name, token, query string
			vars               map[string]any
			code, field, state string
		}{
			{"update by another merchant", other, updateProduct, upd(map[string]any{"title": "mine"}), "NOT_FOUND", "", ""},
			{"update with a bad title", staff, updateProduct, upd(map[string]any{"title": ""}), "BAD_USER_INPUT", "title", ""},
			{"update with an http image", staff, updateProduct, upd(map[string]any{"images": []any{map[string]any{"url": "ftp://x"}}}), "BAD_USER_INPUT", "images[0].url", ""},
			{"update with an unknown category", staff, updateProduct, upd(map[string]any{"categoryID": "999"}), "BAD_USER_INPUT", "categoryID", ""},
			{"category and clearCategory", staff, updateProduct, upd(map[string]any{"categoryID": w.category, "clearCategory": true}), "BAD_USER_INPUT", "clearCategory", ""},
			{"publish by another merchant", other, publishProduct, id, "NOT_FOUND", "", ""},
			{"publish by a customer", w.customer.AccessToken, publishProduct, id, "FORBIDDEN", "", ""},
			{"publish anonymously", "", publishProduct, id, "UNAUTHENTICATED", "", ""},
			{"delist a draft", staff, delistProduct, id, "INVALID_STATE", "", "DRAFT"},
			{"publish", staff, publishProduct, id, "", "", ""},
			{"publish twice", staff, publishProduct, id, "INVALID_STATE", "", "ACTIVE"},
			{"kind change on sale", staff, updateProduct, upd(map[string]any{"kind": "SERVICE"}), "INVALID_STATE", "", "ACTIVE"},
			{"same kind on sale is no change", staff, updateProduct, upd(map[string]any{"kind": "VIRTUAL", "title": "龙井 2025"}), "", "", ""},
			{"delete on sale", staff, deleteProduct, id, "INVALID_STATE", "", "ACTIVE"},
			{"remove the last variant on sale", staff, removeVariant, map[string]any{"id": p.Variants[0].ID}, "INVALID_STATE", "", "ACTIVE"},
			{"delist by another merchant", other, delistProduct, id, "NOT_FOUND", "", ""},
			{"delist", staff, delistProduct, id, "", "", ""},
			{"delist twice", staff, delistProduct, id, "INVALID_STATE", "", "DELISTED"},
			{"delete delisted", staff, deleteProduct, id, "INVALID_STATE", "", "DELISTED"},
		}
		var publishedAt string
		for _, st := range steps {
			r := s.Query(st.token, st.query, st.vars)
			if r.Code() != st.code || r.Field() != st.field {
				t.Fatalf("%s: code %q field %q, want %q %q: %s", st.name, r.Code(), r.Field(), st.code, st.field, r.Raw)
			}
			if st.state != "" && r.Errors[0].Extensions["currentState"] != st.state {
				t.Fatalf("%s: currentState %v, want %s", st.name, r.Errors[0].Extensions["currentState"], st.state)
			}
			if st.name == "publish" {
				var out struct{ Status, PublishedAt string }
				decodeField(t, r, &out)
				if out.Status != "ACTIVE" || out.PublishedAt == "" {
					t.Fatalf("published: %s", r.Raw)
				}
				publishedAt = out.PublishedAt
				if r := s.MustQuery("", storefrontGet, id); !r.Contains(`"status":"ACTIVE"`) ||
					!r.Contains(`"totalStock":null`) || !r.Contains(`"availability":"IN_STOCK"`) {
					t.Fatalf("public cannot see the published product: %s", r.Raw)
				}
			}
		}
		// Publishing again keeps the first publication time.
		r := s.MustQuery(staff, publishProduct, id)
		if !r.Contains(`"publishedAt":"` + publishedAt + `"`) {
			t.Fatalf("republished %s, first published %s", r.Raw, publishedAt)
		}

		// A merchant that is not ACTIVE cannot sell; the error names its status.
		admin := w.admin.AccessToken
		pending := mustCreate(t, s, admin, with(productIn("Pending", variantIn("P-1", "1", 0)), "merchantID", w.review.ID))
		r = s.Query(admin, publishProduct, map[string]any{"id": pending.ID})
		expect(t, r, "INVALID_STATE", "")
		if r.Errors[0].Extensions["currentState"] != "PENDING_REVIEW" {
			t.Fatalf("publishing for a pending merchant: %s", r.Raw)
		}

		// A product without a priced variant cannot go on sale.
		bare := mustCreate(t, s, staff, productIn("Bare", variantIn("BARE-1", "1", 3)))
		s.MustQuery(staff, removeVariant, map[string]any{"id": bare.Variants[0].ID})
		expect(t, s.Query(staff, publishProduct, map[string]any{"id": bare.ID}), "INVALID_STATE", "")

		// Deleting a draft takes its variants, ledger and search tokens with it.
		draft := mustCreate(t, s, staff, productIn("Draft", variantIn("D-1", "1", 3, "c=1"), variantIn("D-2", "2", 4, "c=2")))
		client, ctx := s.Client()
		did := atoi(t, draft.ID)
		if _, err := client.SearchToken.Create().SetProductID(did).SetToken("qqqqq").SetWeight(1).Save(ctx); err != nil {
			t.Fatal(err)
		}
		expect(t, s.Query(other, deleteProduct, map[string]any{"id": draft.ID}), "NOT_FOUND", "")
		r = s.MustQuery(staff, deleteProduct, map[string]any{"id": draft.ID})
		if string(r.Data) != `{"deleteProduct":"`+draft.ID+`"}` {
			t.Fatalf("delete returned %s", r.Data)
		}
		vids := []int{atoi(t, draft.Variants[0].ID), atoi(t, draft.Variants[1].ID)}
		if client.Product.Query().Where(product.ID(did)).ExistX(ctx) ||
			client.ProductVariant.Query().Where(productvariant.ProductID(did)).ExistX(ctx) ||
			client.StockMovement.Query().Where(stockmovement.VariantIDIn(vids...)).ExistX(ctx) ||
			client.SearchToken.Query().Where(searchtoken.ProductID(did)).ExistX(ctx) {
			t.Fatal("rows of the deleted draft remain")
		}
		expect(t, s.Query(staff, deleteProduct, map[string]any{"id": draft.ID}), "NOT_FOUND", "")
	})
}
