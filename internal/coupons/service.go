// Package coupons runs coupons (优惠券): templates issued by the platform or a merchant,
// claimed by customers (领券) within limits the database enforces, and spent at checkout
// as a pricing.Provider — at most one shop coupon per merchant and one platform coupon.
package coupons

import (
	"context"
	"errors"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/coupon"
	"github.com/xiadan/xiadan/ent/coupontemplate"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Limits of a template.
const (
	MaxPerUser  = 100
	MaxScopeIDs = 200
	MaxValidity = 366
)

// Service runs coupons. The zero value works with time.Now and no audiences.
type Service struct {
	// Now is the clock.
	Now func() time.Time
	// Audiences answer a template's audiences ("tier:GOLD"); a name whose prefix no
	// checker answers is not met.
	Audiences []pricing.AudienceChecker
}

// New returns a service on the wall clock.
func New(audiences ...pricing.AudienceChecker) *Service {
	return &Service{Now: time.Now, Audiences: audiences}
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return s.Now().UTC().Truncate(time.Microsecond)
}

// inAudience reports whether userID belongs to any of audiences (all users when empty).
func (s *Service) inAudience(ctx context.Context, db *ent.Client, userID int, audiences []string) (bool, error) {
	a := pricing.Audiences{Checkers: s.Audiences, UserID: userID}
	return a.In(ctx, db, audiences)
}

// Claim claims template id for the signed-in customer. A private template (one with a
// code) is NOT_FOUND here; claim it with ClaimByCode.
func (s *Service) Claim(ctx context.Context, db *ent.Client, id int) (*ent.Coupon, error) {
	t, err := db.CouponTemplate.Get(viewer.SystemContext(ctx), id)
	if ent.IsNotFound(err) || (err == nil && t.Code != nil) {
		return nil, &apperror.Error{Code: apperror.NotFound, Field: "templateID", Message: "no such coupon"}
	}
	if err != nil {
		return nil, err
	}
	return s.claim(ctx, db, t, "templateID")
}

// ClaimByCode claims the private template whose code is code (case does not matter).
func (s *Service) ClaimByCode(ctx context.Context, db *ent.Client, code string) (*ent.Coupon, error) {
	code = normCode(code)
	t, err := db.CouponTemplate.Query().Where(coupontemplate.Code(code)).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) || code == "" {
		return nil, &apperror.Error{Code: apperror.NotFound, Field: "code", Message: "no coupon has this code"}
	}
	if err != nil {
		return nil, err
	}
	return s.claim(ctx, db, t, "code")
}

// claim takes one of t's coupons for the viewer. The database decides both limits:
//   - the total by a conditional increment of claimed_count (claimed_count < total_limit),
//     whose rows affected are checked — it also serialises the template's claims on MySQL;
//   - per user by the unique (template, user, seq) key, seq counting the user's claims
//     from 1 to per_user_limit: two claims racing for the same seq cannot both insert.
//
// Errors are CONFLICT with extensions.reason: PAUSED, NOT_STARTED, ENDED, NOT_IN_AUDIENCE
// (by code; by id it is NOT_FOUND), CLAIM_LIMIT (per user) or SOLD_OUT (total).
func (s *Service) claim(ctx context.Context, db *ent.Client, t *ent.CouponTemplate, field string) (*ent.Coupon, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to claim coupons")
	}
	// The audience first: to a customer outside it, a coupon meant for others does not
	// exist, whatever state it is in.
	in, err := s.inAudience(ctx, db, v.UserID, t.Audiences)
	if err != nil {
		return nil, err
	}
	if !in && field == "templateID" {
		// Claimed by id: a coupon meant for others is one that does not exist, so ids
		// tried in turn do not map who is targeted how.
		return nil, &apperror.Error{Code: apperror.NotFound, Field: field, Message: "no such coupon"}
	}
	if !in {
		return nil, conflict(field, "NOT_IN_AUDIENCE", "this coupon is for other customers")
	}
	now := s.now()
	switch {
	case t.Status != coupontemplate.StatusACTIVE:
		return nil, conflict(field, "PAUSED", "this coupon is not being given out at the moment")
	case t.ClaimStartsAt != nil && now.Before(*t.ClaimStartsAt):
		return nil, conflict(field, "NOT_STARTED", "this coupon can be claimed from %s UTC", t.ClaimStartsAt.Format(time.DateTime))
	case t.ClaimEndsAt != nil && !now.Before(*t.ClaimEndsAt):
		return nil, conflict(field, "ENDED", "this coupon is no longer given out")
	case t.ValidUntil != nil && !now.Before(*t.ValidUntil):
		return nil, conflict(field, "ENDED", "this coupon has expired")
	}
	sctx := viewer.SystemContext(ctx)
	upd := db.CouponTemplate.Update().Where(coupontemplate.ID(t.ID), coupontemplate.StatusEQ(coupontemplate.StatusACTIVE))
	if t.TotalLimit > 0 {
		upd.Where(func(s *sql.Selector) {
			s.Where(sql.ColumnsLT(s.C(coupontemplate.FieldClaimedCount), s.C(coupontemplate.FieldTotalLimit)))
		})
	}
	n, err := upd.AddClaimedCount(1).SetUpdatedAt(now).Save(sctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, conflict(field, "SOLD_OUT", "all of these coupons have been claimed")
	}
	// A locking read after the template's row lock: on MySQL it sees every claim committed
	// before, whatever the transaction's snapshot. The unique key still decides.
	mine, err := db.Coupon.Query().Where(coupon.TemplateID(t.ID), coupon.UserID(v.UserID), hooks.ShareRows).Count(sctx)
	if err != nil {
		return nil, err
	}
	if mine >= t.PerUserLimit {
		return nil, conflict(field, "CLAIM_LIMIT", "you have claimed this coupon %d times, the most allowed", t.PerUserLimit)
	}
	from, until := now, now
	switch {
	case t.ValidDays > 0:
		until = now.AddDate(0, 0, t.ValidDays)
	default:
		if t.ValidFrom != nil {
			from = *t.ValidFrom
		}
		until = *t.ValidUntil
	}
	c, err := db.Coupon.Create().
		SetTemplateID(t.ID).
		SetUserID(v.UserID).
		SetSeq(mine + 1).
		SetNillableMerchantID(t.MerchantID).
		SetValidFrom(from).
		SetValidUntil(until).
		SetClaimedAt(now).
		Save(sctx)
	if ent.IsConstraintError(err) {
		return nil, conflict(field, "CLAIM_LIMIT", "you have just claimed this coupon")
	}
	return c, err
}

func conflict(field, reason, format string, args ...any) error {
	e := apperror.ConflictOn(field, format, args...)
	e.Extensions = map[string]any{"reason": reason}
	return e
}

func normCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// Claimable returns the templates the viewer may claim now without a code: the
// platform's, and with merchantID (or productID, whose merchant it is) that merchant's
// too; with productID only those whose scope covers the product. Templates of audiences
// the viewer is not in are left out; sold-out ones are listed (the client shows them so).
func (s *Service) Claimable(ctx context.Context, db *ent.Client, merchantID, productID *int) ([]*ent.CouponTemplate, error) {
	sctx := viewer.SystemContext(ctx)
	now := s.now()
	var p *ent.Product
	if productID != nil {
		var err error
		p, err = db.Product.Get(ctx, *productID) // as the viewer: a hidden product has no coupons
		if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) {
			return nil, &apperror.Error{Code: apperror.NotFound, Field: "productID", Message: "no such product"}
		}
		if err != nil {
			return nil, err
		}
		m := p.MerchantID
		merchantID = &m
	}
	q := db.CouponTemplate.Query().Where(
		coupontemplate.StatusEQ(coupontemplate.StatusACTIVE),
		coupontemplate.CodeIsNil(),
		coupontemplate.Or(coupontemplate.ClaimStartsAtIsNil(), coupontemplate.ClaimStartsAtLTE(now)),
		coupontemplate.Or(coupontemplate.ClaimEndsAtIsNil(), coupontemplate.ClaimEndsAtGT(now)),
		coupontemplate.Or(coupontemplate.ValidUntilIsNil(), coupontemplate.ValidUntilGT(now)),
	)
	if merchantID != nil {
		q.Where(coupontemplate.Or(coupontemplate.MerchantIDIsNil(), coupontemplate.MerchantID(*merchantID)))
	} else {
		q.Where(coupontemplate.MerchantIDIsNil())
	}
	ts, err := q.Order(coupontemplate.ByID()).Limit(200).All(sctx)
	if err != nil {
		return nil, err
	}
	uid := viewer.FromContext(ctx).UserID
	out := make([]*ent.CouponTemplate, 0, len(ts))
	for _, t := range ts {
		if p != nil && !covers(t, p) {
			continue
		}
		if len(t.Audiences) > 0 {
			in, err := s.inAudience(ctx, db, uid, t.Audiences)
			if err != nil {
				return nil, err
			}
			if !in {
				continue
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// covers reports whether template t's scope takes in product p.
func covers(t *ent.CouponTemplate, p *ent.Product) bool {
	if t.MerchantID != nil && *t.MerchantID != p.MerchantID {
		return false
	}
	switch t.Scope {
	case coupontemplate.ScopeMERCHANT:
		return t.MerchantID != nil || containsInt(t.ScopeIds, p.MerchantID)
	case coupontemplate.ScopeCATEGORIES:
		return p.CategoryID != nil && containsInt(t.ScopeIds, *p.CategoryID)
	case coupontemplate.ScopePRODUCTS:
		return containsInt(t.ScopeIds, p.ID)
	}
	return true
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Status is a claimed coupon's status as customers see it: AVAILABLE past its validity
// reads EXPIRED.
func (s *Service) Status(c *ent.Coupon) coupon.Status {
	if c.Status == coupon.StatusAVAILABLE && !s.now().Before(c.ValidUntil) {
		return coupon.StatusEXPIRED
	}
	return c.Status
}

// Mine returns the signed-in customer's claimed coupons, soonest to expire first;
// status filters by Status.
func (s *Service) Mine(ctx context.Context, db *ent.Client, status *coupon.Status) ([]*ent.Coupon, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to see your coupons")
	}
	now := s.now()
	q := db.Coupon.Query().Where(coupon.UserID(v.UserID))
	if status != nil {
		switch *status {
		case coupon.StatusAVAILABLE:
			q.Where(coupon.StatusEQ(coupon.StatusAVAILABLE), coupon.ValidUntilGT(now))
		case coupon.StatusEXPIRED:
			q.Where(coupon.Or(coupon.StatusEQ(coupon.StatusEXPIRED),
				coupon.And(coupon.StatusEQ(coupon.StatusAVAILABLE), coupon.ValidUntilLTE(now))))
		default:
			q.Where(coupon.StatusEQ(*status))
		}
	}
	return q.Order(coupon.ByValidUntil(), coupon.ByID()).Limit(500).All(viewer.SystemContext(ctx))
}

// Template returns a coupon's template (for display), read as the system: whoever may
// see the coupon may see what it is.
func Template(ctx context.Context, db *ent.Client, c *ent.Coupon) (*ent.CouponTemplate, error) {
	return db.CouponTemplate.Get(viewer.SystemContext(ctx), c.TemplateID)
}

// Options judges the customer's available coupons against the quoted basket b as it
// stood before the coupon stages: which are usable (with what they would take off) and
// which not, and why. chosen are the coupons b uses.
func (s *Service) Options(ctx context.Context, db *ent.Client, b *pricing.Basket) (usable, unusable []*Evaluation, err error) {
	usable, unusable = []*Evaluation{}, []*Evaluation{}
	if b == nil || b.UserID == 0 {
		return usable, unusable, nil
	}
	// Claimed coupons still AVAILABLE, including expired ones (shown as expired).
	cs, err := db.Coupon.Query().Where(coupon.UserID(b.UserID), coupon.StatusEQ(coupon.StatusAVAILABLE)).
		Order(coupon.ByValidUntil(), coupon.ByID()).Limit(200).All(viewer.SystemContext(ctx))
	if err != nil || len(cs) == 0 {
		return usable, unusable, err
	}
	ids := make([]int, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	hs, err := available(ctx, db, b.UserID, ids, b.Now)
	if err != nil {
		return nil, nil, err
	}
	pre := beforeCoupons(b)
	for _, h := range hs {
		v, _, reason, msg := judge(pre, h)
		e := &Evaluation{Coupon: h.c, Template: h.t, Value: v, Reason: reason, Message: msg}
		if reason == "" && v > 0 {
			usable = append(usable, e)
		} else {
			if reason == "" {
				e.Reason, e.Message = ReasonOutOfScope, "Nothing left for this coupon to take off."
			}
			unusable = append(unusable, e)
		}
	}
	return usable, unusable, nil
}

// beforeCoupons is a copy of b without the adjustments of the coupon stages and after.
func beforeCoupons(b *pricing.Basket) *pricing.Basket {
	c := b.Clone()
	for _, l := range c.Lines {
		l.Discount = 0
	}
	for _, a := range b.Adjustments {
		if a.Stage >= pricing.StageShopCoupon {
			continue
		}
		for i, amt := range a.Lines {
			c.Lines[i].Discount += amt
		}
	}
	return c
}

var _ = product.FieldID

// CartCoupons is the coupons side of a quoted cart.
type CartCoupons struct {
	Chosen           []*ent.Coupon
	Usable, Unusable []*Evaluation
}

// ForCart returns the coupons b (a quoted cart's basket) uses and the customer's other
// available coupons, judged as usable or not.
func (s *Service) ForCart(ctx context.Context, db *ent.Client, b *pricing.Basket) (*CartCoupons, error) {
	usable, unusable, err := s.Options(ctx, db, b)
	if err != nil {
		return nil, err
	}
	out := &CartCoupons{Chosen: []*ent.Coupon{}, Usable: usable, Unusable: unusable}
	chosen := map[int]bool{}
	if b != nil {
		for _, a := range b.Adjustments {
			if _, ok := a.Data.(used); ok {
				chosen[a.SourceID] = true
			}
		}
	}
	for _, e := range usable {
		if chosen[e.Coupon.ID] {
			out.Chosen = append(out.Chosen, e.Coupon)
		}
	}
	return out, nil
}

// ClaimedBy returns how many of template t the viewer has claimed (0 when signed out).
func (s *Service) ClaimedBy(ctx context.Context, db *ent.Client, t *ent.CouponTemplate) (int, error) {
	uid := viewer.FromContext(ctx).UserID
	if uid == 0 {
		return 0, nil
	}
	return db.Coupon.Query().Where(coupon.TemplateID(t.ID), coupon.UserID(uid)).Count(viewer.SystemContext(ctx))
}

// Order returns the order that used c, nil when none (or one the viewer may not see).
func Order(ctx context.Context, db *ent.Client, c *ent.Coupon) (*ent.Order, error) {
	if c.OrderID == nil {
		return nil, nil
	}
	o, err := db.Order.Get(ctx, *c.OrderID)
	if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) {
		return nil, nil
	}
	return o, err
}

// Merchant returns the merchant of a shop coupon template (nil for the platform's).
func Merchant(ctx context.Context, db *ent.Client, t *ent.CouponTemplate) (*ent.Merchant, error) {
	if t.MerchantID == nil {
		return nil, nil
	}
	m, err := db.Merchant.Get(ctx, *t.MerchantID)
	if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) {
		return nil, nil
	}
	return m, err
}

// FixedAmount is a FIXED template's amount off, nil for a percentage.
func FixedAmount(t *ent.CouponTemplate) *money.Money {
	if t.Kind != coupontemplate.KindFIXED {
		return nil
	}
	return money.New(t.Amount, t.Currency)
}

// Cap is a PERCENT template's most off, nil when it has none.
func Cap(t *ent.CouponTemplate) *money.Money {
	if t.Kind != coupontemplate.KindPERCENT || t.MaxDiscount == 0 {
		return nil
	}
	return money.New(t.MaxDiscount, t.Currency)
}
