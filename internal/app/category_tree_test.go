package app_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// Category.products lists the products of the category and of every category below it,
// with the same privacy, filters, order and pages as a category's own products;
// includeSubcategories: false keeps the category's own. A top-level category page is no
// longer empty.
func TestCategoryProductsIncludeSubcategories(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		client, ctx := s.Client()
		cat := func(slug string, parent *int) int {
			return client.Category.Create().SetName(slug).SetSlug(slug).SetNillableParentID(parent).SaveX(ctx).ID
		}
		tea := cat("tree-tea", nil)
		green := cat("tree-green", &tea)
		longjing := cat("tree-longjing", &green)
		other := cat("tree-other", nil)
		shop := s.NewMerchant(t, "tree-shop", merchant.StatusACTIVE)
		add := func(title string, category int, status product.Status) string {
			pid, _ := s.NewProduct(t, shop, title, product.KindPHYSICAL, "SKU-"+title, 1000, 5)
			client.Product.UpdateOneID(pid).SetCategoryID(category).SetStatus(status).ExecX(ctx)
			return strconv.Itoa(pid)
		}
		teaOwn := add("a-tea", tea, product.StatusACTIVE)
		greenOne := add("b-green", green, product.StatusACTIVE)
		lj := add("c-longjing", longjing, product.StatusACTIVE)
		draft := add("d-draft", longjing, product.StatusDRAFT)
		add("e-other", other, product.StatusACTIVE)

		id := strconv.Itoa
		// Every category of the tree in one operation: the pages are batched.
		q := `query($ids: [ID!]!, $inc: Boolean, $after: Cursor, $first: Int) { nodes(ids: $ids) { ... on Category { id
			products(first: $first, after: $after, includeSubcategories: $inc, orderBy: {field: TITLE, direction: ASC}) {
				totalCount pageInfo { hasNextPage endCursor } nodes { id } } } } }`
		type cats struct {
			Nodes []struct {
				ID       string
				Products pageOf
			}
		}
		read := func(token string, inc *bool, first int, after *string) map[string]pageOf {
			var d cats
			s.MustQuery(token, q, map[string]any{"ids": []string{id(tea), id(green), id(longjing), id(other)},
				"inc": inc, "first": first, "after": after}).Decode(t, &d)
			out := map[string]pageOf{}
			for _, c := range d.Nodes {
				out[c.ID] = c.Products
			}
			return out
		}
		no := false
		all := read("", nil, 10, nil)
		for _, tc := range []struct {
			category int
			want     []string
		}{
			{tea, []string{teaOwn, greenOne, lj}},
			{green, []string{greenOne, lj}},
			{longjing, []string{lj}},
		} {
			p := all[id(tc.category)]
			if !slices.Equal(p.nodeIDs(), tc.want) || p.TotalCount != len(tc.want) {
				t.Errorf("category %d: %v (total %d), want %v", tc.category, p.nodeIDs(), p.TotalCount, tc.want)
			}
		}
		own := read("", &no, 10, nil)
		if got := own[id(tea)].nodeIDs(); !slices.Equal(got, []string{teaOwn}) || own[id(tea)].TotalCount != 1 {
			t.Errorf("tea's own products: %v", got)
		}
		// Pages through the tree, in order.
		first := read("", nil, 2, nil)[id(tea)]
		if !slices.Equal(first.nodeIDs(), []string{teaOwn, greenOne}) || !first.PageInfo.HasNextPage {
			t.Fatalf("first page %+v", first)
		}
		second := read("", nil, 2, first.PageInfo.EndCursor)[id(tea)]
		if !slices.Equal(second.nodeIDs(), []string{lj}) || second.PageInfo.HasNextPage {
			t.Fatalf("second page %+v", second)
		}
		// The shop's staff also see its draft, below the top-level category too.
		staff := read(shop.Owner.AccessToken, nil, 10, nil)
		if got := staff[id(tea)].nodeIDs(); !slices.Contains(got, draft) || len(got) != 4 || staff[id(tea)].TotalCount != 4 {
			t.Errorf("staff's tea products: %v", got)
		}
		// where filters the tree's products.
		var d struct {
			Node struct{ Products pageOf }
		}
		s.MustQuery("", `query($id: ID!) { node(id: $id) { ... on Category { products(first: 5, where: {titleHasPrefix: "c-"}) { totalCount nodes { id } } } } }`,
			map[string]any{"id": id(tea)}).Decode(t, &d)
		if got := d.Node.Products.nodeIDs(); !slices.Equal(got, []string{lj}) || d.Node.Products.TotalCount != 1 {
			t.Errorf("filtered tree: %v", got)
		}
	})
}
