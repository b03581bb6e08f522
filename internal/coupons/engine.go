package coupons

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/coupon"
	"github.com/xiadan/xiadan/ent/coupontemplate"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Reason says why a claimed coupon cannot be used on a basket; "" when it can.
type Reason string

// The reasons, as the API shows them.
const (
	ReasonExpired        Reason = "EXPIRED"
	ReasonNotYetValid    Reason = "NOT_YET_VALID"
	ReasonOutOfScope     Reason = "OUT_OF_SCOPE"
	ReasonBelowThreshold Reason = "BELOW_THRESHOLD"
	ReasonCurrency       Reason = "OTHER_CURRENCY"
	ReasonUsed           Reason = "USED"
	ReasonSameShop       Reason = "ONE_PER_SHOP"
	ReasonOnePlatform    Reason = "ONE_PLATFORM_COUPON"
)

// held is a claimed coupon with its template.
type held struct {
	c *ent.Coupon
	t *ent.CouponTemplate
}

func (h held) platform() bool { return h.t.MerchantID == nil }

// Evaluation is one claimed coupon judged against a basket.
type Evaluation struct {
	Coupon   *ent.Coupon
	Template *ent.CouponTemplate
	// Value is what it would take off the basket as it stands before coupons.
	Value int64
	// Reason is "" when the coupon can be used.
	Reason Reason
	// Message explains Reason to the customer.
	Message string
}

// available reads userID's claimed coupons that are AVAILABLE and valid at now (only ids
// when given) with their templates: two statements.
func available(ctx context.Context, db *ent.Client, userID int, ids []int, now time.Time) ([]held, error) {
	sctx := viewer.SystemContext(ctx)
	q := db.Coupon.Query().Where(coupon.UserID(userID), coupon.StatusEQ(coupon.StatusAVAILABLE))
	if ids != nil {
		q.Where(coupon.IDIn(ids...))
	} else {
		q.Where(coupon.ValidUntilGT(now))
	}
	cs, err := q.Order(coupon.ByValidUntil(), coupon.ByID()).All(sctx)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	tids := make([]int, 0, len(cs))
	for _, c := range cs {
		tids = append(tids, c.TemplateID)
	}
	ts, err := db.CouponTemplate.Query().Where(coupontemplate.IDIn(uniq(tids)...)).All(sctx)
	if err != nil {
		return nil, err
	}
	byID := map[int]*ent.CouponTemplate{}
	for _, t := range ts {
		byID[t.ID] = t
	}
	out := make([]held, 0, len(cs))
	for _, c := range cs {
		if t := byID[c.TemplateID]; t != nil {
			out = append(out, held{c, t})
		}
	}
	return out, nil
}

// inScope returns the indexes of b's lines template t applies to.
func inScope(b *pricing.Basket, t *ent.CouponTemplate) []int {
	var out []int
	for _, l := range b.Lines {
		if t.MerchantID != nil && l.MerchantID != *t.MerchantID {
			continue
		}
		ok := false
		switch t.Scope {
		case coupontemplate.ScopeALL:
			ok = true
		case coupontemplate.ScopeMERCHANT:
			ok = t.MerchantID != nil || slices.Contains(t.ScopeIds, l.MerchantID)
		case coupontemplate.ScopeCATEGORIES:
			ok = l.CategoryID != 0 && slices.Contains(t.ScopeIds, l.CategoryID)
		case coupontemplate.ScopePRODUCTS:
			ok = slices.Contains(t.ScopeIds, l.ProductID)
		}
		if ok {
			out = append(out, l.Index)
		}
	}
	return out
}

// judge says what coupon h would take off b as b stands, and why not when it would not.
func judge(b *pricing.Basket, h held) (value int64, lines []int, reason Reason, msg string) {
	t, c := h.t, h.c
	switch {
	case c.Status == coupon.StatusUSED:
		return 0, nil, ReasonUsed, "This coupon has been used."
	case c.Status == coupon.StatusEXPIRED || !b.Now.Before(c.ValidUntil):
		return 0, nil, ReasonExpired, "This coupon has expired."
	case b.Now.Before(c.ValidFrom):
		return 0, nil, ReasonNotYetValid, "This coupon is valid from " + c.ValidFrom.Format(time.DateTime) + " UTC."
	case t.Currency != b.Currency:
		return 0, nil, ReasonCurrency, "This coupon is in " + t.Currency + "."
	}
	lines = inScope(b, t)
	var base int64
	for _, i := range lines {
		base += b.Lines[i].Net()
	}
	if base == 0 {
		return 0, nil, ReasonOutOfScope, "Nothing in the basket is covered by this coupon."
	}
	if base < t.Threshold {
		short := money.Money{Minor: t.Threshold - base, Currency: t.Currency}
		return 0, nil, ReasonBelowThreshold, "Add " + short.Formatted() + " more of what it covers to use this coupon."
	}
	return Value(t, base), lines, "", ""
}

// Value is what template t takes off base (the net of the lines in its scope): a fixed
// amount, or a percentage (rounded down) capped at max_discount; never more than base.
func Value(t *ent.CouponTemplate, base int64) int64 {
	var v int64
	switch t.Kind {
	case coupontemplate.KindFIXED:
		v = t.Amount
	case coupontemplate.KindPERCENT:
		v = pctOf(base, t.PercentBp)
		if t.MaxDiscount > 0 {
			v = min(v, t.MaxDiscount)
		}
	}
	return max(min(v, base), 0)
}

// pctOf is base * bp / 10000, rounded down, without overflowing.
func pctOf(base int64, bp int) int64 {
	return base/10000*int64(bp) + base%10000*int64(bp)/10000
}

// apply adds coupon h's adjustment to b; nil when it takes nothing.
func apply(b *pricing.Basket, h held) *pricing.Adjustment {
	v, lines, reason, _ := judge(b, h)
	if reason != "" || v == 0 {
		return nil
	}
	a := pricing.Adjustment{Stage: pricing.StageShopCoupon, Kind: pricing.KindShopCoupon, SourceID: h.c.ID,
		FundedBy: pricing.FundedByMerchant, Label: Label(h.t), Lines: b.Spread(lines, v), Data: used{h.c.ID, h.t.ID}}
	if h.platform() {
		a.Stage, a.Kind, a.FundedBy = pricing.StagePlatformCoupon, pricing.KindPlatformCoupon, pricing.FundedByPlatform
	} else {
		a.MerchantID = *h.t.MerchantID
	}
	return b.Add(a)
}

// used is an adjustment's note for Commit.
type used struct{ couponID, templateID int }

// Label is how a template reads to customers: "满200减30", "8.5折 最高减50", "减10".
func Label(t *ent.CouponTemplate) string {
	m := func(v int64) string { return money.Money{Minor: v, Currency: t.Currency}.Amount() }
	var s string
	switch t.Kind {
	case coupontemplate.KindFIXED:
		s = "减" + m(t.Amount)
	case coupontemplate.KindPERCENT:
		s = fmt.Sprintf("%s折", trimZeros(fmt.Sprintf("%.2f", float64(10000-t.PercentBp)/1000)))
		if t.MaxDiscount > 0 {
			s += " 最高减" + m(t.MaxDiscount)
		}
	}
	if t.Threshold > 0 {
		s = "满" + m(t.Threshold) + s
	}
	return t.Name + " " + s
}

func trimZeros(s string) string {
	for len(s) > 1 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

// best picks the combination of at most one shop coupon per merchant and one platform
// coupon that takes the most off b (b is not changed): the most valuable shop coupon of
// each merchant, the one expiring first on a tie, with each platform coupon or none; and
// no shop coupon with each platform coupon (a platform coupon's threshold may need the
// shop coupons left out). A tie keeps the combination found first (shop coupons first).
func best(b *pricing.Basket, hs []held) []held {
	var shops, plats []held
	for _, h := range hs {
		if h.platform() {
			plats = append(plats, h)
		} else {
			shops = append(shops, h)
		}
	}
	// The best shop coupon per merchant, judged on the basket before any coupon.
	bestShop := map[int]held{}
	bestVal := map[int]int64{}
	for _, h := range shops {
		v, _, reason, _ := judge(b, h)
		if reason != "" || v == 0 {
			continue
		}
		m := *h.t.MerchantID
		cur, ok := bestShop[m]
		if !ok || v > bestVal[m] || (v == bestVal[m] && h.c.ValidUntil.Before(cur.c.ValidUntil)) {
			bestShop[m], bestVal[m] = h, v
		}
	}
	var greedy []held
	for _, m := range b.Merchants() {
		if h, ok := bestShop[m]; ok {
			greedy = append(greedy, h)
		}
	}
	var (
		pick []held
		top  int64 = -1
	)
	try := func(combo []held) {
		c := b.Clone()
		var got int64
		for _, h := range combo {
			if a := apply(c, h); a != nil {
				got += a.Amount
			}
		}
		if got > top {
			top, pick = got, slices.Clone(combo)
		}
	}
	for _, shopSet := range [][]held{greedy, nil} {
		try(shopSet)
		for _, p := range plats {
			try(append(slices.Clone(shopSet), p))
		}
	}
	if top <= 0 {
		return nil
	}
	return pick
}

func uniq(xs []int) []int {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

func byCouponID(a, b held) int { return cmp.Compare(a.c.ID, b.c.ID) }
