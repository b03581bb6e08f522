package creators

import (
	"fmt"
	"strings"
	"time"
)

// ConfigFromEnv reads CREATOR_ATTRIBUTION_WINDOW (default 168h, at most 2160h) and
// CREATOR_COMMISSION_HOLD (default 168h) as Go durations.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	for _, s := range []struct {
		name string
		dst  *time.Duration
		max  time.Duration
	}{
		{"CREATOR_ATTRIBUTION_WINDOW", &c.Window, MaxWindow},
		{"CREATOR_COMMISSION_HOLD", &c.Hold, 365 * 24 * time.Hour},
	} {
		v := strings.TrimSpace(getenv(s.name))
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > s.max {
			return c, fmt.Errorf("%s: must be a duration above 0 and at most %s, such as 168h", s.name, s.max)
		}
		*s.dst = d
	}
	return c, nil
}
