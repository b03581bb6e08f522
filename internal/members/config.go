package members

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Config is how tiers are earned (MEMBER_* settings, see docs/PROMOTIONS-members.md).
type Config struct {
	// Window is the rolling period spend and orders are counted over (MEMBER_WINDOW,
	// default 8760h = 365 days).
	Window time.Duration
	// Interval is how old a membership or a rule group may get before the job recomputes
	// it (MEMBER_RECOMPUTE_INTERVAL, default 24h).
	Interval time.Duration
	// Currency is the currency of tier thresholds: only orders in it count towards spend
	// (MEMBER_CURRENCY, default CNY). Orders in other currencies still count as orders.
	Currency string
}

// DefaultConfig is the configuration without any MEMBER_* setting.
func DefaultConfig() Config {
	return Config{Window: 365 * 24 * time.Hour, Interval: 24 * time.Hour, Currency: "CNY"}
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// ConfigFromEnv reads the MEMBER_* settings through getenv over DefaultConfig.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	var errs []error
	dur := func(name string, p *time.Duration, min, max time.Duration) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < min || d > max {
				errs = append(errs, fmt.Errorf("%s: must be a duration between %s and %s", name, min, max))
				return
			}
			*p = d
		}
	}
	dur("MEMBER_WINDOW", &c.Window, 24*time.Hour, 3*365*24*time.Hour)
	dur("MEMBER_RECOMPUTE_INTERVAL", &c.Interval, time.Minute, 30*24*time.Hour)
	if v := strings.TrimSpace(getenv("MEMBER_CURRENCY")); v != "" {
		if !currencyCode.MatchString(v) {
			errs = append(errs, errors.New("MEMBER_CURRENCY: must be an ISO 4217 code such as CNY"))
		} else {
			c.Currency = v
		}
	}
	return c, errors.Join(errs...)
}
