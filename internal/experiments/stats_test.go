package experiments

import (
	"fmt"
	"math"
	"testing"
)

// TestAssignIsDeterministicAndPinned proves assignment depends on the key and the user id
// alone: the same call answers the same, and pinned values (computed once, kept here)
// catch any change to the hash that would move users between arms across a release.
func TestAssignIsDeterministicAndPinned(t *testing.T) {
	t.Parallel()
	arms := []Arm{{"a", 50}, {"b", 50}}
	for uid := 1; uid <= 1000; uid++ {
		if Assign("coupon-value", uid, arms) != Assign("coupon-value", uid, arms) {
			t.Fatalf("user %d: two answers", uid)
		}
	}
	got := ""
	for uid := 1; uid <= 16; uid++ {
		got += Assign("coupon-value", uid, arms)
	}
	if got != pinned {
		t.Errorf("assignments of users 1–16 = %s, want %s (the hash changed: users would switch arms)", got, pinned)
	}
	if Bucket("coupon-value", 42, 10000) != pinnedBucket {
		t.Errorf("Bucket(coupon-value, 42, 10000) = %d, want %d", Bucket("coupon-value", 42, 10000), pinnedBucket)
	}
	// Another key shuffles users independently.
	other := ""
	for uid := 1; uid <= 16; uid++ {
		other += Assign("free-shipping", uid, arms)
	}
	if other == got {
		t.Errorf("two experiments assign the same 16 users identically: the key does not salt the hash")
	}
}

// TestAssignFollowsWeights proves the arms' shares over 100,000 synthetic users are their
// weights' within 1 percentage point (the hash is fixed, so this is deterministic).
func TestAssignFollowsWeights(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		arms []Arm
	}{
		{[]Arm{{"a", 1}, {"b", 1}}},
		{[]Arm{{"a", 1}, {"b", 3}}},
		{[]Arm{{"control", 80}, {"x", 10}, {"y", 10}}},
		{[]Arm{{"a", 9999}, {"b", 1}}},
	} {
		t.Run(fmt.Sprint(tc.arms), func(t *testing.T) {
			const users = 100000
			count := map[string]int{}
			total := 0
			for _, a := range tc.arms {
				total += a.Weight
			}
			for uid := 1; uid <= users; uid++ {
				count[Assign("weights", uid, tc.arms)]++
			}
			for _, a := range tc.arms {
				want := float64(a.Weight) / float64(total)
				got := float64(count[a.Key]) / users
				if math.Abs(got-want) > 0.01 {
					t.Errorf("arm %s: share %.4f, want %.4f ± 0.01", a.Key, got, want)
				}
			}
		})
	}
}

// TestResultMaths checks the interval formulas against values worked out by hand for the
// example of docs/PROMOTIONS-growth.md: control a (4 users: 100, 0, 0, 300) and b (5
// users: 200, 200, 0, 0, 0).
func TestResultMaths(t *testing.T) {
	t.Parallel()
	a := Moments{N: 4, Sum: 400, Sq: 100000}
	b := Moments{N: 5, Sum: 400, Sq: 80000}
	for _, tc := range []struct {
		name      string
		got, want Interval
	}{
		{"wilson 2/4", Wilson(2, 4), Interval{0.5, 0.150039, 0.849961}},
		{"wilson 2/5", Wilson(2, 5), Interval{0.4, 0.117621, 0.769276}},
		{"wilson 0/0", Wilson(0, 0), Interval{0, 0, 1}},
		{"revenue per user a", a.MeanInterval(), Interval{100, -38.590382, 238.590382}},
		{"revenue per user b", b.MeanInterval(), Interval{80, -16.018234, 176.018234}},
		{"revenue diff b−a", DiffMeans(b, a), Interval{-20, -188.602477, 148.602477}},
		{"conversion diff b−a", DiffRates(2, 5, 2, 4), Interval{-0.1, -0.751522, 0.551522}},
		{"one user", Moments{N: 1, Sum: 50, Sq: 2500}.MeanInterval(), Interval{50, 50, 50}},
	} {
		if !near(tc.got, tc.want) {
			t.Errorf("%s = %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
	if a.Variance() != 20000 || b.Variance() != 12000 {
		t.Errorf("variances %v, %v; want 20000, 12000", a.Variance(), b.Variance())
	}
}

func near(a, b Interval) bool {
	const eps = 1e-5
	return math.Abs(a.Estimate-b.Estimate) < eps && math.Abs(a.Low-b.Low) < eps && math.Abs(a.High-b.High) < eps
}
