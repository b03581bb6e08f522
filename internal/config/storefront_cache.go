package config

import (
	"fmt"
	"strings"
	"time"
)

// StorefrontCache configures the storefront response cache and the catalog change feed
// that invalidates it (internal/storecache, internal/catalogfeed, docs/CACHING.md).
type StorefrontCache struct {
	// Mode is STOREFRONT_CACHE: off, memory or redis; by default redis when REDIS_URL is
	// set, memory otherwise.
	Mode string
	// TTL is STOREFRONT_CACHE_TTL (30s): the longest an answer is kept, which bounds the
	// staleness of what the change feed does not cover (sales counts, a promotion's
	// start or end time passing).
	TTL time.Duration
	// MaxEntries and MaxBytes (STOREFRONT_CACHE_MAX_ENTRIES, STOREFRONT_CACHE_MAX_MB)
	// bound the in-process store.
	MaxEntries int
	MaxBytes   int
	// RedisPrefix starts its Redis keys (STOREFRONT_CACHE_REDIS_PREFIX, "xiadan:sc:"):
	// deployments sharing a Redis server need different ones.
	RedisPrefix string
	// ChangeRetention is CATALOG_CHANGE_RETENTION (24h): how long catalog change rows
	// are kept before the prune job deletes them.
	ChangeRetention time.Duration
}

func storefrontCacheFromEnv(r *reader, redisURL string) StorefrontCache {
	mode := "memory"
	if redisURL != "" {
		mode = "redis"
	}
	return StorefrontCache{
		Mode:            strings.ToLower(strings.TrimSpace(r.str("STOREFRONT_CACHE", mode))),
		TTL:             r.duration("STOREFRONT_CACHE_TTL", 30*time.Second),
		MaxEntries:      r.integer("STOREFRONT_CACHE_MAX_ENTRIES", 10000),
		MaxBytes:        r.integer("STOREFRONT_CACHE_MAX_MB", 64) << 20,
		RedisPrefix:     r.str("STOREFRONT_CACHE_REDIS_PREFIX", "xiadan:sc:"),
		ChangeRetention: r.duration("CATALOG_CHANGE_RETENTION", 24*time.Hour),
	}
}

// validate reports the invalid storefront cache settings.
func (s StorefrontCache) validate(redisURL string) []error {
	var errs []error
	switch s.Mode {
	case "", "off", "memory": // "": a Config not read from the environment (off)
	case "redis":
		if redisURL == "" {
			errs = append(errs, fmt.Errorf("STOREFRONT_CACHE: redis needs REDIS_URL"))
		}
	default:
		errs = append(errs, fmt.Errorf("STOREFRONT_CACHE: must be off, memory or redis, not %q", s.Mode))
	}
	if s.TTL != 0 && (s.TTL < time.Second || s.TTL > 24*time.Hour) {
		errs = append(errs, fmt.Errorf("STOREFRONT_CACHE_TTL: must be between 1s and 24h"))
	}
	if s.MaxEntries < 0 {
		errs = append(errs, fmt.Errorf("STOREFRONT_CACHE_MAX_ENTRIES: must be at least 1"))
	}
	if s.MaxBytes < 0 || s.MaxBytes > 0 && s.MaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("STOREFRONT_CACHE_MAX_MB: must be at least 1"))
	}
	if s.ChangeRetention != 0 && s.ChangeRetention < 10*time.Minute {
		errs = append(errs, fmt.Errorf("CATALOG_CHANGE_RETENTION: must be at least 10m (longer than any gap the feed waits for)"))
	}
	return errs
}
