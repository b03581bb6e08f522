package currency

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xiadan/xiadan/internal/money"
)

// Config is how rates are kept and used (EXCHANGE_RATE_*).
type Config struct {
	// MaxAge: a rate older than this presents nothing (STALE_RATE); 0 never.
	MaxAge time.Duration
	// CacheTTL bounds how long a replica keeps the rates it read; a change made on this
	// replica is seen at once, one made elsewhere within CacheTTL.
	CacheTTL time.Duration
	// Pivot is the currency cross rates go through (a rate X→Pivot and Pivot→Y).
	Pivot string
	// Provider names the rate source a job fetches from: "" (admins set rates) or
	// "frankfurter" (ProviderURL, every RefreshInterval).
	Provider        string
	ProviderURL     string
	RefreshInterval time.Duration
}

// DefaultConfig is the configuration when nothing is set.
func DefaultConfig() Config {
	return Config{MaxAge: 0, CacheTTL: 30 * time.Second, Pivot: "CNY",
		ProviderURL: "https://api.frankfurter.app", RefreshInterval: 6 * time.Hour}
}

// ConfigFromEnv reads EXCHANGE_RATE_* settings and reports every invalid one.
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
	dur("EXCHANGE_RATE_MAX_AGE", &c.MaxAge, 0, 10*365*24*time.Hour)
	dur("EXCHANGE_RATE_CACHE_TTL", &c.CacheTTL, time.Second, time.Hour)
	dur("EXCHANGE_RATE_REFRESH_INTERVAL", &c.RefreshInterval, time.Minute, 30*24*time.Hour)
	if v := strings.TrimSpace(getenv("EXCHANGE_RATE_PIVOT")); v != "" {
		if code, ok := money.Normalize(v); !ok {
			errs = append(errs, errors.New("EXCHANGE_RATE_PIVOT: must be an ISO 4217 code such as CNY"))
		} else {
			c.Pivot = code
		}
	}
	switch v := strings.TrimSpace(getenv("EXCHANGE_RATE_PROVIDER")); v {
	case "", "admin":
	case ProviderFrankfurter:
		c.Provider = v
	default:
		errs = append(errs, fmt.Errorf("EXCHANGE_RATE_PROVIDER: %q is not admin or %s", v, ProviderFrankfurter))
	}
	if v := strings.TrimSpace(getenv("EXCHANGE_RATE_PROVIDER_URL")); v != "" {
		if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
			errs = append(errs, errors.New("EXCHANGE_RATE_PROVIDER_URL: must be an http(s) URL"))
		} else {
			c.ProviderURL = strings.TrimRight(v, "/")
		}
	}
	return c, errors.Join(errs...)
}
