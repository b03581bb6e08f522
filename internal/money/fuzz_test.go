package money

import (
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

// fuzzCurrencies are currencies of every exponent, picked by the fuzzer's byte.
var fuzzCurrencies = []string{"CNY", "JPY", "KWD", "USD"}

// amountGrammar is what ParseAmount must accept, by exponent: an optional minus, digits,
// and at most exponent decimals after a dot with at least one digit each side.
var amountGrammar = map[int]*regexp.Regexp{
	0: regexp.MustCompile(`^-?[0-9]+$`),
	2: regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,2})?$`),
	3: regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,3})?$`),
}

// FuzzParseAmount checks ParseAmount against an independent reading with math/big: it
// accepts exactly the plain decimals of the grammar (sign, digits, at most the currency's
// decimals, at most 15 integer digits), never rounds, and what it accepts prints back
// (Amount) to a string that parses to the same minor units.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12.50", "0.05", "0", "-1.99", "1200", "1.234", "", ".5", "1.", "abc", "1e3",
		"12345678901234567", " 7 ", "007.10", "999999999999999.99", "-0", "1.2.3", "٣"} {
		f.Add(s, byte(0))
	}
	f.Fuzz(func(t *testing.T, s string, pick byte) {
		cur := fuzzCurrencies[int(pick)%len(fuzzCurrencies)]
		exp := Exponent(cur)
		got, err := ParseAmount(s, cur)

		trimmed := strings.TrimSpace(s)
		whole, _, _ := strings.Cut(strings.TrimPrefix(trimmed, "-"), ".")
		valid := amountGrammar[exp].MatchString(trimmed) && len(whole) <= 15
		switch {
		case valid && err != nil:
			t.Fatalf("ParseAmount(%q, %s) refused a plain amount: %v", s, cur, err)
		case !valid && err == nil:
			t.Fatalf("ParseAmount(%q, %s) = %d, want an error", s, cur, got)
		case err != nil:
			return
		}
		want, ok := new(big.Rat).SetString(trimmed)
		if !ok {
			t.Fatalf("math/big cannot read %q", trimmed)
		}
		want.Mul(want, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil)))
		if !want.IsInt() || want.Num().Cmp(big.NewInt(got)) != 0 {
			t.Fatalf("ParseAmount(%q, %s) = %d, want %s", s, cur, got, want.RatString())
		}
		back, err := ParseAmount(Money{Minor: got, Currency: cur}.Amount(), cur)
		if err != nil || back != got {
			t.Fatalf("%d %s prints as %q, which reads back as %d, %v", got, cur, Money{Minor: got, Currency: cur}.Amount(), back, err)
		}
	})
}

// FuzzAmount checks that every amount of every exponent, to the extremes of int64,
// prints as a plain decimal of the grammar whose value is exactly the minor units.
func FuzzAmount(f *testing.F) {
	// math.MinInt64 printed as "--92233720368547758.08" before (found reading the code;
	// two minutes of fuzzing did not reach it).
	for _, v := range []int64{0, 1, -1, 99, 100, -199, 1250, math.MaxInt64, math.MinInt64} {
		f.Add(v, byte(0))
	}
	f.Fuzz(func(t *testing.T, minor int64, pick byte) {
		cur := fuzzCurrencies[int(pick)%len(fuzzCurrencies)]
		exp := Exponent(cur)
		s := Money{Minor: minor, Currency: cur}.Amount()
		if !amountGrammar[exp].MatchString(s) || (exp > 0 && !strings.Contains(s, ".")) {
			t.Fatalf("%d %s prints as %q", minor, cur, s)
		}
		v, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("%q", s)
		}
		v.Mul(v, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil)))
		if !v.IsInt() || v.Num().Cmp(big.NewInt(minor)) != 0 {
			t.Fatalf("%d %s prints as %q, worth %s", minor, cur, s, v.RatString())
		}
		if f := (Money{Minor: minor, Currency: cur}).Formatted(); !strings.Contains(f, strings.TrimPrefix(s, "-")) {
			t.Fatalf("%d %s is formatted %q", minor, cur, f)
		}
	})
}
