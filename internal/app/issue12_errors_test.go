package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// issue12World is what the error-path tests of the storefront-at-scale operations (issue
// 12: translations, synonyms, exchange rates, @inContext, search) act on.
type issue12World struct {
	admin, customer         apitest.Session
	shop, rival             apitest.Merchant
	productID, rivalDraft   int
	rivalProduct, synonymID int
}

func newIssue12World(t testing.TB, s *apitest.Server) issue12World {
	t.Helper()
	client, ctx := s.Client()
	w := issue12World{
		admin:    s.NewAdmin(t, "i12-admin@example.com"),
		customer: s.Register("i12-customer@example.com", "Customer"),
		shop:     s.NewMerchant(t, "i12-shop", merchant.StatusACTIVE),
		rival:    s.NewMerchant(t, "i12-rival", merchant.StatusACTIVE),
	}
	w.productID, _ = s.NewProduct(t, w.shop, "西湖龙井", product.KindPHYSICAL, "I12-1", 12800, 10)
	w.rivalProduct, _ = s.NewProduct(t, w.rival, "碧螺春", product.KindPHYSICAL, "I12-2", 9800, 10)
	w.rivalDraft, _ = s.NewProduct(t, w.rival, "草稿", product.KindPHYSICAL, "I12-3", 100, 1)
	client.Product.UpdateOneID(w.rivalDraft).SetStatus(product.StatusDRAFT).ExecX(ctx)
	var syn struct{ CreateSearchSynonym struct{ ID string } }
	s.MustQuery(w.admin.AccessToken, `mutation { createSearchSynonym(terms: ["T恤", "tshirt"]) { id } }`, nil).Decode(t, &syn)
	fmt.Sscan(syn.CreateSearchSynonym.ID, &w.synonymID)
	return w
}

// errorCase is one refused call: who sends what, and the extensions.code and
// extensions.field (when not empty) the answer must carry.
type errorCase struct {
	name, token, query string
	vars               map[string]any
	code, field        string
}

func runErrorCases(t *testing.T, s *apitest.Server, cases []errorCase) {
	t.Helper()
	for _, tc := range cases {
		r := s.Query(tc.token, tc.query, tc.vars)
		if r.Code() != tc.code || (tc.field != "" && r.Field() != tc.field) {
			t.Errorf("%s: want %s on %q, got %s", tc.name, tc.code, tc.field, r.Raw)
		}
	}
}

const (
	setTranslationsOp = `mutation($id: ID!, $l: String!, $t: [TranslationInput!]!) {
  setTranslations(id: $id, locale: $l, translations: $t) { locale field value } }`
	deleteTranslationsOp = `mutation($id: ID!, $l: String!, $f: [String!]) { deleteTranslations(id: $id, locale: $l, fields: $f) }`
	deleteSynonymOp      = `mutation($id: ID!) { deleteSearchSynonym(id: $id) }`
	setRateOp            = `mutation($b: String!, $q: String!, $r: String!) { setExchangeRate(input: {base: $b, quote: $q, rate: $r}) { id } }`
	productSearchOp      = `query($q: String!, $f: ProductFilter, $s: ProductSearchSort, $n: Int, $a: Cursor) {
  productSearch(query: $q, filter: $f, sort: $s, first: $n, after: $a) { totalCount nodes { id } facets { inStock priceBands { min count } } } }`
	suggestOp = `query($p: String!, $n: Int) { searchSuggestions(prefix: $p, first: $n) { text kind } }`
)

func tr(kv ...string) []map[string]any {
	out := []map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, map[string]any{"field": kv[i], "value": kv[i+1]})
	}
	return out
}

func manyTerms(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "term" + letters(i)
	}
	return out
}

// TestIssue12ErrorPaths: every refusal of the translation, synonym, exchange-rate, context
// and search operations carries its code and names the input at fault; a record the
// caller may not see is NOT_FOUND, never FORBIDDEN, so a refusal tells nothing of it.
func TestIssue12ErrorPaths(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newIssue12World(t, s)
		owner, admin, customer := w.shop.Owner.AccessToken, w.admin.AccessToken, w.customer.AccessToken
		missing := w.productID + 1<<20
		fields121 := make([]string, 121)
		for i := range fields121 {
			fields121[i] = "title"
		}
		var many []string
		for i := range 121 {
			many = append(many, fmt.Sprintf("attributes.%d.name", i%100), "x")
		}

		t.Run("setTranslations", func(t *testing.T) {
			set := func(id int, locale string, in []map[string]any) map[string]any {
				return map[string]any{"id": id, "l": locale, "t": in}
			}
			runErrorCases(t, s, []errorCase{
				{"anonymous", "", setTranslationsOp, set(w.productID, "en", tr("title", "x")), "UNAUTHENTICATED", ""},
				{"an unserved locale", owner, setTranslationsOp, set(w.productID, "fr", tr("title", "x")), "BAD_USER_INPUT", "locale"},
				{"no locale", owner, setTranslationsOp, set(w.productID, "", tr("title", "x")), "BAD_USER_INPUT", "locale"},
				{"a locale that is no tag", owner, setTranslationsOp, set(w.productID, "en_GB!!", tr("title", "x")), "BAD_USER_INPUT", "locale"},
				{"an over-long locale", owner, setTranslationsOp, set(w.productID, strings.Repeat("en-", 200), tr("title", "x")), "BAD_USER_INPUT", "locale"},
				{"the default locale", owner, setTranslationsOp, set(w.productID, "zh-CN", tr("title", "x")), "BAD_USER_INPUT", "locale"},
				{"no translations", owner, setTranslationsOp, set(w.productID, "en", tr()), "BAD_USER_INPUT", "translations"},
				{"too many translations", owner, setTranslationsOp, set(w.productID, "en", tr(many...)), "BAD_USER_INPUT", "translations"},
				{"an unknown field", owner, setTranslationsOp, set(w.productID, "en", tr("title", "ok", "price", "1")), "BAD_USER_INPUT", "translations[1].field"},
				{"a category's field on a product", owner, setTranslationsOp, set(w.productID, "en", tr("name", "x")), "BAD_USER_INPUT", "translations[0].field"},
				{"an attribute the product lacks", owner, setTranslationsOp, set(w.productID, "en", tr("attributes.0.name", "x")), "BAD_USER_INPUT", "translations[0].field"},
				{"a title too long", owner, setTranslationsOp, set(w.productID, "en", tr("title", strings.Repeat("长", 201))), "BAD_USER_INPUT", "translations[0].value"},
				{"an empty value", owner, setTranslationsOp, set(w.productID, "en", tr("title", " ")), "BAD_USER_INPUT", "translations[0].value"},
				{"a control character", owner, setTranslationsOp, set(w.productID, "en", tr("title", "a\x00b")), "BAD_USER_INPUT", "translations[0].value"},
				{"no such record", owner, setTranslationsOp, set(missing, "en", tr("title", "x")), "NOT_FOUND", ""},
				{"a rival's hidden product", owner, setTranslationsOp, set(w.rivalDraft, "en", tr("title", "x")), "NOT_FOUND", ""},
				{"a customer: a hidden product", customer, setTranslationsOp, set(w.rivalDraft, "en", tr("title", "x")), "NOT_FOUND", ""},
				{"a customer's own account", customer, setTranslationsOp, set(userID(t, s, customer), "en", tr("title", "x")), "BAD_USER_INPUT", "id"},
				{"another person's account", owner, setTranslationsOp, set(userID(t, s, customer), "en", tr("title", "x")), "NOT_FOUND", ""},
				{"a rival's visible product", owner, setTranslationsOp, set(w.rivalProduct, "en", tr("title", "x")), "FORBIDDEN", ""},
				{"a synonym group (admin only)", owner, setTranslationsOp, set(w.synonymID, "en", tr("title", "x")), "NOT_FOUND", ""},
				{"an ID that is no number", owner, setTranslationsOp, map[string]any{"id": "p-1", "l": "en", "t": tr("title", "x")}, "BAD_USER_INPUT", ""},
			})
		})

		t.Run("deleteTranslations", func(t *testing.T) {
			del := func(id int, locale string, fields []string) map[string]any {
				return map[string]any{"id": id, "l": locale, "f": fields}
			}
			runErrorCases(t, s, []errorCase{
				{"anonymous", "", deleteTranslationsOp, del(w.productID, "en", nil), "UNAUTHENTICATED", ""},
				{"an unserved locale", owner, deleteTranslationsOp, del(w.productID, "fr", nil), "BAD_USER_INPUT", "locale"},
				{"an unknown field", owner, deleteTranslationsOp, del(w.productID, "en", []string{"title", "price"}), "BAD_USER_INPUT", "fields[1]"},
				{"too many fields", owner, deleteTranslationsOp, del(w.productID, "en", fields121), "BAD_USER_INPUT", "fields"},
				{"no such record", owner, deleteTranslationsOp, del(missing, "en", nil), "NOT_FOUND", ""},
				{"a rival's hidden product", owner, deleteTranslationsOp, del(w.rivalDraft, "en", nil), "NOT_FOUND", ""},
				{"a rival's visible product", owner, deleteTranslationsOp, del(w.rivalProduct, "en", nil), "FORBIDDEN", ""},
			})
		})

		t.Run("synonyms", func(t *testing.T) {
			terms := func(ts ...string) map[string]any { return map[string]any{"t": append([]string{}, ts...)} }
			runErrorCases(t, s, []errorCase{
				{"anonymous", "", createSynonym, terms("a1", "b1"), "UNAUTHENTICATED", ""},
				{"a customer", customer, createSynonym, terms("a1", "b1"), "FORBIDDEN", ""},
				{"a merchant owner", owner, createSynonym, terms("a1", "b1"), "FORBIDDEN", ""},
				{"a merchant owner updates", owner, updateSynonym, map[string]any{"id": w.synonymID, "t": []string{"a1", "b1"}}, "FORBIDDEN", ""},
				{"a merchant owner deletes", owner, deleteSynonymOp, map[string]any{"id": w.synonymID}, "FORBIDDEN", ""},
				{"an empty group", admin, createSynonym, terms(), "BAD_USER_INPUT", "terms"},
				{"one term", admin, createSynonym, terms("只有一个"), "BAD_USER_INPUT", "terms"},
				{"one term twice", admin, createSynonym, terms("hoodie", " Hoodie ", "HOODIE"), "BAD_USER_INPUT", "terms"},
				{"one term spelled two ways", admin, createSynonym, terms("T-Shirts", "t shirt"), "BAD_USER_INPUT", "terms"},
				{"too many terms", admin, createSynonym, terms(manyTerms(21)...), "BAD_USER_INPUT", "terms"},
				{"a great many terms", admin, createSynonym, terms(manyTerms(5000)...), "BAD_USER_INPUT", "terms"},
				{"a term too long", admin, createSynonym, terms("ok", strings.Repeat("x", 65)), "BAD_USER_INPUT", "terms"},
				{"a term with nothing to search for", admin, createSynonym, terms("ok", "!!!"), "BAD_USER_INPUT", "terms"},
				{"an empty term", admin, createSynonym, terms("ok", ""), "BAD_USER_INPUT", "terms"},
				{"a term of another group", admin, createSynonym, terms("Tshirts", "shirt top"), "CONFLICT", "terms"},
				{"update: no such group", admin, updateSynonym, map[string]any{"id": missing, "t": []string{"a1", "b1"}}, "NOT_FOUND", ""},
				{"update: a product's id", admin, updateSynonym, map[string]any{"id": w.productID, "t": []string{"a1", "b1"}}, "NOT_FOUND", ""},
				{"update: one term", admin, updateSynonym, map[string]any{"id": w.synonymID, "t": []string{"T恤"}}, "BAD_USER_INPUT", "terms"},
				{"delete: no such group", admin, deleteSynonymOp, map[string]any{"id": missing}, "NOT_FOUND", ""},
			})
			// A group written before its terms had rows of their own (search_synonym_terms)
			// still holds them.
			client, ctx := s.Client()
			client.SearchSynonym.Create().SetTerms([]string{"旧词", "oldword"}).ExecX(ctx)
			runErrorCases(t, s, []errorCase{{"a term of a group older than the term index", admin, createSynonym, terms(" OLDWORD ", "newword"), "CONFLICT", "terms"}})
			// A group's own terms are no conflict with itself.
			s.MustQuery(admin, updateSynonym, map[string]any{"id": w.synonymID, "t": []string{"tshirt", "T恤", "tee"}})
		})

		t.Run("exchange rates", func(t *testing.T) {
			rate := func(b, q, r string) map[string]any { return map[string]any{"b": b, "q": q, "r": r} }
			runErrorCases(t, s, []errorCase{
				{"a merchant owner", owner, setRateOp, rate("CNY", "USD", "0.14"), "FORBIDDEN", ""},
				{"a negative rate", admin, setRateOp, rate("CNY", "USD", "-0.14"), "BAD_USER_INPUT", "rate"},
				{"a zero rate", admin, setRateOp, rate("CNY", "USD", "0"), "BAD_USER_INPUT", "rate"},
				{"an unknown base", admin, setRateOp, rate("XXY", "USD", "1"), "BAD_USER_INPUT", "base"},
				{"an unknown quote", admin, setRateOp, rate("CNY", "QQQ", "1"), "BAD_USER_INPUT", "quote"},
				{"one currency twice", admin, setRateOp, rate("USD", "usd", "1"), "BAD_USER_INPUT", "quote"},
				{"an over-long rate", admin, setRateOp, rate("CNY", "USD", strings.Repeat("9", 5000)), "BAD_USER_INPUT", "rate"},
			})
		})

		t.Run("inContext", func(t *testing.T) {
			q := func(directive string) string { return `query` + directive + ` { products(first: 1) { totalCount } }` }
			runErrorCases(t, s, []errorCase{
				{"an unserved language", "", q(`@inContext(language: "fr")`), nil, "BAD_USER_INPUT", "language"},
				{"a language that is no tag", "", q(`@inContext(language: "en GB!")`), nil, "BAD_USER_INPUT", "language"},
				{"an empty language", "", q(`@inContext(language: "")`), nil, "BAD_USER_INPUT", "language"},
				{"an over-long language", "", q(`@inContext(language: "` + strings.Repeat("a", 5000) + `")`), nil, "BAD_USER_INPUT", "language"},
				{"an unknown currency", "", q(`@inContext(currency: "ZZZ")`), nil, "BAD_USER_INPUT", "currency"},
				{"a currency that is no code", "", q(`@inContext(currency: "dollars")`), nil, "BAD_USER_INPUT", "currency"},
				{"an empty currency", "", q(`@inContext(currency: "")`), nil, "BAD_USER_INPUT", "currency"},
				{"both bad: language first", "", q(`@inContext(language: "fr", currency: "ZZZ")`), nil, "BAD_USER_INPUT", "language"},
				{"a currency on a mutation", owner, `mutation @inContext(currency: "USD") { deleteTranslations(id: ` +
					fmt.Sprint(w.productID) + `, locale: "en") }`, nil, "BAD_USER_INPUT", "currency"},
			})
		})

		t.Run("productSearch and searchSuggestions", func(t *testing.T) {
			search := func(q string, extra ...any) map[string]any {
				v := map[string]any{"q": q, "n": 5}
				for i := 0; i+1 < len(extra); i += 2 {
					v[extra[i].(string)] = extra[i+1]
				}
				return v
			}
			runErrorCases(t, s, []errorCase{
				{"an empty query", "", productSearchOp, search(""), "BAD_USER_INPUT", "query"},
				{"a blank query", "", productSearchOp, search(" \t "), "BAD_USER_INPUT", "query"},
				{"an over-long query", "", productSearchOp, search(strings.Repeat("茶", 101)), "BAD_USER_INPUT", "query"},
				{"an unknown sort", "", productSearchOp, search("茶", "s", "CHEAPEST"), "BAD_USER_INPUT", ""},
				{"a negative minimum price", "", productSearchOp, search("茶", "f", map[string]any{"minPrice": "-1.00"}), "BAD_USER_INPUT", "filter.minPrice"},
				{"a minimum price that is no amount", "", productSearchOp, search("茶", "f", map[string]any{"minPrice": "cheap"}), "BAD_USER_INPUT", "filter.minPrice"},
				{"a maximum price with fractions of fen", "", productSearchOp, search("茶", "f", map[string]any{"maxPrice": "1.001"}), "BAD_USER_INPUT", "filter.maxPrice"},
				{"a maximum price too large", "", productSearchOp, search("茶", "f", map[string]any{"maxPrice": strings.Repeat("9", 40)}), "BAD_USER_INPUT", "filter.maxPrice"},
				{"a keyword in the filter too", "", productSearchOp, search("茶", "f", map[string]any{"keyword": strings.Repeat("茶", 101)}), "", ""},
				{"first negative", "", productSearchOp, search("茶", "n", -1), "BAD_USER_INPUT", "first"},
				{"first too large", "", productSearchOp, search("茶", "n", 100000), "BAD_USER_INPUT", "first"},
				{"a cursor of nothing", "", productSearchOp, search("茶", "a", "bm90IGEgY3Vyc29y"), "BAD_USER_INPUT", "after"},
				{"no first nor last", "", `{ productSearch(query: "茶") { totalCount } }`, nil, "BAD_USER_INPUT", "first"},
				{"suggestions: first 0", "", suggestOp, map[string]any{"p": "茶", "n": 0}, "BAD_USER_INPUT", "first"},
				{"suggestions: first too large", "", suggestOp, map[string]any{"p": "茶", "n": 21}, "BAD_USER_INPUT", "first"},
				{"suggestions: prefix too long", "", suggestOp, map[string]any{"p": strings.Repeat("x", 51)}, "BAD_USER_INPUT", "prefix"},
			})
			// Hidden stays hidden: a status filter shows the public nothing more, and is no error.
			r := s.MustQuery("", `{ productSearch(query: "草稿", first: 5, filter: {status: DRAFT}) { totalCount nodes { id } } }`, nil)
			if string(r.Data) != `{"productSearch":{"totalCount":0,"nodes":[]}}` {
				t.Errorf("a draft searched for by the public: %s", r.Data)
			}
		})
	})
}

// userID is the id of the signed-in holder of token.
func userID(t *testing.T, s *apitest.Server, token string) int {
	t.Helper()
	var me struct{ Me struct{ ID string } }
	s.MustQuery(token, `{ me { id } }`, nil).Decode(t, &me)
	var id int
	fmt.Sscan(me.Me.ID, &id)
	return id
}
