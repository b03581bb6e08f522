// Package recommend answers the storefront's recommendations (issue #13 §2): products
// bought together, similar products, trending products of a category, and products for
// the viewer. Its counts come from paid orders, kept by a job (job.go) that reads the
// orders paid since its watermark into product_pairs and product_daily_sales; the queries
// (query.go) read those tables and answer with products the public storefront shows, topped
// up by a cold-start fallback when the counts know too little. docs/RECOMMENDATIONS.md
// states each method and its measured hit rate.
package recommend

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/loader"
)

const (
	// DefaultFirst is the length of a list when first is not given.
	DefaultFirst = 10
	// MaxFirst bounds first.
	MaxFirst = 50
	// TrendingDays is the window of "trending": the paid units of the last 7 UTC days.
	TrendingDays = 7
	// HalfLifeDays is how fast a day's sales lose weight in "trending".
	HalfLifeDays = 2.0
	// DefaultBatch is how many paid orders one job transaction counts.
	DefaultBatch = 500
	// MaxProductsPerOrder bounds the products of one order that make pairs (n² pairs).
	MaxProductsPerOrder = 50
)

// Service answers recommendations and keeps their counts.
type Service struct {
	// Now is the clock (time.Now when nil); tests set a manual one.
	Now func() time.Time
	// Behaviour gives a viewer's recent products for "for you" (EventsThenPurchases when
	// nil).
	Behaviour Behaviour
	// Batch is how many orders one job transaction counts (DefaultBatch when 0).
	Batch int
	// SettleLag keeps the job off orders paid in the last moments, so a payment whose
	// transaction commits after a later one's is still ahead of the watermark when it is
	// read. The server uses 2 minutes; 0 reads up to now (tests).
	SettleLag time.Duration

	// rankings keeps each category's trending ranking (ranking) by category id, 0 for all.
	rankings sync.Map
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) behaviour() Behaviour {
	if s.Behaviour != nil {
		return s.Behaviour
	}
	return EventsThenPurchases{}
}

// limit checks first: 1 to MaxFirst, DefaultFirst when nil.
func limit(first *int) (int, error) {
	if first == nil {
		return DefaultFirst, nil
	}
	if *first < 1 || *first > MaxFirst {
		return 0, apperror.BadInput("first", "must be between 1 and %d", MaxFirst)
	}
	return *first, nil
}

// visible keeps what the public storefront shows at now: on sale (ACTIVE, of an ACTIVE
// merchant not suspended) and of a merchant that is not restricted or removed — the
// predicates of the storefront's product list, whoever asks.
func visible(ctx context.Context) []predicate.Product {
	now := standing.Now(ctx)
	return []predicate.Product{standing.ProductOnSale(now), standing.ProductOfListedMerchant(now)}
}

// load reads the products of ids the viewer may see and the storefront shows, in the
// order of ids, in one statement, and primes the request's loaders with their statuses.
func load(ctx context.Context, db *ent.Client, ids []int) ([]*ent.Product, error) {
	if len(ids) == 0 {
		return []*ent.Product{}, nil
	}
	ps, err := db.Product.Query().Where(append(visible(ctx), product.IDIn(ids...))...).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[int]*ent.Product, len(ps))
	for _, p := range ps {
		byID[p.ID] = p
	}
	out := make([]*ent.Product, 0, len(ps))
	for _, id := range ids {
		if p := byID[id]; p != nil {
			out = append(out, p)
		}
	}
	loader.For(ctx).PrimeProductStatuses(ctx, out...)
	return out, nil
}

// picks is an ordered list of product ids without repeats, and the ids it must not take.
type picks struct {
	ids  []int
	skip map[int]bool
	want int
}

func newPicks(want int, skip ...int) *picks {
	p := &picks{want: want, skip: map[int]bool{}}
	for _, id := range skip {
		p.skip[id] = true
	}
	return p
}

// add takes ids in order until the list is full.
func (p *picks) add(ids ...int) {
	for _, id := range ids {
		if p.full() {
			return
		}
		if !p.skip[id] {
			p.skip[id] = true
			p.ids = append(p.ids, id)
		}
	}
}

func (p *picks) full() bool { return len(p.ids) >= p.want }

// excluded lists the ids the picks may not take (taken or skipped), sorted.
func (p *picks) excluded() []int {
	out := make([]int, 0, len(p.skip))
	for id := range p.skip {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
