package catalog

import (
	"context"
	"fmt"

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
// MariaDB at 100k products, for a page of 0.3 ms). So the count is exact up to
// ExactCountLimit: the list counts at most ExactCountLimit+1 matching rows, which reads as
// many index entries and stops. Beyond that it is the exact count taken by an earlier
// request at most loader.CountTTL (10 s) ago, for shoppers (the public's lists are the same
// for everyone), or counted now for merchant staff, partners and admins, whose visibility
// is their own. Like Shopify's "1,000+" it is exact where a shopper can check it (a short
// list) and recent where nobody can (a catalogue of 100,000). It never counts what the
// viewer may not see: the cached figure was counted with the same filter and the same
// public visibility, and only a product that was hidden in the last 10 s can still be in
// it (as it was in the page a shopper loaded just before).

// ExactCountLimit is the largest totalCount of the product list that is always exact.
const ExactCountLimit = 1000

// countProducts is the totalCount of query, the list's filtered query; keyword is the
// analysed keyword query is narrowed by (nil for none), which names the shared count.
func countProducts(ctx context.Context, query *ent.ProductQuery, filter *ProductFilter, keyword *search.Analyzed) (int, error) {
	key, shared := countKey(ctx, filter, keyword)
	cache := loader.For(ctx).Counts()
	if shared {
		if n, ok := cache.Get(key); ok && n > ExactCountLimit {
			return n, nil
		}
	}
	n, err := countAtMost(ctx, query, ExactCountLimit+1)
	if err != nil {
		return 0, err
	}
	if n <= ExactCountLimit {
		if shared {
			cache.Forget(key)
		}
		return n, nil
	}
	if n, err = query.Clone().Count(ctx); err != nil {
		return 0, err
	}
	if shared {
		cache.Put(key, n)
	}
	return n, nil
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
	v := viewer.FromContext(ctx)
	if v != nil && (v.System || v.IsAdmin() || v.Has(viewer.RoleMerchant) || v.Has(viewer.RolePartner) || v.MerchantID != 0) {
		return "", false
	}
	q := ""
	if keyword != nil {
		q = fmt.Sprintf(" q=%d:%v", keyword.MinMatch, keyword.Clauses)
	}
	if f == nil {
		return "products" + q, true
	}
	if f.Status != nil {
		return "", false
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
	kind, inStock := "-", "-"
	if f.Kind != nil {
		kind = f.Kind.String()
	}
	if f.InStock != nil {
		inStock = fmt.Sprint(*f.InStock)
	}
	return fmt.Sprintf("products m=%s c=%s k=%s min=%s max=%s s=%s", i(f.MerchantID), i(f.CategoryID), kind, s(f.MinPrice), s(f.MaxPrice), inStock) + q, true
}
