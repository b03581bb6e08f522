package app_test

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// Nested connections (Merchant.products, Category.products, Product.reviews) are loaded a
// batch of parents at a time, each parent's page with its own LIMIT (internal/loader).
// These tests check every page against the same page computed in Go from the rows: order,
// ties, cursors both ways, page info, totalCount, where filters and privacy.

// pagesWorld is three shops, a suspended one, two categories and some reviews.
type pagesWorld struct {
	s         *apitest.Server
	shops     []apitest.Merchant // ACTIVE
	suspended apitest.Merchant
	tea, cups int // category ids
	products  []*ent.Product
	reviews   []*ent.Review
}

func newPagesWorld(t *testing.T, s *apitest.Server) *pagesWorld {
	t.Helper()
	w := &pagesWorld{s: s}
	for _, slug := range []string{"shop-a", "shop-b", "shop-c"} {
		w.shops = append(w.shops, s.NewMerchant(t, slug, merchant.StatusACTIVE))
	}
	w.suspended = s.NewMerchant(t, "shop-x", merchant.StatusSUSPENDED)
	client, ctx := s.Client()
	w.tea = client.Category.Create().SetName("茶").SetSlug("tea").SaveX(ctx).ID
	w.cups = client.Category.Create().SetName("杯").SetSlug("cups").SaveX(ctx).ID
	author := s.Register("reviewer@example.com", "Reviewer")
	authorID, _ := strconv.Atoi(author.UserID)
	n := 0
	for mi, m := range append(slices.Clone(w.shops), w.suspended) {
		for i := range 7 + 2*mi { // different sizes, and prices that tie
			status := product.StatusACTIVE
			if i%4 == 3 {
				status = product.StatusDRAFT
			}
			cat := w.tea
			if i%3 == 0 {
				cat = w.cups
			}
			n++
			p := client.Product.Create().SetMerchantID(m.IntID).SetCategoryID(cat).SetStatus(status).
				SetTitle(fmt.Sprintf("%c product %02d", 'z'-rune(n%7), n)).SetMinPrice(int64(100 + 100*(i%3))).
				SetSalesCount(1 + (n*7)%5).SaveX(ctx) // no zero order values: entgql cursors omit them (see below)
			for r := range i % 4 {
				client.Review.Create().SetProductID(p.ID).SetMerchantID(m.IntID).SetAuthorID(authorID).SetRating(1 + (n+r)%5).SetBody("ok").SaveX(ctx)
			}
		}
	}
	// The rows as stored (hooks keep some product columns), to compute the pages from.
	w.products = client.Product.Query().AllX(ctx)
	w.reviews = client.Review.Query().AllX(ctx)
	return w
}

// productOrder is a product order as the API takes it, with its comparison in Go.
type productOrder struct {
	arg string // the orderBy argument, "" for the default
	cmp func(a, b *ent.Product) int
}

var productOrders = []productOrder{
	{"", func(a, b *ent.Product) int { return cmp.Compare(a.ID, b.ID) }},
	{"{field: PRICE, direction: DESC}", func(a, b *ent.Product) int {
		return -cmp.Or(cmp.Compare(a.MinPrice, b.MinPrice), cmp.Compare(a.ID, b.ID))
	}},
	{"{field: TITLE, direction: ASC}", func(a, b *ent.Product) int {
		return cmp.Or(cmp.Compare(a.Title, b.Title), cmp.Compare(a.ID, b.ID))
	}},
	{"{field: SALES_COUNT, direction: DESC}", func(a, b *ent.Product) int {
		return -cmp.Or(cmp.Compare(a.SalesCount, b.SalesCount), cmp.Compare(a.ID, b.ID))
	}},
}

// connection is a connection as the tests read it.
type connection struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
	Edges []struct {
		Cursor string
		Node   struct {
			ID       string
			Merchant *struct{ ID string }
			Rating   int
		}
	}
}

func (c connection) ids() []string {
	out := []string{}
	for _, e := range c.Edges {
		out = append(out, e.Node.ID)
	}
	return out
}

const pageFields = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id `

var (
	productPageOf = pageFields + `merchant { id } } }`
	reviewPageOf  = pageFields + `rating } }`
)

// expectPage is the page Paginate would return from all (the parent's rows in order).
func expectPage(all []string, after, before int, first, last int) (ids []string, hasNext, hasPrev bool) {
	from, to := 0, len(all)
	if after >= 0 {
		from = after + 1
	}
	if before >= 0 {
		to = before
	}
	rows := all[from:to]
	if first > 0 {
		return rows[:min(first, len(rows))], len(rows) > first || before >= 0, after >= 0
	}
	return rows[max(0, len(rows)-last):], before >= 0, len(rows) > last || after >= 0
}

func idsOf[T any](rows []T, id func(T) int) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, strconv.Itoa(id(r)))
	}
	return out
}

func checkPage(t *testing.T, what string, got connection, all []string, after, before, first, last int) {
	t.Helper()
	want, hasNext, hasPrev := expectPage(all, after, before, first, last)
	if !slices.Equal(got.ids(), want) || got.TotalCount != len(all) ||
		got.PageInfo.HasNextPage != hasNext || got.PageInfo.HasPreviousPage != hasPrev {
		t.Fatalf("%s: got %v total %d next %v prev %v; want %v total %d next %v prev %v", what,
			got.ids(), got.TotalCount, got.PageInfo.HasNextPage, got.PageInfo.HasPreviousPage, want, len(all), hasNext, hasPrev)
	}
	if len(got.Edges) > 0 && (*got.PageInfo.StartCursor != got.Edges[0].Cursor || *got.PageInfo.EndCursor != got.Edges[len(got.Edges)-1].Cursor) {
		t.Fatalf("%s: page cursors %+v", what, got.PageInfo)
	}
}

// Order values are never zero here: entgql encodes a cursor's value with omitempty, so the
// cursor of a row whose order value is 0 carries only its id, and Paginate (root lists and
// nested pages alike) then pages by id alone.

// TestNestedProductPages walks every shop's products, in every order, a page at a time
// from both ends, with every shop of a request in one batch.
func TestNestedProductPages(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newPagesWorld(t, s)
		owner := w.shops[0].Owner.AccessToken
		visible := func(token string, keep func(*ent.Product) bool, order productOrder) map[string][]string {
			out := map[string][]string{}
			for _, m := range w.shops {
				var rows []*ent.Product
				for _, p := range w.products {
					mine := token == owner && p.MerchantID == w.shops[0].IntID
					if p.MerchantID == m.IntID && (p.Status == product.StatusACTIVE || mine) && keep(p) {
						rows = append(rows, p)
					}
				}
				slices.SortFunc(rows, order.cmp)
				out[m.ID] = idsOf(rows, func(p *ent.Product) int { return p.ID })
			}
			return out
		}
		shopIDs := []string{w.shops[0].ID, w.shops[1].ID, w.shops[2].ID, w.suspended.ID}
		for _, token := range []string{"", owner} {
			for _, order := range productOrders {
				orderArg := ""
				if order.arg != "" {
					orderArg = ", orderBy: " + order.arg
				}
				all := visible(token, func(*ent.Product) bool { return true }, order)
				query := `query($ids: [ID!]!, $after: Cursor, $before: Cursor, $first: Int, $last: Int) {
					nodes(ids: $ids) { id ... on Merchant { products(first: $first, last: $last, after: $after, before: $before` + orderArg + `) { ` + productPageOf + ` } } } }`
				type pageOut struct {
					Nodes []*struct {
						ID       string
						Products connection
					}
				}
				fetch := func(vars map[string]any) map[string]connection {
					vars["ids"] = shopIDs
					var out pageOut
					s.MustQuery(token, query, vars).Decode(t, &out)
					got := map[string]connection{}
					for _, n := range out.Nodes {
						if n == nil {
							continue
						}
						got[n.ID] = n.Products
					}
					if _, ok := got[w.suspended.ID]; ok {
						t.Fatal("the suspended shop is visible")
					}
					return got
				}
				label := fmt.Sprintf("owner %v order %q", token != "", order.arg)
				// Forward from the start, then from each shop's cursors: the same cursor goes
				// to every shop of the batch, as Paginate would apply it to each.
				for _, size := range []int{1, 2, 3, 20} {
					got := fetch(map[string]any{"first": size})
					for _, m := range w.shops {
						checkPage(t, label+fmt.Sprintf(" first %d of %s", size, m.ID), got[m.ID], all[m.ID], -1, -1, size, 0)
					}
				}
				for _, m := range w.shops {
					for i := 0; i < len(all[m.ID]); i += 2 {
						cursors := fetch(map[string]any{"first": len(all[m.ID])})[m.ID]
						c := cursors.Edges[i].Cursor
						after := fetch(map[string]any{"first": 2, "after": c})
						before := fetch(map[string]any{"last": 2, "before": c})
						checkPage(t, label+fmt.Sprintf(" %s after #%d", m.ID, i), after[m.ID], all[m.ID], i, -1, 2, 0)
						checkPage(t, label+fmt.Sprintf(" %s before #%d", m.ID, i), before[m.ID], all[m.ID], -1, i, 0, 2)
					}
				}
				last := fetch(map[string]any{"last": 3})
				for _, m := range w.shops {
					checkPage(t, label+" last 3 of "+m.ID, last[m.ID], all[m.ID], -1, -1, 0, 3)
					for _, e := range last[m.ID].Edges {
						if e.Node.Merchant == nil || e.Node.Merchant.ID != m.ID {
							t.Fatalf("%s: a node's merchant: %+v", label, e.Node)
						}
					}
				}
			}
		}

		// A where filter applies to every parent's page and count.
		cheap := visible("", func(p *ent.Product) bool { return p.SalesCount >= 3 }, productOrders[0])
		var out struct {
			Merchants struct {
				Edges []struct {
					Node struct {
						ID       string
						Products connection
					}
				}
			}
		}
		s.MustQuery("", `{ merchants(first: 10) { edges { node { id products(first: 2, where: {salesCountGTE: 3}) { `+productPageOf+` } } } } }`, nil).Decode(t, &out)
		if len(out.Merchants.Edges) != len(w.shops) {
			t.Fatalf("merchants: %+v", out)
		}
		for _, e := range out.Merchants.Edges {
			checkPage(t, "filtered "+e.Node.ID, e.Node.Products, cheap[e.Node.ID], -1, -1, 2, 0)
		}
	})
}

// TestNestedCategoryAndReviewPages checks Category.products (the category's own products,
// not its sub-categories') and Product.reviews the same way, and a page without edges.
func TestNestedCategoryAndReviewPages(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newPagesWorld(t, s)
		onSale := map[int]bool{}
		for _, m := range w.shops {
			onSale[m.IntID] = true
		}
		byCategory := map[int][]*ent.Product{}
		for _, p := range w.products {
			if p.Status == product.StatusACTIVE && onSale[p.MerchantID] {
				byCategory[*p.CategoryID] = append(byCategory[*p.CategoryID], p)
			}
		}
		var cats struct {
			Categories []struct {
				ID       string
				Products connection
				Counted  connection
			}
		}
		s.MustQuery("", `{ categories { id products(first: 3, orderBy: {field: PRICE, direction: DESC}) { `+productPageOf+` }
			counted: products(first: 3) { totalCount pageInfo { hasNextPage hasPreviousPage } } } }`, nil).Decode(t, &cats)
		if len(cats.Categories) != 2 {
			t.Fatalf("categories: %+v", cats)
		}
		for _, c := range cats.Categories {
			id, _ := strconv.Atoi(c.ID)
			rows := slices.Clone(byCategory[id])
			slices.SortFunc(rows, productOrders[1].cmp)
			all := idsOf(rows, func(p *ent.Product) int { return p.ID })
			checkPage(t, "category "+c.ID, c.Products, all, -1, -1, 3, 0)
			if c.Counted.TotalCount != len(all) || c.Counted.PageInfo.HasNextPage != (len(all) > 0) || len(c.Counted.Edges) != 0 {
				t.Fatalf("category %s without edges: %+v", c.ID, c.Counted)
			}
		}

		byProduct := map[int][]*ent.Review{}
		for _, r := range w.reviews {
			byProduct[r.ProductID] = append(byProduct[r.ProductID], r)
		}
		var prods struct {
			Products struct {
				Edges []struct {
					Node struct {
						ID      string
						Reviews connection
					}
				}
			}
		}
		s.MustQuery("", `{ products(first: 50) { edges { node { id reviews(first: 2, orderBy: {field: RATING, direction: DESC}) { `+reviewPageOf+` } } } } }`, nil).Decode(t, &prods)
		if len(prods.Products.Edges) < 10 {
			t.Fatalf("products: %d", len(prods.Products.Edges))
		}
		withReviews := 0
		for _, e := range prods.Products.Edges {
			id, _ := strconv.Atoi(e.Node.ID)
			rows := slices.Clone(byProduct[id])
			slices.SortFunc(rows, func(a, b *ent.Review) int { return -cmp.Or(cmp.Compare(a.Rating, b.Rating), cmp.Compare(a.ID, b.ID)) })
			checkPage(t, "reviews of "+e.Node.ID, e.Node.Reviews, idsOf(rows, func(r *ent.Review) int { return r.ID }), -1, -1, 2, 0)
			if len(rows) > 0 {
				withReviews++
			}
		}
		if withReviews < 3 {
			t.Fatalf("only %d products with reviews", withReviews)
		}
	})
}
