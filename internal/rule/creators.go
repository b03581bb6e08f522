package rule

import (
	"context"

	"entgo.io/ent/entql"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/viewer"
)

// FilterToUserField keeps the rows whose field (a user id) is the viewer's own.
func FilterToUserField(field string) privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		v := viewer.FromContext(ctx)
		if v.UserID == 0 {
			return privacy.Denyf("anonymous viewer")
		}
		f.Where(entql.FieldEQ(field, v.UserID))
		return privacy.Allow
	})
}

// FilterCommissionRulesToMembers shows a merchant's commission rule to its members.
func FilterCommissionRulesToMembers() privacy.QueryRule {
	return filterToOwnMerchant("commission rules")
}

// FilterCommissionsToParties shows a commission to its creator and to the members of the
// order's merchant; no one else learns it exists.
func FilterCommissionsToParties() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		v := viewer.FromContext(ctx)
		if v.UserID == 0 {
			return privacy.Denyf("anonymous viewer")
		}
		p := entql.FieldEQ("creator_user_id", v.UserID)
		if v.IsMerchantMember(v.MerchantID) {
			p = entql.Or(p, entql.FieldEQ("merchant_id", v.MerchantID))
		}
		f.Where(p)
		return privacy.Allow
	})
}
