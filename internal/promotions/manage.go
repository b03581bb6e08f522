package promotions

import (
	"context"
	"fmt"
	"github.com/xiadan/xiadan/internal/pricing"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/flashsaleitem"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/promotion"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Limits of a promotion's input.
const (
	MaxTiers      = 10
	MaxFlashItems = 100
	MaxScopeIDs   = 200
	MaxAudiences  = 10
)

// Input is a promotion as a merchant creates or replaces it.
type Input struct {
	// Kind is required on create and cannot change on update.
	Kind         *promotion.Kind
	Label        string
	StartsAt     time.Time
	EndsAt       time.Time
	Scope        *promotion.Scope
	CategoryIDs  []int
	ProductIDs   []int
	Audiences    []string
	Tiers        []*TierInput
	Repeating    *bool
	MaxOff       *string
	BuyQuantity  *int
	FreeQuantity *int
	PerUserLimit *int
	FlashItems   []*FlashItemInput
}

// TierInput is a full-reduction tier in decimal amounts of the merchant's currency.
type TierInput struct {
	Threshold, Off string
}

// FlashItemInput is one variant of a flash sale.
type FlashItemInput struct {
	VariantID int
	Price     string
	Cap       int
}

// ListFilter narrows a merchant's promotion list.
type ListFilter struct {
	Kind    []promotion.Kind
	Status  []Status
	Running *bool
}

// Page is a Relay page request.
type Page struct {
	After, Before *entgql.Cursor[int]
	First, Last   *int
}

// checked is an Input read and validated.
type checked struct {
	kind                    promotion.Kind
	scope                   promotion.Scope
	tiers                   []schematype.PromotionTier
	maxOff                  int64
	repeating               bool
	buy, free, perUser      int
	categoryIDs, productIDs []int
	audiences               []string
	items                   []flashItem
}

type flashItem struct {
	variantID int
	price     int64
	cap       int
}

// Create makes a DRAFT promotion for the caller's merchant (admins name the merchant).
func (s *Service) Create(ctx context.Context, db *ent.Client, merchantID *int, in Input) (*ent.Promotion, error) {
	mid, err := scopeMerchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	if in.Kind == nil {
		return nil, apperror.BadInput("input.kind", "is required")
	}
	sys := viewer.SystemContext(ctx)
	m, err := db.Merchant.Get(sys, mid)
	if err != nil {
		return nil, err
	}
	c, err := s.check(ctx, db, mid, m.Currency, *in.Kind, in)
	if err != nil {
		return nil, err
	}
	cr := db.Promotion.Create().SetMerchantID(mid).SetKind(c.kind).SetCurrency(m.Currency)
	if uid := viewer.FromContext(ctx).UserID; uid != 0 {
		cr.SetCreatedBy(uid)
	}
	setFields(cr.Mutation(), in, c)
	p, err := cr.Save(sys)
	if err != nil {
		return nil, err
	}
	for _, it := range c.items {
		if err := db.FlashSaleItem.Create().SetPromotionID(p.ID).SetMerchantID(mid).SetVariantID(it.variantID).
			SetPrice(it.price).SetCap(it.cap).Exec(sys); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Update replaces a DRAFT or PAUSED promotion's settings (its kind stays). Flash-sale
// items are matched by variant: a listed one gets its new price and cap (not below what
// it sold), a new one is added, and one left out is removed unless it has sold.
func (s *Service) Update(ctx context.Context, db *ent.Client, id int, in Input) (*ent.Promotion, error) {
	p, err := s.editable(ctx, db, id, false)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if st := StatusOf(p, now); st != StatusDraft && st != StatusPaused {
		return nil, apperror.WrongState(string(st), "only a DRAFT or PAUSED promotion can be changed; pause it first")
	}
	if in.Kind != nil && *in.Kind != p.Kind {
		return nil, apperror.BadInput("input.kind", "cannot change (it is %s)", p.Kind)
	}
	c, err := s.check(ctx, db, p.MerchantID, p.Currency, p.Kind, in)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	up := db.Promotion.Update().Where(promotion.ID(p.ID), promotion.StatusIn(promotion.StatusDRAFT, promotion.StatusPAUSED))
	setFields(up.Mutation(), in, c)
	n, err := up.Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperror.New(apperror.Conflict, "the promotion changed meanwhile; read it again")
	}
	if p.Kind == promotion.KindFLASH_SALE {
		if err := replaceItems(sys, db, p, c.items); err != nil {
			return nil, err
		}
	}
	return db.Promotion.Get(sys, p.ID)
}

// replaceItems makes p's flash-sale items those given.
func replaceItems(sys context.Context, db *ent.Client, p *ent.Promotion, items []flashItem) error {
	existing, err := db.FlashSaleItem.Query().Where(flashsaleitem.PromotionID(p.ID)).All(sys)
	if err != nil {
		return err
	}
	byVariant := map[int]*ent.FlashSaleItem{}
	for _, it := range existing {
		byVariant[it.VariantID] = it
	}
	for i, it := range items {
		cur := byVariant[it.variantID]
		delete(byVariant, it.variantID)
		if cur == nil {
			if err := db.FlashSaleItem.Create().SetPromotionID(p.ID).SetMerchantID(p.MerchantID).
				SetVariantID(it.variantID).SetPrice(it.price).SetCap(it.cap).Exec(sys); err != nil {
				return err
			}
			continue
		}
		// Not below what has sold, decided by the row itself against concurrent checkouts.
		n, err := db.FlashSaleItem.Update().Where(flashsaleitem.ID(cur.ID), flashsaleitem.SoldLTE(it.cap)).
			SetPrice(it.price).SetCap(it.cap).Save(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperror.BadInput(fmt.Sprintf("input.flashItems[%d].cap", i), "is below what has sold already")
		}
	}
	for _, it := range byVariant {
		n, err := db.FlashSaleItem.Delete().Where(flashsaleitem.ID(it.ID), flashsaleitem.Sold(0)).Exec(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperror.BadInput("input.flashItems", "a variant that has sold cannot be removed; set its cap instead")
		}
	}
	return nil
}

// Activate starts (or resumes) a DRAFT or PAUSED promotion that has not ended; it runs
// from its startsAt.
func (s *Service) Activate(ctx context.Context, db *ent.Client, id int) (*ent.Promotion, error) {
	return s.transition(ctx, db, id, false, promotion.StatusACTIVE,
		[]promotion.Status{promotion.StatusDRAFT, promotion.StatusPAUSED}, "only a DRAFT or PAUSED promotion that has not ended can be activated")
}

// Pause stops an ACTIVE promotion until it is activated again.
func (s *Service) Pause(ctx context.Context, db *ent.Client, id int) (*ent.Promotion, error) {
	return s.transition(ctx, db, id, false, promotion.StatusPAUSED,
		[]promotion.Status{promotion.StatusACTIVE}, "only an ACTIVE promotion can be paused")
}

// End ends a promotion for good: its merchant's staff, or an admin (any merchant's).
func (s *Service) End(ctx context.Context, db *ent.Client, id int) (*ent.Promotion, error) {
	return s.transition(ctx, db, id, true, promotion.StatusENDED,
		[]promotion.Status{promotion.StatusDRAFT, promotion.StatusACTIVE, promotion.StatusPAUSED}, "the promotion has ended already")
}

// transition moves promotion id from one of from to to with a conditional UPDATE.
func (s *Service) transition(ctx context.Context, db *ent.Client, id int, admins bool, to promotion.Status, from []promotion.Status, msg string) (*ent.Promotion, error) {
	p, err := s.editable(ctx, db, id, admins)
	if err != nil {
		return nil, err
	}
	now := s.now()
	ps := []predicate.Promotion{promotion.ID(p.ID), promotion.StatusIn(from...)}
	if to != promotion.StatusENDED {
		ps = append(ps, promotion.EndsAtGT(now))
	}
	sys := viewer.SystemContext(ctx)
	n, err := db.Promotion.Update().Where(ps...).SetStatus(to).Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		cur, err := db.Promotion.Get(sys, p.ID)
		if err != nil {
			return nil, err
		}
		return nil, apperror.WrongState(string(StatusOf(cur, now)), "%s", msg)
	}
	if v := viewer.FromContext(ctx); v.IsAdmin() && !v.IsMerchantMember(p.MerchantID) {
		// An operator acting on a merchant's promotion is on the record.
		if err := audit.Record(ctx, db, audit.Entry{Action: "promotion." + strings.ToLower(string(to)),
			TargetType: "Promotion", TargetID: p.ID, Details: map[string]any{"merchantID": p.MerchantID}}); err != nil {
			return nil, err
		}
	}
	return db.Promotion.Get(sys, p.ID)
}

// editable reads promotion id for a change: one the caller cannot see is NOT_FOUND; one
// of another merchant (a running one is public) is FORBIDDEN, unless admins may and the
// caller is one.
func (s *Service) editable(ctx context.Context, db *ent.Client, id int, admins bool) (*ent.Promotion, error) {
	p, err := db.Promotion.Get(ctx, id)
	if ent.IsNotFound(err) {
		e := apperror.NotFoundf("no such promotion")
		e.Field = "id"
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	v := viewer.FromContext(ctx)
	if v.IsMerchantMember(p.MerchantID) || (admins && v.IsAdmin()) {
		return p, nil
	}
	return nil, apperror.New(apperror.Forbidden, "only the merchant's staff may change its promotions")
}

// scopeMerchant is the merchant a merchant-side call is about: a staff member's own
// (naming another is NOT_FOUND), or the one an admin names.
func scopeMerchant(ctx context.Context, merchantID *int) (int, error) {
	v := viewer.FromContext(ctx)
	if v.IsAdmin() {
		if merchantID == nil {
			return 0, apperror.BadInput("merchantID", "admins name the merchant")
		}
		return *merchantID, nil
	}
	if !v.IsMerchantMember(v.MerchantID) {
		return 0, apperror.New(apperror.Forbidden, "this is for merchant staff")
	}
	if merchantID != nil && *merchantID != v.MerchantID {
		e := apperror.NotFoundf("no such merchant")
		e.Field = "merchantID"
		return 0, e
	}
	return v.MerchantID, nil
}

// setFields sets in's fields on a create or update.
func setFields(m *ent.PromotionMutation, in Input, c checked) {
	m.SetLabel(strings.TrimSpace(in.Label))
	m.SetStartsAt(in.StartsAt.UTC().Truncate(time.Microsecond))
	m.SetEndsAt(in.EndsAt.UTC().Truncate(time.Microsecond))
	m.SetScope(c.scope)
	m.SetCategoryIds(c.categoryIDs)
	m.SetProductIds(c.productIDs)
	m.SetAudiences(c.audiences)
	m.SetTiers(c.tiers)
	m.SetRepeating(c.repeating)
	m.SetMaxOff(c.maxOff)
	m.SetBuyQuantity(c.buy)
	m.SetFreeQuantity(c.free)
	m.SetPerUserLimit(c.perUser)
}

// check validates in for a promotion of kind of merchant mid, naming the first field at
// fault.
func (s *Service) check(ctx context.Context, db *ent.Client, mid int, currency string, kind promotion.Kind, in Input) (checked, error) {
	c := checked{kind: kind, scope: promotion.ScopeSHOP,
		categoryIDs: []int{}, productIDs: []int{}, audiences: []string{}, tiers: []schematype.PromotionTier{}}
	label := strings.TrimSpace(in.Label)
	if label == "" || utf8.RuneCountInString(label) > 64 {
		return c, apperror.BadInput("input.label", "must be 1 to 64 characters")
	}
	if !in.EndsAt.After(in.StartsAt) {
		return c, apperror.BadInput("input.endsAt", "must be after startsAt")
	}
	if in.Scope != nil {
		c.scope = *in.Scope
	}
	sys := viewer.SystemContext(ctx)
	switch c.scope {
	case promotion.ScopeCATEGORIES:
		if len(in.CategoryIDs) == 0 || len(in.CategoryIDs) > MaxScopeIDs {
			return c, apperror.BadInput("input.categoryIDs", "name 1 to %d categories for scope CATEGORIES", MaxScopeIDs)
		}
		c.categoryIDs = dedupe(in.CategoryIDs)
	case promotion.ScopePRODUCTS:
		if len(in.ProductIDs) == 0 || len(in.ProductIDs) > MaxScopeIDs {
			return c, apperror.BadInput("input.productIDs", "name 1 to %d products for scope PRODUCTS", MaxScopeIDs)
		}
		c.productIDs = dedupe(in.ProductIDs)
		n, err := db.Product.Query().Where(product.IDIn(c.productIDs...), product.MerchantID(mid)).Count(sys)
		if err != nil {
			return c, err
		}
		if n != len(c.productIDs) {
			return c, apperror.BadInput("input.productIDs", "every product must be the merchant's own")
		}
	}
	if len(in.Audiences) > MaxAudiences {
		return c, apperror.BadInput("input.audiences", "at most %d", MaxAudiences)
	}
	for i, a := range in.Audiences {
		a = strings.TrimSpace(a)
		pre, rest, ok := strings.Cut(a, ":")
		if !ok || pre == "" || rest == "" || len(a) > 100 {
			return c, apperror.BadInput(fmt.Sprintf("input.audiences[%d]", i), `must read "prefix:name", such as "tier:GOLD"`)
		}
		c.audiences = append(c.audiences, a)
	}
	// A merchant aims only at audiences it may: its own customer groups, not a rival's,
	// and no platform experiment. Refused like one that does not exist.
	if i, err := pricing.Untargetable(ctx, db, s.Audiences, mid, c.audiences); err != nil {
		return c, err
	} else if i >= 0 {
		return c, apperror.BadInput(fmt.Sprintf("input.audiences[%d]", i), "no such audience of this shop")
	}
	switch kind {
	case promotion.KindFULL_REDUCTION:
		if len(in.Tiers) == 0 || len(in.Tiers) > MaxTiers {
			return c, apperror.BadInput("input.tiers", "give 1 to %d tiers", MaxTiers)
		}
		c.repeating = in.Repeating != nil && *in.Repeating
		if c.repeating && len(in.Tiers) != 1 {
			return c, apperror.BadInput("input.tiers", "a repeating full reduction has exactly one tier")
		}
		for i, t := range in.Tiers {
			th, err := money.ParseAmount(t.Threshold, currency)
			if err != nil || th <= 0 {
				return c, apperror.BadInput(fmt.Sprintf("input.tiers[%d].threshold", i), "must be a positive amount of %s", currency)
			}
			off, err := money.ParseAmount(t.Off, currency)
			if err != nil || off <= 0 || off > th {
				return c, apperror.BadInput(fmt.Sprintf("input.tiers[%d].off", i), "must be a positive amount of %s, at most the threshold", currency)
			}
			if i > 0 && (th <= c.tiers[i-1].Threshold || off <= c.tiers[i-1].Off) {
				return c, apperror.BadInput(fmt.Sprintf("input.tiers[%d]", i), "tiers go up: each threshold and amount above the one before")
			}
			c.tiers = append(c.tiers, schematype.PromotionTier{Threshold: th, Off: off})
		}
		if in.MaxOff != nil {
			mo, err := money.ParseAmount(*in.MaxOff, currency)
			if err != nil || mo < 0 || !c.repeating {
				return c, apperror.BadInput("input.maxOff", "is a non-negative amount of %s, for a repeating full reduction", currency)
			}
			c.maxOff = mo
		}
	case promotion.KindBUY_N_GET_M:
		c.buy, c.free = deref(in.BuyQuantity), deref(in.FreeQuantity)
		if c.buy < 1 || c.buy > 100 {
			return c, apperror.BadInput("input.buyQuantity", "must be 1 to 100")
		}
		if c.free < 1 || c.free > 100 {
			return c, apperror.BadInput("input.freeQuantity", "must be 1 to 100")
		}
	case promotion.KindFLASH_SALE:
		c.perUser = deref(in.PerUserLimit)
		if c.perUser < 0 || c.perUser > 10000 {
			return c, apperror.BadInput("input.perUserLimit", "must be 0 (no limit) to 10000")
		}
		if len(in.FlashItems) == 0 || len(in.FlashItems) > MaxFlashItems {
			return c, apperror.BadInput("input.flashItems", "give 1 to %d variants", MaxFlashItems)
		}
		seen := map[int]bool{}
		for i, it := range in.FlashItems {
			f := fmt.Sprintf("input.flashItems[%d]", i)
			v, err := db.ProductVariant.Query().Where(productvariant.ID(it.VariantID), productvariant.MerchantID(mid)).Only(sys)
			if ent.IsNotFound(err) || seen[it.VariantID] {
				return c, apperror.BadInput(f+".variantID", "must be one of the merchant's variants, once")
			}
			if err != nil {
				return c, err
			}
			seen[it.VariantID] = true
			price, err := money.ParseAmount(it.Price, currency)
			if err != nil || price < 0 || price >= v.Price {
				return c, apperror.BadInput(f+".price", "must be an amount of %s below the variant's price (%s)", currency,
					money.Money{Minor: v.Price, Currency: currency}.Amount())
			}
			if it.Cap < 1 || it.Cap > 1_000_000 {
				return c, apperror.BadInput(f+".cap", "must be 1 to 1000000")
			}
			c.items = append(c.items, flashItem{variantID: it.VariantID, price: price, cap: it.Cap})
		}
	}
	return c, nil
}

// Merchant lists a merchant's promotions, newest first: staff their own, admins the one
// they name (or every merchant's when they name none).
func (s *Service) Merchant(ctx context.Context, db *ent.Client, merchantID *int, p Page, f *ListFilter) (*ent.PromotionConnection, error) {
	q := db.Promotion.Query()
	if v := viewer.FromContext(ctx); !(v.IsAdmin() && merchantID == nil) {
		mid, err := scopeMerchant(ctx, merchantID)
		if err != nil {
			return nil, err
		}
		q.Where(promotion.MerchantID(mid))
	}
	if f != nil {
		now := s.now()
		if len(f.Kind) > 0 {
			q.Where(promotion.KindIn(f.Kind...))
		}
		if len(f.Status) > 0 {
			ps := make([]predicate.Promotion, len(f.Status))
			for i, st := range f.Status {
				ps[i] = statusIs(st, now)
			}
			q.Where(promotion.Or(ps...))
		}
		if f.Running != nil {
			if *f.Running {
				q.Where(running(now))
			} else {
				q.Where(promotion.Not(running(now)))
			}
		}
	}
	return q.Paginate(ctx, p.After, p.First, p.Before, p.Last,
		ent.WithPromotionOrder(&ent.PromotionOrder{Field: ent.PromotionOrderFieldCreatedAt, Direction: entgql.OrderDirectionDesc}))
}

func dedupe(ids []int) []int {
	out := []int{}
	seen := map[int]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
