package rule

import (
	"context"

	"entgo.io/ent/entql"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/viewer"
)

// filterToOwnMerchant keeps the records of the viewer's own merchant, for its staff; anyone
// else sees none. Partner clients are left out: credit details and sanctions are between
// the merchant and the platform.
func filterToOwnMerchant(what string) privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		v := viewer.FromContext(ctx)
		if !v.IsMerchantMember(v.MerchantID) {
			return privacy.Denyf("%s are for the merchant's members", what)
		}
		mf, ok := f.(interface{ WhereMerchantID(entql.IntP) })
		if !ok {
			return privacy.Denyf("no merchant field")
		}
		mf.WhereMerchantID(entql.IntEQ(v.MerchantID))
		return privacy.Allow
	})
}

// FilterCreditToMembers shows a merchant's stored credit row (with its breakdown) to its
// members. The public reads score, level and badges through internal/credit.
func FilterCreditToMembers() privacy.QueryRule { return filterToOwnMerchant("credit details") }

// FilterCreditSnapshotsToMembers shows a merchant's credit history to its members.
func FilterCreditSnapshotsToMembers() privacy.QueryRule {
	return filterToOwnMerchant("credit snapshots")
}

// FilterSanctionsToMembers shows a merchant's sanctions to its members.
func FilterSanctionsToMembers() privacy.QueryRule { return filterToOwnMerchant("sanctions") }
