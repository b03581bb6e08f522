package experiments_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/experiment"
	"github.com/xiadan/xiadan/ent/experimentexposure"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/experiments"
	"github.com/xiadan/xiadan/internal/pricing"
)

const createQ = `mutation($i: CreateExperimentInput!) { createExperiment(input: $i) { key status controlArm arms { key weight payload } } }`
const startQ = `mutation($k: String!) { startExperiment(key: $k) { key status } }`
const stopQ = `mutation($k: String!) { stopExperiment(key: $k) { key status endsAt } }`
const assignQ = `query($k: String!) { experimentAssignment(key: $k) { experimentKey arm payload exposedAt } }`
const resultQ = `query($k: String!) { experimentResult(key: $k) { arms { arm control exposed converting revenue
  conversionRate { estimate low high } revenuePerUser { estimate low high }
  conversionRateDiff { estimate low high } revenuePerUserDiff { estimate low high } } } }`

func twoArms(key string) map[string]any {
	return map[string]any{"i": map[string]any{"key": key, "name": "Coupon value",
		"arms": []any{
			map[string]any{"key": "a", "weight": 50, "payload": map[string]any{"couponTemplateID": "10"}},
			map[string]any{"key": "b", "weight": 50, "payload": map[string]any{"couponTemplateID": "20"}},
		}}}
}

// TestExperimentLifecycleAndErrors drives the admin API and the assignment over GraphQL:
// who may do what, input checks naming the field, the state machine, and that a user's
// assignment is their deterministic arm with its payload, recorded once.
func TestExperimentLifecycleAndErrors(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		admin := s.NewAdmin(t, "admin@example.com")
		buyer := s.Register("buyer@example.com", "Buyer")

		if r := s.Query(buyer.AccessToken, createQ, twoArms("coupon-value")); r.Code() != "FORBIDDEN" {
			t.Errorf("customer creates: %s", r.Raw)
		}
		if r := s.Query("", assignQ, map[string]any{"k": "coupon-value"}); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous assignment: %s", r.Raw)
		}
		bad := twoArms("Bad Key")
		if r := s.Query(admin.AccessToken, createQ, bad); r.Code() != "BAD_USER_INPUT" || r.Field() != "key" {
			t.Errorf("bad key: %s", r.Raw)
		}
		bad = twoArms("w")
		bad["i"].(map[string]any)["arms"].([]any)[1].(map[string]any)["weight"] = 0
		if r := s.Query(admin.AccessToken, createQ, bad); r.Code() != "BAD_USER_INPUT" || r.Field() != "arms[1].weight" {
			t.Errorf("zero weight: %s", r.Raw)
		}
		s.MustQuery(admin.AccessToken, createQ, twoArms("coupon-value"))
		if r := s.Query(admin.AccessToken, createQ, twoArms("coupon-value")); r.Code() != "CONFLICT" || r.Field() != "key" {
			t.Errorf("duplicate key: %s", r.Raw)
		}
		// A draft is hidden like an unknown key.
		for _, k := range []string{"coupon-value", "nope"} {
			if r := s.Query(buyer.AccessToken, assignQ, map[string]any{"k": k}); r.Code() != "NOT_FOUND" {
				t.Errorf("assignment of %s before start: %s", k, r.Raw)
			}
		}
		s.MustQuery(admin.AccessToken, startQ, map[string]any{"k": "coupon-value"})
		if r := s.Query(admin.AccessToken, startQ, map[string]any{"k": "coupon-value"}); r.Code() != "INVALID_STATE" {
			t.Errorf("second start: %s", r.Raw)
		}

		var out struct {
			ExperimentAssignment struct {
				ExperimentKey, Arm string
				Payload            map[string]any
				ExposedAt          string
			}
		}
		s.MustQuery(buyer.AccessToken, assignQ, map[string]any{"k": "coupon-value"}).Decode(t, &out)
		uid, _ := strconv.Atoi(buyer.UserID)
		want := experiments.Assign("coupon-value", uid, []experiments.Arm{{Key: "a", Weight: 50}, {Key: "b", Weight: 50}})
		a := out.ExperimentAssignment
		wantPayload := map[string]string{"a": "10", "b": "20"}[want]
		if a.Arm != want || a.Payload["couponTemplateID"] != wantPayload {
			t.Errorf("assignment %+v, want arm %s with couponTemplateID %s", a, want, wantPayload)
		}
		first := a.ExposedAt
		s.MustQuery(buyer.AccessToken, assignQ, map[string]any{"k": "coupon-value"}).Decode(t, &out)
		if out.ExperimentAssignment.ExposedAt != first {
			t.Errorf("second call moved the exposure: %s then %s", first, out.ExperimentAssignment.ExposedAt)
		}
		client, ctx := s.Client()
		if n := client.ExperimentExposure.Query().CountX(ctx); n != 1 {
			t.Errorf("%d exposures, want 1", n)
		}
		// A customer never sees results.
		if r := s.Query(buyer.AccessToken, resultQ, map[string]any{"k": "coupon-value"}); r.Code() != "FORBIDDEN" {
			t.Errorf("customer reads result: %s", r.Raw)
		}

		s.MustQuery(admin.AccessToken, stopQ, map[string]any{"k": "coupon-value"})
		if r := s.Query(admin.AccessToken, stopQ, map[string]any{"k": "coupon-value"}); r.Code() != "INVALID_STATE" {
			t.Errorf("second stop: %s", r.Raw)
		}
		r := s.MustQuery(buyer.AccessToken, assignQ, map[string]any{"k": "coupon-value"})
		if string(r.Data) != `{"experimentAssignment":null}` {
			t.Errorf("assignment after stop: %s", r.Data)
		}
	})
}

// TestExposureRaceOverHTTP proves a user's exposure is recorded exactly once when many
// requests for the assignment arrive at once, and that all of them answer the same arm.
func TestExposureRaceOverHTTP(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			admin := s.NewAdmin(t, "admin@example.com")
			s.MustQuery(admin.AccessToken, createQ, twoArms("race"))
			s.MustQuery(admin.AccessToken, startQ, map[string]any{"k": "race"})
			rounds := apitest.RaceRounds(d, 6)
			for round := range rounds {
				u := s.Register(fmt.Sprintf("racer%d@example.com", round), "Racer")
				racers := make([]apitest.Racer, 12)
				for i := range racers {
					racers[i] = s.Request(u.AccessToken, assignQ, map[string]any{"k": "race"})
				}
				outs := apitest.Race(racers...)
				if n := apitest.Successes(t, "assignment", outs); n != len(racers) {
					t.Fatalf("round %d: %d of %d succeeded", round, n, len(racers))
				}
				arms := map[string]bool{}
				for _, o := range outs {
					var out struct{ ExperimentAssignment struct{ Arm string } }
					o.R.Decode(t, &out)
					arms[out.ExperimentAssignment.Arm] = true
				}
				client, ctx := s.Client()
				uid, _ := strconv.Atoi(u.UserID)
				n := client.ExperimentExposure.Query().Where(experimentexposure.UserID(uid)).CountX(ctx)
				if n != 1 || len(arms) != 1 {
					t.Fatalf("round %d: %d exposure rows and arms %v; want 1 row and one arm", round, n, arms)
				}
			}
		})
	}
}

var orderSeq atomic.Int64

// newOrder writes an order of total for customer at merchant m directly.
func newOrder(t *testing.T, client *ent.Client, ctx context.Context, customer, m int, total int64) *ent.Order {
	t.Helper()
	o, err := client.Order.Create().SetNumber(fmt.Sprintf("T%d", orderSeq.Add(1))).SetCheckoutID("test").
		SetCustomerID(customer).SetMerchantID(m).SetSubtotal(total).SetTotal(total).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// place commits the conversions provider for one order of total at merchant m, in a
// transaction, as placeOrder will.
func place(t *testing.T, s *apitest.Server, p pricing.Provider, customer, m int, total int64, now time.Time) *ent.Order {
	t.Helper()
	client, ctx := s.Client()
	tx, err := client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o := newOrder(t, tx.Client(), ctx, customer, m, total)
	b := pricing.NewBasket(customer, "CNY", now, []*pricing.Line{{MerchantID: m, Quantity: 1, ListPrice: total}}, nil)
	if err := pricing.Run(ctx, tx.Client(), b, []pricing.Provider{p}); err != nil {
		t.Fatal(err)
	}
	if err := pricing.Commit(ctx, tx.Client(), b, []pricing.Provider{p}, map[int]int{m: o.ID}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestConversionsAndResultByHand records conversions through the provider for real orders
// (including a refund, a cancellation, an order by an unexposed user and one after the
// stop) and checks the result query against the hand-computed example of
// docs/PROMOTIONS-growth.md; then the audience checker.
func TestConversionsAndResultByHand(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		admin := s.NewAdmin(t, "admin@example.com")
		m := s.NewMerchant(t, "shop", merchant.StatusACTIVE)
		s.MustQuery(admin.AccessToken, createQ, twoArms("hand"))
		s.MustQuery(admin.AccessToken, startQ, map[string]any{"k": "hand"})
		client, ctx := s.Client()
		exp := client.Experiment.Query().Where(experiment.Key("hand")).OnlyX(ctx)
		svc := s.App.Experiments
		p := svc.Provider()
		now := time.Now().UTC()

		// Users exposed to a chosen arm (written directly, so the example does not depend
		// on the hash): a gets 4 users, b 5, plus one user never exposed.
		users := make([]int, 10)
		for i := range users {
			u := s.Register(fmt.Sprintf("u%d@example.com", i), "U")
			users[i], _ = strconv.Atoi(u.UserID)
			if i == 9 {
				break
			}
			arm := "a"
			if i >= 4 {
				arm = "b"
			}
			client.ExperimentExposure.Create().SetExperimentID(exp.ID).SetUserID(users[i]).SetArm(arm).
				SetExposedAt(now.Add(-time.Minute)).ExecX(ctx)
		}
		// a: 100, (500 cancelled) 0, 0, 400 − refund 100 = 300.
		first := place(t, s, p, users[0], m.IntID, 100, now)
		cancelled := place(t, s, p, users[1], m.IntID, 500, now)
		refunded := place(t, s, p, users[3], m.IntID, 400, now)
		// b: 200, 120 + 80, 0, 0, 0.
		place(t, s, p, users[4], m.IntID, 200, now)
		place(t, s, p, users[5], m.IntID, 120, now)
		place(t, s, p, users[5], m.IntID, 80, now)
		// Not exposed: no conversion.
		place(t, s, p, users[9], m.IntID, 999, now)

		inTx := func(f func(db *ent.Client) error) {
			tx, err := client.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := f(tx.Client()); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		inTx(func(db *ent.Client) error { return p.Release(ctx, db, cancelled) })
		inTx(func(db *ent.Client) error { return p.Release(ctx, db, cancelled) }) // twice: once only
		inTx(func(db *ent.Client) error { return p.Refunded(ctx, db, refunded, 100) })
		if n := client.ExperimentConversion.Query().CountX(ctx); n != 6 {
			t.Errorf("%d conversions, want 6 (one per order of an exposed user)", n)
		}
		// Recording an order a second time fails, and counts nothing.
		tx, err := client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		again := pricing.NewBasket(users[0], "CNY", now, []*pricing.Line{{MerchantID: m.IntID, Quantity: 1, ListPrice: 100}}, nil)
		err = p.Commit(ctx, tx.Client(), again, map[int]int{m.IntID: first.ID})
		_ = tx.Rollback()
		if apperror.CodeOf(err) != apperror.Conflict {
			t.Errorf("second recording of an order: %v, want CONFLICT", err)
		}

		var out struct {
			ExperimentResult struct {
				Arms []struct {
					Arm                                    string
					Control                                bool
					Exposed, Converting, Revenue           int
					ConversionRate, RevenuePerUser         experiments.Interval
					ConversionRateDiff, RevenuePerUserDiff *experiments.Interval
				}
			}
		}
		s.MustQuery(admin.AccessToken, resultQ, map[string]any{"k": "hand"}).Decode(t, &out)
		arms := out.ExperimentResult.Arms
		if len(arms) != 2 {
			t.Fatalf("arms %+v", arms)
		}
		a, b := arms[0], arms[1]
		if !a.Control || a.Exposed != 4 || a.Converting != 2 || a.Revenue != 400 || a.ConversionRateDiff != nil {
			t.Errorf("control a = %+v, want 4 exposed, 2 converting, revenue 400", a)
		}
		if b.Control || b.Exposed != 5 || b.Converting != 2 || b.Revenue != 400 {
			t.Errorf("b = %+v, want 5 exposed, 2 converting, revenue 400", b)
		}
		checks := []struct {
			name      string
			got, want experiments.Interval
		}{
			{"a conversion", a.ConversionRate, experiments.Interval{Estimate: 0.5, Low: 0.150039, High: 0.849961}},
			{"a revenue/user", a.RevenuePerUser, experiments.Interval{Estimate: 100, Low: -38.590382, High: 238.590382}},
			{"b conversion", b.ConversionRate, experiments.Interval{Estimate: 0.4, Low: 0.117621, High: 0.769276}},
			{"b revenue/user", b.RevenuePerUser, experiments.Interval{Estimate: 80, Low: -16.018234, High: 176.018234}},
		}
		if b.ConversionRateDiff != nil && b.RevenuePerUserDiff != nil {
			checks = append(checks,
				struct {
					name      string
					got, want experiments.Interval
				}{"b−a conversion", *b.ConversionRateDiff, experiments.Interval{Estimate: -0.1, Low: -0.751522, High: 0.551522}},
				struct {
					name      string
					got, want experiments.Interval
				}{"b−a revenue/user", *b.RevenuePerUserDiff, experiments.Interval{Estimate: -20, Low: -188.602477, High: 148.602477}})
		} else {
			t.Errorf("b has no differences: %+v", b)
		}
		for _, c := range checks {
			if abs(c.got.Estimate-c.want.Estimate) > 1e-5 || abs(c.got.Low-c.want.Low) > 1e-5 || abs(c.got.High-c.want.High) > 1e-5 {
				t.Errorf("%s = %+v, want %+v", c.name, c.got, c.want)
			}
		}

		// The audience: assigned AND exposed.
		aud := svc.Audience()
		for _, tc := range []struct {
			user int
			rest string
			want bool
		}{
			{users[0], "hand/a", true},
			{users[0], "hand/b", false},
			{users[4], "hand/b", true},
			{users[9], "hand/a", false},
			{users[9], "hand/b", false},
			{users[0], "other/a", false},
			{users[0], "malformed", false},
		} {
			got, err := aud.InAudience(ctx, client, tc.user, tc.rest)
			if err != nil || got != tc.want {
				t.Errorf("InAudience(%d, %q) = %v, %v; want %v", tc.user, tc.rest, got, err, tc.want)
			}
		}

		// After the stop, orders no longer convert.
		s.MustQuery(admin.AccessToken, stopQ, map[string]any{"k": "hand"})
		place(t, s, p, users[6], m.IntID, 700, time.Now().UTC().Add(time.Second))
		if n := client.ExperimentConversion.Query().CountX(ctx); n != 6 {
			t.Errorf("%d conversions after the stop, want still 6", n)
		}
	})
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
