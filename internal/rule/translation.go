package rule

import (
	"context"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/viewer"
)

// AllowIfMerchantStaff allows a merchant's owner and staff; the service that writes
// decides which records of theirs (internal/i18n: their products and, for owners, their
// merchant profile).
func AllowIfMerchantStaff() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		v := viewer.FromContext(ctx)
		if v.IsMerchantMember(v.MerchantID) {
			return privacy.Allow
		}
		return privacy.Skip
	})
}
