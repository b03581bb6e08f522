package rule

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/datarequest"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/viewer"
)

// FilterDataRequestsToOwner shows a person their own data-rights requests (admins are
// allowed before this rule; the archive itself is guarded apart, owner only).
func FilterDataRequestsToOwner() privacy.DataRequestQueryRuleFunc {
	return func(ctx context.Context, q *ent.DataRequestQuery) error {
		v := viewer.FromContext(ctx)
		if v.UserID == 0 {
			return privacy.Denyf("anonymous viewer")
		}
		q.Where(datarequest.UserID(v.UserID))
		return privacy.Allow
	}
}
