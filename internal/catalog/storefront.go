package catalog

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/category"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/search"
	"github.com/xiadan/xiadan/internal/search/meili"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Page asks for one page of a Relay connection: first after a cursor, or last before one.
type Page struct {
	After  *ent.Cursor
	First  *int
	Before *ent.Cursor
	Last   *int
}

// NewestFirst is the storefront's order without orderBy or keyword.
var NewestFirst = &ent.ProductOrder{Field: ent.ProductOrderFieldCreatedAt, Direction: entgql.OrderDirectionDesc}

// PriceCurrency is the currency of the minPrice and maxPrice filters: every product is
// priced in CNY today. A multi-currency storefront would need the currency in the filter.
const PriceCurrency = "CNY"

// MaxKeywordLength bounds a search keyword, in characters.
const MaxKeywordLength = 100

// ListProducts returns one page of the storefront product list.
//
// Without where.status it lists what is on sale: ACTIVE products of ACTIVE merchants.
// where.status lists products in that status instead, which the privacy rules narrow to
// the viewer's own merchant for staff (and leave whole for admins); the public sees only
// ACTIVE products whatever it asks. A keyword without orderBy orders by relevance (see
// docs/SEARCH.md), answered by the search server when the request has one
// (ServerSearch); with orderBy it only filters. Otherwise the newest come first.
//
// The page's nodes eager-load the edges the GraphQL selection asks for (Ent field
// collection), and their statuses prime the request's loaders, so a page costs the same
// few statements whatever its size.
func ListProducts(ctx context.Context, client *ent.Client, page Page, filter *ProductFilter, order *ent.ProductOrder) (*ent.ProductConnection, error) {
	if s := serverSearchFor(ctx); s != nil && filter != nil && filter.Keyword != nil && order == nil {
		// Relevance order: the search server answers when it can (ServerSearch).
		answer, err := s.search(ctx, client, *filter.Keyword, filter, meili.SortRelevance, page, false)
		if !errors.Is(err, errFallback) {
			if err != nil {
				return nil, err
			}
			loader.For(ctx).PrimeProductStatuses(ctx, answer.conn.Nodes()...)
			return answer.conn, nil
		}
	}
	preds, keyword, err := filter.predicates(ctx)
	if err != nil {
		return nil, err
	}
	query := client.Product.Query().Where(preds...)
	conn, err := productPage(ctx, query, keyword, page, order, filter)
	if err == nil && keyword != nil && len(conn.Edges) == 0 {
		// Nothing on this page: when nothing matches all the words, search again with
		// one word fewer (relaxedKeyword), as the same decision gives every page.
		if relaxed, rerr := relaxedKeyword(ctx, query, keyword); rerr != nil {
			err = rerr
		} else if relaxed != keyword {
			conn, err = productPage(ctx, query, relaxed, page, order, filter)
		}
	}
	if err != nil {
		return nil, err
	}
	nodes := make([]*ent.Product, len(conn.Edges))
	for i, e := range conn.Edges {
		nodes[i] = e.Node
	}
	loader.For(ctx).PrimeProductStatuses(ctx, nodes...)
	return conn, nil
}

// productPage is one page of query, narrowed and ranked by keyword (nil for none).
func productPage(ctx context.Context, query *ent.ProductQuery, keyword *search.Analyzed, page Page, order *ent.ProductOrder, filter *ProductFilter) (*ent.ProductConnection, error) {
	switch {
	case keyword != nil && keyword.Empty():
		// Only punctuation or stop words: nothing can match.
		return &ent.ProductConnection{Edges: []*ent.ProductEdge{}}, nil
	case keyword != nil && order == nil:
		return relevancePage(ctx, query.Clone(), *keyword, page, filter)
	}
	q := query.Clone()
	if keyword != nil {
		q.Where(matchesKeyword(*keyword))
	}
	if order == nil {
		order = NewestFirst
	}
	conn, err := keysetPage(ctx, q, page, order)
	if err != nil || !requested(ctx, "totalCount") && !requested(ctx, "totalCountPrecision") {
		return conn, err
	}
	n, precision, err := countProducts(ctx, q.Clone(), filter, keyword)
	if err != nil {
		return nil, err
	}
	setCount(ctx, conn, n, precision)
	return conn, nil
}

// relaxedKeyword returns keyword with one required word fewer when no product of query
// matches it and it needs more than one, else keyword itself: "Longjing tea" finds the
// Longjing whose text never says tea. It depends only on the data, so every page and
// the facets of one search agree.
func relaxedKeyword(ctx context.Context, query *ent.ProductQuery, keyword *search.Analyzed) (*search.Analyzed, error) {
	if keyword == nil || keyword.Empty() || keyword.MinMatch < 2 {
		return keyword, nil
	}
	found, err := query.Clone().Where(matchesKeyword(*keyword)).Exist(ctx)
	if err != nil || found {
		return keyword, err
	}
	relaxed := *keyword
	relaxed.MinMatch--
	return &relaxed, nil
}

// predicates turns the filter into query predicates, and its keyword into a search query
// (nil without a keyword).
func (f *ProductFilter) predicates(ctx context.Context) ([]predicate.Product, *search.Analyzed, error) {
	if f == nil {
		return []predicate.Product{onSale(ctx), listed(ctx)}, nil, nil
	}
	ps := []predicate.Product{listed(ctx)}
	if f.Status == nil {
		ps = append(ps, onSale(ctx))
	} else {
		ps = append(ps, product.StatusEQ(*f.Status))
	}
	if f.MerchantID != nil {
		ps = append(ps, product.MerchantID(*f.MerchantID))
	}
	if f.CategoryID != nil {
		ps = append(ps, inCategoryTree(*f.CategoryID))
	}
	if f.Kind != nil {
		ps = append(ps, product.KindEQ(*f.Kind))
	}
	if f.MinPrice != nil {
		v, err := parsePrice("where.minPrice", *f.MinPrice)
		if err != nil {
			return nil, nil, err
		}
		ps = append(ps, product.MinPriceGTE(v))
	}
	if f.MaxPrice != nil {
		v, err := parsePrice("where.maxPrice", *f.MaxPrice)
		if err != nil {
			return nil, nil, err
		}
		ps = append(ps, product.MinPriceLTE(v))
	}
	if f.InStock != nil && *f.InStock {
		ps = append(ps, product.TotalStockGT(0))
	}
	var keyword *search.Analyzed
	if f.Keyword != nil {
		kw := strings.TrimSpace(*f.Keyword)
		if utf8.RuneCountInString(kw) > MaxKeywordLength {
			return nil, nil, apperror.BadInput("where.keyword", "must be at most %d characters", MaxKeywordLength)
		}
		if kw != "" {
			q := search.Analyze(kw, dictFor(ctx))
			keyword = &q
		}
	}
	return ps, keyword, nil
}

// onSale is what the public list shows: ACTIVE products of ACTIVE merchants neither
// suspended nor removed (internal/credit/standing).
// The on_sale flag says the first half (see standing.ProductOnSale).
func onSale(ctx context.Context) predicate.Product {
	return standing.ProductOnSale(standing.Now(ctx))
}

// listed leaves the products of restricted merchants out of the list for everyone but the
// merchant's own staff and admins: a restriction keeps a shop out of product search and
// lists, while its own page and its products by id still show (docs/CREDIT.md).
func listed(ctx context.Context) predicate.Product {
	v := viewer.FromContext(ctx)
	if v.IsAdmin() || v.System {
		return func(*sql.Selector) {}
	}
	p := standing.ProductOfListedMerchant(standing.Now(ctx))
	if v.IsMerchantMember(v.MerchantID) {
		return product.Or(p, product.MerchantID(v.MerchantID))
	}
	return p
}

// parsePrice reads a price filter in PriceCurrency minor units.
func parsePrice(field, s string) (int64, error) {
	v, err := money.ParseAmount(s, PriceCurrency)
	if err != nil {
		return 0, apperror.BadInput(field, "must be an amount such as \"10.00\" with at most %d decimal places", money.Exponent(PriceCurrency))
	}
	if v < 0 {
		return 0, apperror.BadInput(field, "must not be negative")
	}
	return v, nil
}

// inCategoryTree keeps products of category id or any category below it. The tree is
// walked by a recursive common table expression inside the statement (SQLite, MySQL 8
// and MariaDB all have them), so the filter costs no statement of its own and works at
// any depth; UNION rather than UNION ALL ends the walk even on a cycle.
func inCategoryTree(id int) predicate.Product {
	return func(s *sql.Selector) {
		column := s.C(product.FieldCategoryID)
		s.Where(sql.P(func(b *sql.Builder) {
			b.WriteString(column).WriteString(" IN (WITH RECURSIVE ").
				Ident("category_tree").WriteString(" (").Ident("id").WriteString(") AS (SELECT ").
				Ident(category.FieldID).WriteString(" FROM ").Ident(category.Table).
				WriteString(" WHERE ").Ident(category.FieldID).WriteString(" = ").Arg(id).
				WriteString(" UNION SELECT ").Ident("c").WriteByte('.').Ident(category.FieldID).
				WriteString(" FROM ").Ident(category.Table).WriteString(" AS ").Ident("c").
				WriteString(" JOIN ").Ident("category_tree").WriteString(" AS ").Ident("t").
				WriteString(" ON ").Ident("c").WriteByte('.').Ident(category.FieldParentID).
				WriteString(" = ").Ident("t").WriteByte('.').Ident("id").
				WriteString(") SELECT ").Ident("id").WriteString(" FROM ").Ident("category_tree").WriteString(")")
		}))
	}
}

// ProductByID is product id as the viewer may see it, or NotFound, with its status
// remembered for its variants' availability, as a list page does (one statement fewer for
// a detail page). Its edges load as the request selects them: not through entgql's field
// collection, whose column selection leaves out what the locale's field resolvers read
// (a category's name_en).
func ProductByID(ctx context.Context, client *ent.Client, id int) (*ent.Product, error) {
	return productWhere(ctx, client, product.ID(id))
}

// ProductBySlug is ProductByID by the product's slug.
func ProductBySlug(ctx context.Context, client *ent.Client, slug string) (*ent.Product, error) {
	return productWhere(ctx, client, product.Slug(slug))
}

func productWhere(ctx context.Context, client *ent.Client, where predicate.Product) (*ent.Product, error) {
	p, err := client.Product.Query().Where(where).Only(ctx)
	if err != nil {
		return nil, err
	}
	loader.For(ctx).PrimeProductStatuses(ctx, p)
	return p, nil
}
