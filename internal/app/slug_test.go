package app_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/catalog"
)

// TestProductSlugs checks product slugs through the API on SQLite and MySQL: made from
// the title (pinyin for Chinese) with a suffix when taken, chosen and edited by the
// merchant with clear errors, and productBySlug seeing exactly what product(id:) sees.
func TestProductSlugs(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		m := s.NewMerchant(t, "slug-shop", merchant.StatusACTIVE)
		other := s.NewMerchant(t, "slug-other", merchant.StatusACTIVE)
		owner := m.Owner.AccessToken
		skus := 0
		create := func(token string, input map[string]any) *apitest.Response {
			skus++
			input["variants"] = []map[string]any{{"sku": "SKU-" + strconv.Itoa(skus), "price": "10.00"}}
			return s.Query(token, `mutation($in: CreateProductInput!) { createProduct(input: $in) { id slug status } }`, map[string]any{"in": input})
		}
		var made struct {
			CreateProduct struct{ ID, Slug, Status string }
		}
		slugOf := func(r *apitest.Response) (string, string) {
			t.Helper()
			if len(r.Errors) > 0 {
				t.Fatalf("createProduct: %s", r.Raw)
			}
			r.Decode(t, &made)
			return made.CreateProduct.ID, made.CreateProduct.Slug
		}

		id1, s1 := slugOf(create(owner, map[string]any{"title": "西湖龙井 2024"}))
		_, s2 := slugOf(create(owner, map[string]any{"title": "西湖龙井 2024 "}))
		_, s3 := slugOf(create(other.Owner.AccessToken, map[string]any{"title": "西湖龙井·2024"}))
		if s1 != "xi-hu-long-jing-2024" || s2 != "xi-hu-long-jing-2024-2" || s3 != "xi-hu-long-jing-2024-3" {
			t.Fatalf("generated slugs %q %q %q", s1, s2, s3)
		}
		id4, s4 := slugOf(create(owner, map[string]any{"title": "Green tea", "slug": "spring-green-tea"}))
		if s4 != "spring-green-tea" {
			t.Fatalf("chosen slug %q", s4)
		}

		// Bad and taken slugs, on create and on edit.
		if r := create(owner, map[string]any{"title": "Bad", "slug": "Green Tea"}); r.Code() != "BAD_USER_INPUT" || r.Field() != "slug" {
			t.Errorf("bad slug: %s", r.Raw)
		}
		// Taken by another merchant's hidden (draft) product: still taken.
		if r := create(owner, map[string]any{"title": "Dup", "slug": s3}); r.Code() != "CONFLICT" || r.Field() != "slug" || r.Errors[0].Extensions["reason"] != catalog.ReasonSlugTaken {
			t.Errorf("taken slug: %s", r.Raw)
		}
		update := func(id, slug string) *apitest.Response {
			return s.Query(owner, `mutation($id: ID!, $slug: String) { updateProduct(id: $id, input: {slug: $slug}) { slug } }`, map[string]any{"id": id, "slug": slug})
		}
		if r := update(id4, s1); r.Code() != "CONFLICT" || r.Errors[0].Extensions["reason"] != catalog.ReasonSlugTaken {
			t.Errorf("edit to a taken slug: %s", r.Raw)
		}
		for _, bad := range []string{"", "-x", "a--b", "绿茶", strings.Repeat("a", 81)} {
			if r := update(id4, bad); r.Code() != "BAD_USER_INPUT" || r.Field() != "slug" {
				t.Errorf("edit to %q: %s", bad, r.Raw)
			}
		}
		if r := update(id4, s4); len(r.Errors) > 0 { // its own slug again: no conflict with itself
			t.Errorf("unchanged slug: %s", r.Raw)
		}
		if r := s.MustQuery(owner, `mutation($id: ID!) { updateProduct(id: $id, input: {slug: "longjing-spring"}) { slug } }`, map[string]any{"id": id1}); !r.Contains(`"longjing-spring"`) {
			t.Errorf("edited slug: %s", r.Raw)
		}

		// productBySlug: a draft is the merchant's own; the public sees null until it is
		// published, exactly as with product(id:).
		const bySlug = `query($slug: String!) { productBySlug(slug: $slug) { id slug title } }`
		vars := map[string]any{"slug": "longjing-spring"}
		if r := s.MustQuery("", bySlug, vars); !r.Contains(`"productBySlug":null`) {
			t.Errorf("anonymous, draft: %s", r.Raw)
		}
		if r := s.MustQuery(other.Owner.AccessToken, bySlug, vars); !r.Contains(`"productBySlug":null`) {
			t.Errorf("another merchant, draft: %s", r.Raw)
		}
		if r := s.MustQuery(owner, bySlug, vars); !r.Contains(`"id":"` + id1 + `"`) {
			t.Errorf("owner, draft: %s", r.Raw)
		}
		s.MustQuery(owner, `mutation($id: ID!) { publishProduct(id: $id) { status } }`, map[string]any{"id": id1})
		if r := s.MustQuery("", bySlug, vars); !r.Contains(`"id":"`+id1+`"`) || !r.Contains("西湖龙井") {
			t.Errorf("anonymous, published: %s", r.Raw)
		}
		if r := s.MustQuery("", bySlug, map[string]any{"slug": s1}); !r.Contains(`"productBySlug":null`) {
			t.Errorf("the old slug: %s", r.Raw)
		}
		// Products made outside the API (bulk imports, the seed) get slugs too.
		pid, _ := s.NewProduct(t, m, "Oolong 乌龙", "PHYSICAL", "OO-1", 1000, 1)
		client, ctx := s.Client()
		if p := client.Product.GetX(ctx, pid); p.Slug != "oolong-wu-long" {
			t.Errorf("fixture product slug %q", p.Slug)
		}
		// One bulk of same-titled products: each gets its own.
		bulk := client.Product.CreateBulk(
			client.Product.Create().SetMerchantID(m.IntID).SetTitle("Oolong 乌龙"),
			client.Product.Create().SetMerchantID(m.IntID).SetTitle("Oolong 乌龙"),
			client.Product.Create().SetMerchantID(m.IntID).SetTitle("Oolong 乌龙").SetSlug("oolong-wu-long-4"),
			client.Product.Create().SetMerchantID(m.IntID).SetTitle("Oolong 乌龙"),
		).SaveX(ctx)
		var got []string
		for _, p := range bulk {
			got = append(got, p.Slug)
		}
		if strings.Join(got, " ") != "oolong-wu-long-2 oolong-wu-long-3 oolong-wu-long-4 oolong-wu-long-5" {
			t.Errorf("bulk slugs %v", got)
		}
	})
}
