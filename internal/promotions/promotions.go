// Package promotions runs merchants' automatic promotions: full reductions (满减), buy N
// get M and flash sales (秒杀/限时折扣). Merchants manage them here (Service); checkout
// applies them as pricing.Providers — FlashSale at pricing.StagePrice, Automatic at
// pricing.StageAutomatic — and FlashSale claims its stock and per-user allowance at
// Commit and gives them back on full cancellation (Release). docs/PROMOTIONS-automatic.md.
package promotions

import (
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/promotion"
	"github.com/xiadan/xiadan/internal/pricing"
)

// Status is a promotion's status as the API shows it: the stored one, except that an
// ACTIVE or PAUSED promotion past its end is ENDED.
type Status string

// The statuses.
const (
	StatusDraft  Status = "DRAFT"
	StatusActive Status = "ACTIVE"
	StatusPaused Status = "PAUSED"
	StatusEnded  Status = "ENDED"
)

// Reasons of the CONFLICT errors of Commit.
const (
	// ReasonSoldOut: the flash sale's cap would be passed.
	// ReasonChanged: the flash sale was paused, edited or ended after the quote.
	ReasonChanged = "FLASH_SALE_CHANGED"
	ReasonSoldOut = "FLASH_SALE_SOLD_OUT"
	// ReasonLimitReached: the customer would pass the flash sale's per-user limit.
	ReasonLimitReached = "FLASH_SALE_LIMIT_REACHED"
)

// Service manages promotions and builds the checkout's providers.
type Service struct {
	// Now is the clock of management (activation, ending, release); time.Now when nil.
	// Quotes go by pricing.Basket.Now.
	Now func() time.Time
	// Audiences answer the promotions' audience names by prefix ("tier", "group", …).
	// A name whose prefix has no checker matches nobody.
	Audiences []pricing.AudienceChecker
}

// New returns a service answering audiences with checkers.
func New(checkers ...pricing.AudienceChecker) *Service {
	return &Service{Audiences: checkers}
}

func (s *Service) now() time.Time {
	if s != nil && s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// StatusOf is p's status at now.
func StatusOf(p *ent.Promotion, now time.Time) Status {
	switch {
	case p.Status == promotion.StatusENDED:
		return StatusEnded
	case p.Status != promotion.StatusDRAFT && !p.EndsAt.After(now):
		return StatusEnded
	default:
		return Status(p.Status)
	}
}

// Running reports whether p applies at now: ACTIVE and within [StartsAt, EndsAt).
func Running(p *ent.Promotion, now time.Time) bool {
	return p.Status == promotion.StatusACTIVE && !p.StartsAt.After(now) && p.EndsAt.After(now)
}

// running is the predicate of Running.
func running(now time.Time) predicate.Promotion {
	return promotion.And(promotion.StatusEQ(promotion.StatusACTIVE), promotion.StartsAtLTE(now), promotion.EndsAtGT(now))
}

// statusIs is the predicate of StatusOf(p, now) == st.
func statusIs(st Status, now time.Time) predicate.Promotion {
	switch st {
	case StatusEnded:
		return promotion.Or(promotion.StatusEQ(promotion.StatusENDED),
			promotion.And(promotion.StatusIn(promotion.StatusACTIVE, promotion.StatusPAUSED), promotion.EndsAtLTE(now)))
	case StatusDraft:
		return promotion.StatusEQ(promotion.StatusDRAFT)
	default:
		return promotion.And(promotion.StatusEQ(promotion.Status(st)), promotion.EndsAtGT(now))
	}
}

// inScope reports whether line l is in p's scope.
func inScope(p *ent.Promotion, l *pricing.Line) bool {
	if l.MerchantID != p.MerchantID {
		return false
	}
	switch p.Scope {
	case promotion.ScopeCATEGORIES:
		return l.CategoryID != 0 && contains(p.CategoryIds, l.CategoryID)
	case promotion.ScopePRODUCTS:
		return contains(p.ProductIds, l.ProductID)
	default:
		return true
	}
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// The providers' contracts (internal/pricing).
var (
	_ pricing.Provider = (*FlashSale)(nil)
	_ pricing.Releaser = (*FlashSale)(nil)
	_ pricing.Provider = (*Automatic)(nil)
)
