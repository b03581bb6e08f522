package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/category"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/search"
	"github.com/xiadan/xiadan/internal/search/meili"
)

// Orders of productSearch (GraphQL enum ProductSearchSort).
const (
	SortRelevance = "RELEVANCE"
	SortSales     = "SALES"
	SortPriceAsc  = "PRICE_ASC"
	SortPriceDesc = "PRICE_DESC"
	SortNewest    = "NEWEST"
	SortRating    = "RATING"
)

// ProductSearchResult is a page of productSearch: the products, their total and the
// facets of the whole match set, computed only when asked for.
type ProductSearchResult struct {
	Edges      []*ent.ProductEdge
	PageInfo   ent.PageInfo
	TotalCount int
	// TotalCountPrecision says how exact TotalCount is (count.go).
	TotalCountPrecision CountPrecision

	facets func(context.Context) (*ProductSearchFacets, error)
}

// Nodes are the products of the page's edges.
func (c *ProductSearchResult) Nodes() []*ent.Product {
	out := make([]*ent.Product, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

// Facets counts the matching products by category, merchant, price band and stock.
func (c *ProductSearchResult) Facets(ctx context.Context) (*ProductSearchFacets, error) {
	if c.facets == nil {
		return &ProductSearchFacets{Categories: []*CategoryFacet{}, Merchants: []*MerchantFacet{}, PriceBands: []*PriceBandFacet{}}, nil
	}
	return c.facets(ctx)
}

// ProductSearchFacets are the counts of a search's matches (GraphQL ProductSearchFacets).
type ProductSearchFacets struct {
	Categories []*CategoryFacet
	Merchants  []*MerchantFacet
	PriceBands []*PriceBandFacet
	InStock    int
}

// CategoryFacet is how many matches are in a category (the category itself, not its
// sub-categories).
type CategoryFacet struct {
	Category *ent.Category
	Count    int
}

// MerchantFacet is how many matches a merchant sells.
type MerchantFacet struct {
	Merchant *ent.Merchant
	Count    int
}

// PriceBandFacet is how many matches have a lowest price in [Min, Max]; Max is nil for
// the open-ended top band. Min and Max are decimal amounts of PriceCurrency, usable as
// the filter's minPrice and maxPrice.
type PriceBandFacet struct {
	Min   string
	Max   *string
	Count int
}

// PriceBands are the lower bounds of the price bands, in minor units (fen): those of the
// search server's (meili.DefaultPriceBands), so both engines' facets read the same.
var PriceBands = append([]int64{0}, meili.DefaultPriceBands...)

// MaxFacetValues bounds the categories and merchants listed, most matches first.
const MaxFacetValues = 20

// SearchProducts is productSearch: the products matching query (and filter), ordered by
// sort, with the same visibility as the product list, and facets over all matches.
func SearchProducts(ctx context.Context, client *ent.Client, query string, filter *ProductFilter, sortBy *string, page Page) (*ProductSearchResult, error) {
	sort := SortRelevance
	if sortBy != nil {
		sort = *sortBy
	}
	f := ProductFilter{}
	if filter != nil {
		f = *filter
	}
	if strings.TrimSpace(query) == "" {
		return nil, apperror.BadInput("query", "must not be empty")
	}
	// The list's checks would name its own arguments (where.keyword, where.minPrice).
	if utf8.RuneCountInString(strings.TrimSpace(query)) > MaxKeywordLength {
		return nil, apperror.BadInput("query", "must be at most %d characters", MaxKeywordLength)
	}
	for _, p := range []struct {
		field string
		price *string
	}{{"filter.minPrice", f.MinPrice}, {"filter.maxPrice", f.MaxPrice}} {
		if p.price != nil {
			if _, err := parsePrice(p.field, *p.price); err != nil {
				return nil, err
			}
		}
	}
	f.Keyword = &query
	var order *ent.ProductOrder
	switch sort {
	case "", SortRelevance:
	case SortSales:
		order = &ent.ProductOrder{Field: ent.ProductOrderFieldSalesCount, Direction: entgql.OrderDirectionDesc}
	case SortPriceAsc:
		order = &ent.ProductOrder{Field: ent.ProductOrderFieldMinPrice, Direction: entgql.OrderDirectionAsc}
	case SortPriceDesc:
		order = &ent.ProductOrder{Field: ent.ProductOrderFieldMinPrice, Direction: entgql.OrderDirectionDesc}
	case SortNewest:
		order = NewestFirst
	case SortRating:
		order = &ent.ProductOrder{Field: ent.ProductOrderFieldRatingAverage, Direction: entgql.OrderDirectionDesc}
	default:
		return nil, apperror.BadInput("sort", "unknown sort %q", sort)
	}
	if s := serverSearchFor(ctx); s != nil {
		answer, err := s.search(ctx, client, query, &f, serverSorts[sort], page, requested(ctx, "facets"))
		if !errors.Is(err, errFallback) {
			if err != nil {
				return nil, err
			}
			loader.For(ctx).PrimeProductStatuses(ctx, answer.conn.Nodes()...)
			out := &ProductSearchResult{Edges: answer.conn.Edges, PageInfo: answer.conn.PageInfo, TotalCount: answer.conn.TotalCount,
				TotalCountPrecision: TotalCountPrecision(ctx, answer.conn)}
			if answer.facets != nil {
				out.facets = func(context.Context) (*ProductSearchFacets, error) { return answer.facets, nil }
			}
			return out, nil
		}
	}
	conn, err := ListProducts(withoutServerSearch(ctx), client, page, &f, order)
	if err != nil {
		return nil, err
	}
	out := &ProductSearchResult{Edges: conn.Edges, PageInfo: conn.PageInfo, TotalCount: conn.TotalCount,
		TotalCountPrecision: TotalCountPrecision(ctx, conn)}
	preds, keyword, err := f.predicates(ctx)
	if err != nil {
		return nil, err
	}
	if keyword == nil || keyword.Empty() {
		return out, nil
	}
	out.facets = func(ctx context.Context) (*ProductSearchFacets, error) {
		kw := keyword
		if out.TotalCount > 0 || len(out.Edges) > 0 {
			kw, err = relaxedKeyword(ctx, client.Product.Query().Where(preds...), keyword)
			if err != nil {
				return nil, err
			}
		}
		return searchFacets(ctx, client, append(preds, matchesKeyword(*kw)))
	}
	return out, nil
}

// serverSorts are the server's orders of productSearch's sorts.
var serverSorts = map[string]meili.Sort{"": meili.SortRelevance, SortRelevance: meili.SortRelevance,
	SortSales: meili.SortSales, SortPriceAsc: meili.SortPriceAsc, SortPriceDesc: meili.SortPriceDesc,
	SortNewest: meili.SortNewest, SortRating: meili.SortRating}

// searchFacets counts the products of preds (the privacy rules apply to every count, as
// to the list).
func searchFacets(ctx context.Context, client *ent.Client, preds []predicate.Product) (*ProductSearchFacets, error) {
	out := &ProductSearchFacets{Categories: []*CategoryFacet{}, Merchants: []*MerchantFacet{}, PriceBands: []*PriceBandFacet{}}
	var byCategory []struct {
		CategoryID *int `json:"category_id"`
		Count      int  `json:"count"`
	}
	if err := client.Product.Query().Where(preds...).GroupBy(product.FieldCategoryID).
		Aggregate(ent.Count()).Scan(ctx, &byCategory); err != nil {
		return nil, err
	}
	var byMerchant []struct {
		MerchantID int `json:"merchant_id"`
		Count      int `json:"count"`
	}
	if err := client.Product.Query().Where(preds...).GroupBy(product.FieldMerchantID).
		Aggregate(ent.Count()).Scan(ctx, &byMerchant); err != nil {
		return nil, err
	}
	counts, err := bandCounts(ctx, client, preds)
	if err != nil {
		return nil, err
	}
	for i, lo := range PriceBands {
		if counts[i] == 0 {
			continue
		}
		b := &PriceBandFacet{Min: decimal(lo), Count: counts[i]}
		if i+1 < len(PriceBands) {
			m := decimal(PriceBands[i+1] - 1)
			b.Max = &m
		}
		out.PriceBands = append(out.PriceBands, b)
	}
	out.InStock = counts[len(PriceBands)]

	slices.SortFunc(byCategory, func(a, b struct {
		CategoryID *int `json:"category_id"`
		Count      int  `json:"count"`
	}) int {
		return b.Count - a.Count
	})
	var catIDs []int
	catCount := map[int]int{}
	for _, c := range byCategory {
		if c.CategoryID != nil && len(catIDs) < MaxFacetValues {
			catIDs = append(catIDs, *c.CategoryID)
			catCount[*c.CategoryID] = c.Count
		}
	}
	if len(catIDs) > 0 {
		cats, err := client.Category.Query().Where(category.IDIn(catIDs...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range cats {
			out.Categories = append(out.Categories, &CategoryFacet{Category: c, Count: catCount[c.ID]})
		}
		slices.SortFunc(out.Categories, func(a, b *CategoryFacet) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return a.Category.ID - b.Category.ID
		})
	}
	var merchIDs []int
	merchCount := map[int]int{}
	slices.SortFunc(byMerchant, func(a, b struct {
		MerchantID int `json:"merchant_id"`
		Count      int `json:"count"`
	}) int {
		return b.Count - a.Count
	})
	for _, m := range byMerchant {
		if len(merchIDs) < MaxFacetValues {
			merchIDs = append(merchIDs, m.MerchantID)
			merchCount[m.MerchantID] = m.Count
		}
	}
	if len(merchIDs) > 0 {
		ms, err := client.Merchant.Query().Where(merchant.IDIn(merchIDs...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out.Merchants = append(out.Merchants, &MerchantFacet{Merchant: m, Count: merchCount[m.ID]})
		}
		slices.SortFunc(out.Merchants, func(a, b *MerchantFacet) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return a.Merchant.ID - b.Merchant.ID
		})
	}
	return out, nil
}

// bandCounts returns the number of products of preds in each price band, then the number
// in stock, with one statement.
func bandCounts(ctx context.Context, client *ent.Client, preds []predicate.Product) ([]int, error) {
	var rows []struct {
		Band    int `json:"band"`
		InStock int `json:"in_stock"`
		Count   int `json:"count"`
	}
	err := client.Product.Query().Where(preds...).Modify(func(s *sql.Selector) {
		price, stock := s.C(product.FieldMinPrice), s.C(product.FieldTotalStock)
		var band strings.Builder
		band.WriteString("CASE")
		for i := len(PriceBands) - 1; i >= 0; i-- {
			fmt.Fprintf(&band, " WHEN %s >= %d THEN %d", price, PriceBands[i], i)
		}
		band.WriteString(" ELSE 0 END")
		inStock := fmt.Sprintf("CASE WHEN %s > 0 THEN 1 ELSE 0 END", stock)
		s.Select()
		s.AppendSelectExprAs(sql.Expr(band.String()), "band").
			AppendSelectExprAs(sql.Expr(inStock), "in_stock").
			AppendSelectExprAs(sql.Expr("COUNT(*)"), "count").
			GroupBy(band.String(), inStock)
	}).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	counts := make([]int, len(PriceBands)+1)
	for _, r := range rows {
		counts[r.Band] += r.Count
		if r.InStock == 1 {
			counts[len(PriceBands)] += r.Count
		}
	}
	return counts, nil
}

func decimal(minor int64) string { return fmt.Sprintf("%d.%02d", minor/100, minor%100) }

// Suggestion kinds (GraphQL enum SearchSuggestionKind).
const (
	SuggestQuery   = "QUERY"
	SuggestProduct = "PRODUCT"
)

// SearchSuggestion is one completion of what a shopper is typing.
type SearchSuggestion struct {
	// Text is the completed keyword, or the product's title.
	Text string
	Kind string
	// Product is the suggested product (kind PRODUCT).
	Product *ent.Product
}

// Limits of searchSuggestions.
const (
	MaxSuggestions         = 20
	suggestionCandidates   = 50
	MaxSuggestionPrefixLen = 50
)

// Suggest completes prefix from the titles of the visible products that match it, most
// sold first: completions of its last word (Latin words, or Chinese words cut by the
// segmenter) weighted by the sales of the products holding them, then those products.
func Suggest(ctx context.Context, client *ent.Client, prefix string, first *int) ([]*SearchSuggestion, error) {
	limit := 8
	if first != nil {
		if *first < 1 || *first > MaxSuggestions {
			return nil, apperror.BadInput("first", "must be between 1 and %d", MaxSuggestions)
		}
		limit = *first
	}
	if utf8.RuneCountInString(prefix) > MaxSuggestionPrefixLen {
		return nil, apperror.BadInput("prefix", "must be at most %d characters", MaxSuggestionPrefixLen)
	}
	q, head, last := search.AnalyzePrefix(prefix, dictFor(ctx))
	if q.Empty() {
		return []*SearchSuggestion{}, nil
	}
	if s := serverSearchFor(ctx); s != nil {
		found, err := s.suggest(ctx, client, prefix)
		if !errors.Is(err, errFallback) {
			if err != nil {
				return nil, err
			}
			return suggestions(found, head, last, limit), nil
		}
	}
	preds, _, err := (&ProductFilter{}).predicates(ctx)
	if err != nil {
		return nil, err
	}
	products, err := client.Product.Query().Where(preds...).Where(matchesKeyword(q)).
		Order(ent.Desc(product.FieldSalesCount), ent.Desc(product.FieldID)).
		Limit(suggestionCandidates).All(ctx)
	if err != nil {
		return nil, err
	}
	found := make([]titled, len(products))
	for i, p := range products {
		found[i] = titled{title: p.Title, product: p}
	}
	return suggestions(found, head, last, limit), nil
}

// titled is a product suggested, with its title in the request's locale.
type titled struct {
	title   string
	product *ent.Product
}

// suggestions are completions of the last word from the titles of found (weighted by
// their sales), then found themselves, limit in all.
func suggestions(found []titled, head, last string, limit int) []*SearchSuggestion {
	out := []*SearchSuggestion{}
	score := map[string]int{}
	var order []string
	for _, f := range found {
		p := f.product
		for _, w := range search.Completions(f.title, last) {
			if _, ok := score[w]; !ok {
				order = append(order, w)
			}
			score[w] += p.SalesCount + 1
		}
	}
	slices.SortStableFunc(order, func(a, b string) int { return score[b] - score[a] })
	seen := map[string]bool{}
	for _, w := range order {
		if len(out) >= (limit+1)/2 {
			break
		}
		text := head + w
		if !seen[text] {
			seen[text] = true
			out = append(out, &SearchSuggestion{Text: text, Kind: SuggestQuery})
		}
	}
	for _, f := range found {
		if len(out) >= limit {
			break
		}
		out = append(out, &SearchSuggestion{Text: f.title, Kind: SuggestProduct, Product: f.product})
	}
	return out
}
