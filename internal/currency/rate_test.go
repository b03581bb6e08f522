package currency

import (
	"math/big"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/money"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]string{
		"0.1376": "0.1376", "0.13760": "0.1376", "007.50": "7.5", "20.770": "20.77", "1": "1", " 2 ": "2",
		"150.000000000001": "150.000000000001", "999999999999.999999999999": "999999999999.999999999999",
	} {
		if _, got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "0.0", "-1", "+1", "1e3", ".5", "1.", "1.2.3", "0x10", "1 000", "1,5",
		"0.0000000000001", "1000000000000", "Infinity", "NaN", "٣"} {
		if _, _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
}

func TestRoundHalfEven(t *testing.T) {
	for _, tc := range []struct{ num, den, want int64 }{
		{25, 10, 2}, {35, 10, 4}, {15, 10, 2}, {-25, 10, -2}, {-35, 10, -4}, {26, 10, 3}, {24, 10, 2}, {-26, 10, -3}, {7, 1, 7}, {1, 3, 0}, {2, 3, 1},
	} {
		if got := roundHalfEven(big.NewInt(tc.num), big.NewInt(tc.den)); got.Int64() != tc.want {
			t.Errorf("%d/%d = %s, want %d", tc.num, tc.den, got, tc.want)
		}
	}
}

func TestConvertMinorAcrossExponents(t *testing.T) {
	rat := func(s string) *big.Rat {
		r, _, err := ParseRate(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		minor    int64
		from, to string
		rate     string
		want     int64
	}{
		{12850, "CNY", "USD", "0.1376", 1768},   // 17.6816 → 17.68
		{12850, "CNY", "JPY", "20.77", 2669},    // 2668.945 → 2669
		{12850, "CNY", "KWD", "0.04217", 5419},  // 5.418845 → 5.419
		{2669, "JPY", "CNY", "0.048146", 12850}, // 128.501674 → 128.50
		{5419, "KWD", "JPY", "492.5", 2669},     // 2668.8575 yen → 2669
		{1, "KWD", "USD", "3.25", 0},            // 0.00325 → 0.00
		{5, "KWD", "USD", "1", 0},               // 0.005 → 0.00 (tie, even)
		{15, "KWD", "USD", "1", 2},              // 0.015 → 0.02 (tie, even)
		{1e10, "CNY", "VND", "999999999999", 0}, // past int64: not converted
	} {
		got, ok := ConvertMinor(tc.minor, tc.from, tc.to, rat(tc.rate))
		if tc.want == 0 && tc.minor == 1e10 {
			if ok {
				t.Errorf("%d %s→%s at %s fit an int64: %d", tc.minor, tc.from, tc.to, tc.rate, got)
			}
			continue
		}
		if !ok || got != tc.want {
			t.Errorf("%d %s→%s at %s = %d, %v; want %d", tc.minor, tc.from, tc.to, tc.rate, got, ok, tc.want)
		}
	}
	if money.Exponent("KWD") != 3 || money.Exponent("JPY") != 0 || money.Exponent("CNY") != 2 || money.Exponent("ISK") != 0 {
		t.Error("ISO 4217 exponents")
	}
}

func TestSnapshotPaths(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	q := func(rate string, age time.Duration) quote {
		r, text, _ := ParseRate(rate)
		return quote{rate: r, text: text, source: "admin", asOf: now.Add(-age)}
	}
	s := &Snapshot{pivot: "CNY", rates: map[pair]quote{
		{"CNY", "USD"}: q("0.1376", time.Hour),
		{"USD", "CNY"}: q("7.3", 2*time.Hour), // older than its reverse: not used
		{"EUR", "CNY"}: q("7.7", 3*time.Hour),
	}}
	m := money.Money{Minor: 10000, Currency: "EUR"} // €100.00
	got, why := s.Convert(m, "USD", now, 0)         // EUR→CNY→USD: 100 × 7.7 × 0.1376 = 105.952
	if why != "" || got.Amount() != "105.95" || got.Rate != "1.05952" || !got.AsOf.Equal(now.Add(-3*time.Hour)) {
		t.Errorf("cross: %+v %s", got, why)
	}
	if _, why := s.Convert(m, "USD", now, 2*time.Hour); why != StaleRate {
		t.Errorf("a cross rate is as old as its older leg: %s", why)
	}
	got, _ = s.Convert(money.Money{Minor: 1768, Currency: "USD"}, "CNY", now, 0) // inverse of the newer CNY→USD
	if got.Amount() != "128.49" || got.Source != "inverse:admin" {               // 17.68 / 0.1376 = 128.488…
		t.Errorf("inverse: %+v", got)
	}
	if _, why := s.Convert(m, "JPY", now, 0); why != NoRate {
		t.Errorf("no path: %s", why)
	}
}

func TestPlainDecimal(t *testing.T) {
	for in, want := range map[string]string{"2.2291E3": "2229.1", "4.9E-5": "0.000049", "0.1376": "0.1376", "1e-13": "0"} {
		if got := plainDecimal(in); got != want {
			t.Errorf("plainDecimal(%q) = %q, want %q", in, got, want)
		}
	}
}
