package config

import (
	"fmt"
	"time"
)

// Analytics configures behaviour events and dashboards (internal/analytics;
// docs/ANALYTICS.md).
type Analytics struct {
	// EventRetention is how long raw behaviour events are kept
	// (ANALYTICS_EVENT_RETENTION, 2160h = 90 days); the daily rollups stay.
	EventRetention time.Duration
	// TimeZone is the IANA zone days are counted in (ANALYTICS_TIME_ZONE, Asia/Shanghai).
	TimeZone string
	// BatchesPerMinute is how many trackEvents batches one visitor, and one client
	// address, may send a minute (ANALYTICS_BATCHES_PER_MINUTE, 60).
	BatchesPerMinute int
}

func analyticsFromEnv(r *reader) Analytics {
	return Analytics{
		EventRetention:   r.duration("ANALYTICS_EVENT_RETENTION", 90*24*time.Hour),
		TimeZone:         r.str("ANALYTICS_TIME_ZONE", "Asia/Shanghai"),
		BatchesPerMinute: r.integer("ANALYTICS_BATCHES_PER_MINUTE", 60),
	}
}

// validate reports the invalid analytics settings.
func (a Analytics) validate() []error {
	var errs []error
	if a.EventRetention < time.Hour || a.EventRetention > 5*366*24*time.Hour {
		errs = append(errs, fmt.Errorf("ANALYTICS_EVENT_RETENTION: must be between 1h and 43920h"))
	}
	if _, err := time.LoadLocation(a.TimeZone); err != nil || a.TimeZone == "" {
		errs = append(errs, fmt.Errorf("ANALYTICS_TIME_ZONE: must be an IANA time zone such as Asia/Shanghai"))
	}
	if a.BatchesPerMinute < 1 || a.BatchesPerMinute > 100_000 {
		errs = append(errs, fmt.Errorf("ANALYTICS_BATCHES_PER_MINUTE: must be between 1 and 100000"))
	}
	return errs
}
