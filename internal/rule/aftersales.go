package rule

import (
	"context"

	"entgo.io/ent/entql"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/viewer"
)

// afterSalesVisible is what a viewer may see of after-sales requests: customers their
// own, merchant staff their merchant's. Partner clients see none: a dispute is between
// people. Written in EntQL on field names, so the rule compiles before the code it helps
// generate.
func afterSalesVisible(v *viewer.Viewer) (entql.P, bool) {
	var ps []entql.P
	if v.UserID != 0 {
		ps = append(ps, entql.FieldEQ("customer_id", v.UserID))
	}
	if v.UserID != 0 && v.Has(viewer.RoleMerchant) && v.MerchantID != 0 {
		ps = append(ps, entql.FieldEQ("merchant_id", v.MerchantID))
	}
	switch len(ps) {
	case 0:
		return nil, false
	case 1:
		return ps[0], true
	}
	return entql.Or(ps[0], ps[1]), true
}

// FilterAfterSalesToVisible shows customers their requests and merchant staff their merchant's.
func FilterAfterSalesToVisible() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		p, ok := afterSalesVisible(viewer.FromContext(ctx))
		if !ok {
			return privacy.Denyf("no after-sales requests for this viewer")
		}
		f.Where(p)
		return privacy.Allow
	})
}

// FilterAfterSalesEventsToVisible shows the timeline of visible requests.
func FilterAfterSalesEventsToVisible() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		p, ok := afterSalesVisible(viewer.FromContext(ctx))
		if !ok {
			return privacy.Denyf("no after-sales requests for this viewer")
		}
		f.Where(entql.HasEdgeWith("request", p))
		return privacy.Allow
	})
}
