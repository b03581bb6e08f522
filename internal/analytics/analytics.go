// Package analytics records shoppers' behaviour events (trackEvents) and answers the
// merchant and platform sales dashboards from daily rollups (issue #13 §1).
//
// Behaviour events are stored append-only and counted into analytics_traffic_days in the
// same transaction. Sales are rolled up by a job that follows the order-event log (the
// relay's commit-ordered positions) and recomputes every (merchant, day) an order of which
// changed, in one transaction with its watermark; replicas serialise on the watermark row
// (SELECT … FOR UPDATE). docs/ANALYTICS.md explains the design, limits and numbers.
package analytics

import (
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/analytics/channel"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/ratelimit"
)

const (
	// MaxEventsPerBatch bounds one trackEvents call.
	MaxEventsPerBatch = 50
	// MaxVisitorIDRunes bounds the visitor id.
	MaxVisitorIDRunes = 64
	// MaxQueryRunes bounds a SEARCH event's words.
	MaxQueryRunes = 200
	// MaxResultsCount bounds a SEARCH event's results count.
	MaxResultsCount = 1_000_000
	// PastWindow is how far back an event's occurredAt may go; older ones are clamped.
	PastWindow = 24 * time.Hour
	// MaxDaysByDay and MaxDaysByPeriod bound a dashboard's range.
	MaxDaysByDay    = 400
	MaxDaysByPeriod = 1100
)

// Channel is where a visit, an event or an order came from (package channel).
type Channel = channel.Channel

// Channels, as package channel names them.
const (
	ChannelWeb = channel.Web
)

// AllChannels lists the channels in the order dashboards show them.
var AllChannels = channel.All

// Service records events and answers dashboards.
type Service struct {
	db        *ent.Client
	sql       *sql.DB
	limits    ratelimit.Limiter
	loc       *time.Location
	cfg       config.Analytics
	logger    *slog.Logger
	batchSize int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// New builds the service over db (whose pool is sqlDB), counting trackEvents calls in
// limits.
func New(db *ent.Client, sqlDB *sql.DB, limits ratelimit.Limiter, cfg config.Analytics, logger *slog.Logger) (*Service, error) {
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("analytics time zone: %w", err)
	}
	if cfg.BatchesPerMinute <= 0 {
		cfg.BatchesPerMinute = 60
	}
	return &Service{db: db, sql: sqlDB, limits: limits, loc: loc, cfg: cfg, logger: logger, batchSize: 500}, nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// dayOf is t's day in the analytics time zone as yyyymmdd.
func (s *Service) dayOf(t time.Time) int {
	y, m, d := t.In(s.loc).Date()
	return y*10000 + int(m)*100 + d
}

// dayStart is the first instant of day (yyyymmdd) in the analytics time zone.
func (s *Service) dayStart(day int) time.Time {
	return time.Date(day/10000, time.Month(day/100%100), day%100, 0, 0, 0, 0, s.loc)
}

func dayString(day int) string {
	return fmt.Sprintf("%04d-%02d-%02d", day/10000, day/100%100, day%100)
}

func dayOfDate(t time.Time) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }
