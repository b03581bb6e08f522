package creators

import (
	"context"
	"errors"
	"sort"
	"strconv"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/category"
	"github.com/xiadan/xiadan/ent/commissionrule"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/viewer"
)

// CategoryRate is a rate for one category's lines.
type CategoryRate struct {
	CategoryID int
	RateBps    int
}

// RuleInput is a merchant's commission rule.
type RuleInput struct {
	MerchantID    int
	Active        bool
	RateBps       int
	CategoryRates []*CategoryRate
	// WindowDays is the attribution window (1 to 90); nil or 0 uses the platform default.
	WindowDays *int
}

// RuleView is a commission rule as the API shows it.
type RuleView struct {
	MerchantID    int
	Active        bool
	RateBps       int
	CategoryRates []*CategoryRate
	WindowDays    int
}

func ruleView(r *ent.CommissionRule) *RuleView {
	v := &RuleView{MerchantID: r.MerchantID, Active: r.Active, RateBps: r.RateBps, WindowDays: r.WindowDays}
	for k, bps := range r.CategoryRates {
		id, _ := strconv.Atoi(k)
		v.CategoryRates = append(v.CategoryRates, &CategoryRate{id, bps})
	}
	sort.Slice(v.CategoryRates, func(i, j int) bool { return v.CategoryRates[i].CategoryID < v.CategoryRates[j].CategoryID })
	return v
}

// SetRule creates or replaces merchant's commission rule: its owner (or an admin) opts in
// (active) or out. Rates are basis points of the goods net of discounts, 0 to 10000 (a
// category's rate replaces the merchant's for that category's lines).
func (s *Service) SetRule(ctx context.Context, db *ent.Client, in RuleInput) (*RuleView, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if !v.IsAdmin() && !v.IsMerchantOwner(in.MerchantID) {
		return nil, apperror.New(apperror.Forbidden, "only the merchant's owner sets its commission rule")
	}
	if in.RateBps < 0 || in.RateBps > 10000 {
		return nil, apperror.BadInput("rateBps", "must be 0 to 10000")
	}
	window := 0
	if in.WindowDays != nil {
		window = *in.WindowDays
		if window < 0 || window > 90 {
			return nil, apperror.BadInput("windowDays", "must be 0 (the platform default) to 90")
		}
	}
	rates := map[string]int{}
	ids := []int{}
	for i, cr := range in.CategoryRates {
		if cr == nil || cr.RateBps < 0 || cr.RateBps > 10000 {
			return nil, apperror.BadInput("categoryRates["+strconv.Itoa(i)+"].rateBps", "must be 0 to 10000")
		}
		rates[strconv.Itoa(cr.CategoryID)] = cr.RateBps
		ids = append(ids, cr.CategoryID)
	}
	sys := viewer.SystemContext(ctx)
	if len(ids) > 0 {
		n, err := db.Category.Query().Where(category.IDIn(ids...)).Count(sys)
		if err != nil {
			return nil, err
		}
		if n != len(rates) {
			return nil, apperror.BadInput("categoryRates", "names an unknown category or one twice")
		}
	}
	err = db.CommissionRule.Create().SetMerchantID(in.MerchantID).SetActive(in.Active).SetRateBps(in.RateBps).
		SetCategoryRates(rates).SetWindowDays(window).
		OnConflictColumns(commissionrule.FieldMerchantID).
		Update(func(u *ent.CommissionRuleUpsert) {
			u.UpdateActive().UpdateRateBps().UpdateCategoryRates().UpdateWindowDays().UpdateUpdatedAt()
		}).Exec(sys)
	if err != nil {
		return nil, err
	}
	r, err := db.CommissionRule.Query().Where(commissionrule.MerchantID(in.MerchantID)).Only(sys)
	if err != nil {
		return nil, err
	}
	return ruleView(r), nil
}

// Rule returns merchant's rule to its members and admins; nil when it has none. Others get
// NOT_FOUND.
func (s *Service) Rule(ctx context.Context, db *ent.Client, merchantID int) (*RuleView, error) {
	r, err := db.CommissionRule.Query().Where(commissionrule.MerchantID(merchantID)).Only(ctx)
	if errors.Is(err, privacy.Deny) {
		return nil, apperror.NotFoundf("no commission rule")
	}
	if ent.IsNotFound(err) {
		v := viewer.FromContext(ctx)
		if v.IsAdmin() || v.IsMerchantMember(merchantID) {
			return nil, nil
		}
		return nil, apperror.NotFoundf("no commission rule")
	}
	if err != nil {
		return nil, err
	}
	return ruleView(r), nil
}
