package app_test

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/graph"
	"github.com/xiadan/xiadan/internal/apitest"
)

// visibilityClosedEdges are the edge predicates (has<Edge> and has<Edge>With) a where
// input may offer. Each edge is closed under visibility: every row it reaches from a row
// the viewer may see is one the viewer may see too, whatever the viewer (ent/schema/policy.go),
// so a filter through it learns nothing the viewer could not read. An edge into rows the
// viewer may not see (a merchant's or category's products, which include drafts; a
// review's order item) must be skipped in where inputs (entgql.SkipWhereInput).
var visibilityClosedEdges = map[string]string{
	"ProductWhereInput.hasMerchant":          "a visible product is ACTIVE of an ACTIVE merchant, or the viewer's merchant's",
	"ProductWhereInput.hasCategory":          "categories are public",
	"ProductWhereInput.hasVariants":          "every variant of a visible product is visible",
	"ProductWhereInput.hasReviews":           "shown reviews are public; reviews.CloseReviewFilters narrows it to them for non-admins",
	"ProductVariantWhereInput.hasProduct":    "a visible variant's product is visible",
	"CategoryWhereInput.hasParent":           "categories are public",
	"CategoryWhereInput.hasChildren":         "categories are public",
	"MerchantSanctionWhereInput.hasMerchant": "staff see only their own merchant's sanctions, and their merchant in any status",
}

// TestWhereInputsSeeOnlyVisibleRows audits the GraphQL schema: every where input that any
// non-admin field accepts, directly or nested, filters only on fields its type shows and
// through visibility-closed edges. Admin-only fields are left out: admins see every row.
// A new edge or connection that opens a way into hidden rows fails here until audited.
func TestWhereInputsSeeOnlyVisibleRows(t *testing.T) {
	t.Parallel()
	s := graph.NewExecutableSchema(graph.Config{}).Schema()
	seen := map[string]bool{}
	// walk audits a where input reached by path (the field and predicates leading to it).
	var walk func(input, path string)
	walk = func(input, path string) {
		if seen[input] {
			return
		}
		seen[input] = true
		def := s.Types[input]
		object := s.Types[strings.TrimSuffix(input, "WhereInput")]
		if object == nil {
			t.Errorf("%s (%s) filters no object type", input, path)
			return
		}
		for _, f := range def.Fields {
			switch name := f.Name; {
			case name == "not" || name == "and" || name == "or":
				walk(f.Type.Name(), path+"."+name)
			case strings.HasPrefix(name, "has") && object.Fields.ForName(name) == nil:
				edge := input + "." + strings.TrimSuffix(name, "With")
				if _, ok := visibilityClosedEdges[edge]; !ok {
					t.Errorf("%s.%s (reached by %s) filters through an edge not known to be closed under visibility", input, name, path)
				}
				if strings.HasSuffix(name, "With") {
					walk(f.Type.Name(), path+"."+name)
				}
			default:
				if predicateField(object, name) == nil {
					t.Errorf("%s.%s (reached by %s) filters on a field %s does not show", input, name, path, object.Name)
				}
			}
		}
	}
	for _, typ := range s.Types {
		if typ.BuiltIn || typ.Kind != ast.Object {
			continue
		}
		for _, f := range typ.Fields {
			if adminOnly(f) {
				continue
			}
			for _, a := range f.Arguments {
				if strings.HasSuffix(a.Type.Name(), "WhereInput") {
					walk(a.Type.Name(), typ.Name+"."+f.Name+"("+a.Name+":)")
				}
			}
		}
	}
	for _, want := range []string{"MerchantWhereInput", "ReviewWhereInput"} {
		if !seen[want] {
			t.Errorf("%s is no longer reached; audit the list of public where inputs", want)
		}
	}
}

// predicateSuffixes are the operators entgql appends to a field name.
var predicateSuffixes = []string{"ContainsFold", "EqualFold", "HasPrefix", "HasSuffix", "Contains",
	"NotNil", "IsNil", "NotIn", "NEQ", "GTE", "LTE", "GT", "LT", "In"}

// predicateField is the field of object a where-input predicate filters on, or nil.
func predicateField(object *ast.Definition, predicate string) *ast.FieldDefinition {
	if f := object.Fields.ForName(predicate); f != nil {
		return f
	}
	for _, suffix := range predicateSuffixes {
		if base, ok := strings.CutSuffix(predicate, suffix); ok {
			if f := object.Fields.ForName(base); f != nil {
				return f
			}
		}
	}
	return nil
}

// adminOnly reports whether only admins may call f.
func adminOnly(f *ast.FieldDefinition) bool {
	d := f.Directives.ForName("hasRole")
	if d == nil {
		return false
	}
	roles := d.Arguments.ForName("roles")
	return roles != nil && len(roles.Value.Children) == 1 && roles.Value.Children[0].Value.Raw == "ADMIN"
}

// leakWorld is a platform with things only some may see: shop alpha's draft and
// delisted products, a merchant under review and a suspended one with products on sale,
// Carol's order at alpha and alpha's API client. Twin is a shop whose public catalogue
// is alpha's, without the hidden products.
type leakWorld struct {
	alpha, twin, bravo, pending, suspended apitest.Merchant
	admin, bob, carol                      apitest.Session
	draftProduct, draftVariant             int
	carolOrder, carolNumber                string
	missing                                int // an id of nothing
}

func newLeakWorld(t *testing.T, s *apitest.Server) *leakWorld {
	t.Helper()
	w := &leakWorld{}
	client, ctx := s.Client()
	category := func(slug string, parent *int) int {
		c := client.Category.Create().SetName(slug).SetSlug(slug).SetNillableParentID(parent).SaveX(ctx)
		return c.ID
	}
	teaware, twinware, misc := category("teaware", nil), category("teaware-twin", nil), category("misc", nil)
	hiddenOnly := category("hidden-only", &teaware)
	addProduct := func(m apitest.Merchant, title, description, sku string, price int64, stock, cat int, status product.Status) (int, int) {
		pid, vid := s.NewProduct(t, m, title, product.KindPHYSICAL, sku, price, stock)
		client.Product.UpdateOneID(pid).SetDescription(description).SetCategoryID(cat).SetStatus(status).ExecX(ctx)
		client.ProductVariant.UpdateOneID(vid).SetLowStockThreshold(100).ExecX(ctx)
		return pid, vid
	}
	w.alpha = s.NewMerchant(t, "alpha", merchant.StatusACTIVE)
	w.twin = s.NewMerchant(t, "twin", merchant.StatusACTIVE)
	w.bravo = s.NewMerchant(t, "bravo", merchant.StatusACTIVE)
	w.pending = s.NewMerchant(t, "pending-nova", merchant.StatusPENDING_REVIEW)
	w.suspended = s.NewMerchant(t, "suspended-orion", merchant.StatusSUSPENDED)

	_, alphaTea := addProduct(w.alpha, "Public tea", "Green tea", "ALPHA-TEA", 3800, 500, teaware, product.StatusACTIVE)
	addProduct(w.twin, "Public tea", "Green tea", "TWIN-TEA", 3800, 500, twinware, product.StatusACTIVE)
	addProduct(w.bravo, "Bravo coffee", "Roasted", "BRAVO-1", 2500, 500, misc, product.StatusACTIVE)
	w.draftProduct, w.draftVariant = addProduct(w.alpha, "Zephyr draft", "机密 quasar launch", "ZEPHYR-1", 1234, 77, teaware, product.StatusDRAFT)
	addProduct(w.alpha, "Nebula lamp", "retired", "NEBULA-1", 5600, 9, hiddenOnly, product.StatusDELISTED)
	addProduct(w.pending, "Nova gadget", "coming soon", "NOVA-1", 9900, 5, misc, product.StatusACTIVE)
	addProduct(w.suspended, "Orion kettle", "on hold", "ORION-1", 4500, 5, misc, product.StatusACTIVE)
	w.missing = w.suspended.IntID + 100000

	w.admin = s.NewAdmin(t, "admin@example.com")
	w.bob = s.Register("bob@example.com", "Bob")
	w.carol = s.Register("carol@example.com", "Carol")
	r := s.MustQuery(w.carol.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { id number } } }`,
		map[string]any{"i": map[string]any{
			"lines":           []any{map[string]any{"variantID": strconv.Itoa(alphaTea), "quantity": 1}},
			"shippingAddress": map[string]any{"recipientName": "Carol", "phone": "13900139000", "province": "上海市", "city": "上海市", "street": "秘密路 1 号"},
			"idempotencyKey":  "carol-order-1",
		}})
	var placed struct {
		PlaceOrder struct{ Orders []struct{ ID, Number string } }
	}
	r.Decode(t, &placed)
	w.carolOrder, w.carolNumber = placed.PlaceOrder.Orders[0].ID, placed.PlaceOrder.Orders[0].Number
	s.MustQuery(w.alpha.Owner.AccessToken, `mutation($i: CreateApiClientInput!) { createApiClient(input: $i) { clientSecret } }`,
		map[string]any{"i": map[string]any{"name": "Alpha ERP", "merchantIDs": []string{w.alpha.ID}, "scopes": []string{"orders:read"}}})
	return w
}

// probe is one attempt to learn something hidden: the same query with variables that hit
// the hidden thing and with variables that miss everything. Whoever may not see the
// hidden thing must get the same answer to both; control, who may, gets different ones
// (so the probe does aim at something).
type probe struct {
	name, query string
	hit, miss   map[string]any
	control     string // token of someone who may see it; "" when nobody may filter so
}

// answer is a response with what may differ between a hit and a miss without telling
// anything removed: numbers in error messages (the ids asked for).
func answer(r *apitest.Response) string {
	type e struct{ Code, Field, Reason, Message string }
	out := struct {
		Data   json.RawMessage
		Errors []e
	}{Data: r.Data}
	digits := regexp.MustCompile(`\d+`)
	for _, x := range r.Errors {
		code, _ := x.Extensions["code"].(string)
		field, _ := x.Extensions["field"].(string)
		reason, _ := x.Extensions["reason"].(string)
		out.Errors = append(out.Errors, e{code, field, reason, digits.ReplaceAllString(x.Message, "#")})
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// TestFiltersLearnNothingHidden attempts, on every list and lookup a non-admin may call
// with a filter or an id, to learn of hidden records — drafts, delisted products,
// merchants under review or suspended, another customer's order, another merchant's
// orders, stock and clients — as anonymous, as a customer and as another merchant's
// owner, and proves each attempt answers exactly as if the record did not exist.
func TestFiltersLearnNothingHidden(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newLeakWorld(t, s)
		id := strconv.Itoa
		productsQ := `query($w: ProductFilter, $o: ProductOrder) { products(first: 20, where: $w, orderBy: $o) {
		  totalCount edges { node { title } } } }`
		merchantsQ := `query($w: MerchantWhereInput) { merchants(first: 20, where: $w) { totalCount edges { node { name } } } }`
		alphaOwner := w.alpha.Owner.AccessToken
		probes := []probe{
			// The storefront list: keyword search over titles and descriptions, status,
			// price, stock, merchant and category filters, and orders over hidden rows.
			{"products: draft title", productsQ, map[string]any{"w": map[string]any{"status": "DRAFT", "keyword": "Zephyr"}},
				map[string]any{"w": map[string]any{"status": "DRAFT", "keyword": "Xylophone"}}, alphaOwner},
			{"products: draft description", productsQ, map[string]any{"w": map[string]any{"status": "DRAFT", "keyword": "quasar"}},
				map[string]any{"w": map[string]any{"status": "DRAFT", "keyword": "lantern"}}, alphaOwner},
			{"products: draft title, no status", productsQ, map[string]any{"w": map[string]any{"keyword": "Zephyr"}},
				map[string]any{"w": map[string]any{"keyword": "Xylophone"}}, ""},
			{"products: delisted title", productsQ, map[string]any{"w": map[string]any{"status": "DELISTED", "keyword": "Nebula"}},
				map[string]any{"w": map[string]any{"status": "DELISTED", "keyword": "Xylophone"}}, alphaOwner},
			{"products: draft price", productsQ, map[string]any{"w": map[string]any{"status": "DRAFT", "minPrice": "12.34", "maxPrice": "12.34"}},
				map[string]any{"w": map[string]any{"status": "DRAFT", "minPrice": "12.35", "maxPrice": "12.35"}}, alphaOwner},
			{"products: draft stock", productsQ, map[string]any{"w": map[string]any{"status": "DRAFT", "merchantID": w.alpha.ID, "inStock": true}},
				map[string]any{"w": map[string]any{"status": "DRAFT", "merchantID": w.bravo.ID, "inStock": true}}, alphaOwner},
			{"products: drafts by price order", productsQ,
				map[string]any{"w": map[string]any{"status": "DRAFT", "merchantID": w.alpha.ID}, "o": map[string]any{"field": "PRICE", "direction": "ASC"}},
				map[string]any{"w": map[string]any{"status": "DRAFT", "merchantID": w.bravo.ID}, "o": map[string]any{"field": "PRICE", "direction": "ASC"}}, alphaOwner},
			{"products: merchant under review", productsQ, map[string]any{"w": map[string]any{"merchantID": w.pending.ID, "status": "ACTIVE"}},
				map[string]any{"w": map[string]any{"merchantID": id(w.missing), "status": "ACTIVE"}}, w.pending.Owner.AccessToken},
			{"products: suspended merchant", productsQ, map[string]any{"w": map[string]any{"merchantID": w.suspended.ID, "status": "ACTIVE", "keyword": "Orion"}},
				map[string]any{"w": map[string]any{"merchantID": id(w.missing), "status": "ACTIVE", "keyword": "Orion"}}, w.admin.AccessToken},
			{"products: category holding only hidden products", productsQ,
				map[string]any{"w": map[string]any{"status": "DELISTED", "categoryID": categoryID(t, s, "hidden-only")}},
				map[string]any{"w": map[string]any{"status": "DELISTED", "categoryID": categoryID(t, s, "teaware-twin")}}, alphaOwner},

			// The merchant list and its generated where input.
			{"merchants: name under review", merchantsQ, map[string]any{"w": map[string]any{"nameContains": "nova"}},
				map[string]any{"w": map[string]any{"nameContains": "quokka"}}, w.admin.AccessToken},
			{"merchants: hidden statuses", merchantsQ, map[string]any{"w": map[string]any{"statusIn": []string{"PENDING_REVIEW", "SUSPENDED"}}},
				map[string]any{"w": map[string]any{"status": "REJECTED"}}, w.admin.AccessToken},
			{"merchants: legal name under review", merchantsQ, map[string]any{"w": map[string]any{"legalNameContains": "pending-nova"}},
				map[string]any{"w": map[string]any{"legalNameContains": "quokka"}}, w.admin.AccessToken},
			// statusReason is in no where input any more (TestMerchantInternalsAreHiddenFromShoppers);
			// the status of a merchant nobody else may see stays unprobeable.
			{"merchants: a suspension", merchantsQ, map[string]any{"w": map[string]any{"status": "SUSPENDED"}},
				map[string]any{"w": map[string]any{"status": "REJECTED"}}, w.admin.AccessToken},
			// The reported attack: yes/no about draft products through the products edge.
			{"merchants: through their draft products", merchantsQ,
				map[string]any{"w": map[string]any{"hasProductsWith": []any{map[string]any{"status": "DRAFT", "titleContains": "Zephyr"}}}},
				map[string]any{"w": map[string]any{"hasProductsWith": []any{map[string]any{"status": "DRAFT", "titleContains": "Xylophone"}}}}, ""},
			{"merchants: through any product", merchantsQ, map[string]any{"w": map[string]any{"hasProducts": true, "name": "pending-nova"}},
				map[string]any{"w": map[string]any{"hasProducts": true, "name": "quokka"}}, ""},

			// A merchant's and a category's products: twin's public catalogue is alpha's.
			{"merchant products", `query($m: ID!) { merchant(id: $m) { productCount products(first: 20) { totalCount edges { node { title } } } } }`,
				map[string]any{"m": w.alpha.ID}, map[string]any{"m": w.twin.ID}, alphaOwner},
			{"merchant products by a hidden filter", `query($m: ID!) { merchant(id: $m) { products(first: 20, where: {status: DRAFT}) { totalCount } } }`,
				map[string]any{"m": w.alpha.ID}, map[string]any{"m": w.twin.ID}, ""},
			{"category products", `query($c: String!) { categoryBySlug(slug: $c) { products(first: 20) { totalCount edges { node { title } } } } }`,
				map[string]any{"c": "teaware"}, map[string]any{"c": "teaware-twin"}, alphaOwner},
			{"product reviews through their orders", `query($p: ID!, $w: ReviewWhereInput) { product(id: $p) { reviews(first: 5, where: $w) { totalCount } } }`,
				map[string]any{"p": id(w.draftProduct), "w": map[string]any{"hasOrderItemWith": []any{map[string]any{"hasOrderWith": []any{map[string]any{"contactPhoneContains": "139"}}}}}},
				map[string]any{"p": id(w.draftProduct), "w": map[string]any{"hasOrderItemWith": []any{map[string]any{"hasOrderWith": []any{map[string]any{"contactPhoneContains": "000"}}}}}}, ""},

			// Lookups by id or slug.
			{"product by id", `query($id: ID!) { product(id: $id) { title } }`, map[string]any{"id": id(w.draftProduct)},
				map[string]any{"id": id(w.missing)}, alphaOwner},
			{"nodes by id", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{id(w.draftProduct), id(w.draftVariant), w.carolOrder, w.pending.ID}},
				map[string]any{"ids": []string{id(w.missing), id(w.missing + 1), id(w.missing + 2), id(w.missing + 3)}}, w.admin.AccessToken},
			{"merchant by slug", `query($s: String!) { merchantBySlug(slug: $s) { name } }`, map[string]any{"s": "pending-nova"},
				map[string]any{"s": "quokka"}, w.pending.Owner.AccessToken},

			// A customer's orders.
			{"my orders by number", `query($w: OrderListFilter) { myOrders(first: 10, where: $w) { totalCount } }`,
				map[string]any{"w": map[string]any{"number": w.carolNumber}}, map[string]any{"w": map[string]any{"number": "2601010000000000"}}, w.carol.AccessToken},
			{"my orders by merchant", `query($w: OrderListFilter) { myOrders(first: 10, where: $w) { totalCount } }`,
				map[string]any{"w": map[string]any{"merchantID": w.alpha.ID}}, map[string]any{"w": map[string]any{"merchantID": w.twin.ID}}, w.carol.AccessToken},
			{"order by number", `query($n: String!) { orderByNumber(number: $n) { id } }`,
				map[string]any{"n": w.carolNumber}, map[string]any{"n": "2601010000000000"}, w.carol.AccessToken},
			{"order by id", `query($id: ID!) { order(id: $id) { id } }`,
				map[string]any{"id": w.carolOrder}, map[string]any{"id": id(w.missing)}, w.carol.AccessToken},

			// A merchant's back office.
			{"merchant orders by number", `query($w: OrderListFilter) { merchantOrders(first: 10, where: $w) { totalCount } }`,
				map[string]any{"w": map[string]any{"number": w.carolNumber}}, map[string]any{"w": map[string]any{"number": "2601010000000000"}}, alphaOwner},
			{"merchant orders of a merchant", `query($m: ID) { merchantOrders(merchantID: $m, first: 10) { totalCount } }`,
				map[string]any{"m": w.alpha.ID}, map[string]any{"m": id(w.missing)}, alphaOwner},
			{"merchant order counts", `query($m: ID) { merchantOrderCounts(merchantID: $m) { status count } }`,
				map[string]any{"m": w.alpha.ID}, map[string]any{"m": id(w.missing)}, alphaOwner},
			{"order events of a merchant", `query($m: ID) { orderEventsSince(merchantID: $m) { type } }`,
				map[string]any{"m": w.alpha.ID}, map[string]any{"m": id(w.missing)}, alphaOwner},
			{"low stock of a merchant", `query($m: ID) { lowStockVariants(merchantID: $m, first: 10) { totalCount } }`,
				map[string]any{"m": w.alpha.ID}, map[string]any{"m": id(w.missing)}, alphaOwner},
			{"stock ledger of a draft", `query($v: ID!) { stockMovements(variantID: $v, first: 10) { totalCount } }`,
				map[string]any{"v": id(w.draftVariant)}, map[string]any{"v": id(w.missing)}, alphaOwner},
			{"API clients of a merchant", `query($m: ID!) { apiClients(merchantID: $m) { name } }`,
				map[string]any{"m": w.alpha.ID}, map[string]any{"m": id(w.missing)}, alphaOwner},
			{"webhooks of a merchant", `query($m: ID!) { webhooks(merchantID: $m) { url } }`,
				map[string]any{"m": w.alpha.ID}, map[string]any{"m": id(w.missing)}, ""},

			// Admin lists.
			{"users", `query($w: UserWhereInput) { users(first: 10, where: $w) { totalCount } }`,
				map[string]any{"w": map[string]any{"emailContains": "carol"}}, map[string]any{"w": map[string]any{"emailContains": "quokka"}}, w.admin.AccessToken},
			{"admin orders", `query($w: OrderListFilter) { adminOrders(first: 10, where: $w) { totalCount } }`,
				map[string]any{"w": map[string]any{"number": w.carolNumber}}, map[string]any{"w": map[string]any{"number": "2601010000000000"}}, w.admin.AccessToken},
			{"audit logs", `query($w: AuditLogWhereInput) { auditLogs(first: 10, where: $w) { totalCount } }`,
				map[string]any{"w": map[string]any{"targetType": "api_client"}}, map[string]any{"w": map[string]any{"targetType": "quokka"}}, ""},
		}
		viewers := []struct{ name, token string }{
			{"anonymous", ""},
			{"a customer", w.bob.AccessToken},
			{"another merchant", w.bravo.Owner.AccessToken},
		}
		for _, p := range probes {
			t.Run(p.name, func(t *testing.T) {
				for _, v := range viewers {
					hit, miss := s.Query(v.token, p.query, p.hit), s.Query(v.token, p.query, p.miss)
					if a, b := answer(hit), answer(miss); a != b {
						t.Errorf("%s learns something:\n hit:  %s\n miss: %s", v.name, a, b)
					}
					for _, secret := range []string{"Zephyr", "quasar", "Nebula", "Nova gadget", "Orion", "pending-nova", w.carolNumber} {
						if hit.Contains(secret) {
							t.Errorf("%s reads %q: %s", v.name, secret, hit.Raw)
						}
					}
				}
				if p.control != "" {
					hit, miss := s.Query(p.control, p.query, p.hit), s.Query(p.control, p.query, p.miss)
					if answer(hit) == answer(miss) {
						t.Errorf("the probe aims at nothing: whoever may see it gets %s both times", answer(hit))
					}
				}
			})
		}
	})
}

// categoryID is the id of the category with slug.
func categoryID(t *testing.T, s *apitest.Server, slug string) string {
	t.Helper()
	var out struct{ CategoryBySlug struct{ ID string } }
	s.MustQuery("", `query($s: String!) { categoryBySlug(slug: $s) { id } }`, map[string]any{"s": slug}).Decode(t, &out)
	return out.CategoryBySlug.ID
}
