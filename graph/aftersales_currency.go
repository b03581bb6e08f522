package graph

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/aftersalesrequest"
	"github.com/xiadan/xiadan/ent/privacy"
)

// currencyOfEvent is the currency of a timeline step's request (one lookup per step with
// an amount; a timeline has a handful).
func (r *Resolver) currencyOfEvent(ctx context.Context, e *ent.AfterSalesEvent) string {
	c, err := r.db(ctx).AfterSalesRequest.Query().Where(aftersalesrequest.ID(e.RequestID)).
		Select(aftersalesrequest.FieldCurrency).String(privacy.DecisionContext(ctx, privacy.Allow))
	if err != nil {
		return "CNY"
	}
	return c
}
