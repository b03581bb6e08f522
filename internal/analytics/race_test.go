package analytics_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
)

// TestConcurrentRollupsCountOnce runs the rollup job from two goroutines (two replicas'
// jobs) while buyers place and pay orders and front ends send events for the same product
// and day, round after round; at the end the dashboard equals the figures computed from
// the orders, and every view is counted exactly once.
func TestConcurrentRollupsCountOnce(t *testing.T) {
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.NewReachable(t, d.URL(t))
			w := newShop(t, s, "race-shop")
			rounds := apitest.RaceRounds(d, 12)
			job := func() (*apitest.Response, error) {
				_, err := s.App.Analytics.RollUp(context.Background())
				return &apitest.Response{}, err
			}
			buy := func(b apitest.Session, channel string) apitest.Racer {
				return func() (*apitest.Response, error) {
					w.place(t, b, channel, 1, 1, "SUCCEEDED")
					return &apitest.Response{}, nil
				}
			}
			view := s.Request("", trackMutation, map[string]any{"i": map[string]any{"visitorID": "racer",
				"events": []map[string]any{{"kind": "VIEW_PRODUCT", "productID": strconv.Itoa(w.tea), "channel": "QQ_MINI"}}}})
			views := 0
			for range rounds {
				outs := apitest.Race(job, job, buy(w.buyers[0], "WEB"), buy(w.buyers[1], "ALIPAY_MINI"),
					job, view, view, func() (*apitest.Response, error) {
						_, _, err := s.App.Relay.RunOnce(context.Background())
						return &apitest.Response{}, err
					})
				for i, o := range outs {
					if o.Err != nil {
						t.Fatalf("racer %d: %v", i, o.Err)
					}
				}
				views += apitest.Successes(t, "trackEvents", outs[5:7])
			}
			catchUp(t, s)
			var out struct{ MerchantAnalytics dashboard }
			w.must(t, w.m.Owner.AccessToken, dashboardQuery, map[string]any{"from": today(), "to": today()}, nil, &out)
			e := expect(t, s, w.m.IntID)
			if e.paid != 2*rounds {
				t.Fatalf("%d orders paid in %d rounds", e.paid, rounds)
			}
			checkAgainst(t, out.MerchantAnalytics, e)
			if got := out.MerchantAnalytics.Funnel.Views; got != views || views != 2*rounds {
				t.Errorf("%d views counted, %d accepted in %d rounds", got, views, rounds)
			}
		})
	}
}
