package credit

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCompute is the formula of docs/CREDIT.md on worked examples: the numbers in the docs
// are these.
func TestCompute(t *testing.T) {
	t.Parallel()
	excellent := Inputs{Ratings: 100, RatingSum: 490, PositiveRatings: 98, PaidOrders: 100,
		ShipmentsDue: 100, ShippedOnTime: 100}
	with := func(in Inputs, f func(*Inputs)) Inputs { f(&in); return in }
	onlyRating := DefaultConfig()
	onlyRating.Weights = map[string]int{Rating: 1}
	for _, tc := range []struct {
		name   string
		cfg    Config
		in     Inputs
		score  int
		level  int
		badges []string
	}{
		{"a new shop leans on the priors", DefaultConfig(), Inputs{}, 86, 4, []string{BadgeNewShop}},
		{"two bad orders do not sink a new shop", DefaultConfig(),
			Inputs{Ratings: 2, RatingSum: 2, PaidOrders: 2, RefundedOrders: 2, ShipmentsDue: 2}, 76, 3, []string{BadgeNewShop}},
		{"an excellent record earns every badge", DefaultConfig(), excellent, 97, 5,
			[]string{BadgeFastShipper, BadgeHighlyRated, BadgeLowRefund}},
		{"late shipping costs the shipping share and the badge", DefaultConfig(),
			with(excellent, func(in *Inputs) { in.ShippedOnTime = 50 }), 87, 4, []string{BadgeHighlyRated, BadgeLowRefund}},
		{"a warning costs points, not badges", DefaultConfig(),
			with(excellent, func(in *Inputs) { in.Warnings = 1 }), 92, 5, []string{BadgeFastShipper, BadgeHighlyRated, BadgeLowRefund}},
		{"a restriction costs points and every badge", DefaultConfig(),
			with(excellent, func(in *Inputs) { in.Restrictions = 1 }), 82, 4, []string{}},
		{"a suspension", DefaultConfig(), with(excellent, func(in *Inputs) { in.Suspensions = 1 }), 67, 2, []string{}},
		{"a removal is zero", DefaultConfig(), with(excellent, func(in *Inputs) { in.Removals = 1 }), 0, 1, []string{}},
		{"disputes, arbitration losses and slow answers", DefaultConfig(),
			with(excellent, func(in *Inputs) {
				in.AfterSales = DisputeStats{Requests: 10, Disputes: 5, ArbitrationLosses: 1, Responses: 10, ResponseTime: 300 * time.Hour}
			}), 77, 3, []string{BadgeFastShipper, BadgeHighlyRated, BadgeLowRefund}},
		{"weights come from the configuration", onlyRating, excellent, 94, 5,
			[]string{BadgeFastShipper, BadgeHighlyRated, BadgeLowRefund}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Compute(tc.cfg, tc.in)
			if r.Score != tc.score || r.Level != tc.level || !slices.Equal(r.Badges, tc.badges) {
				t.Errorf("score %d level %d badges %v, want %d %d %v (components %v)",
					r.Score, r.Level, r.Badges, tc.score, tc.level, tc.badges, r.Components)
			}
		})
	}
}

// TestConfigFromEnv reads and checks the CREDIT_* settings, all problems at once.
func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := ConfigFromEnv(env(nil))
	if err != nil || c.MinSample != 20 || c.Weights[Rating] != 30 || c.LevelThresholds != [4]int{60, 70, 80, 90} {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = ConfigFromEnv(env(map[string]string{"CREDIT_WEIGHTS": "rating=50, shipping=50", "CREDIT_LEVEL_THRESHOLDS": "50,60,70,80",
		"CREDIT_MIN_SAMPLE": "5", "CREDIT_RECOMPUTE_INTERVAL": "1h"}))
	if err != nil || c.Weights[Rating] != 50 || c.Weights[Refund] != 15 || c.LevelThresholds[0] != 50 || c.MinSample != 5 || c.Interval != time.Hour {
		t.Fatalf("set: %+v, %v", c, err)
	}
	_, err = ConfigFromEnv(env(map[string]string{"CREDIT_WEIGHTS": "charm=5", "CREDIT_LEVEL_THRESHOLDS": "90,80,70,60",
		"CREDIT_MIN_SAMPLE": "0", "CREDIT_RESPONSE_TARGET": "72h"}))
	for _, name := range []string{"CREDIT_WEIGHTS", "CREDIT_LEVEL_THRESHOLDS", "CREDIT_MIN_SAMPLE", "CREDIT_RESPONSE_LIMIT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
}
