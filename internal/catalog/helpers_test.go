package catalog_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/internal/apitest"
)

// shop is a test world: an ACTIVE merchant with an owner and a staff member, a second
// ACTIVE merchant, a merchant awaiting review, an admin, a customer and a category.
type shop struct {
	s                *apitest.Server
	m, other, review apitest.Merchant
	staff            apitest.Session
	admin, customer  apitest.Session
	category         string
}

func newShop(t *testing.T, s *apitest.Server) *shop {
	t.Helper()
	w := &shop{s: s}
	w.m = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	w.staff = s.AddStaff(t, w.m, "staff@tea-house.example.com")
	w.other = s.NewMerchant(t, "coffee-bar", merchant.StatusACTIVE)
	w.review = s.NewMerchant(t, "new-shop", merchant.StatusPENDING_REVIEW)
	w.admin = s.NewAdmin(t, "admin@example.com")
	w.customer = s.Register("customer@example.com", "Customer")
	client, ctx := s.Client()
	c, err := client.Category.Create().SetName("茶叶").SetNameEn("Tea").SetSlug("tea").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.category = strconv.Itoa(c.ID)
	return w
}

// variantIn is a ProductVariantInput; opts are name=value pairs.
func variantIn(sku, price string, stock int, opts ...string) map[string]any {
	v := map[string]any{"sku": sku, "price": price, "stock": stock}
	var options []map[string]any
	for _, o := range opts {
		name, value, _ := strings.Cut(o, "=")
		options = append(options, map[string]any{"name": name, "value": value})
	}
	if options != nil {
		v["options"] = options
	}
	return v
}

// productIn is a CreateProductInput.
func productIn(title string, variants ...map[string]any) map[string]any {
	vs := make([]any, len(variants))
	for i, v := range variants {
		vs[i] = v
	}
	return map[string]any{"title": title, "variants": vs}
}

// with returns a copy of m with key set to value.
func with(m map[string]any, key string, value any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[key] = value
	return out
}

const productFields = `id status kind title description publishedAt currency totalStock
	priceRange { min { amount currency } max { amount currency } }
	category { id } images { url alt } attributes { name value }
	variants { id sku stock lowStockThreshold position options { name value } price { amount } }`

const createProduct = `mutation($i: CreateProductInput!) { createProduct(input: $i) { ` + productFields + ` } }`

// productOut is a Product as the tests read it.
type productOut struct {
	ID, Status, Kind, Title, Description string
	PublishedAt                          *string
	Currency                             string
	TotalStock                           int
	PriceRange                           struct {
		Min, Max struct{ Amount, Currency string }
	}
	Category   *struct{ ID string }
	Images     []struct{ URL, Alt string }
	Attributes []struct{ Name, Value string }
	Variants   []variantOut
}

// variantOut is a ProductVariant as the tests read it.
type variantOut struct {
	ID, Sku           string
	Stock             int
	LowStockThreshold int
	Position          int
	Options           []struct{ Name, Value string }
	Price             struct{ Amount string }
}

// decodeField decodes the single top-level field of r's data into v.
func decodeField(t *testing.T, r *apitest.Response, v any) {
	t.Helper()
	var data map[string]json.RawMessage
	r.Decode(t, &data)
	if len(data) != 1 {
		t.Fatalf("want one field in %s", r.Data)
	}
	for _, raw := range data {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("decoding %s: %v", raw, err)
		}
	}
}

// mustCreate creates a product as token and returns it.
func mustCreate(t *testing.T, s *apitest.Server, token string, in map[string]any) productOut {
	t.Helper()
	var p productOut
	decodeField(t, s.MustQuery(token, createProduct, map[string]any{"i": in}), &p)
	return p
}

// expect checks the code and field of r's first error ("" for success).
func expect(t *testing.T, r *apitest.Response, code, field string) {
	t.Helper()
	if r.Code() != code || r.Field() != field {
		t.Fatalf("got code %q field %q, want %q %q: %s", r.Code(), r.Field(), code, field, r.Raw)
	}
}

// atoi parses a GraphQL ID.
func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
