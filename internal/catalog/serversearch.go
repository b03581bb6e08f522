package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/category"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/i18n"
	"github.com/xiadan/xiadan/internal/search/meili"
	"github.com/xiadan/xiadan/internal/viewer"
)

// ServerSearch answers the storefront's keyword searches (products with where.keyword
// and no orderBy, productSearch, searchSuggestions) from a search server
// (internal/search/meili, docs/SEARCH-SERVER.md). The server gives ids; the products are
// loaded through Ent with the same filters and privacy rules as the embedded search, in
// the server's order, so a stale document never shows what the public may not see.
//
// When the server cannot answer (an error wrapping meili.ErrUnavailable) the embedded
// search answers instead; so it does for what the index cannot express: a status or kind
// filter, a viewer who may see more than the public (admins, merchant staff), a locale
// without an index, a page without first or last (or with last and no cursor), and the
// pages of a search that started on the embedded engine.
type ServerSearch struct {
	Client *meili.Client
	Logger *slog.Logger

	fallbacks atomic.Int64
	lastWarn  atomic.Int64 // Unix nanoseconds of the last warning logged
}

// WarnEvery bounds how often a ServerSearch logs that the server is unavailable.
const WarnEvery = time.Minute

// Fallbacks is how many searches the embedded search answered because the server could
// not (for metrics).
func (s *ServerSearch) Fallbacks() int64 { return s.fallbacks.Load() }

type serverSearchKey struct{}

// ServerSearchMiddleware makes s the search server of every request (s nil: none, and
// next is returned as it is).
func ServerSearchMiddleware(s *ServerSearch, next http.Handler) http.Handler {
	if s == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), serverSearchKey{}, s)))
	})
}

func serverSearchFor(ctx context.Context) *ServerSearch {
	s, _ := ctx.Value(serverSearchKey{}).(*ServerSearch)
	return s
}

// withoutServerSearch is ctx for an answer of the embedded search only (productSearch
// asked the server already).
func withoutServerSearch(ctx context.Context) context.Context {
	if serverSearchFor(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, serverSearchKey{}, (*ServerSearch)(nil))
}

// errFallback says the embedded search answers this request.
var errFallback = errors.New("answered by the embedded search")

// unavailable counts a fallback and logs it, at most once per WarnEvery.
func (s *ServerSearch) unavailable(ctx context.Context, err error) {
	n := s.fallbacks.Add(1)
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last >= int64(WarnEvery) && s.lastWarn.CompareAndSwap(last, now) && s.Logger != nil {
		s.Logger.WarnContext(ctx, "search server unavailable: answering from the embedded search",
			"err", err, "fallbacks", n)
	}
}

// serverCursorPrefix marks a cursor of a page the server answered: its value is the
// position of the edge among the server's hits. The embedded search's relevance cursors
// hold a number, so neither engine mistakes the other's cursor for its own.
const serverCursorPrefix = "s:"

func serverCursor(c *ent.Cursor) (pos int, ok bool) {
	if c == nil {
		return 0, false
	}
	v, isString := c.Value.(string)
	if !isString || !strings.HasPrefix(v, serverCursorPrefix) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, serverCursorPrefix))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// usesServerCursor reports whether page continues a page the server answered.
func (p Page) usesServerCursor() bool {
	_, a := serverCursor(p.After)
	_, b := serverCursor(p.Before)
	return a || b
}

// locale returns the index locale of ctx's request, and whether the server may answer
// the caller at all.
func (s *ServerSearch) locale(ctx context.Context) (string, bool) {
	if s == nil {
		return "", false
	}
	v := viewer.FromContext(ctx)
	if v.IsAdmin() || v.System || v.IsMerchantMember(v.MerchantID) {
		// They may see products the index does not hold (a restricted merchant's own).
		return "", false
	}
	cfg := s.Client.Config()
	loc := i18n.FromContext(ctx)
	if loc == "" {
		loc = cfg.Locales[0]
	}
	return loc, slices.Contains(cfg.Locales, loc)
}

// window turns page into the offset and limit of a server search; ok is false when
// the server cannot serve this page.
func (p Page) window() (offset, limit int, ok bool, err error) {
	switch {
	case p.First != nil:
		limit = *p.First
		if pos, isServer := serverCursor(p.After); isServer {
			offset = pos + 1
		} else if p.After != nil {
			return 0, 0, false, nil
		}
	case p.Last != nil:
		pos, isServer := serverCursor(p.Before)
		if !isServer {
			return 0, 0, false, nil
		}
		offset = max(0, pos-*p.Last)
		limit = pos - offset
	default:
		return 0, 0, false, nil
	}
	if limit < 0 || limit > 100 {
		return 0, 0, false, nil
	}
	if offset+limit > meili.MaxHits {
		return 0, 0, false, apperror.BadInput("after", "search results page up to %d matches deep", meili.MaxHits)
	}
	return offset, limit, true, nil
}

// serverAnswer is a page the server answered, with the facets when asked for.
type serverAnswer struct {
	conn   *ent.ProductConnection
	facets *ProductSearchFacets
}

// search asks the server for a page of query among the products of filter. It returns
// errFallback when the embedded search should answer instead.
func (s *ServerSearch) search(ctx context.Context, client *ent.Client, query string, f *ProductFilter, sort meili.Sort, page Page, wantFacets bool) (*serverAnswer, error) {
	loc, ok := s.locale(ctx)
	if !ok || strings.TrimSpace(query) == "" || (f != nil && (f.Status != nil || f.Kind != nil)) {
		return nil, errFallback
	}
	// The filter's own checks (and the predicates that load the page) come first, so
	// bad input reads the same whichever engine answers.
	preds, _, err := f.predicates(ctx)
	if err != nil {
		return nil, err
	}
	offset, limit, ok, err := page.window()
	if err != nil || !ok {
		if err == nil {
			err = errFallback
		}
		return nil, err
	}
	req := meili.Request{Query: query, Locale: loc, Sort: sort, Limit: max(limit, 1), Offset: offset}
	if f != nil {
		req.Filters = meili.Filters{CategoryID: f.CategoryID, MerchantID: f.MerchantID, InStock: f.InStock != nil && *f.InStock}
		if f.MinPrice != nil {
			v, _ := parsePrice("where.minPrice", *f.MinPrice) // checked by predicates
			req.Filters.MinPrice = &v
		}
		if f.MaxPrice != nil {
			v, _ := parsePrice("where.maxPrice", *f.MaxPrice)
			req.Filters.MaxPrice = &v
		}
	}
	if wantFacets {
		req.Facets = []meili.Facet{meili.FacetCategory, meili.FacetMerchant, meili.FacetPriceBand, meili.FacetInStock}
	}
	resp, err := s.Client.Search(ctx, req)
	switch {
	case errors.Is(err, meili.ErrUnavailable):
		s.unavailable(ctx, err)
		if page.usesServerCursor() {
			// The embedded search cannot resume at a position of the server's order.
			return nil, apperror.BadInput("after", "the search server that answered the first page is unavailable: search again from the first page")
		}
		return nil, errFallback
	case err != nil:
		var appErr *apperror.Error
		if errors.As(err, &appErr) {
			return nil, err
		}
		return nil, fmt.Errorf("search server: %w", err)
	}
	if limit == 0 {
		resp.IDs = nil
	}
	conn := &ent.ProductConnection{Edges: []*ent.ProductEdge{}}
	if len(resp.IDs) > 0 {
		q := client.Product.Query().Where(preds...).Where(product.IDIn(resp.IDs...))
		if err := collectNodeFields(ctx, q); err != nil {
			return nil, err
		}
		nodes, err := q.All(ctx)
		if err != nil {
			return nil, err
		}
		byID := make(map[int]*ent.Product, len(nodes))
		for _, n := range nodes {
			byID[n.ID] = n
		}
		for i, id := range resp.IDs {
			// An id the query did not return is hidden now (or gone): the index is behind.
			if n := byID[id]; n != nil {
				conn.Edges = append(conn.Edges, &ent.ProductEdge{Node: n,
					Cursor: ent.Cursor{ID: id, Value: serverCursorPrefix + strconv.Itoa(offset+i)}})
			}
		}
	}
	hidden := len(resp.IDs) - len(conn.Edges)
	// The server's total less the hidden ids seen on this page (it cannot know the others).
	// Meilisearch estimates its total (estimatedTotalHits).
	setCount(ctx, conn, max(resp.Total-hidden, offset+len(conn.Edges)), CountEstimate)
	reach := min(resp.Total, meili.MaxHits)
	if page.Last != nil {
		conn.PageInfo.HasPreviousPage = offset > 0
		conn.PageInfo.HasNextPage = true
	} else {
		conn.PageInfo.HasPreviousPage = offset > 0
		conn.PageInfo.HasNextPage = offset+len(resp.IDs) < reach
	}
	if n := len(resp.IDs); n > 0 {
		// The page's cursors are the positions of its first and last hits, visible or
		// not, so that the next page starts after a hidden last hit rather than on it
		// (the cursor's id is that of a visible edge, or 0: a hidden id is not shown).
		start, end := ent.Cursor{Value: serverCursorPrefix + strconv.Itoa(offset)}, ent.Cursor{Value: serverCursorPrefix + strconv.Itoa(offset+n-1)}
		if l := len(conn.Edges); l > 0 {
			start.ID, end.ID = conn.Edges[0].Cursor.ID, conn.Edges[l-1].Cursor.ID
		}
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &start, &end
	}
	out := &serverAnswer{conn: conn}
	if wantFacets {
		if out.facets, err = serverFacets(ctx, client, resp.Facets); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// serverFacets maps the server's facet counts to productSearch's facets. The server
// counts a product under its category and every ancestor (category_ids); productSearch
// counts it under its own category only, which is its subtree's count less its
// children's. This is exact while the matches span at most 100 categories (the server
// returns 100 values per facet). Price bands are the server's (SEARCH_PRICE_BANDS).
func serverFacets(ctx context.Context, client *ent.Client, counts map[meili.Facet]map[string]int) (*ProductSearchFacets, error) {
	out := &ProductSearchFacets{Categories: []*CategoryFacet{}, Merchants: []*MerchantFacet{}, PriceBands: []*PriceBandFacet{}}
	subtree := map[int]int{}
	for k, n := range counts[meili.FacetCategory] {
		if id, err := strconv.Atoi(k); err == nil {
			subtree[id] = n
		}
	}
	if len(subtree) > 0 {
		ids := make([]int, 0, len(subtree))
		for id := range subtree {
			ids = append(ids, id)
		}
		cats, err := client.Category.Query().Where(category.IDIn(ids...)).All(ctx)
		if err != nil {
			return nil, err
		}
		own := maps.Clone(subtree)
		for _, c := range cats {
			if c.ParentID != nil {
				if _, ok := own[*c.ParentID]; ok {
					own[*c.ParentID] -= subtree[c.ID]
				}
			}
		}
		for _, c := range cats {
			if n := own[c.ID]; n > 0 {
				out.Categories = append(out.Categories, &CategoryFacet{Category: c, Count: n})
			}
		}
		slices.SortFunc(out.Categories, func(a, b *CategoryFacet) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return a.Category.ID - b.Category.ID
		})
		out.Categories = out.Categories[:min(len(out.Categories), MaxFacetValues)]
	}
	byMerchant := map[int]int{}
	for k, n := range counts[meili.FacetMerchant] {
		if id, err := strconv.Atoi(k); err == nil && n > 0 {
			byMerchant[id] = n
		}
	}
	if len(byMerchant) > 0 {
		ids := make([]int, 0, len(byMerchant))
		for id := range byMerchant {
			ids = append(ids, id)
		}
		ms, err := client.Merchant.Query().Where(merchant.IDIn(ids...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out.Merchants = append(out.Merchants, &MerchantFacet{Merchant: m, Count: byMerchant[m.ID]})
		}
		slices.SortFunc(out.Merchants, func(a, b *MerchantFacet) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return a.Merchant.ID - b.Merchant.ID
		})
		out.Merchants = out.Merchants[:min(len(out.Merchants), MaxFacetValues)]
	}
	type band struct {
		lo, hi int64 // hi -1: open
		n      int
	}
	var bands []band
	for label, n := range counts[meili.FacetPriceBand] {
		if n <= 0 {
			continue
		}
		b := band{hi: -1, n: n}
		var err error
		if lo, ok := strings.CutSuffix(label, "+"); ok {
			b.lo, err = strconv.ParseInt(lo, 10, 64)
		} else if lo, hi, ok := strings.Cut(label, "-"); ok {
			b.lo, err = strconv.ParseInt(lo, 10, 64)
			if err == nil {
				b.hi, err = strconv.ParseInt(hi, 10, 64)
			}
		} else {
			continue
		}
		if err == nil {
			bands = append(bands, b)
		}
	}
	slices.SortFunc(bands, func(a, b band) int { return int(a.lo - b.lo) })
	for _, b := range bands {
		f := &PriceBandFacet{Min: decimal(b.lo), Count: b.n}
		if b.hi > 0 {
			m := decimal(b.hi - 1)
			f.Max = &m
		}
		out.PriceBands = append(out.PriceBands, f)
	}
	out.InStock = counts[meili.FacetInStock]["true"]
	return out, nil
}

// suggest asks the server for the products completing prefix; errFallback when the
// embedded search should answer.
func (s *ServerSearch) suggest(ctx context.Context, client *ent.Client, prefix string) ([]titled, error) {
	loc, ok := s.locale(ctx)
	if !ok {
		return nil, errFallback
	}
	hits, err := s.Client.Suggest(ctx, prefix, loc, MaxSuggestions)
	switch {
	case errors.Is(err, meili.ErrUnavailable):
		s.unavailable(ctx, err)
		return nil, errFallback
	case err != nil:
		var appErr *apperror.Error
		if errors.As(err, &appErr) {
			return nil, err
		}
		return nil, fmt.Errorf("search server: %w", err)
	}
	if len(hits) == 0 {
		return nil, nil
	}
	ids := make([]int, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	preds, _, err := (&ProductFilter{}).predicates(ctx)
	if err != nil {
		return nil, err
	}
	nodes, err := client.Product.Query().Where(preds...).Where(product.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[int]*ent.Product, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	out := make([]titled, 0, len(hits))
	for _, h := range hits {
		if p := byID[h.ID]; p != nil {
			out = append(out, titled{title: h.Title, product: p})
		}
	}
	return out, nil
}
