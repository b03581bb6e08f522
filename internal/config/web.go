package config

import (
	"errors"
	"net/url"
	"time"

	"github.com/xiadan/xiadan/internal/cors"
)

// corsFromEnv reads the CORS settings. ALLOWED_ORIGINS, the older name (websockets
// only, host patterns), is read when CORS_ALLOWED_ORIGINS is not set.
func corsFromEnv(r *reader) cors.Config {
	origins := r.list("CORS_ALLOWED_ORIGINS")
	if len(origins) == 0 {
		origins = r.list("ALLOWED_ORIGINS")
	}
	return cors.Config{
		AllowedOrigins:   origins,
		AllowCredentials: r.boolean("CORS_ALLOW_CREDENTIALS", false),
		MaxAge:           r.duration("CORS_MAX_AGE", 10*time.Minute),
		ExtraHeaders:     r.list("CORS_ALLOWED_HEADERS"),
	}
}

// validateWeb checks the settings of the browser-facing HTTP layer: CORS, HTTP caching
// and the Redis server of the persisted queries.
func (c Config) validateWeb() []error {
	errs := c.CORS.Validate()
	if c.HTTPCacheMaxAge < 0 || c.HTTPCacheMaxAge > 24*time.Hour {
		errs = append(errs, errors.New("HTTP_CACHE_MAX_AGE: must be between 0s and 24h"))
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") || (u.Scheme != "unix" && u.Host == "") {
			errs = append(errs, errors.New("REDIS_URL: must look like redis://[:password@]host:6379/0 (rediss:// for TLS)"))
		}
	}
	return errs
}

// The values of STOREFRONT_CACHE (Config.StorefrontCache.Mode).
const (
	StorefrontCacheOff    = "off"
	StorefrontCacheMemory = "memory"
	StorefrontCacheRedis  = "redis"
)
