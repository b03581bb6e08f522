// Package money represents amounts as integer minor units plus an ISO 4217 currency code.
// Amounts become decimal strings only at the edges (GraphQL, payment providers, display).
package money

import (
	"fmt"
	"strconv"
	"strings"
)

// Money is an exact amount: Minor units (fen for CNY) of Currency.
type Money struct {
	Minor    int64
	Currency string
}

// New returns minor units of currency.
func New(minor int64, currency string) *Money {
	return &Money{Minor: minor, Currency: strings.ToUpper(currency)}
}

// Exponent is the number of decimal places of currency's minor unit (ISO 4217: JPY 0,
// CNY 2, KWD 3); 2 for a code the table does not know.
func Exponent(currency string) int {
	if e, ok := iso4217[strings.ToUpper(currency)]; ok {
		return e
	}
	return 2
}

// Amount is the decimal amount in major units, such as "12.50".
func (m Money) Amount() string {
	exp := Exponent(m.Currency)
	neg := m.Minor < 0
	v := uint64(m.Minor)
	if neg {
		v = -v // in uint64, so that even math.MinInt64 has an absolute value
	}
	s := strconv.FormatUint(v, 10)
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// MinorUnits is the amount in minor units as a decimal string (GraphQL Int is only 32 bits).
func (m Money) MinorUnits() string { return strconv.FormatInt(m.Minor, 10) }

var symbols = map[string]string{"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$", "TWD": "NT$"}

// Formatted is the amount for display, such as "¥12.50".
func (m Money) Formatted() string {
	if sym, ok := symbols[m.Currency]; ok {
		a := m.Amount()
		if strings.HasPrefix(a, "-") {
			return "-" + sym + a[1:]
		}
		return sym + a
	}
	return fmt.Sprintf("%s %s", m.Amount(), m.Currency)
}

// ParseAmount reads a decimal amount such as "12.5" in currency into minor units: an
// optional minus, digits, and at most as many decimals as the currency has after a dot,
// around spaces — no plus sign, exponent or second sign. It refuses more decimal places
// than the currency has, so no amount is ever rounded.
func ParseAmount(s, currency string) (int64, error) {
	exp := Exponent(currency)
	s = strings.TrimSpace(s)
	unsigned := strings.TrimPrefix(s, "-")
	neg := len(unsigned) < len(s)
	whole, frac, hasDot := strings.Cut(unsigned, ".")
	if !digits(whole) || (hasDot && !digits(frac)) || len(frac) > exp {
		return 0, fmt.Errorf("%q is not an amount with at most %d decimal places", s, exp)
	}
	frac += strings.Repeat("0", exp-len(frac))
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || len(whole) > 15 {
		return 0, fmt.Errorf("%q is not a valid amount", s)
	}
	if neg {
		v = -v
	}
	return v, nil
}

// digits reports whether s is one or more ASCII digits (strconv would also take a sign).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
