package recommend

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/category"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productdailysales"
	"github.com/xiadan/xiadan/ent/productpair"
	"github.com/xiadan/xiadan/ent/recommendwatermark"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// BoughtTogether lists the products most often in the same paid order as p, most orders
// first (ties by id). When fewer have been bought with p, the list is topped up with
// p's category's trending products, then the storefront's (cold start).
func (s *Service) BoughtTogether(ctx context.Context, db *ent.Client, p *ent.Product, first *int) ([]*ent.Product, error) {
	n, err := limit(first)
	if err != nil {
		return nil, err
	}
	pk := newPicks(n, p.ID)
	ns, err := neighbours(ctx, db, []int{p.ID}, nil, n)
	if err != nil {
		return nil, err
	}
	for _, e := range ns {
		pk.add(e.OtherID)
	}
	if err := s.fillTrending(ctx, db, pk, p.CategoryID, true); err != nil {
		return nil, err
	}
	return load(ctx, db, pk.ids)
}

// Weights of Similar's blend.
const (
	weightCoBought = 0.7
	weightCategory = 0.2
	weightPrice    = 0.1
	// similarCandidates is how many co-bought and how many same-category products compete.
	similarCandidates = 50
)

// Similar lists the products most like p: the cosine of the two products' paid orders
// (orders with both / √(orders with p × orders with the other)), blended with being in
// the same category and a close price (within a factor of 4, closer scoring more), so a
// product nobody bought yet still finds its neighbours by category and price. Without a
// category or orders, it falls back to the trending products.
func (s *Service) Similar(ctx context.Context, db *ent.Client, p *ent.Product, first *int) ([]*ent.Product, error) {
	n, err := limit(first)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	cos, err := cosines(ctx, db, []int{p.ID}, []int{p.ID}, similarCandidates)
	if err != nil {
		return nil, err
	}
	ids := make([]int, 0, len(cos)+similarCandidates)
	for id := range cos {
		ids = append(ids, id)
	}
	if p.CategoryID != nil {
		near, err := db.Product.Query().
			Where(append(visible(ctx), product.CategoryID(*p.CategoryID), product.IDNEQ(p.ID))...).
			Order(func(s *sql.Selector) {
				s.OrderExpr(sql.ExprP("ABS("+s.C(product.FieldMinPrice)+" - ?)", p.MinPrice), sql.Expr(s.C(product.FieldID)))
			}).Limit(similarCandidates).IDs(sys)
		if err != nil {
			return nil, err
		}
		ids = append(ids, near...)
	}
	cands, err := load(ctx, db, ids)
	if err != nil {
		return nil, err
	}
	type scored struct {
		p     *ent.Product
		score float64
	}
	seen := map[int]bool{p.ID: true}
	list := make([]scored, 0, len(cands))
	for _, c := range cands {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		score := weightCoBought * cos[c.ID]
		if p.CategoryID != nil && c.CategoryID != nil && *c.CategoryID == *p.CategoryID {
			score += weightCategory
		}
		score += weightPrice * priceCloseness(p.MinPrice, c.MinPrice)
		list = append(list, scored{c, score})
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].score != list[j].score {
			return list[i].score > list[j].score
		}
		return list[i].p.ID < list[j].p.ID
	})
	out := make([]*ent.Product, 0, n)
	pk := newPicks(n, p.ID)
	for _, c := range list {
		if pk.full() {
			break
		}
		pk.add(c.p.ID)
		out = append(out, c.p)
	}
	if pk.full() {
		return out, nil
	}
	taken := len(pk.ids)
	if err := s.fillTrending(ctx, db, pk, p.CategoryID, true); err != nil {
		return nil, err
	}
	more, err := load(ctx, db, pk.ids[taken:])
	if err != nil {
		return nil, err
	}
	return append(out, more...), nil
}

// priceCloseness is 1 for the same price, falling to 0 at a factor of 4 apart.
func priceCloseness(a, b int64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	d := math.Abs(math.Log(float64(a) / float64(b)))
	return math.Max(0, 1-d/math.Log(4))
}

// Trending lists the products with the most paid units in the last TrendingDays days,
// each day's units weighing half as much every HalfLifeDays days back, among the products
// of the category and its sub-categories (all without one). When fewer sold, the list is
// topped up with the category's newest products on sale (cold start), never with
// products of other categories.
func (s *Service) Trending(ctx context.Context, db *ent.Client, categoryID *int, first *int) ([]*ent.Product, error) {
	n, err := limit(first)
	if err != nil {
		return nil, err
	}
	if categoryID != nil {
		ok, err := db.Category.Query().Where(category.ID(*categoryID)).Exist(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, apperror.NotFoundf("category not found")
		}
	}
	pk := newPicks(n)
	if err := s.fillTrending(ctx, db, pk, categoryID, false); err != nil {
		return nil, err
	}
	return load(ctx, db, pk.ids)
}

// fillTrending tops pk up with the trending products of the category tree (all without
// one), then its newest products on sale; with widen, a category's list is topped up from
// the whole storefront's in turn.
func (s *Service) fillTrending(ctx context.Context, db *ent.Client, pk *picks, categoryID *int, widen bool) error {
	for _, cat := range []*int{categoryID, nil} {
		if pk.full() {
			return nil
		}
		ids, err := s.trending(ctx, db, cat, pk.want-len(pk.ids), pk.excluded())
		if err != nil {
			return err
		}
		pk.add(ids...)
		if !pk.full() {
			ids, err := newest(ctx, db, cat, pk.want-len(pk.ids), pk.excluded())
			if err != nil {
				return err
			}
			pk.add(ids...)
		}
		if categoryID == nil || !widen {
			break
		}
	}
	return nil
}

// rankDepth is how many products of a category's trending ranking a replica keeps.
const rankDepth = 200

// ranking is a category's trending ranking as computed after orders counted orders, on day.
type ranking struct {
	orders, day int
	ids         []int
}

// trending is the ids of the n best-selling visible products of the window, skipping skip.
// The ranking (its first rankDepth products) is computed once per category for each state
// of the counts — the watermark's order count and the day — and kept by the replica; each
// call then only checks which of its products are still visible. A product that becomes
// visible again enters the ranking with the next counted order.
func (s *Service) trending(ctx context.Context, db *ent.Client, categoryID *int, n int, skip []int) ([]int, error) {
	sys := viewer.SystemContext(ctx)
	today := dayOf(standing.Now(ctx))
	counted, err := db.RecommendWatermark.Query().Where(recommendwatermark.Name(WatermarkOrders)).
		Select(recommendwatermark.FieldOrders).Ints(sys)
	if err != nil {
		return nil, err
	}
	state := ranking{orders: -1, day: today}
	if len(counted) == 1 {
		state.orders = counted[0]
	}
	key := 0
	if categoryID != nil {
		key = *categoryID
	}
	var ranked []int
	if r, ok := s.rankings.Load(key); ok && r.(ranking).orders == state.orders && r.(ranking).day == today {
		ranked = r.(ranking).ids
	} else {
		if ranked, err = rank(ctx, db, categoryID, today); err != nil {
			return nil, err
		}
		state.ids = ranked
		s.rankings.Store(key, state)
	}
	skipped := make(map[int]bool, len(skip))
	for _, id := range skip {
		skipped[id] = true
	}
	cands := make([]int, 0, len(ranked))
	for _, id := range ranked {
		if !skipped[id] {
			cands = append(cands, id)
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	shown, err := db.Product.Query().Where(append(visible(ctx), product.IDIn(cands...))...).IDs(sys)
	if err != nil {
		return nil, err
	}
	ok := make(map[int]bool, len(shown))
	for _, id := range shown {
		ok[id] = true
	}
	out := make([]int, 0, n)
	for _, id := range cands {
		if ok[id] && len(out) < n {
			out = append(out, id)
		}
	}
	return out, nil
}

// rank computes the first rankDepth products of the category tree's trending ranking.
func rank(ctx context.Context, db *ent.Client, categoryID *int, today int) ([]int, error) {
	where := visible(ctx)
	if categoryID != nil {
		where = append(where, catalog.InCategoryTree(*categoryID))
	}
	var rows []struct {
		ProductID int     `json:"product_id"`
		Score     float64 `json:"score"`
	}
	err := db.ProductDailySales.Query().
		Where(productdailysales.DayGT(today-TrendingDays), productdailysales.DayLTE(today),
			productdailysales.HasProductWith(where...)).
		Modify(func(s *sql.Selector) {
			pid := s.C(productdailysales.FieldProductID)
			s.Select(pid).AppendSelectExprAs(sql.Raw(decayedUnits(s, today)), "score").
				GroupBy(pid).OrderExpr(sql.Raw("score DESC"), sql.Raw(pid)).Limit(rankDepth)
		}).Scan(viewer.SystemContext(ctx), &rows)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(rows))
	for i, r := range rows {
		ids[i] = r.ProductID
	}
	return ids, nil
}

// decayedUnits is SUM(units × weight of the day): our own constants, no input.
func decayedUnits(s *sql.Selector, today int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SUM(%s * CASE %s", s.C(productdailysales.FieldUnits), s.C(productdailysales.FieldDay))
	for age := 0; age < TrendingDays; age++ {
		fmt.Fprintf(&b, " WHEN %d THEN %.6f", today-age, math.Pow(0.5, float64(age)/HalfLifeDays))
	}
	b.WriteString(" ELSE 0 END)")
	return b.String()
}

// newest is the ids of the n newest visible products of the category tree, skipping skip.
func newest(ctx context.Context, db *ent.Client, categoryID *int, n int, skip []int) ([]int, error) {
	where := visible(ctx)
	if categoryID != nil {
		where = append(where, catalog.InCategoryTree(*categoryID))
	}
	if len(skip) > 0 {
		where = append(where, product.IDNotIn(skip...))
	}
	return db.Product.Query().Where(where...).
		Order(ent.Desc(product.FieldCreatedAt), ent.Desc(product.FieldID)).Limit(n).IDs(viewer.SystemContext(ctx))
}

// neighbours reads the visible products most often bought with any of ids (not ids
// themselves nor skip), most orders first, at most n rows.
func neighbours(ctx context.Context, db *ent.Client, ids, skip []int, n int) ([]*ent.ProductPair, error) {
	where := []predicate.ProductPair{
		productpair.ProductIDIn(ids...),
		productpair.OtherIDNotIn(append(append([]int{}, ids...), skip...)...),
		productpair.HasOtherWith(visible(ctx)...),
	}
	return db.ProductPair.Query().Where(where...).
		Order(ent.Desc(productpair.FieldOrders), ent.Asc(productpair.FieldOtherID)).
		Limit(n).All(viewer.SystemContext(ctx))
}

// cosines scores the visible neighbours of seeds (skipping skip): for each, the sum over
// the seeds of orders with both / √(orders with the seed × orders with it). It reads at
// most perSeed × len(seeds) pairs.
func cosines(ctx context.Context, db *ent.Client, seeds, skip []int, perSeed int) (map[int]float64, error) {
	out := map[int]float64{}
	if len(seeds) == 0 {
		return out, nil
	}
	pairs, err := neighbours(ctx, db, seeds, skip, perSeed*len(seeds))
	if err != nil || len(pairs) == 0 {
		return out, err
	}
	ids := append([]int{}, seeds...)
	for _, e := range pairs {
		ids = append(ids, e.OtherID)
	}
	own, err := db.ProductPair.Query().
		Where(productpair.ProductIDIn(ids...), func(s *sql.Selector) {
			s.Where(sql.ColumnsEQ(s.C(productpair.FieldProductID), s.C(productpair.FieldOtherID)))
		}).All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	orders := make(map[int]int, len(own))
	for _, e := range own {
		orders[e.ProductID] = e.Orders
	}
	for _, e := range pairs {
		if d := float64(orders[e.ProductID]) * float64(orders[e.OtherID]); d > 0 {
			out[e.OtherID] += float64(e.Orders) / math.Sqrt(d)
		}
	}
	return out, nil
}

// forYouSeeds and forYouOwned bound what "for you" reads of the viewer's history.
const (
	forYouSeeds   = 20
	forYouPerSeed = 30
	forYouOwned   = 500
)

// ForYou lists products for the signed-in viewer: the sum of the cosine neighbours (as
// Similar's co-bought part) of their recent products (Behaviour: by default what they
// ordered and what is in their cart), leaving out what they already ordered and what is in
// their cart. Anonymous viewers, and viewers without history, get the trending products.
func (s *Service) ForYou(ctx context.Context, db *ent.Client, first *int) ([]*ent.Product, error) {
	n, err := limit(first)
	if err != nil {
		return nil, err
	}
	pk := newPicks(n)
	if uid := viewer.FromContext(ctx).UserID; uid != 0 {
		sys := viewer.SystemContext(ctx)
		seeds, err := s.behaviour().RecentProducts(sys, db, uid, forYouSeeds)
		if err != nil {
			return nil, err
		}
		owned, err := Purchased(sys, db, uid, forYouOwned)
		if err != nil {
			return nil, err
		}
		pk = newPicks(n, append(owned, seeds...)...)
		scores, err := cosines(ctx, db, seeds, pk.excluded(), forYouPerSeed)
		if err != nil {
			return nil, err
		}
		pk.add(ranked(scores)...)
	}
	if err := s.fillTrending(ctx, db, pk, nil, false); err != nil {
		return nil, err
	}
	return load(ctx, db, pk.ids)
}

// ranked lists the ids of scores best first, ties by id.
func ranked(scores map[int]float64) []int {
	ids := make([]int, 0, len(scores))
	for id := range scores {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if scores[ids[i]] != scores[ids[j]] {
			return scores[ids[i]] > scores[ids[j]]
		}
		return ids[i] < ids[j]
	})
	return ids
}
