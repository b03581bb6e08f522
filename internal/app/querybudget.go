package app

import (
	"context"
	"math"
	"strconv"

	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/guard"
	"github.com/xiadan/xiadan/internal/ratelimit"
	"github.com/xiadan/xiadan/internal/viewer"
)

// queryBudget is the per-client query-cost budget: a leaky bucket per client in the
// server's rate limiter (shared by the replicas with REDIS_URL), from which each operation
// takes its requested cost before it runs (docs/QUERY_LIMITS.md, "Query-cost budget").
type queryBudget struct {
	limits ratelimit.Limiter
	bucket ratelimit.Bucket
}

// newQueryBudget returns the budget of QUERY_COST_BUDGET and QUERY_COST_RESTORE_RATE, or
// nil when it is off.
func (a *App) newQueryBudget() guard.Budget {
	rl := a.Config.RateLimit
	if rl.QueryCostBudget <= 0 {
		return nil
	}
	return queryBudget{limits: a.Limits, bucket: ratelimit.Bucket{
		Capacity: float64(rl.QueryCostBudget), RestoreRate: float64(rl.QueryCostRestoreRate)}}
}

// Charge implements guard.Budget.
func (b queryBudget) Charge(ctx context.Context, cost int64) guard.Charge {
	key, shared := budgetKey(ctx)
	st := b.limits.Spend(ctx, key, float64(cost), b.bucket)
	return guard.Charge{
		Status: guard.ThrottleStatus{MaximumAvailable: b.bucket.Capacity,
			CurrentlyAvailable: math.Floor(st.Available), RestoreRate: b.bucket.RestoreRate},
		RetryAfter: st.RetryAfter,
		Shared:     shared,
	}
}

// budgetKey names the caller's bucket: the signed-in user, else the partner app, else
// the client address (an IPv6 /64). An anonymous caller's answers may be shared by the
// storefront cache and HTTP caches, so its budget is not written into them (shared).
func budgetKey(ctx context.Context) (key string, shared bool) {
	v := viewer.FromContext(ctx)
	switch {
	case v.UserID > 0:
		return "cost:user:" + strconv.Itoa(v.UserID), false
	case v.APIClientID > 0:
		return "cost:app:" + strconv.Itoa(v.APIClientID), false
	}
	return "cost:ip:" + auth.AddressKey(auth.ClientFromContext(ctx).IP), true
}
