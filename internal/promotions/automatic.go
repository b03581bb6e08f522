package promotions

import (
	"context"
	"slices"
	"sort"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/promotion"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// AutomaticData is the Data of the adjustments Automatic makes.
type AutomaticData struct {
	PromotionID int
	// Tier is the FULL_REDUCTION tier reached (its index in the promotion's tiers);
	// Times is how many times it was taken (1 unless repeating).
	Tier, Times int
	// FreeUnits is how many units BUY_N_GET_M gave away.
	FreeUnits int
}

// Automatic is the provider of full reductions (满减) and buy N get M, at
// pricing.StageAutomatic. For each merchant of the basket, in this order:
//
//  1. Its running BUY_N_GET_M promotions, oldest first: each gives away the cheapest
//     units of its in-scope lines (priced at what is left of each line after the price
//     stage); a line takes part in at most one of them.
//  2. Its best running FULL_REDUCTION: the one taking most off what is left of its
//     in-scope lines (ties: the oldest), spread over them in proportion.
//
// It claims nothing, so Commit does nothing and there is nothing to release.
type Automatic struct{ s *Service }

// Automatic returns the provider of full reductions and buy N get M.
func (s *Service) Automatic() *Automatic { return &Automatic{s: s} }

// Stage is pricing.StageAutomatic.
func (*Automatic) Stage() pricing.Stage { return pricing.StageAutomatic }

// Commit claims nothing: automatic promotions have no stock or uses.
func (*Automatic) Commit(context.Context, *ent.Client, *pricing.Basket, map[int]int) error {
	return nil
}

// Quote adds the basket's buy-N-get-M and full-reduction adjustments.
func (a *Automatic) Quote(ctx context.Context, db *ent.Client, b *pricing.Basket) error {
	merchants := b.Merchants()
	if len(merchants) == 0 {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	promos, err := db.Promotion.Query().Where(running(b.Now),
		promotion.MerchantIDIn(merchants...), promotion.Currency(b.Currency),
		promotion.KindIn(promotion.KindFULL_REDUCTION, promotion.KindBUY_N_GET_M)).
		Order(ent.Asc(promotion.FieldID)).All(sys)
	if err != nil || len(promos) == 0 {
		return err
	}
	aud := &pricing.Audiences{Checkers: a.s.Audiences, UserID: b.UserID}
	for _, m := range merchants {
		taken := map[int]bool{} // lines already in a BUY_N_GET_M
		var best *ent.Promotion
		var bestOff int64
		var bestTier, bestTimes int
		var bestLines []int
		for _, p := range promos {
			if p.MerchantID != m {
				continue
			}
			if ok, err := aud.In(ctx, db, p.Audiences); err != nil {
				return err
			} else if !ok {
				continue
			}
			if p.Kind == promotion.KindBUY_N_GET_M {
				applyBuyNGetM(b, p, taken)
			}
		}
		// The full reductions are judged after every BUY_N_GET_M of the merchant.
		for _, p := range promos {
			if p.MerchantID != m || p.Kind != promotion.KindFULL_REDUCTION {
				continue
			}
			if ok, _ := aud.In(ctx, db, p.Audiences); !ok {
				continue
			}
			lines := scopedLines(b, p)
			var base int64
			for _, i := range lines {
				base += b.Lines[i].Net()
			}
			off, tier, times := FullReductionOff(p.Tiers, p.Repeating, p.MaxOff, base)
			off = min(off, base)
			if off > bestOff {
				best, bestOff, bestTier, bestTimes, bestLines = p, off, tier, times, lines
			}
		}
		if best != nil {
			b.Add(pricing.Adjustment{Stage: pricing.StageAutomatic, Kind: pricing.KindFullReduction,
				SourceID: best.ID, MerchantID: m, FundedBy: pricing.FundedByMerchant,
				Label: best.Label + " · " + TierLabel(best.Tiers[bestTier], best.Repeating, best.Currency),
				Lines: b.Spread(bestLines, bestOff),
				Data:  AutomaticData{PromotionID: best.ID, Tier: bestTier, Times: bestTimes}})
		}
	}
	return nil
}

// scopedLines are the indexes of b's lines in p's scope that have something left.
func scopedLines(b *pricing.Basket, p *ent.Promotion) []int {
	var out []int
	for _, l := range b.Lines {
		if inScope(p, l) && l.Net() > 0 {
			out = append(out, l.Index)
		}
	}
	return out
}

// FullReductionOff is what tiers take off base: the highest tier reached, or — repeating,
// with one tier — its amount for every full threshold, capped at maxOff (0: no cap). It
// returns the amount, the tier's index and how many times it was taken (0 when none).
func FullReductionOff(tiers []schematype.PromotionTier, repeating bool, maxOff, base int64) (off int64, tier, times int) {
	if len(tiers) == 0 || base <= 0 {
		return 0, 0, 0
	}
	if repeating {
		t := tiers[0]
		if t.Threshold <= 0 {
			return 0, 0, 0
		}
		n := base / t.Threshold
		off = n * t.Off
		if maxOff > 0 && off > maxOff {
			off = maxOff
		}
		return off, 0, int(n)
	}
	for i, t := range tiers {
		if base >= t.Threshold && t.Off > off {
			off, tier, times = t.Off, i, 1
		}
	}
	return off, tier, times
}

// applyBuyNGetM gives away, of every BuyQuantity+FreeQuantity units of p's in-scope lines
// not yet taken, FreeQuantity — the cheapest units of all.
func applyBuyNGetM(b *pricing.Basket, p *ent.Promotion, taken map[int]bool) {
	group := p.BuyQuantity + p.FreeQuantity
	if p.BuyQuantity <= 0 || p.FreeQuantity <= 0 {
		return
	}
	var lines []int
	units := 0
	for _, i := range scopedLines(b, p) {
		if !taken[i] {
			lines = append(lines, i)
			units += b.Lines[i].Quantity
		}
	}
	free := units / group * p.FreeQuantity
	if free == 0 {
		return
	}
	// Cheapest unit first (what is left of the line per unit), the earlier line on a tie.
	sort.SliceStable(lines, func(x, y int) bool {
		lx, ly := b.Lines[lines[x]], b.Lines[lines[y]]
		return lx.Net()*int64(ly.Quantity) < ly.Net()*int64(lx.Quantity)
	})
	off := map[int]int64{}
	left := free
	for _, i := range lines {
		if left == 0 {
			break
		}
		l := b.Lines[i]
		k := min(left, l.Quantity)
		// k of the line's units: its net in proportion, whole units of money.
		off[i] = l.Net() * int64(k) / int64(l.Quantity)
		left -= k
	}
	for _, i := range lines {
		taken[i] = true
	}
	b.Add(pricing.Adjustment{Stage: pricing.StageAutomatic, Kind: pricing.KindBuyNGetM,
		SourceID: p.ID, MerchantID: p.MerchantID, FundedBy: pricing.FundedByMerchant,
		Label: p.Label, Lines: off,
		Data: AutomaticData{PromotionID: p.ID, FreeUnits: free}})
}

// TierLabel is a tier for customers: 满200减30, or 每满100减10 when repeating.
func TierLabel(t schematype.PromotionTier, repeating bool, currency string) string {
	pre := "满"
	if repeating {
		pre = "每满"
	}
	return pre + amount(t.Threshold, currency) + "减" + amount(t.Off, currency)
}

// amount is minor units in major units without needless zeros: 200, 19.9.
func amount(minor int64, currency string) string {
	s := money.Money{Minor: minor, Currency: currency}.Amount()
	if i := slices.Index([]byte(s), '.'); i >= 0 {
		for len(s) > i && (s[len(s)-1] == '0' || s[len(s)-1] == '.') {
			last := s[len(s)-1]
			s = s[:len(s)-1]
			if last == '.' {
				break
			}
		}
	}
	return s
}
