package members

import (
	"context"
	"fmt"
	"github.com/xiadan/xiadan/ent/customergroup"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"weak"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/memberprice"
	"github.com/xiadan/xiadan/ent/membership"
	"github.com/xiadan/xiadan/ent/membertier"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The benefits of a tier reach checkout through three providers of one Service, which
// share one read of the customer's tier per basket (basketMemo): a quote costs at most
// two statements for all member benefits — the tier, and the member prices of the
// basket's variants (only when the tier has any).

// MemberPriceProvider returns the provider of member prices, at pricing.StagePrice: each
// line's variant at the lowest price set for the customer's tier or any tier below it.
// Basket.ProposePrice keeps it only when it is the lowest proposal (a flash-sale price
// may win) and below the list price. Merchant-funded; nothing to commit.
func (s *Service) MemberPriceProvider() pricing.Provider { return memberPrices{s} }

// TierDiscountProvider returns the provider of the tier discount, at
// pricing.StageAutomatic: discount_bps of what is left of the lines not at a member
// price, up to discount_cap per checkout, spread over them by Basket.Spread.
// Platform-funded; nothing to commit.
func (s *Service) TierDiscountProvider() pricing.Provider { return tierDiscount{s} }

// FreeShippingProvider returns the provider of a tier's free shipping, at
// pricing.StageShipping: each merchant's fee is waived (Basket.AddShipping, what is left
// of it) when the goods of its order, after discounts, come to free_shipping_min.
// Platform-funded; nothing to commit.
func (s *Service) FreeShippingProvider() pricing.Provider { return freeShipping{s} }

// Providers are the three providers of member benefits, for the checkout's list.
func (s *Service) Providers() []pricing.Provider {
	return []pricing.Provider{s.MemberPriceProvider(), s.TierDiscountProvider(), s.FreeShippingProvider()}
}

// TierChecker returns the pricing.AudienceChecker of "tier:<CODE>": customers whose tier
// is CODE or ranks above it. An unknown code is nobody.
func (s *Service) TierChecker() pricing.AudienceChecker { return tierChecker{} }

// GroupChecker returns the pricing.AudienceChecker of "group:<id>": the customers in a
// merchant's customer group, by hand or by rule. An unknown group is nobody.
func (s *Service) GroupChecker() pricing.AudienceChecker { return groupChecker{} }

// basketMemo remembers the customer's tier per basket while the basket lives, so the
// three providers of one quote read it once. It holds the basket weakly.
type basketMemo struct {
	mu    sync.Mutex
	tiers map[weak.Pointer[pricing.Basket]]*ent.MemberTier
}

// tierOf is the customer's tier for basket b (nil: none, or anonymous).
func (s *Service) tierOf(ctx context.Context, db *ent.Client, b *pricing.Basket) (*ent.MemberTier, error) {
	if b.UserID == 0 {
		return nil, nil
	}
	key := weak.Make(b)
	s.memo.mu.Lock()
	t, ok := s.memo.tiers[key]
	s.memo.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := db.MemberTier.Query().Where(membertier.HasMembershipsWith(membership.UserID(b.UserID))).
		Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		t, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.memo.mu.Lock()
	if s.memo.tiers == nil {
		s.memo.tiers = map[weak.Pointer[pricing.Basket]]*ent.MemberTier{}
	}
	if _, ok := s.memo.tiers[key]; !ok {
		s.memo.tiers[key] = t
		runtime.AddCleanup(b, func(k weak.Pointer[pricing.Basket]) {
			s.memo.mu.Lock()
			delete(s.memo.tiers, k)
			s.memo.mu.Unlock()
		}, key)
	}
	s.memo.mu.Unlock()
	return t, nil
}

type memberPrices struct{ s *Service }

func (memberPrices) Stage() pricing.Stage { return pricing.StagePrice }

func (p memberPrices) Quote(ctx context.Context, db *ent.Client, b *pricing.Basket) error {
	if len(b.Lines) == 0 {
		return nil
	}
	t, err := p.s.tierOf(ctx, db, b)
	if err != nil || t == nil {
		return err
	}
	ids := make([]int, 0, len(b.Lines))
	for _, l := range b.Lines {
		ids = append(ids, l.VariantID)
	}
	rows, err := db.MemberPrice.Query().Where(memberprice.VariantIDIn(ids...), memberprice.Currency(b.Currency),
		atOrBelowLevel(t.Level)).All(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	best := map[int]*ent.MemberPrice{}
	for _, r := range rows {
		if cur, ok := best[r.VariantID]; !ok || r.Price < cur.Price || (r.Price == cur.Price && r.ID < cur.ID) {
			best[r.VariantID] = r
		}
	}
	for _, l := range b.Lines {
		if r, ok := best[l.VariantID]; ok {
			b.ProposePrice(l.Index, r.Price, pricing.Adjustment{Kind: pricing.KindMemberPrice, SourceID: r.ID,
				MerchantID: l.MerchantID, FundedBy: pricing.FundedByMerchant, Label: "会员价 " + t.Name})
		}
	}
	return nil
}

func (memberPrices) Commit(context.Context, *ent.Client, *pricing.Basket, map[int]int) error {
	return nil
}

// atOrBelowLevel keeps the member prices of tiers at level or below, with a subquery, so
// the prices are one statement.
func atOrBelowLevel(level int) func(*sql.Selector) {
	return func(s *sql.Selector) {
		t := sql.Table(membertier.Table)
		s.Where(sql.In(s.C(memberprice.FieldTierID),
			sql.Dialect(s.Dialect()).Select(t.C(membertier.FieldID)).From(t).Where(sql.LTE(t.C(membertier.FieldLevel), level))))
	}
}

type tierDiscount struct{ s *Service }

func (tierDiscount) Stage() pricing.Stage { return pricing.StageAutomatic }

func (p tierDiscount) Quote(ctx context.Context, db *ent.Client, b *pricing.Basket) error {
	t, err := p.s.tierOf(ctx, db, b)
	if err != nil || t == nil || t.DiscountBps <= 0 || t.Currency != b.Currency {
		return err
	}
	member := map[int]bool{}
	for _, a := range b.Adjustments {
		if a.Kind == pricing.KindMemberPrice {
			for i := range a.Lines {
				member[i] = true
			}
		}
	}
	var lines []int
	var base int64
	for _, l := range b.Lines {
		if !member[l.Index] && l.Net() > 0 {
			lines = append(lines, l.Index)
			base += l.Net()
		}
	}
	off := TierDiscount(base, t.DiscountBps, t.DiscountCap)
	if off <= 0 {
		return nil
	}
	merchantID := 0
	if ms := b.Merchants(); len(ms) == 1 {
		merchantID = ms[0]
	}
	b.Add(pricing.Adjustment{Kind: pricing.KindTierDiscount, SourceID: t.ID, MerchantID: merchantID,
		FundedBy: pricing.FundedByPlatform, Label: fmt.Sprintf("%s %s off", t.Name, percent(t.DiscountBps)),
		Lines: b.Spread(lines, off)})
	return nil
}

func (tierDiscount) Commit(context.Context, *ent.Client, *pricing.Basket, map[int]int) error {
	return nil
}

// TierDiscount is bps basis points of base, rounded down to the minor unit, up to cap.
func TierDiscount(base int64, bps int, cap *int64) int64 {
	if base <= 0 || bps <= 0 {
		return 0
	}
	off := base/10000*int64(bps) + base%10000*int64(bps)/10000
	if cap != nil && off > *cap {
		off = *cap
	}
	return off
}

type freeShipping struct{ s *Service }

func (freeShipping) Stage() pricing.Stage { return pricing.StageShipping }

func (p freeShipping) Quote(ctx context.Context, db *ent.Client, b *pricing.Basket) error {
	if len(b.Shipping) == 0 {
		return nil
	}
	t, err := p.s.tierOf(ctx, db, b)
	if err != nil || t == nil || !t.FreeShipping || (t.FreeShippingMin > 0 && t.Currency != b.Currency) {
		return err
	}
	waive := map[int]int64{}
	for m, fee := range b.Shipping {
		if fee <= 0 {
			continue
		}
		tot := b.TotalsOf(m)
		if tot.Subtotal-tot.Discount >= t.FreeShippingMin {
			waive[m] = fee
		}
	}
	if len(waive) == 0 {
		return nil
	}
	merchantID := 0
	if len(waive) == 1 {
		for m := range waive {
			merchantID = m
		}
	}
	b.AddShipping(pricing.Adjustment{Kind: pricing.KindFreeShipping, SourceID: t.ID, MerchantID: merchantID,
		FundedBy: pricing.FundedByPlatform, Label: t.Name + " 包邮", Shipping: waive})
	return nil
}

func (freeShipping) Commit(context.Context, *ent.Client, *pricing.Basket, map[int]int) error {
	return nil
}

type tierChecker struct{}

func (tierChecker) Prefix() string { return "tier" }

// InAudience is one statement: the customer's membership whose tier's level reaches that
// of the tier named rest.
func (tierChecker) InAudience(ctx context.Context, db *ent.Client, userID int, rest string) (bool, error) {
	code := strings.TrimSpace(rest)
	if userID == 0 || !tierCode.MatchString(code) {
		return false, nil
	}
	return db.Membership.Query().Where(membership.UserID(userID), membership.HasTierWith(func(s *sql.Selector) {
		t := sql.Table(membertier.Table).As("named")
		s.Where(sql.GTE(s.C(membertier.FieldLevel),
			sql.Dialect(s.Dialect()).Select(t.C(membertier.FieldLevel)).From(t).Where(sql.EQ(t.C(membertier.FieldCode), code))))
	})).Exist(viewer.SystemContext(ctx))
}

type groupChecker struct{}

func (groupChecker) Prefix() string { return "group" }

func (groupChecker) InAudience(ctx context.Context, db *ent.Client, userID int, rest string) (bool, error) {
	if userID == 0 {
		return false, nil
	}
	return InGroup(ctx, db, userID, strings.TrimSpace(rest))
}

// MayTarget lets only a group's own merchant (and the platform) aim at it: otherwise a
// rival could single out a competitor's loyal customers, and learn who they are from its
// own orders.
func (groupChecker) MayTarget(ctx context.Context, db *ent.Client, merchantID int, rest string) (bool, error) {
	if merchantID == 0 {
		return true, nil
	}
	gid, err := strconv.Atoi(strings.TrimSpace(rest))
	if err != nil || gid <= 0 {
		return false, nil
	}
	return db.CustomerGroup.Query().Where(customergroup.ID(gid), customergroup.MerchantID(merchantID)).
		Exist(viewer.SystemContext(ctx))
}
