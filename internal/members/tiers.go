package members

import (
	"context"
	"strings"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/memberprice"
	"github.com/xiadan/xiadan/ent/membership"
	"github.com/xiadan/xiadan/ent/membertier"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// TierInput is an admin's tier: every field is set, as given (an update replaces them all).
type TierInput struct {
	Code  string
	Name  string
	Level int
	// MinSpend and MinOrders are the thresholds (decimal amount, count); at least one.
	MinSpend  *string
	MinOrders *int
	// MatchAll needs both thresholds when both are set; otherwise either suffices.
	MatchAll *bool
	// DiscountBps is the tier discount in basis points (0 to 10000), up to DiscountCap.
	DiscountBps *int
	DiscountCap *string
	// FreeShipping waives each merchant's shipping fee from FreeShippingMin of goods.
	FreeShipping    *bool
	FreeShippingMin *string
}

type tierFields struct {
	code, name             string
	level                  int
	minSpend, discountCap  *int64
	minOrders              *int
	matchAll, freeShipping bool
	discountBps            int
	freeShippingMin        int64
}

func (s *Service) checkTier(in TierInput) (tierFields, error) {
	cur := s.Config.Currency
	f := tierFields{code: strings.TrimSpace(in.Code), level: in.Level, minOrders: in.MinOrders,
		matchAll: deref(in.MatchAll), freeShipping: deref(in.FreeShipping), discountBps: deref(in.DiscountBps)}
	var errs []error
	if !tierCode.MatchString(f.code) {
		errs = append(errs, apperror.BadInput("code", "must be 1 to 32 capital letters, digits or _, starting with a letter, such as GOLD"))
	}
	var err error
	if f.name, err = cleanName("name", in.Name, 40); err != nil {
		errs = append(errs, err)
	}
	if f.level < 1 || f.level > 1000 {
		errs = append(errs, apperror.BadInput("level", "must be 1 to 1000 (higher is better)"))
	}
	if f.minSpend, err = amount("minSpend", in.MinSpend, cur, true); err != nil {
		errs = append(errs, err)
	}
	if f.minOrders != nil && (*f.minOrders < 0 || *f.minOrders > 1_000_000) {
		errs = append(errs, apperror.BadInput("minOrders", "must be 0 to 1000000"))
	}
	if f.minSpend == nil && f.minOrders == nil {
		errs = append(errs, apperror.BadInput("minSpend", "give minSpend and/or minOrders"))
	}
	if f.discountBps < 0 || f.discountBps > 10000 {
		errs = append(errs, apperror.BadInput("discountBps", "must be 0 to 10000 (basis points: 500 is 5%% off)"))
	}
	if f.discountCap, err = amount("discountCap", in.DiscountCap, cur, false); err != nil {
		errs = append(errs, err)
	}
	if fsm, err := amount("freeShippingMin", in.FreeShippingMin, cur, true); err != nil {
		errs = append(errs, err)
	} else if fsm != nil {
		f.freeShippingMin = *fsm
	}
	return f, apperror.Join(errs...)
}

// Tiers returns the tiers, lowest level first.
func Tiers(ctx context.Context, db *ent.Client) ([]*ent.MemberTier, error) {
	return db.MemberTier.Query().Order(membertier.ByLevel()).All(ctx)
}

// CreateTier adds a tier (admins), audited. A taken code or level is CONFLICT (reason
// CODE_TAKEN, LEVEL_TAKEN). Customers reach it at their next recompute or payment.
func (s *Service) CreateTier(ctx context.Context, db *ent.Client, in TierInput) (*ent.MemberTier, error) {
	f, err := s.checkTier(in)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	if err := s.tierUnique(sys, db, f, 0); err != nil {
		return nil, err
	}
	t, err := db.MemberTier.Create().SetCode(f.code).SetName(f.name).SetLevel(f.level).
		SetNillableMinSpend(f.minSpend).SetNillableMinOrders(f.minOrders).SetMatchAll(f.matchAll).
		SetDiscountBps(f.discountBps).SetNillableDiscountCap(f.discountCap).SetFreeShipping(f.freeShipping).
		SetFreeShippingMin(f.freeShippingMin).SetCurrency(s.Config.Currency).Save(sys)
	if ent.IsConstraintError(err) {
		return nil, conflict("code", "CODE_TAKEN", "a tier with this code or level was created meanwhile")
	}
	if err != nil {
		return nil, err
	}
	return t, audit.Record(ctx, db, audit.Entry{Action: "member_tier.create", TargetType: "MemberTier", TargetID: t.ID,
		Details: map[string]any{"code": t.Code, "level": t.Level}})
}

// UpdateTier replaces a tier's settings (admins), audited. A changed threshold moves
// customers up at their next payment or recompute, and down only at a recompute.
func (s *Service) UpdateTier(ctx context.Context, db *ent.Client, id int, in TierInput) (*ent.MemberTier, error) {
	f, err := s.checkTier(in)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	if _, err := db.MemberTier.Get(sys, id); ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("member tier not found")
	} else if err != nil {
		return nil, err
	}
	if err := s.tierUnique(sys, db, f, id); err != nil {
		return nil, err
	}
	u := db.MemberTier.UpdateOneID(id).SetCode(f.code).SetName(f.name).SetLevel(f.level).
		SetMatchAll(f.matchAll).SetDiscountBps(f.discountBps).SetFreeShipping(f.freeShipping).
		SetFreeShippingMin(f.freeShippingMin)
	if f.minSpend != nil {
		u.SetMinSpend(*f.minSpend)
	} else {
		u.ClearMinSpend()
	}
	if f.minOrders != nil {
		u.SetMinOrders(*f.minOrders)
	} else {
		u.ClearMinOrders()
	}
	if f.discountCap != nil {
		u.SetDiscountCap(*f.discountCap)
	} else {
		u.ClearDiscountCap()
	}
	t, err := u.Save(sys)
	if ent.IsConstraintError(err) {
		return nil, conflict("code", "CODE_TAKEN", "a tier with this code or level was created meanwhile")
	}
	if err != nil {
		return nil, err
	}
	return t, audit.Record(ctx, db, audit.Entry{Action: "member_tier.update", TargetType: "MemberTier", TargetID: t.ID,
		Details: map[string]any{"code": t.Code, "level": t.Level}})
}

// DeleteTier removes a tier nobody holds and no member price names (admins), audited;
// otherwise CONFLICT with reason TIER_IN_USE.
func (s *Service) DeleteTier(ctx context.Context, db *ent.Client, id int) (int, error) {
	sys := viewer.SystemContext(ctx)
	t, err := db.MemberTier.Get(sys, id)
	if ent.IsNotFound(err) {
		return 0, apperror.NotFoundf("member tier not found")
	}
	if err != nil {
		return 0, err
	}
	held, err := db.Membership.Query().Where(membership.TierID(id)).Exist(sys)
	if err != nil {
		return 0, err
	}
	priced, err := db.MemberPrice.Query().Where(memberprice.TierID(id)).Exist(sys)
	if err != nil {
		return 0, err
	}
	if held || priced {
		return 0, conflict("id", "TIER_IN_USE", "customers hold this tier or member prices name it: recompute or remove them first")
	}
	if err := db.MemberTier.DeleteOneID(id).Exec(sys); err != nil {
		if ent.IsConstraintError(err) {
			return 0, conflict("id", "TIER_IN_USE", "customers hold this tier or member prices name it")
		}
		return 0, err
	}
	return id, audit.Record(ctx, db, audit.Entry{Action: "member_tier.delete", TargetType: "MemberTier", TargetID: id,
		Details: map[string]any{"code": t.Code}})
}

// tierUnique refuses a code or level another tier (than id) has.
func (s *Service) tierUnique(ctx context.Context, db *ent.Client, f tierFields, id int) error {
	if n, err := db.MemberTier.Query().Where(membertier.Code(f.code), membertier.IDNEQ(id)).Exist(ctx); err != nil {
		return err
	} else if n {
		return conflict("code", "CODE_TAKEN", "another tier has code %s", f.code)
	}
	if n, err := db.MemberTier.Query().Where(membertier.Level(f.level), membertier.IDNEQ(id)).Exist(ctx); err != nil {
		return err
	} else if n {
		return conflict("level", "LEVEL_TAKEN", "another tier has level %d", f.level)
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Amount is an optional amount of the tier's currency as money.
func Amount(t *ent.MemberTier, minor *int64) *money.Money {
	if minor == nil {
		return nil
	}
	return money.New(*minor, t.Currency)
}
