package currency

import (
	"math/big"
	"time"

	"github.com/xiadan/xiadan/internal/money"
)

// Unavailable is why an amount is not converted (GraphQL ConversionUnavailableReason).
type Unavailable string

// Reasons an amount is not converted.
const (
	NoRate           Unavailable = "NO_RATE"
	StaleRate        Unavailable = "STALE_RATE"
	SettlementAmount Unavailable = "SETTLEMENT_AMOUNT"
)

// Indicative is an amount converted for display only (GraphQL IndicativeMoney).
type Indicative struct {
	money.Money
	// Rate is the rate used, units of Currency per one unit of the original currency.
	Rate string
	// AsOf is when the (oldest) rate used took effect.
	AsOf time.Time
	// Source is where the rate comes from.
	Source string
	// Indicative is always true: the GraphQL field says so to every reader.
	Indicative bool
}

// quote is one pair's current rate.
type quote struct {
	rate   *big.Rat
	text   string
	source string
	asOf   time.Time
}

// pair is a base and quote currency.
type pair struct{ base, quote string }

// Snapshot is every pair's current rate at one moment. It is immutable: the cache swaps
// in a new one.
type Snapshot struct {
	rates map[pair]quote
	pivot string
}

// path is how a rate from one currency to another is found: direct, inverted or through
// the pivot currency; it returns the exact fraction, its display, source and age.
func (s *Snapshot) path(from, to string) (quote, bool) {
	if from == to {
		return quote{rate: big.NewRat(1, 1), text: "1", source: "identity"}, true
	}
	if q, ok := s.direct(from, to); ok {
		return q, true
	}
	if from == s.pivot || to == s.pivot {
		return quote{}, false
	}
	a, ok1 := s.direct(from, s.pivot)
	b, ok2 := s.direct(s.pivot, to)
	if !ok1 || !ok2 {
		return quote{}, false
	}
	r := new(big.Rat).Mul(a.rate, b.rate)
	asOf := a.asOf
	if b.asOf.Before(asOf) {
		asOf = b.asOf
	}
	return quote{rate: r, text: decimalString(r, derivedRateDecimals), source: "cross:" + a.source + "+" + b.source + " via " + s.pivot, asOf: asOf}, true
}

// direct is the stored rate from→to, or the inverse of the stored to→from. When both are
// stored the newer wins, so an admin's latest word counts whichever way round it was set.
func (s *Snapshot) direct(from, to string) (quote, bool) {
	d, okD := s.rates[pair{from, to}]
	i, okI := s.rates[pair{to, from}]
	if okI && (!okD || i.asOf.After(d.asOf)) {
		r := new(big.Rat).Inv(i.rate)
		return quote{rate: r, text: decimalString(r, derivedRateDecimals), source: "inverse:" + i.source, asOf: i.asOf}, true
	}
	return d, okD
}

// Convert presents m in currency to at the snapshot's rates: the amount is m's exact value
// times the exact rate, rounded half-even once to to's minor unit. maxAge (0: none) makes
// an older rate STALE_RATE.
func (s *Snapshot) Convert(m money.Money, to string, now time.Time, maxAge time.Duration) (*Indicative, Unavailable) {
	from := m.Currency
	q, ok := s.path(from, to)
	if !ok {
		return nil, NoRate
	}
	if from != to && maxAge > 0 && now.Sub(q.asOf) > maxAge {
		return nil, StaleRate
	}
	minor, ok := ConvertMinor(m.Minor, from, to, q.rate)
	if !ok {
		return nil, NoRate
	}
	asOf := q.asOf
	if from == to {
		asOf = now
	}
	return &Indicative{Money: money.Money{Minor: minor, Currency: to}, Rate: q.text, AsOf: asOf.UTC(),
		Source: q.source, Indicative: true}, ""
}

// ConvertMinor converts minor units of from into minor units of to at rate (units of to
// per unit of from), rounding half-even to to's minor unit; false when the result does not
// fit an int64.
func ConvertMinor(minor int64, from, to string, rate *big.Rat) (int64, bool) {
	// minor / 10^ef major units of from × rate = that many major units of to, × 10^et.
	ef, et := money.Exponent(from), money.Exponent(to)
	num := new(big.Int).Mul(big.NewInt(minor), rate.Num())
	den := new(big.Int).Set(rate.Denom())
	if et >= ef {
		num.Mul(num, pow10(et-ef))
	} else {
		den.Mul(den, pow10(ef-et))
	}
	v := roundHalfEven(num, den)
	if !v.IsInt64() {
		return 0, false
	}
	return v.Int64(), true
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }
