package redpackets

import (
	"math/rand/v2"
	"testing"
)

// checkSplit fails unless amounts are count amounts within [lo, hi] summing to budget.
func checkSplit(t *testing.T, amounts []int64, budget int64, count int, lo, hi int64) {
	t.Helper()
	if len(amounts) != count {
		t.Fatalf("got %d amounts, want %d", len(amounts), count)
	}
	var sum int64
	for _, a := range amounts {
		if a < lo || a > hi {
			t.Fatalf("amount %d outside [%d, %d] (budget %d, count %d)", a, lo, hi, budget, count)
		}
		sum += a
	}
	if sum != budget {
		t.Fatalf("amounts sum to %d, want %d", sum, budget)
	}
}

// TestSplitProperties: for random feasible campaigns, the split is exact and in bounds,
// including the edges (budget = count*min, budget = count*max, min = max).
func TestSplitProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		count := 1 + r.IntN(300)
		lo := 1 + r.Int64N(500)
		hi := lo + r.Int64N(2000)
		n := int64(count)
		var budget int64
		switch r.IntN(4) {
		case 0:
			budget = lo * n
		case 1:
			budget = hi * n
		default:
			budget = lo*n + r.Int64N((hi-lo)*n+1)
		}
		amounts, err := Split(budget, count, lo, hi, r)
		if err != nil {
			t.Fatalf("Split(%d, %d, %d, %d): %v", budget, count, lo, hi, err)
		}
		checkSplit(t, amounts, budget, count, lo, hi)
	}
}

// TestSplitRefusesInfeasible: a budget outside count*min … count*max is refused.
func TestSplitRefusesInfeasible(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		budget int64
		count  int
		lo, hi int64
	}{{99, 10, 10, 20}, {201, 10, 10, 20}, {100, 0, 1, 2}, {100, 10, 0, 20}, {100, 10, 20, 10}} {
		if _, err := Split(c.budget, c.count, c.lo, c.hi, r); err == nil {
			t.Errorf("Split(%d, %d, %d, %d) succeeded", c.budget, c.count, c.lo, c.hi)
		}
	}
}

// TestSplitIsFair: over many splits every position gets the mean on average (the shuffle
// leaves no early-bird advantage) and amounts vary.
func TestSplitIsFair(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	const count, rounds = 10, 20000
	var sums [count]int64
	seen := map[int64]bool{}
	for range rounds {
		amounts, err := Split(10000, count, 100, 3000, r)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range amounts {
			sums[i] += a
			seen[a] = true
		}
	}
	for i, s := range sums {
		mean := float64(s) / rounds
		if mean < 900 || mean > 1100 {
			t.Errorf("position %d averages %.0f, want about 1000", i, mean)
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct amounts: not random", len(seen))
	}
}

// FuzzSplit: any input Split accepts gives an exact, in-bounds split; it refuses only
// infeasible ones.
func FuzzSplit(f *testing.F) {
	f.Add(int64(10000), 100, int64(1), int64(500), uint64(1))
	f.Add(int64(100), 100, int64(1), int64(1), uint64(2))
	f.Add(int64(888), 8, int64(100), int64(200), uint64(3))
	f.Fuzz(func(t *testing.T, budget int64, count int, lo, hi int64, seed uint64) {
		if count > 2000 {
			count %= 2000
		}
		amounts, err := Split(budget, count, lo, hi, rand.New(rand.NewPCG(seed, seed)))
		feasible := count >= 1 && lo > 0 && hi >= lo && hi <= maxAmount && budget >= lo*int64(count) && budget <= hi*int64(count)
		if err != nil {
			if feasible {
				t.Fatalf("refused feasible Split(%d, %d, %d, %d): %v", budget, count, lo, hi, err)
			}
			return
		}
		if !feasible {
			t.Fatalf("accepted infeasible Split(%d, %d, %d, %d)", budget, count, lo, hi)
		}
		checkSplit(t, amounts, budget, count, lo, hi)
	})
}
