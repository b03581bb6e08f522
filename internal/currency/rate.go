package currency

import (
	"fmt"
	"math/big"
	"strings"
)

// Limits of a rate: at most this many digits each side of the point, so a rate is exact,
// fits its column and no product with a price (at most 1e10 minor units) overflows a
// reasonable fraction.
const (
	MaxRateIntegerDigits = 12
	MaxRateDecimalPlaces = 12
	derivedRateDecimals  = 10
)

// ParseRate reads an exact positive decimal such as "0.1376" and returns it as a fraction
// and in canonical form (no leading zeros but one, no trailing decimal zeros: "0.1376",
// "150", "1.5"). It refuses signs, exponents, spaces inside, zero, and more than
// MaxRateIntegerDigits or MaxRateDecimalPlaces digits.
func ParseRate(s string) (*big.Rat, string, error) {
	s = strings.TrimSpace(s)
	whole, frac, hasDot := strings.Cut(s, ".")
	switch {
	case !digits(whole) || (hasDot && !digits(frac)):
		return nil, "", fmt.Errorf("must be a decimal such as \"0.1376\" (digits, one point, no sign or exponent)")
	case len(frac) > MaxRateDecimalPlaces:
		return nil, "", fmt.Errorf("must have at most %d decimal places", MaxRateDecimalPlaces)
	}
	whole = strings.TrimLeft(whole, "0")
	frac = strings.TrimRight(frac, "0")
	if len(whole) > MaxRateIntegerDigits {
		return nil, "", fmt.Errorf("must be less than 10^%d", MaxRateIntegerDigits)
	}
	if whole == "" && frac == "" {
		return nil, "", fmt.Errorf("must be positive")
	}
	if whole == "" {
		whole = "0"
	}
	canon := whole
	if frac != "" {
		canon += "." + frac
	}
	r, ok := new(big.Rat).SetString(canon)
	if !ok {
		return nil, "", fmt.Errorf("is not a decimal")
	}
	return r, canon, nil
}

// digits reports whether s is one or more ASCII digits.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// decimalString prints r rounded half-even to places decimals, trailing zeros trimmed: the
// display of a derived (inverted or cross) rate.
func decimalString(r *big.Rat, places int) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	n := roundHalfEven(new(big.Int).Mul(r.Num(), scale), r.Denom())
	s := n.String()
	if len(s) <= places {
		s = strings.Repeat("0", places-len(s)+1) + s
	}
	whole, frac := s[:len(s)-places], strings.TrimRight(s[len(s)-places:], "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

// roundHalfEven is num/den rounded to the nearest integer, ties to the even one (banker's
// rounding), for den > 0.
func roundHalfEven(num, den *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int)) // truncated towards zero
	if r.Sign() == 0 {
		return q
	}
	twice := new(big.Int).Abs(r)
	twice.Lsh(twice, 1)
	away := func() {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	switch twice.Cmp(den) {
	case 1:
		away()
	case 0:
		if q.Bit(0) == 1 {
			away()
		}
	}
	return q
}
