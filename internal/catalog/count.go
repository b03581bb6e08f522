package catalog

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/search"
	"github.com/xiadan/xiadan/internal/viewer"
)

// totalCount of the storefront list and keyword search (docs/STOREFRONT-SPEED.md).
//
// Counting every on-sale product for every page cost more than the page itself (14 ms of
// MariaDB at 100k products, for a page of 0.3 ms; a minute at 1M). So the count is exact
// up to ExactCountLimit: the list counts at most ExactCountLimit+1 matching rows, which
// reads as many index entries and stops. Beyond that the exact count is taken in the
// background (loader.CountCache: one count per key at a time, a few per process) and the
// answer says how precise its figure is (totalCountPrecision):
//   - EXACT: counted now — under the limit, or a background count that finished within
//     COUNT_BUDGET (300 ms) of the request;
//   - ESTIMATE: an exact count taken in the background earlier (within loader.CountTTL,
//     10 s, for shoppers; older ones while a recount runs);
//   - AT_LEAST: nothing counted yet: the figure is ExactCountLimit+1, a lower bound.
//
// Shoppers share counts (the public's lists are the same for everyone): keyed by the
// filter and the analysed keyword, a fresh shared count is used without counting again.
// Merchant staff, partners and admins, whose visibility is their own, count under keys of
// their own and never take a cached count when a count finishes within COUNT_BUDGET, so
// they see a change at once wherever counting is cheap. Like Shopify's "1,000+" it is
// exact where a shopper can check it (a short list) and recent or a bound where nobody
// can (a catalogue of a million). It never counts what the viewer may not see: a shared
// figure was counted with the same filter and the same public visibility, and only a
// product hidden in the last seconds can still be in it (as it was in the page a
// shopper loaded just before).

// ExactCountLimit is the largest totalCount of the product list that is always exact.
const ExactCountLimit = 1000

// CountPrecision says how exact a totalCount is.
type CountPrecision string

// The precisions of a count.
const (
	CountExact    CountPrecision = "EXACT"
	CountEstimate CountPrecision = "ESTIMATE"
	CountAtLeast  CountPrecision = "AT_LEAST"
)

// precisions records, for the request, the precision of the product connections whose
// count was not exact (the generated connection type has no field for it).
type precisionsKey struct{}

func precisions(ctx context.Context) *sync.Map {
	return loader.Ext(ctx, precisionsKey{}, func(*ent.Client, loader.Options) *sync.Map { return &sync.Map{} })
}

// TotalCountPrecision is the precision of conn's totalCount.
func TotalCountPrecision(ctx context.Context, conn *ent.ProductConnection) CountPrecision {
	if p, ok := precisions(ctx).Load(conn); ok {
		return p.(CountPrecision)
	}
	return CountExact
}

// setCount sets conn's totalCount and records its precision.
func setCount(ctx context.Context, conn *ent.ProductConnection, n int, p CountPrecision) {
	conn.TotalCount = n
	if p != CountExact {
		precisions(ctx).Store(conn, p)
	}
}

// countProducts is the totalCount of query, the list's filtered query; keyword is the
// analysed keyword query is narrowed by (nil for none), which names the shared count.
func countProducts(ctx context.Context, query *ent.ProductQuery, filter *ProductFilter, keyword *search.Analyzed) (int, CountPrecision, error) {
	key, shared := countKey(ctx, filter, keyword)
	cache := loader.For(ctx).Counts()
	cached, fresh, ok := cache.Cached(key)
	if shared && ok && cached > ExactCountLimit {
		// A shared count past the limit: no statement at all. Once it is older than the
		// TTL it is counted again in the background (this request does not wait: the
		// count takes a minute at 1M) and served meanwhile.
		if !fresh {
			q := query.Clone()
			cache.Start(ctx, key, func(ctx context.Context) (int, error) { return q.Count(ctx) })
		}
		return cached, CountEstimate, nil
	}
	n, err := countAtMost(ctx, query, ExactCountLimit+1)
	if err != nil {
		return 0, "", err
	}
	if n <= ExactCountLimit {
		cache.Forget(key)
		return n, CountExact, nil
	}
	q := query.Clone()
	run, started := cache.Start(ctx, key, func(ctx context.Context) (int, error) { return q.Count(ctx) })
	// The shopper whose request started the first count waits for it a little; the others
	// answer at once with the bound (a count that takes a minute must not add the budget
	// to every page meanwhile). Staff wait, for a count of their own.
	if started || !shared {
		if total, done := run.Wait(ctx, cache.Budget()); done {
			return total, CountExact, nil
		}
	}
	if ctx.Err() != nil {
		return 0, "", ctx.Err()
	}
	if ok {
		return cached, CountEstimate, nil
	}
	return ExactCountLimit + 1, CountAtLeast, nil
}

// countAtMost counts the rows of query, stopping at limit:
// SELECT COUNT(*) FROM (SELECT id FROM products WHERE … LIMIT limit) AS bounded.
//
// The wrapping is an order option because, in a Select, Ent applies order options after
// every predicate (the privacy rule's included) and modifiers before them.
func countAtMost(ctx context.Context, query *ent.ProductQuery, limit int) (int, error) {
	return query.Clone().Order(func(s *sql.Selector) {
		inner := s.Clone()
		inner.Select(inner.C(product.FieldID)).ClearOrder().Limit(limit)
		*s = *sql.Dialect(s.Dialect()).Select(sql.Count("*")).From(inner.As("bounded"))
	}).Select(product.FieldID).Int(ctx)
}

// countKey names a count the public shares: the filter and the analysed keyword (the
// words searched for after segmentation, synonyms, typo corrections and relaxing, so two
// spellings that search the same share a count), for a viewer who sees what the public
// sees (neither admin, system, merchant staff nor partner). shared is false for everyone
// else, whose counts are their own.
func countKey(ctx context.Context, f *ProductFilter, keyword *search.Analyzed) (key string, shared bool) {
	key, public := filterKey(f, keyword)
	v := viewer.FromContext(ctx)
	if v != nil && (v.System || v.IsAdmin() || v.Has(viewer.RoleMerchant) || v.Has(viewer.RolePartner) || v.MerchantID != 0) {
		// Their own visibility: a key of their own.
		return fmt.Sprintf("viewer=%d/%d/%v ", v.UserID, v.MerchantID, v.System) + key, false
	}
	if !public {
		uid := 0
		if v != nil {
			uid = v.UserID
		}
		return "customer=" + strconv.Itoa(uid) + " " + key, false
	}
	return key, true
}

// filterKey names the filter and the analysed keyword of a count, and whether the public
// can share it (a status filter is staff's).
func filterKey(f *ProductFilter, keyword *search.Analyzed) (string, bool) {
	q := ""
	if keyword != nil {
		q = fmt.Sprintf(" q=%d:%v", keyword.MinMatch, keyword.Clauses)
	}
	if f == nil {
		return "products" + q, true
	}
	s := func(p *string) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%q", *p)
	}
	i := func(p *int) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	kind, inStock, status := "-", "-", "-"
	if f.Kind != nil {
		kind = f.Kind.String()
	}
	if f.InStock != nil {
		inStock = fmt.Sprint(*f.InStock)
	}
	if f.Status != nil {
		status = f.Status.String()
	}
	return fmt.Sprintf("products m=%s c=%s k=%s min=%s max=%s s=%s st=%s", i(f.MerchantID), i(f.CategoryID), kind,
		s(f.MinPrice), s(f.MaxPrice), inStock, status) + q, f.Status == nil
}
