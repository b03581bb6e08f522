package meili

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultPriceBands are the upper bounds, in minor units (fen), of the price-band facet:
// 0–50, 50–100, 100–200, 200–500, 500–1,000 and 1,000+ yuan. The embedded search's
// facets use the same bands (catalog.PriceBands), so a facet reads the same whichever
// engine answered.
var DefaultPriceBands = []int64{5000, 10000, 20000, 50000, 100000}

// Config is how to reach the search server and what to keep there (SEARCH_* variables).
type Config struct {
	// URL is the server (SEARCH_URL): http://host:7700, https://host, or
	// meilisearch://host:7700 (http) and meilisearchs://host (https). Empty: no search
	// server; the embedded search answers everything.
	URL string
	// Key is the API key (SEARCH_KEY), sent as a bearer token. The syncer needs a key
	// allowed to write documents, settings, indexes and read tasks; a replica that only
	// searches can use a search-only key.
	Key string
	// IndexPrefix starts every index name (SEARCH_INDEX_PREFIX, default "products"):
	// the index of a locale is <prefix>_<locale>, such as products_zh-CN.
	IndexPrefix string
	// Locales are the locales that have an index (SEARCH_LOCALES, default "zh-CN,en").
	Locales []string
	// Timeout bounds each HTTP request (SEARCH_TIMEOUT, default 2s): past it a search
	// falls back to the embedded engine.
	Timeout time.Duration
	// Sync runs the syncer on this replica (SEARCH_SYNC, default true). One syncer per
	// deployment is enough; see docs/SEARCH-SERVER.md for more.
	Sync bool
	// SyncBatch is how many changes (and documents) one sync step handles
	// (SEARCH_SYNC_BATCH, default 500).
	SyncBatch int
	// SyncInterval is how long the syncer waits when the feed has nothing new
	// (SEARCH_SYNC_INTERVAL, default 1s): the lag of an index behind the catalog.
	SyncInterval time.Duration
	// PriceBands are the upper bounds, in minor units, of the price bands offered as a
	// facet (SEARCH_PRICE_BANDS, default DefaultPriceBands).
	PriceBands []int64
	// TaskPoll is the first wait between polls of an asynchronous write (default 20ms,
	// doubling up to 1s).
	TaskPoll time.Duration
	// TaskTimeout bounds the wait for one asynchronous write (default 5m): past it the
	// step fails and is repeated, rather than hanging on a task that never ends.
	TaskTimeout time.Duration
}

// Enabled reports whether a search server is configured.
func (c Config) Enabled() bool { return c.URL != "" }

func (c Config) withDefaults() Config {
	if c.IndexPrefix == "" {
		c.IndexPrefix = "products"
	}
	if len(c.Locales) == 0 {
		c.Locales = []string{"zh-CN", "en"}
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	if c.SyncBatch == 0 {
		c.SyncBatch = 500
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = time.Second
	}
	if c.PriceBands == nil {
		c.PriceBands = slices.Clone(DefaultPriceBands)
	}
	if c.TaskPoll == 0 {
		c.TaskPoll = 20 * time.Millisecond
	}
	if c.TaskTimeout == 0 {
		c.TaskTimeout = 5 * time.Minute
	}
	return c
}

var (
	localePattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)
)

func parseServerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "https":
	case "meilisearch":
		u.Scheme = "http"
	case "meilisearchs":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("scheme %q", u.Scheme)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("want scheme://host[:port][/path]")
	}
	return u, nil
}

// Validate reports every invalid setting at once, named by its variable.
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if _, err := parseServerURL(c.URL); err != nil {
		bad("SEARCH_URL", "must look like http://host:7700, https://host or meilisearch://host:7700 (%v)", err)
	}
	if !prefixPattern.MatchString(c.IndexPrefix) {
		bad("SEARCH_INDEX_PREFIX", "must be letters, digits, - or _ (a Meilisearch index uid)")
	}
	seen := map[string]bool{}
	for _, l := range c.Locales {
		if !localePattern.MatchString(l) {
			bad("SEARCH_LOCALES", "%q is not a locale such as zh-CN or en", l)
		}
		if seen[l] {
			bad("SEARCH_LOCALES", "%q is listed twice", l)
		}
		seen[l] = true
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > time.Minute {
		bad("SEARCH_TIMEOUT", "must be between 100ms and 1m")
	}
	if c.SyncBatch < 1 || c.SyncBatch > 10_000 {
		bad("SEARCH_SYNC_BATCH", "must be between 1 and 10000")
	}
	if c.SyncInterval < 10*time.Millisecond || c.SyncInterval > time.Hour {
		bad("SEARCH_SYNC_INTERVAL", "must be between 10ms and 1h")
	}
	for i, b := range c.PriceBands {
		if b <= 0 || (i > 0 && b <= c.PriceBands[i-1]) {
			bad("SEARCH_PRICE_BANDS", "must be increasing positive amounts in minor units")
			break
		}
	}
	return errors.Join(errs...)
}

// ConfigFromEnv reads the SEARCH_* variables from getenv and validates them. Without
// SEARCH_URL the result is disabled (Enabled false) and every other variable ignored.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	c := Config{URL: get("SEARCH_URL"), Key: get("SEARCH_KEY"), IndexPrefix: get("SEARCH_INDEX_PREFIX"), Sync: true}
	if !c.Enabled() {
		return Config{}, nil
	}
	var errs []error
	if v := get("SEARCH_LOCALES"); v != "" {
		for _, l := range strings.Split(v, ",") {
			if l = strings.TrimSpace(l); l != "" {
				c.Locales = append(c.Locales, l)
			}
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v := get(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 2s", name, v))
			}
			*dst = d
		}
	}
	dur("SEARCH_TIMEOUT", &c.Timeout)
	dur("SEARCH_SYNC_INTERVAL", &c.SyncInterval)
	if v := get("SEARCH_SYNC"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("SEARCH_SYNC: %q is not true or false", v))
		}
		c.Sync = b
	}
	if v := get("SEARCH_SYNC_BATCH"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			// 0 would otherwise read as "unset" and take the default.
			errs = append(errs, fmt.Errorf("SEARCH_SYNC_BATCH: %q is not a number between 1 and 10000", v))
		}
		c.SyncBatch = n
	}
	if v := get("SEARCH_PRICE_BANDS"); v != "" {
		c.PriceBands = []int64{}
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("SEARCH_PRICE_BANDS: %q is not an amount in minor units", s))
				continue
			}
			c.PriceBands = append(c.PriceBands, n)
		}
	}
	c = c.withDefaults()
	if err := errors.Join(append(errs, c.Validate())...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Index is the index uid of a locale.
func (c Config) Index(locale string) string { return c.IndexPrefix + "_" + locale }

// hasLocale reports whether locale has an index.
func (c Config) hasLocale(locale string) bool { return contains(c.Locales, locale) }
