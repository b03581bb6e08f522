package config

import (
	"fmt"
)

// RateLimit configures where the rate limits count and the query-cost budget
// (internal/ratelimit; docs/OPERATIONS.md, "Rate limits").
type RateLimit struct {
	// RedisPrefix starts the Redis keys of the limits (RATE_LIMIT_REDIS_PREFIX,
	// "xiadan:rl:"), which are shared through Redis when REDIS_URL is set; deployments
	// sharing a Redis server need different ones.
	RedisPrefix string
	// QueryCostBudget is the points of each client's query-cost bucket
	// (QUERY_COST_BUDGET, 1000); 0 turns the budget off.
	QueryCostBudget int
	// QueryCostRestoreRate is the points restored to a bucket per second
	// (QUERY_COST_RESTORE_RATE, 50).
	QueryCostRestoreRate int
}

// maxQueryCost is guard.DefaultMaxCost, the most one operation may cost: a budget below it
// would refuse such an operation for ever.
const maxQueryCost = 1000

func rateLimitFromEnv(r *reader) RateLimit {
	return RateLimit{
		RedisPrefix:          r.str("RATE_LIMIT_REDIS_PREFIX", "xiadan:rl:"),
		QueryCostBudget:      r.integer("QUERY_COST_BUDGET", 1000),
		QueryCostRestoreRate: r.integer("QUERY_COST_RESTORE_RATE", 50),
	}
}

// validate reports the invalid rate-limit settings.
func (l RateLimit) validate() []error {
	var errs []error
	if l.QueryCostBudget != 0 && (l.QueryCostBudget < maxQueryCost || l.QueryCostBudget > 1_000_000) {
		errs = append(errs, fmt.Errorf("QUERY_COST_BUDGET: must be 0 (off) or between %d (the most one query may cost) and 1000000", maxQueryCost))
	}
	if l.QueryCostBudget != 0 && (l.QueryCostRestoreRate < 1 || l.QueryCostRestoreRate > l.QueryCostBudget) {
		errs = append(errs, fmt.Errorf("QUERY_COST_RESTORE_RATE: must be between 1 and QUERY_COST_BUDGET points a second"))
	}
	return errs
}
