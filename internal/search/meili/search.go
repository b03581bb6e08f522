package meili

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xiadan/xiadan/internal/apperror"
)

// Sort is a storefront order. The zero value orders by relevance.
type Sort string

// The orders a search may ask for.
const (
	SortRelevance Sort = ""
	SortPriceAsc  Sort = "PRICE_ASC"
	SortPriceDesc Sort = "PRICE_DESC"
	SortSales     Sort = "SALES"
	SortNewest    Sort = "NEWEST"
	SortRating    Sort = "RATING"
)

var sortRules = map[Sort][]string{
	SortRelevance: nil,
	SortPriceAsc:  {"min_price:asc"},
	SortPriceDesc: {"min_price:desc"},
	SortSales:     {"sales:desc"},
	SortNewest:    {"created_at:desc"},
	SortRating:    {"rating:desc", "sales:desc"},
}

// Facet names a facet a search may count.
type Facet string

// The facets a search may ask for, and the attribute each counts.
const (
	FacetCategory  Facet = "category"
	FacetMerchant  Facet = "merchant"
	FacetPriceBand Facet = "price_band"
	FacetInStock   Facet = "in_stock"
)

var facetAttributes = map[Facet]string{
	FacetCategory:  "category_ids",
	FacetMerchant:  "merchant_id",
	FacetPriceBand: "price_band",
	FacetInStock:   "in_stock",
}

// Filters narrow a search. Prices are in minor units; MinPrice and MaxPrice bound a
// product's lowest price, as the embedded search's minPrice and maxPrice do.
type Filters struct {
	CategoryID *int
	MerchantID *int
	MinPrice   *int64
	MaxPrice   *int64
	// PriceBand is a label from the price_band facet, such as "5000-10000".
	PriceBand string
	// InStock keeps only products with stock.
	InStock bool
}

// Request is one storefront search.
type Request struct {
	Query   string
	Locale  string
	Filters Filters
	Sort    Sort
	Facets  []Facet
	// Limit is 1 to 100 (0: 20); Offset + Limit at most 1000.
	Limit  int
	Offset int
}

// Response is one page of product ids, best first.
type Response struct {
	IDs []int
	// Total is Meilisearch's estimate of the number of matches (estimatedTotalHits).
	Total int
	// Facets counts the matches per value of each facet asked for (value → count).
	Facets map[Facet]map[string]int
}

// MaxQueryLength bounds a query, in characters, like the embedded search.
const MaxQueryLength = 100

// filter builds the filter of f as a list of conditions Meilisearch joins with AND.
// Every value is a number or a boolean written by strconv: no text from the caller ever
// reaches the filter syntax, so none can change its meaning. A price band label is
// looked up among the configured bands and turned into its numeric range.
func (c *Client) filter(f Filters) ([]string, error) {
	out := []string{"listed = true"}
	if f.CategoryID != nil {
		out = append(out, "category_ids = "+strconv.Itoa(*f.CategoryID))
	}
	if f.MerchantID != nil {
		out = append(out, "merchant_id = "+strconv.Itoa(*f.MerchantID))
	}
	if f.MinPrice != nil {
		if *f.MinPrice < 0 {
			return nil, apperror.BadInput("filters.minPrice", "must not be negative")
		}
		out = append(out, "min_price >= "+strconv.FormatInt(*f.MinPrice, 10))
	}
	if f.MaxPrice != nil {
		if *f.MaxPrice < 0 {
			return nil, apperror.BadInput("filters.maxPrice", "must not be negative")
		}
		out = append(out, "min_price <= "+strconv.FormatInt(*f.MaxPrice, 10))
	}
	if f.PriceBand != "" {
		lo, hi, ok := c.bandRange(f.PriceBand)
		if !ok {
			return nil, apperror.BadInput("filters.priceBand", "is not one of the price bands")
		}
		out = append(out, "min_price >= "+strconv.FormatInt(lo, 10))
		if hi >= 0 {
			out = append(out, "min_price < "+strconv.FormatInt(hi, 10))
		}
	}
	if f.InStock {
		out = append(out, "in_stock = true")
	}
	return out, nil
}

type searchBody struct {
	Q                    string   `json:"q"`
	Filter               []string `json:"filter"`
	Sort                 []string `json:"sort,omitempty"`
	Facets               []string `json:"facets,omitempty"`
	Limit                int      `json:"limit"`
	Offset               int      `json:"offset"`
	AttributesToRetrieve []string `json:"attributesToRetrieve"`
	Locales              []string `json:"locales,omitempty"`
}

type searchAnswer struct {
	Hits []struct {
		ID    int    `json:"id"`
		Title string `json:"title"`
	} `json:"hits"`
	EstimatedTotalHits int                       `json:"estimatedTotalHits"`
	FacetDistribution  map[string]map[string]int `json:"facetDistribution"`
}

// Search answers one storefront search from the locale's index. Invalid input is
// BAD_USER_INPUT naming the field; a server that cannot answer is ErrUnavailable, and
// the caller then asks the embedded search.
func (c *Client) Search(ctx context.Context, r Request) (Response, error) {
	body, err := c.searchBody(r)
	if err != nil {
		return Response{}, err
	}
	var a searchAnswer
	if err := c.do(ctx, http.MethodPost, "/indexes/"+c.cfg.Index(r.Locale)+"/search", nil, body, &a); err != nil {
		return Response{}, err
	}
	resp := Response{IDs: make([]int, len(a.Hits)), Total: a.EstimatedTotalHits}
	for i, h := range a.Hits {
		resp.IDs[i] = h.ID
	}
	if len(r.Facets) > 0 {
		resp.Facets = map[Facet]map[string]int{}
		for _, f := range r.Facets {
			counts := a.FacetDistribution[facetAttributes[f]]
			if counts == nil {
				counts = map[string]int{}
			}
			resp.Facets[f] = counts
		}
	}
	return resp, nil
}

func (c *Client) searchBody(r Request) (searchBody, error) {
	if !c.cfg.hasLocale(r.Locale) {
		return searchBody{}, apperror.BadInput("locale", "must be one of %s", strings.Join(c.cfg.Locales, ", "))
	}
	q := strings.TrimSpace(r.Query)
	if utf8.RuneCountInString(q) > MaxQueryLength {
		return searchBody{}, apperror.BadInput("query", "must be at most %d characters", MaxQueryLength)
	}
	limit := r.Limit
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > 100 {
		return searchBody{}, apperror.BadInput("limit", "must be between 1 and 100")
	}
	if r.Offset < 0 || r.Offset+limit > maxTotalHits {
		return searchBody{}, apperror.BadInput("offset", "must be between 0 and %d less the limit", maxTotalHits)
	}
	sortBy, ok := sortRules[r.Sort]
	if !ok {
		return searchBody{}, apperror.BadInput("sort", "is not a known order")
	}
	filter, err := c.filter(r.Filters)
	if err != nil {
		return searchBody{}, err
	}
	var facets []string
	for _, f := range r.Facets {
		attr, ok := facetAttributes[f]
		if !ok {
			return searchBody{}, apperror.BadInput("facets", "%q is not a facet", string(f))
		}
		facets = append(facets, attr)
	}
	b := searchBody{Q: q, Filter: filter, Sort: sortBy, Facets: facets, Limit: limit, Offset: r.Offset,
		AttributesToRetrieve: []string{"id"}}
	if lang := language(r.Locale); lang != "" {
		b.Locales = []string{lang}
	}
	return b, nil
}

// Suggestion is a product title that completes what the shopper is typing.
type Suggestion struct {
	ID    int
	Title string
}

// Suggest returns up to n (1 to 20) titles of visible products matching prefix as typed
// so far: Meilisearch matches the last word of a query as a prefix, with typos allowed.
func (c *Client) Suggest(ctx context.Context, prefix, locale string, n int) ([]Suggestion, error) {
	if n < 1 || n > 20 {
		return nil, apperror.BadInput("first", "must be between 1 and 20")
	}
	body, err := c.searchBody(Request{Query: prefix, Locale: locale, Limit: n})
	if err != nil {
		return nil, err
	}
	if body.Q == "" {
		return []Suggestion{}, nil
	}
	body.AttributesToRetrieve = []string{"id", "title"}
	var a searchAnswer
	if err := c.do(ctx, http.MethodPost, "/indexes/"+c.cfg.Index(locale)+"/search", nil, body, &a); err != nil {
		return nil, err
	}
	out := make([]Suggestion, 0, len(a.Hits))
	for _, h := range a.Hits {
		out = append(out, Suggestion{ID: h.ID, Title: h.Title})
	}
	return out, nil
}
