package redpackets

import (
	"errors"
	"math/rand/v2"
)

// Limits that keep count*amount far from overflowing an int64.
const (
	maxCount  = 10000
	maxAmount = 1_000_000_000_00 // 10 billion major units
)

// Split divides budget into count amounts within [lo, hi] that sum exactly to budget.
// It needs count ≥ 1, 0 < lo ≤ hi and count*lo ≤ budget ≤ count*hi.
//
// Each packet starts at lo and the rest (budget - count*lo) is dealt out one packet at a
// time: a packet takes a uniform amount between what the packets after it could not
// absorb (so the last ones never break hi) and the smaller of its headroom (hi - lo) and
// twice the mean of what is left (二倍均值法, so early packets do not drain the pot).
// The amounts are then shuffled, so a packet's place says nothing about its size.
func Split(budget int64, count int, lo, hi int64, r *rand.Rand) ([]int64, error) {
	if count < 1 || lo <= 0 || hi < lo {
		return nil, errors.New("split: need count ≥ 1 and 0 < lo ≤ hi")
	}
	n := int64(count)
	if hi > maxAmount || n > maxCount {
		return nil, errors.New("split: amounts or count too large")
	}
	if budget < lo*n || budget > hi*n {
		return nil, errors.New("split: budget outside count*lo … count*hi")
	}
	out := make([]int64, count)
	rest := budget - lo*n
	room := hi - lo
	for i := range out {
		left := n - int64(i) // packets still to fill, this one included
		floor := max(0, rest-(left-1)*room)
		ceil := min(room, rest)
		if twice := 2 * rest / left; twice < ceil {
			ceil = max(floor, twice)
		}
		extra := floor
		if ceil > floor {
			extra += r.Int64N(ceil - floor + 1)
		}
		out[i] = lo + extra
		rest -= extra
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}
