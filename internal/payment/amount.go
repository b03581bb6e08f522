package payment

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/xiadan/xiadan/internal/money"
)

// The real providers settle in renminbi only.
const cny = "CNY"

// Provider amounts are unsigned plain decimals: no sign, exponent, spaces or leading zeros,
// and at most 12 (yuan) or 14 (fen) integer digits — far above any provider's limit for one
// payment and far below int64 overflow.
var (
	yuanPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$`)
	fenPattern  = regexp.MustCompile(`^(0|[1-9][0-9]{0,13})$`)
)

// YuanString is m as the decimal yuan string Alipay expects ("12.50"). It refuses other
// currencies and non-positive amounts, so a wrong amount never reaches a provider.
func YuanString(m money.Money) (string, error) {
	if m.Currency != cny {
		return "", fmt.Errorf("%w: currency %s (providers take CNY only)", ErrUnsupported, m.Currency)
	}
	if m.Minor <= 0 {
		return "", fmt.Errorf("%w: amount must be positive", ErrInvalidRequest)
	}
	return m.Amount(), nil
}

// ParseYuan reads a provider's decimal yuan string ("12.5", "0.01") exactly into fen. It
// accepts at most two decimals and no sign, exponent or padding: amounts are never rounded.
func ParseYuan(s string) (money.Money, error) {
	if !yuanPattern.MatchString(s) {
		return money.Money{}, fmt.Errorf("%w: %q is not a yuan amount", ErrMalformed, s)
	}
	minor, err := money.ParseAmount(s, cny)
	if err != nil {
		return money.Money{}, fmt.Errorf("%w: %q is not a yuan amount", ErrMalformed, s)
	}
	return money.Money{Minor: minor, Currency: cny}, nil
}

// Fen is m in fen, the integer amount WeChat Pay and QQ Wallet expect. It refuses other
// currencies and non-positive amounts.
func Fen(m money.Money) (int64, error) {
	if m.Currency != cny {
		return 0, fmt.Errorf("%w: currency %s (providers take CNY only)", ErrUnsupported, m.Currency)
	}
	if m.Minor <= 0 {
		return 0, fmt.Errorf("%w: amount must be positive", ErrInvalidRequest)
	}
	return m.Minor, nil
}

// ParseFen reads a provider's decimal fen string ("1250") exactly.
func ParseFen(s string) (money.Money, error) {
	if !fenPattern.MatchString(s) {
		return money.Money{}, fmt.Errorf("%w: %q is not a fen amount", ErrMalformed, s)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return money.Money{}, fmt.Errorf("%w: %q is not a fen amount", ErrMalformed, s)
	}
	return money.Money{Minor: v, Currency: cny}, nil
}

// FenMoney is an integer fen amount from a provider's JSON, checked to be non-negative.
func FenMoney(fen int64) (money.Money, error) {
	if fen < 0 {
		return money.Money{}, fmt.Errorf("%w: negative amount %d", ErrMalformed, fen)
	}
	return money.Money{Minor: fen, Currency: cny}, nil
}
