package credit

import (
	"math"
	"time"
)

// Badges a merchant can earn (docs/CREDIT.md).
const (
	BadgeFastShipper = "FAST_SHIPPER" // 极速发货
	BadgeHighlyRated = "HIGHLY_RATED" // 好评率高
	BadgeLowRefund   = "LOW_REFUND"   // 低退款率
	BadgeNewShop     = "NEW_SHOP"     // 新店: too few orders to be ranked
)

// Inputs are what a merchant's credit is computed from, over the window.
type Inputs struct {
	// Ratings is the number of reviews of the merchant's products; RatingSum the sum of
	// their stars; PositiveRatings how many gave 4 or 5.
	Ratings, RatingSum, PositiveRatings int
	// PaidOrders is the number of orders paid in the window; RefundedOrders how many of
	// them were refunded in part or in full.
	PaidOrders, RefundedOrders int
	// ShipmentsDue is the number of paid physical orders that have shipped or whose
	// promise has passed; ShippedOnTime how many shipped within the promised hours.
	ShipmentsDue, ShippedOnTime int
	// PromisedShipHours is the merchant's promise the shipments were measured against.
	PromisedShipHours int
	// From after-sales (DisputeSource); all zero without one.
	AfterSales DisputeStats
	// Sanctions in force now, by kind.
	Warnings, Restrictions, Suspensions, Removals int
}

// DisputeStats are a merchant's after-sales figures over the window.
type DisputeStats struct {
	// Requests is the number of after-sales requests; Disputes how many went to platform
	// arbitration; ArbitrationLosses how many of those the platform decided against the
	// merchant.
	Requests, Disputes, ArbitrationLosses int
	// Responses is the number of requests the merchant answered, ResponseTime the total
	// time from request to answer.
	Responses    int
	ResponseTime time.Duration
}

// Result is a computed credit: the public score, level and badges, and the components.
type Result struct {
	Score  int
	Level  int
	Badges []string
	// Components are each component's value between 0 and 1, by name.
	Components map[string]float64
	// Penalty is the points the sanctions in force took off.
	Penalty int
}

// Compute applies the formula of docs/CREDIT.md to in. It is pure: the same inputs and
// configuration give the same result.
//
// Every component is a share between 0 and 1 where 1 is best. Rates over small samples are
// blended with their prior as if MinSample more orders (or reviews) had gone as the prior
// says, so a new shop is neither top nor bottom on two orders. The score is the weighted
// mean of the components × 100, less the penalties of the sanctions in force, clamped to
// 0–100 (0 while removed).
func Compute(c Config, in Inputs) Result {
	k := float64(c.MinSample)
	blend := func(prior, count, n float64) float64 { return (prior*k + count) / (k + n) }
	r := Result{Components: map[string]float64{}}

	avg := blend(c.PriorRating, float64(in.RatingSum), float64(in.Ratings))
	r.Components[Rating] = clamp01((avg - 1) / 4)
	r.Components[Shipping] = clamp01(blend(c.PriorOnTime, float64(in.ShippedOnTime), float64(in.ShipmentsDue)))
	refundRate := blend(c.PriorRefundRate, float64(in.RefundedOrders), float64(in.PaidOrders))
	r.Components[Refund] = clamp01(1 - refundRate/c.RefundRateCeiling)
	// No prior for disputes: an order is not disputed until it is.
	paid := math.Max(float64(in.PaidOrders), k)
	r.Components[Dispute] = clamp01(1 - float64(in.AfterSales.Disputes)/paid/c.DisputeRateCeiling)
	r.Components[Arbitration] = clamp01(1 - float64(in.AfterSales.ArbitrationLosses)/paid/c.LossRateCeiling)
	r.Components[Response] = 1
	if in.AfterSales.Responses > 0 {
		mean := in.AfterSales.ResponseTime / time.Duration(in.AfterSales.Responses)
		span := float64(c.ResponseLimit - c.ResponseTarget)
		r.Components[Response] = clamp01(1 - float64(mean-c.ResponseTarget)/span)
	}

	var sum, total float64
	for _, name := range Components {
		w := float64(c.Weights[name])
		sum += w * r.Components[name]
		total += w
	}
	score := 100.0
	if total > 0 {
		score = 100 * sum / total
	}
	r.Penalty = in.Warnings*c.Penalties["warning"] + in.Restrictions*c.Penalties["restriction"] +
		in.Suspensions*c.Penalties["suspension"]
	r.Score = int(math.Round(score)) - r.Penalty
	if in.Removals > 0 {
		r.Score = 0
	}
	r.Score = max(0, min(100, r.Score))
	r.Level = LevelOf(c, r.Score)

	// Badges need a sample of their own and are withheld while a sanction beyond a
	// warning is in force.
	r.Badges = []string{}
	if in.PaidOrders < c.MinSample {
		r.Badges = append(r.Badges, BadgeNewShop)
	}
	if in.Restrictions+in.Suspensions+in.Removals > 0 {
		return r
	}
	if in.ShipmentsDue >= c.MinSample && float64(in.ShippedOnTime) >= c.FastShipperRate*float64(in.ShipmentsDue) {
		r.Badges = append(r.Badges, BadgeFastShipper)
	}
	if in.Ratings >= c.MinSample && float64(in.PositiveRatings) >= c.HighlyRatedShare*float64(in.Ratings) {
		r.Badges = append(r.Badges, BadgeHighlyRated)
	}
	if in.PaidOrders >= c.MinSample && float64(in.RefundedOrders) <= c.LowRefundRate*float64(in.PaidOrders) {
		r.Badges = append(r.Badges, BadgeLowRefund)
	}
	return r
}

// LevelOf is the level (1 to 5) of a score.
func LevelOf(c Config, score int) int {
	level := 1
	for _, t := range c.LevelThresholds {
		if score >= t {
			level++
		}
	}
	return level
}

func clamp01(f float64) float64 { return math.Max(0, math.Min(1, f)) }
