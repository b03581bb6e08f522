package catalog_test

import (
	"testing"

	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/apperror"
)

// A variant is priced in its merchant's currency: omitted, it is the merchant's; another
// one is refused on every path that creates variants, and a product holding a variant in
// another currency (written around the catalog) never goes on sale, alone or in bulk.
func TestVariantsArePricedInTheMerchantsCurrency(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		client, ctx := s.Client()
		client.Merchant.UpdateOneID(w.other.IntID).SetCurrency("USD").ExecX(ctx)
		cny, usd := w.m.Owner.AccessToken, w.other.Owner.AccessToken

		// Omitted, the currency is the merchant's.
		if p := mustCreate(t, s, usd, productIn("Coffee beans", variantIn("BEANS-1", "12.50", 5))); p.Currency != "USD" ||
			p.PriceRange.Min.Currency != "USD" || p.PriceRange.Min.Amount != "12.50" {
			t.Fatalf("USD merchant's product: %+v", p)
		}
		if p := mustCreate(t, s, cny, productIn("龙井", variantIn("LJ-1", "38.00", 5))); p.Currency != "CNY" {
			t.Fatalf("CNY merchant's product: %+v", p)
		}

		// Another one is refused, naming the input.
		expect(t, s.Query(cny, createProduct, map[string]any{"i": productIn("Imported tea",
			variantIn("IMP-1", "10.00", 1), with(variantIn("IMP-2", "10.00", 1, "size=big"), "currency", "USD"))}),
			"BAD_USER_INPUT", "variants[1].currency")
		expect(t, s.Query(usd, createProduct, map[string]any{"i": productIn("Beans",
			with(variantIn("B-2", "10.00", 1), "currency", "CNY"))}), "BAD_USER_INPUT", "variants[0].currency")
		p := mustCreate(t, s, cny, productIn("Oolong", variantIn("OO-1", "20.00", 5, "size=small")))
		addVariant := `mutation($p: ID!, $i: ProductVariantInput!) { addProductVariant(productID: $p, input: $i) { id } }`
		expect(t, s.Query(cny, addVariant, map[string]any{"p": p.ID, "i": with(variantIn("OO-2", "30.00", 5, "size=big"), "currency", "USD")}),
			"BAD_USER_INPUT", "currency")
		s.MustQuery(cny, addVariant, map[string]any{"p": p.ID, "i": with(variantIn("OO-3", "30.00", 5, "size=huge"), "currency", "CNY")})

		// Every other writer meets the same rule (an Ent hook).
		_, err := client.ProductVariant.Create().SetProductID(atoi(t, p.ID)).SetMerchantID(w.m.IntID).
			SetSku("OO-4").SetPrice(100).SetCurrency("USD").Save(ctx)
		if apperror.CodeOf(err) != apperror.BadUserInput {
			t.Fatalf("direct create in USD for a CNY merchant: %v", err)
		}
		err = client.ProductVariant.Update().Where().SetCurrency("JPY").Exec(ctx)
		if apperror.CodeOf(err) != apperror.BadUserInput {
			t.Fatalf("direct update to JPY: %v", err)
		}

		// A variant whose currency was changed in the database keeps its product off sale.
		if _, err := client.ExecContext(ctx, "UPDATE product_variants SET currency = 'USD' WHERE sku = 'OO-1'"); err != nil {
			t.Fatal(err)
		}
		expect(t, s.Query(cny, publishProduct, map[string]any{"id": p.ID}), "INVALID_STATE", "")
		var bulk bulkOut
		decodeField(t, s.MustQuery(cny, bulkStatus, map[string]any{"ids": []string{p.ID}, "st": "ACTIVE", "atomic": false}), &bulk)
		if len(bulk.Products) != 0 || len(bulk.Errors) != 1 || bulk.Errors[0].Code != "INVALID_STATE" {
			t.Fatalf("bulk publish: %+v", bulk)
		}
		if st := client.Product.GetX(ctx, atoi(t, p.ID)).Status; st != product.StatusDRAFT {
			t.Fatalf("product is %s", st)
		}
	})
}
