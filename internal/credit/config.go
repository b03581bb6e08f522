package credit

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Component names: the parts of the score, as weights and the breakdown name them.
const (
	Rating      = "rating"      // average review rating
	Shipping    = "shipping"    // share of orders shipped within the promised hours
	Refund      = "refund"      // share of paid orders not refunded
	Dispute     = "dispute"     // share of paid orders without an after-sales dispute
	Arbitration = "arbitration" // share of paid orders without an arbitration lost
	Response    = "response"    // after-sales response time against its target
)

// Components lists the score's components in the order the docs give them.
var Components = []string{Rating, Shipping, Refund, Dispute, Arbitration, Response}

// Config is how credit is computed (CREDIT_* settings, see docs/CREDIT.md).
type Config struct {
	// Window is how far back the inputs reach (CREDIT_WINDOW, default 90 days).
	Window time.Duration
	// Interval is how old a merchant's credit may get before the job recomputes it
	// (CREDIT_RECOMPUTE_INTERVAL, default 6h).
	Interval time.Duration
	// MinSample is the number of orders (or reviews) below which a rate is blended with
	// its prior, and below which no badge is given (CREDIT_MIN_SAMPLE, default 20).
	MinSample int
	// Weights of the components (CREDIT_WEIGHTS, "rating=30,shipping=25,…").
	Weights map[string]int
	// LevelThresholds are the scores at which levels 2, 3, 4 and 5 begin
	// (CREDIT_LEVEL_THRESHOLDS, default 60,70,80,90).
	LevelThresholds [4]int
	// Penalties are the points each kind of sanction in force takes off the score
	// (CREDIT_SANCTION_PENALTIES, default warning=5,restriction=15,suspension=30); a
	// removal makes the score 0.
	Penalties map[string]int
	// Priors are what a shop without a sample is assumed to do.
	PriorRating       float64 // CREDIT_PRIOR_RATING, 4.0 stars
	PriorOnTime       float64 // CREDIT_PRIOR_ON_TIME, 0.90
	PriorRefundRate   float64 // CREDIT_PRIOR_REFUND_RATE, 0.05
	RefundRateCeiling float64 // CREDIT_REFUND_RATE_CEILING, 0.20: that refund rate scores 0
	// DisputeRateCeiling and LossRateCeiling score 0 at those shares of paid orders
	// (CREDIT_DISPUTE_RATE_CEILING 0.05, CREDIT_LOSS_RATE_CEILING 0.02).
	DisputeRateCeiling, LossRateCeiling float64
	// ResponseTarget scores full marks, ResponseLimit zero (CREDIT_RESPONSE_TARGET 12h,
	// CREDIT_RESPONSE_LIMIT 48h); in between it falls linearly.
	ResponseTarget, ResponseLimit time.Duration
	// Badge thresholds: FAST_SHIPPER from this on-time share, HIGHLY_RATED from this share
	// of 4- and 5-star reviews, LOW_REFUND up to this refund rate.
	FastShipperRate, HighlyRatedShare, LowRefundRate float64
	// MaxSanctionDuration bounds a sanction's length (CREDIT_MAX_SANCTION_DURATION, 365 days).
	MaxSanctionDuration time.Duration
}

// DefaultConfig is the configuration without any CREDIT_* setting.
func DefaultConfig() Config {
	return Config{
		Window:    90 * 24 * time.Hour,
		Interval:  6 * time.Hour,
		MinSample: 20,
		Weights: map[string]int{Rating: 30, Shipping: 25, Refund: 15, Dispute: 10,
			Arbitration: 10, Response: 10},
		LevelThresholds:     [4]int{60, 70, 80, 90},
		Penalties:           map[string]int{"warning": 5, "restriction": 15, "suspension": 30},
		PriorRating:         4.0,
		PriorOnTime:         0.90,
		PriorRefundRate:     0.05,
		RefundRateCeiling:   0.20,
		DisputeRateCeiling:  0.05,
		LossRateCeiling:     0.02,
		ResponseTarget:      12 * time.Hour,
		ResponseLimit:       48 * time.Hour,
		FastShipperRate:     0.98,
		HighlyRatedShare:    0.95,
		LowRefundRate:       0.01,
		MaxSanctionDuration: 365 * 24 * time.Hour,
	}
}

// ConfigFromEnv reads the CREDIT_* settings over the defaults and reports every invalid one.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	str := func(name string) string { return strings.TrimSpace(getenv(name)) }
	dur := func(name string, p *time.Duration, min, max time.Duration) {
		if v := str(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < min || d > max {
				bad(name, "must be a duration between %s and %s", min, max)
				return
			}
			*p = d
		}
	}
	num := func(name string, p *int, min, max int) {
		if v := str(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < min || n > max {
				bad(name, "must be an integer between %d and %d", min, max)
				return
			}
			*p = n
		}
	}
	frac := func(name string, p *float64, min, max float64) {
		if v := str(name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < min || f > max {
				bad(name, "must be a number between %g and %g", min, max)
				return
			}
			*p = f
		}
	}
	pairs := func(name string, into map[string]int, known []string) {
		v := str(name)
		if v == "" {
			return
		}
		for _, part := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			k = strings.ToLower(strings.TrimSpace(k))
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if !ok || err != nil || n < 0 || n > 100 || !slices.Contains(known, k) {
				bad(name, "must be name=points pairs (0-100) of %s, not %q", strings.Join(known, ", "), part)
				return
			}
			into[k] = n
		}
	}
	dur("CREDIT_WINDOW", &c.Window, 24*time.Hour, 730*24*time.Hour)
	dur("CREDIT_RECOMPUTE_INTERVAL", &c.Interval, time.Minute, 7*24*time.Hour)
	num("CREDIT_MIN_SAMPLE", &c.MinSample, 1, 100_000)
	pairs("CREDIT_WEIGHTS", c.Weights, Components)
	pairs("CREDIT_SANCTION_PENALTIES", c.Penalties, []string{"warning", "restriction", "suspension"})
	if v := str("CREDIT_LEVEL_THRESHOLDS"); v != "" {
		parts := strings.Split(v, ",")
		var th [4]int
		ok := len(parts) == 4
		for i := 0; ok && i < 4; i++ {
			n, err := strconv.Atoi(strings.TrimSpace(parts[i]))
			ok = err == nil && n > 0 && n <= 100 && (i == 0 || n > th[i-1])
			th[i] = n
		}
		if !ok {
			bad("CREDIT_LEVEL_THRESHOLDS", "must be four rising scores between 1 and 100, such as 60,70,80,90")
		} else {
			c.LevelThresholds = th
		}
	}
	frac("CREDIT_PRIOR_RATING", &c.PriorRating, 1, 5)
	frac("CREDIT_PRIOR_ON_TIME", &c.PriorOnTime, 0, 1)
	frac("CREDIT_PRIOR_REFUND_RATE", &c.PriorRefundRate, 0, 1)
	frac("CREDIT_REFUND_RATE_CEILING", &c.RefundRateCeiling, 0.001, 1)
	frac("CREDIT_DISPUTE_RATE_CEILING", &c.DisputeRateCeiling, 0.001, 1)
	frac("CREDIT_LOSS_RATE_CEILING", &c.LossRateCeiling, 0.001, 1)
	dur("CREDIT_RESPONSE_TARGET", &c.ResponseTarget, time.Minute, 30*24*time.Hour)
	dur("CREDIT_RESPONSE_LIMIT", &c.ResponseLimit, time.Minute, 30*24*time.Hour)
	frac("CREDIT_BADGE_FAST_SHIPPER_RATE", &c.FastShipperRate, 0, 1)
	frac("CREDIT_BADGE_HIGHLY_RATED_SHARE", &c.HighlyRatedShare, 0, 1)
	frac("CREDIT_BADGE_LOW_REFUND_RATE", &c.LowRefundRate, 0, 1)
	dur("CREDIT_MAX_SANCTION_DURATION", &c.MaxSanctionDuration, time.Hour, 10*365*24*time.Hour)
	errs = append(errs, c.Validate())
	return c, errors.Join(errs...)
}

// Validate reports settings that make no sense together.
func (c Config) Validate() error {
	var errs []error
	total := 0
	for _, k := range Components {
		total += c.Weights[k]
	}
	if total == 0 {
		errs = append(errs, errors.New("CREDIT_WEIGHTS: at least one weight must be above 0"))
	}
	if c.ResponseLimit <= c.ResponseTarget {
		errs = append(errs, errors.New("CREDIT_RESPONSE_LIMIT: must be longer than CREDIT_RESPONSE_TARGET"))
	}
	return errors.Join(errs...)
}
