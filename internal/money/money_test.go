package money

import "testing"

func TestAmountAndParse(t *testing.T) {
	cases := []struct {
		minor    int64
		currency string
		amount   string
		display  string
	}{
		{1250, "CNY", "12.50", "¥12.50"},
		{5, "CNY", "0.05", "¥0.05"},
		{0, "CNY", "0.00", "¥0.00"},
		{-199, "USD", "-1.99", "-$1.99"},
		{1200, "JPY", "1200", "¥1200"},
		{1234, "KWD", "1.234", "1.234 KWD"},
		{922337203685477580, "CNY", "9223372036854775.80", "¥9223372036854775.80"},
	}
	for _, tc := range cases {
		m := Money{Minor: tc.minor, Currency: tc.currency}
		if got := m.Amount(); got != tc.amount {
			t.Errorf("%d %s: amount %q, want %q", tc.minor, tc.currency, got, tc.amount)
		}
		if got := m.Formatted(); got != tc.display {
			t.Errorf("%d %s: formatted %q, want %q", tc.minor, tc.currency, got, tc.display)
		}
		if tc.minor < 1e15 {
			back, err := ParseAmount(tc.amount, tc.currency)
			if err != nil || back != tc.minor {
				t.Errorf("ParseAmount(%q) = %d, %v; want %d", tc.amount, back, err, tc.minor)
			}
		}
	}
	for _, bad := range []string{"", "1.234", ".5", "1.", "abc", "1e3", "12345678901234567"} {
		if _, err := ParseAmount(bad, "CNY"); err == nil {
			t.Errorf("ParseAmount(%q) accepted", bad)
		}
	}
}
