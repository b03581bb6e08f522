package coupons

import (
	"context"
	"fmt"
	"github.com/xiadan/xiadan/internal/pricing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/coupon"
	"github.com/xiadan/xiadan/ent/coupontemplate"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// TemplateInput is a new coupon template (createCouponTemplate).
type TemplateInput struct {
	// MerchantID issues a shop coupon (its staff or an admin); nil a platform coupon (admins).
	MerchantID *int
	Name       string
	Code       *string
	Kind       coupontemplate.Kind
	// Amount (FIXED), MaxDiscount (PERCENT cap) and Threshold are decimal amounts.
	Amount                     *string
	PercentBp                  *int
	MaxDiscount                *string
	Threshold                  *string
	Currency                   *string
	Scope                      coupontemplate.Scope
	ScopeIDs                   []int
	ValidFrom                  *time.Time
	ValidUntil                 *time.Time
	ValidDays                  *int
	ClaimStartsAt, ClaimEndsAt *time.Time
	TotalLimit                 *int
	PerUserLimit               *int
	Audiences                  []string
}

// manage checks that the viewer may manage coupons of merchantID (nil: the platform's).
func manage(ctx context.Context, merchantID *int) error {
	v := viewer.FromContext(ctx)
	switch {
	case v.UserID == 0:
		return apperror.New(apperror.Unauthenticated, "sign in to do this")
	case v.IsAdmin():
		return nil
	case merchantID == nil:
		return apperror.New(apperror.Forbidden, "only admins issue platform coupons")
	case !v.IsMerchantMember(*merchantID):
		return apperror.New(apperror.Forbidden, "only the merchant's staff manage its coupons")
	}
	return nil
}

// CreateTemplate issues a coupon template.
func (s *Service) CreateTemplate(ctx context.Context, db *ent.Client, in TemplateInput) (*ent.CouponTemplate, error) {
	if err := manage(ctx, in.MerchantID); err != nil {
		return nil, err
	}
	sctx := viewer.SystemContext(ctx)
	currency := "CNY"
	if in.MerchantID != nil {
		m, err := db.Merchant.Get(sctx, *in.MerchantID)
		if ent.IsNotFound(err) {
			return nil, apperror.BadInput("merchantID", "no such merchant")
		}
		if err != nil {
			return nil, err
		}
		currency = m.Currency
	} else if in.Currency != nil {
		currency = *in.Currency
	}
	amount := func(field string, s *string) (int64, error) {
		if s == nil {
			return 0, nil
		}
		v, err := money.ParseAmount(*s, currency)
		if err != nil || v < 0 {
			return 0, apperror.BadInput(field, "is not an amount in %s", currency)
		}
		return v, nil
	}
	c := db.CouponTemplate.Create().SetNillableMerchantID(in.MerchantID).SetCurrency(currency).
		SetKind(in.Kind).SetScope(in.Scope).SetCreatedBy(viewer.FromContext(ctx).UserID)
	if n := len([]rune(in.Name)); n == 0 || n > 100 {
		return nil, apperror.BadInput("name", "must be 1 to 100 characters")
	}
	c.SetName(in.Name)
	if in.Code != nil {
		code := normCode(*in.Code)
		if len(code) < 4 || len(code) > 32 {
			return nil, apperror.BadInput("code", "must be 4 to 32 characters")
		}
		c.SetCode(code)
	}
	amt, err := amount("amount", in.Amount)
	if err != nil {
		return nil, err
	}
	maxd, err := amount("maxDiscount", in.MaxDiscount)
	if err != nil {
		return nil, err
	}
	thr, err := amount("threshold", in.Threshold)
	if err != nil {
		return nil, err
	}
	switch in.Kind {
	case coupontemplate.KindFIXED:
		if amt <= 0 {
			return nil, apperror.BadInput("amount", "a FIXED coupon needs a positive amount")
		}
		c.SetAmount(amt)
	case coupontemplate.KindPERCENT:
		if in.PercentBp == nil || *in.PercentBp < 1 || *in.PercentBp > 10000 {
			return nil, apperror.BadInput("percentBp", "a PERCENT coupon needs 1 to 10000 basis points")
		}
		c.SetPercentBp(*in.PercentBp).SetMaxDiscount(maxd)
	}
	c.SetThreshold(thr)
	switch {
	case in.Scope == coupontemplate.ScopeALL || (in.Scope == coupontemplate.ScopeMERCHANT && in.MerchantID != nil):
		if len(in.ScopeIDs) > 0 {
			return nil, apperror.BadInput("scopeIDs", "are only for CATEGORIES, PRODUCTS or a platform MERCHANT scope")
		}
	case len(in.ScopeIDs) == 0 || len(in.ScopeIDs) > MaxScopeIDs:
		return nil, apperror.BadInput("scopeIDs", "give 1 to %d ids for scope %s", MaxScopeIDs, in.Scope)
	}
	c.SetScopeIds(uniq(in.ScopeIDs))
	switch {
	case in.ValidDays != nil && (in.ValidFrom != nil || in.ValidUntil != nil):
		return nil, apperror.BadInput("validDays", "give validDays or a validFrom/validUntil window, not both")
	case in.ValidDays != nil:
		if *in.ValidDays < 1 || *in.ValidDays > MaxValidity {
			return nil, apperror.BadInput("validDays", "must be 1 to %d", MaxValidity)
		}
		c.SetValidDays(*in.ValidDays)
	case in.ValidUntil == nil:
		return nil, apperror.BadInput("validUntil", "give validUntil or validDays")
	default:
		if in.ValidFrom != nil && !in.ValidFrom.Before(*in.ValidUntil) {
			return nil, apperror.BadInput("validUntil", "must be after validFrom")
		}
		c.SetNillableValidFrom(utc(in.ValidFrom)).SetValidUntil(in.ValidUntil.UTC())
	}
	if in.ClaimStartsAt != nil && in.ClaimEndsAt != nil && !in.ClaimStartsAt.Before(*in.ClaimEndsAt) {
		return nil, apperror.BadInput("claimEndsAt", "must be after claimStartsAt")
	}
	c.SetNillableClaimStartsAt(utc(in.ClaimStartsAt)).SetNillableClaimEndsAt(utc(in.ClaimEndsAt))
	if in.TotalLimit != nil {
		if *in.TotalLimit < 0 {
			return nil, apperror.BadInput("totalLimit", "must not be negative (0: unlimited)")
		}
		c.SetTotalLimit(*in.TotalLimit)
	}
	if in.PerUserLimit != nil {
		if *in.PerUserLimit < 1 || *in.PerUserLimit > MaxPerUser {
			return nil, apperror.BadInput("perUserLimit", "must be 1 to %d", MaxPerUser)
		}
		c.SetPerUserLimit(*in.PerUserLimit)
	}
	for i, a := range in.Audiences {
		if len(a) < 3 || len(a) > 100 || !containsColon(a) {
			return nil, apperror.BadInput("audiences", "audience %d must read prefix:name, such as tier:GOLD", i)
		}
	}
	// A shop aims only at audiences it may: its own customer groups, not a rival's, and no
	// platform experiment. Refused like one that does not exist.
	owner := 0
	if in.MerchantID != nil {
		owner = *in.MerchantID
	}
	if i, err := pricing.Untargetable(ctx, db, s.Audiences, owner, in.Audiences); err != nil {
		return nil, err
	} else if i >= 0 {
		return nil, apperror.BadInput(fmt.Sprintf("audiences[%d]", i), "no such audience of this shop")
	}
	c.SetAudiences(append([]string{}, in.Audiences...))
	now := s.now()
	t, err := c.SetCreatedAt(now).SetUpdatedAt(now).Save(sctx)
	if ent.IsConstraintError(err) {
		return nil, apperror.ConflictOn("code", "this code is taken")
	}
	return t, err
}

func containsColon(s string) bool {
	for _, r := range s {
		if r == ':' {
			return true
		}
	}
	return false
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// managed reads template id for someone who may manage it; NOT_FOUND otherwise.
func managed(ctx context.Context, db *ent.Client, id int) (*ent.CouponTemplate, error) {
	t, err := db.CouponTemplate.Get(viewer.SystemContext(ctx), id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("coupon template %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	if manage(ctx, t.MerchantID) != nil {
		return nil, apperror.NotFoundf("coupon template %d not found", id)
	}
	return t, nil
}

// SetPaused stops (or resumes) claims of template id; coupons claimed stay usable.
func (s *Service) SetPaused(ctx context.Context, db *ent.Client, id int, paused bool) (*ent.CouponTemplate, error) {
	t, err := managed(ctx, db, id)
	if err != nil {
		return nil, err
	}
	st := coupontemplate.StatusACTIVE
	if paused {
		st = coupontemplate.StatusPAUSED
	}
	return db.CouponTemplate.UpdateOne(t).SetStatus(st).SetUpdatedAt(s.now()).Save(viewer.SystemContext(ctx))
}

// Managed returns the templates of merchantID (nil: the platform's) for their managers,
// newest first, with their claimed and used counts.
func (s *Service) Managed(ctx context.Context, db *ent.Client, merchantID *int) ([]*ent.CouponTemplate, error) {
	if err := manage(ctx, merchantID); err != nil {
		return nil, err
	}
	q := db.CouponTemplate.Query()
	if merchantID == nil {
		q.Where(coupontemplate.MerchantIDIsNil())
	} else {
		q.Where(coupontemplate.MerchantID(*merchantID))
	}
	return q.Order(ent.Desc(coupontemplate.FieldID)).Limit(500).All(viewer.SystemContext(ctx))
}

// Code is template t's private code for its managers, nil for everyone else (a holder
// claimed with it and needs it no more).
func Code(ctx context.Context, t *ent.CouponTemplate) *string {
	if t.Code == nil || manage(ctx, t.MerchantID) != nil {
		return nil
	}
	return t.Code
}

// Audiences are t's audiences for its managers; nil for everyone else.
func Audiences(ctx context.Context, t *ent.CouponTemplate) []string {
	if manage(ctx, t.MerchantID) != nil {
		return nil
	}
	return t.Audiences
}

// UsedCount is how many of template t's coupons are in use (USED), counted from the coupons.
func (s *Service) UsedCount(ctx context.Context, db *ent.Client, t *ent.CouponTemplate) (int, error) {
	return db.Coupon.Query().Where(coupon.TemplateID(t.ID), coupon.StatusEQ(coupon.StatusUSED)).Count(viewer.SystemContext(ctx))
}
