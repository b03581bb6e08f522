package i18n_test

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/ent/translation"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/testdb"
)

// served are the locales of these tests: English with a British variant, and Traditional
// Chinese with a Hong Kong variant, besides the default.
func served(c *config.Config) { c.Locales = []string{"zh-CN", "en", "en-GB", "zh-Hant", "zh-HK"} }

const setMutation = `mutation($id: ID!, $l: String!, $t: [TranslationInput!]!) {
  setTranslations(id: $id, locale: $l, translations: $t) { locale field value } }`

func set(t *testing.T, s *apitest.Server, token string, id int, locale string, kv ...string) *apitest.Response {
	t.Helper()
	var in []map[string]any
	for i := 0; i+1 < len(kv); i += 2 {
		in = append(in, map[string]any{"field": kv[i], "value": kv[i+1]})
	}
	return s.Query(token, setMutation, map[string]any{"id": id, "l": locale, "t": in})
}

func mustSet(t *testing.T, s *apitest.Server, token string, id int, locale string, kv ...string) {
	t.Helper()
	if r := set(t, s, token, id, locale, kv...); len(r.Errors) > 0 {
		t.Fatalf("setTranslations %d %s: %s", id, locale, r.Raw)
	}
}

func wantCode(t *testing.T, what string, r *apitest.Response, code, field string) {
	t.Helper()
	if r.Code() != code || (field != "" && r.Field() != field) {
		t.Fatalf("%s: want %s (field %q), got %s", what, code, field, r.Raw)
	}
}

type shown struct {
	Product struct {
		Title, Description string
		Attributes         []struct{ Name, Value string }
		Merchant           struct{ Name, Description string }
		Category           struct{ Name string }
	}
	HelpCategories []struct{ Name string }
}

const productQuery = `query($id: ID!) { product(id: $id) { title description attributes { name value }
  merchant { name description } category { name } } helpCategories { name } }`

// read asks for the product with an Accept-Language header and, when directive is not
// empty, @inContext(language: directive); it returns what was shown and extensions.locale.
func read(t *testing.T, s *apitest.Server, id int, acceptLanguage, directive string) (shown, string) {
	t.Helper()
	q := productQuery
	if directive != "" {
		q = strings.Replace(q, "query($id: ID!)", fmt.Sprintf("query($id: ID!) @inContext(language: %q)", directive), 1)
	}
	h := map[string]string{}
	if acceptLanguage != "" {
		h["Accept-Language"] = acceptLanguage
	}
	r := s.Do(apitest.Request{Query: q, Variables: map[string]any{"id": id}, Header: h})
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s", q, r.Raw)
	}
	var out shown
	r.Decode(t, &out)
	loc, _ := r.Extensions["locale"].(string)
	return out, loc
}

// fixture is a product of a merchant in a category, with two attributes, and a help
// category, with translations in several locales.
type fixture struct {
	shop             apitest.Merchant
	admin            apitest.Session
	productID, catID int
}

func newFixture(t *testing.T, s *apitest.Server) fixture {
	t.Helper()
	client, ctx := s.Client()
	f := fixture{shop: s.NewMerchant(t, "tea-house", merchant.StatusACTIVE), admin: s.NewAdmin(t, "i18n-admin@example.com")}
	client.Merchant.UpdateOneID(f.shop.IntID).SetName("茶舍").SetDescription("杭州的茶").ExecX(ctx)
	cat := client.Category.Create().SetName("茶叶").SetNameEn("Tea").SetSlug("tea").SaveX(ctx)
	f.catID = cat.ID
	f.productID, _ = s.NewProduct(t, f.shop, "西湖龙井", product.KindPHYSICAL, "LJ-1", 12800, 10)
	client.Product.UpdateOneID(f.productID).SetCategoryID(cat.ID).SetDescription("明前龙井").
		SetAttributes([]schematype.Attribute{{Name: "产地", Value: "杭州"}, {Name: "净含量", Value: "250克"}}).ExecX(ctx)
	client.HelpCategory.Create().SetSlug("account").SetNameZh("账号").SetNameEn("Account").ExecX(ctx)

	owner := f.shop.Owner.AccessToken
	mustSet(t, s, owner, f.productID, "en", "title", "West Lake Longjing", "description", "Pre-Qingming Longjing",
		"attributes.0.name", "Origin", "attributes.0.value", "Hangzhou", "attributes.1.name", "Net weight")
	mustSet(t, s, owner, f.productID, "en-GB", "title", "West Lake Longjing (UK)")
	mustSet(t, s, owner, f.productID, "zh-Hant", "title", "西湖龍井", "attributes.0.name", "產地")
	mustSet(t, s, owner, f.shop.IntID, "en", "name", "Tea House")
	return f
}

// The text shown follows the fallback chain of the locale served (en-GB → en → zh-CN;
// zh-HK → zh-Hant → zh-CN), chosen from Accept-Language by q-value, or by @inContext over
// the header, and echoed in extensions.locale; a field with no translation anywhere in the
// chain shows the record's own text.
func TestFallbackAndLocaleSelection(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)

		for _, tc := range []struct {
			name, header, directive, locale  string
			title, description, attr0, attr1 string
			merchant, category, help         string
		}{
			{"no header: the default", "", "", "zh-CN", "西湖龙井", "明前龙井", "产地=杭州", "净含量=250克", "茶舍", "茶叶", "账号"},
			{"en", "en", "", "en", "West Lake Longjing", "Pre-Qingming Longjing", "Origin=Hangzhou", "Net weight=250克", "Tea House", "Tea", "Account"},
			{"en-GB falls back to en, then to the record", "en-GB", "", "en-GB", "West Lake Longjing (UK)", "Pre-Qingming Longjing", "Origin=Hangzhou", "Net weight=250克", "Tea House", "Tea", "Account"},
			{"en-US is served as en", "en-US,en;q=0.9", "", "en", "West Lake Longjing", "Pre-Qingming Longjing", "Origin=Hangzhou", "Net weight=250克", "Tea House", "Tea", "Account"},
			{"zh-HK falls back to zh-Hant, then to zh-CN", "zh-HK", "", "zh-HK", "西湖龍井", "明前龙井", "產地=杭州", "净含量=250克", "茶舍", "茶叶", "账号"},
			{"q-values: the highest served wins", "fr;q=1, en;q=0.3, zh-HK;q=0.8", "", "zh-HK", "西湖龍井", "明前龙井", "產地=杭州", "净含量=250克", "茶舍", "茶叶", "账号"},
			{"q=0 refuses a locale", "en;q=0, ja", "", "zh-CN", "西湖龙井", "明前龙井", "产地=杭州", "净含量=250克", "茶舍", "茶叶", "账号"},
			{"an unserved language: the default", "fr-FR, de;q=0.5", "", "zh-CN", "西湖龙井", "明前龙井", "产地=杭州", "净含量=250克", "茶舍", "茶叶", "账号"},
			{"a malformed header: the default", ";;q=x,,", "", "zh-CN", "西湖龙井", "明前龙井", "产地=杭州", "净含量=250克", "茶舍", "茶叶", "账号"},
			{"the directive beats the header", "zh-HK", "en", "en", "West Lake Longjing", "Pre-Qingming Longjing", "Origin=Hangzhou", "Net weight=250克", "Tea House", "Tea", "Account"},
			{"the directive in Shopify's spelling", "en", "ZH_CN", "zh-CN", "西湖龙井", "明前龙井", "产地=杭州", "净含量=250克", "茶舍", "茶叶", "账号"},
			{"the directive with en-AU: en's chain", "", "en-GB", "en-GB", "West Lake Longjing (UK)", "Pre-Qingming Longjing", "Origin=Hangzhou", "Net weight=250克", "Tea House", "Tea", "Account"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, loc := read(t, s, f.productID, tc.header, tc.directive)
				p := got.Product
				attr := func(i int) string { return p.Attributes[i].Name + "=" + p.Attributes[i].Value }
				if loc != tc.locale || p.Title != tc.title || p.Description != tc.description || attr(0) != tc.attr0 || attr(1) != tc.attr1 ||
					p.Merchant.Name != tc.merchant || p.Category.Name != tc.category || got.HelpCategories[0].Name != tc.help {
					t.Fatalf("got locale %s, %+v", loc, got)
				}
			})
		}

		// An explicit locale that is not a tag, or that no served locale matches, is the
		// caller's mistake.
		for _, bad := range []string{"fr", "not a tag!", "xx-YY", strings.Repeat("a", 40)} {
			q := `query($id: ID!) @inContext(language: "` + bad + `") { product(id: $id) { title } }`
			wantCode(t, "@inContext "+bad, s.Query("", q, map[string]any{"id": f.productID}), "BAD_USER_INPUT", "language")
		}

		// Deleting the en-GB title falls back to en; deleting all en leaves the record's text.
		owner := f.shop.Owner.AccessToken
		del := `mutation($id: ID!, $l: String!, $f: [String!]) { deleteTranslations(id: $id, locale: $l, fields: $f) }`
		r := s.MustQuery(owner, del, map[string]any{"id": f.productID, "l": "en-GB", "f": []string{"title"}})
		if !strings.Contains(string(r.Data), `"deleteTranslations":1`) {
			t.Fatalf("delete en-GB title: %s", r.Raw)
		}
		if got, _ := read(t, s, f.productID, "en-GB", ""); got.Product.Title != "West Lake Longjing" {
			t.Fatalf("after deleting en-GB: %+v", got.Product)
		}
		r = s.MustQuery(owner, del, map[string]any{"id": f.productID, "l": "en"})
		if !strings.Contains(string(r.Data), `"deleteTranslations":5`) {
			t.Fatalf("delete all en: %s", r.Raw)
		}
		if got, _ := read(t, s, f.productID, "en-GB", ""); got.Product.Title != "西湖龙井" || got.Product.Attributes[0].Name != "产地" {
			t.Fatalf("after deleting en: %+v", got.Product)
		}

		wantCode(t, "translations in an unserved locale", s.Query("", `query($id: ID!) { product(id: $id) { translations(locale: "fr") { field } } }`,
			map[string]any{"id": f.productID}), "BAD_USER_INPUT", "locale")

		// Editors list every locale's translations; locales lists the served ones.
		r = s.MustQuery("", `query($id: ID!) { product(id: $id) { translations { locale field value } en: translations(locale: "zh-hant") { field } }
		  locales { code default fallback } }`, map[string]any{"id": f.productID})
		var listed struct {
			Product struct {
				Translations []struct{ Locale, Field, Value string }
				En           []struct{ Field string }
			}
			Locales []struct {
				Code     string
				Default  bool
				Fallback []string
			}
		}
		r.Decode(t, &listed)
		if len(listed.Product.Translations) != 2 || len(listed.Product.En) != 2 || listed.Product.Translations[0].Locale != "zh-Hant" {
			t.Fatalf("translations: %s", r.Raw)
		}
		if len(listed.Locales) != 5 || !listed.Locales[0].Default || strings.Join(listed.Locales[2].Fallback, ">") != "en>zh-CN" ||
			strings.Join(listed.Locales[4].Fallback, ">") != "zh-Hant>zh-CN" {
			t.Fatalf("locales: %s", r.Raw)
		}
	}, served)
}

// Merchants translate their own products (members) and profile (owner); admins translate
// everything, categories and the help centre included; everyone else is FORBIDDEN (or
// NOT_FOUND for what they cannot see). Inputs are checked field by field.
func TestTranslationPermissionsAndInput(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		client, ctx := s.Client()
		staff := s.AddStaff(t, f.shop, "staff@example.com")
		rival := s.NewMerchant(t, "rival", merchant.StatusACTIVE)
		customer := s.Register("customer@example.com", "Customer")
		draft, _ := s.NewProduct(t, rival, "草稿", product.KindPHYSICAL, "D-1", 100, 1)
		client.Product.UpdateOneID(draft).SetStatus(product.StatusDRAFT).ExecX(ctx)
		help := client.HelpCategory.Query().OnlyX(ctx)
		article := client.HelpArticle.Create().SetCategoryID(help.ID).SetSlug("refunds").SetLocale("zh_CN").
			SetTitle("如何退款").SetBody("在订单页申请").SetStatus("PUBLISHED").SaveX(ctx)

		for _, tc := range []struct {
			name, token string
			id          int
			code        string
		}{
			{"anonymous", "", f.productID, "UNAUTHENTICATED"},
			{"a customer: product", customer.AccessToken, f.productID, "FORBIDDEN"},
			{"a rival: product", rival.Owner.AccessToken, f.productID, "FORBIDDEN"},
			{"a rival: merchant", rival.Owner.AccessToken, f.shop.IntID, "FORBIDDEN"},
			{"staff: their merchant's profile", staff.AccessToken, f.shop.IntID, "FORBIDDEN"},
			{"owner: a category", f.shop.Owner.AccessToken, f.catID, "FORBIDDEN"},
			{"owner: a help category", f.shop.Owner.AccessToken, help.ID, "FORBIDDEN"},
			{"owner: a help article", f.shop.Owner.AccessToken, article.ID, "FORBIDDEN"},
			{"owner: a rival's hidden product", f.shop.Owner.AccessToken, draft, "NOT_FOUND"},
			{"owner: no such record", f.shop.Owner.AccessToken, f.productID + 1<<20, "NOT_FOUND"},
			{"staff: their merchant's product", staff.AccessToken, f.productID, ""},
			{"admin: a category", f.admin.AccessToken, f.catID, ""},
			{"admin: a rival's hidden product", f.admin.AccessToken, draft, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				field := "title"
				if tc.id == f.catID || tc.id == f.shop.IntID || tc.id == help.ID {
					field = "name"
				}
				r := set(t, s, tc.token, tc.id, "en", field, "x")
				if r.Code() != tc.code {
					t.Fatalf("want %q, got %s", tc.code, r.Raw)
				}
			})
		}
		mustSet(t, s, f.admin.AccessToken, help.ID, "en-GB", "name", "Your account")
		mustSet(t, s, f.admin.AccessToken, article.ID, "en", "title", "How to get a refund", "body", "Ask on the order page.")
		r := s.Do(apitest.Request{Query: `{ helpArticle(slug: "refunds", locale: zh_CN) { title body } helpCategories { name } }`,
			Header: map[string]string{"Accept-Language": "en-GB"}})
		if !strings.Contains(string(r.Data), "How to get a refund") || !strings.Contains(string(r.Data), "Your account") {
			t.Fatalf("help centre in en-GB: %s", r.Raw)
		}
		// The article's own text is zh-CN: a zh-CN translation is refused.
		wantCode(t, "the article's own locale", set(t, s, f.admin.AccessToken, article.ID, "zh-CN", "title", "x"), "BAD_USER_INPUT", "locale")

		owner := f.shop.Owner.AccessToken
		for _, tc := range []struct {
			name, locale string
			kv           []string
			field        string
		}{
			{"an unserved locale", "fr", []string{"title", "x"}, "locale"},
			{"not a tag", "en GB!", []string{"title", "x"}, "locale"},
			{"the default locale (the record's own)", "zh-CN", []string{"title", "x"}, "locale"},
			{"an unknown field", "en", []string{"title", "ok", "price", "1"}, "translations[1].field"},
			{"an attribute the product lacks", "en", []string{"attributes.2.name", "x"}, "translations[0].field"},
			{"a title over 200 characters", "en", []string{"title", strings.Repeat("长", 201)}, "translations[0].value"},
			{"a description over 20000 characters", "en", []string{"description", strings.Repeat("d", 20001)}, "translations[0].value"},
			{"an empty value", "en", []string{"title", "  "}, "translations[0].value"},
			{"a title on two lines", "en", []string{"title", "a\nb"}, "translations[0].value"},
			{"a field twice", "en", []string{"title", "a", "title", "b"}, "translations[1].field"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantCode(t, tc.name, set(t, s, owner, f.productID, tc.locale, tc.kv...), "BAD_USER_INPUT", tc.field)
			})
		}
		// Nothing of a refused call was written; a title of exactly 200 characters is.
		if got, _ := read(t, s, f.productID, "en", ""); got.Product.Title != "x" {
			t.Fatalf("after refused calls: %+v", got.Product) // staff's accepted "x" above
		}
		mustSet(t, s, owner, f.productID, "en", "title", strings.Repeat("长", 200))

		// Deleting a record deletes its translations.
		mustSet(t, s, f.admin.AccessToken, draft, "en", "title", "Draft")
		s.MustQuery(f.admin.AccessToken, `mutation($id: ID!) { deleteProduct(id: $id) }`, map[string]any{"id": draft})
		s.MustQuery(f.admin.AccessToken, `mutation($id: ID!) { deleteHelpArticle(id: $id) }`, map[string]any{"id": article.ID})
		if n := client.Translation.Query().Where(translation.EntityIDIn(draft, article.ID)).CountX(ctx); n != 0 {
			t.Fatalf("%d translations outlive their records", n)
		}
	}, served)
}

// countingDriver counts the statements sent through an Ent driver, but not those of the
// server's background work (apitest.BackgroundStatement).
type countingDriver struct {
	dialect.Driver
	n *atomic.Int64
}

func (d countingDriver) Query(ctx context.Context, query string, args, v any) error {
	if !apitest.BackgroundStatement(query) {
		d.n.Add(1)
	}
	return d.Driver.Query(ctx, query, args, v)
}

func (d countingDriver) Exec(ctx context.Context, query string, args, v any) error {
	if !apitest.BackgroundStatement(query) {
		d.n.Add(1)
	}
	return d.Driver.Exec(ctx, query, args, v)
}

func (d countingDriver) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	d.n.Add(1)
	return d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	}).ExecContext(ctx, query, args...)
}

// A translated list page sends as many statements for 3 products as for 30: translations
// are read in one statement per kind of record, and none at all in the default locale.
func TestTranslatedListStatementsConstantInPageSize(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			var n atomic.Int64
			s := apitest.NewWithDriver(t, d.URL(t), func(dr dialect.Driver) dialect.Driver { return countingDriver{Driver: dr, n: &n} },
				served)
			f := newFixture(t, s)
			client, ctx := s.Client()
			for i := range 30 {
				id, _ := s.NewProduct(t, f.shop, "商品"+strconv.Itoa(i), product.KindPHYSICAL, "SKU-"+strconv.Itoa(i), 100, 1)
				client.Product.UpdateOneID(id).SetCategoryID(f.catID).SetAttributes([]schematype.Attribute{{Name: "产地", Value: "杭州"}}).ExecX(ctx)
				mustSet(t, s, f.shop.Owner.AccessToken, id, "en", "title", "Product "+strconv.Itoa(i), "attributes.0.name", "Origin")
			}
			page := `query($n: Int) { products(first: $n) { edges { node { id title description attributes { name value }
			  merchant { name description } category { name } translations { locale } } } } }`
			statements := func(size int, lang string) int64 {
				before := n.Load()
				r := s.Do(apitest.Request{Query: page, Variables: map[string]any{"n": size}, Header: map[string]string{"Accept-Language": lang}})
				if len(r.Errors) > 0 {
					t.Fatal(string(r.Raw))
				}
				if size == 30 && lang == "en" && !strings.Contains(string(r.Data), `"title":"Product 29"`) {
					t.Fatalf("page not translated: %s", r.Data)
				}
				return n.Load() - before
			}
			for _, lang := range []string{"en", "en-GB", "zh-CN"} {
				small, large := statements(3, lang), statements(30, lang)
				if small != large {
					t.Fatalf("%s: %d statements for 3 products, %d for 30", lang, small, large)
				}
				t.Logf("%s: %d statements per page", lang, large)
			}
		})
	}
}

// A product is found by the words of its translations as well as its own: the keyword
// index is rewritten when they change (internal/catalog/hooks ReindexProducts).
func TestSearchFindsTranslations(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		found := func(keyword string) bool {
			t.Helper()
			var got struct {
				Products struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			s.MustQuery("", `query($k: String) { products(first: 5, where: {keyword: $k}) { edges { node { id } } } }`,
				map[string]any{"k": keyword}).Decode(t, &got)
			return len(got.Products.Edges) == 1
		}
		if !found("Pre-Qingming") || !found("Hangzhou") || !found("西湖龙井") {
			t.Fatal("the product is not found by its English translation (or its own title)")
		}
		owner := f.shop.Owner.AccessToken
		mustSet(t, s, owner, f.productID, "en", "description", "Spring harvest")
		if found("Pre-Qingming") || !found("spring harvest") {
			t.Fatal("a changed translation is not what the index holds")
		}
		if r := s.Query(owner, `mutation($id: ID!) { deleteTranslations(id: $id, locale: "en", fields: ["description"]) }`,
			map[string]any{"id": f.productID}); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		if found("harvest") {
			t.Fatal("a deleted translation is still found")
		}
	}, served)
}
