package rule

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/upload"
	"github.com/xiadan/xiadan/internal/viewer"
)

// FilterUploadsToVisible shows people their own uploads, and merchant staff their
// merchant's. Bound public files (product images) are served by URL, not through here.
func FilterUploadsToVisible() privacy.UploadQueryRuleFunc {
	return func(ctx context.Context, q *ent.UploadQuery) error {
		v := viewer.FromContext(ctx)
		if v.UserID == 0 {
			return privacy.Denyf("anonymous viewer")
		}
		ps := []predicate.Upload{upload.OwnerID(v.UserID)}
		if v.Has(viewer.RoleMerchant) && v.IsMerchantMember(v.MerchantID) {
			ps = append(ps, upload.MerchantID(v.MerchantID))
		}
		q.Where(upload.Or(ps...))
		return privacy.Allow
	}
}
