package reports

import (
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/reportschedule"
)

// TestLastFullPeriod: the last full week runs Monday to Sunday and the last full month
// is the calendar month before, both in Asia/Shanghai (a UTC evening is already the next
// day there).
func TestLastFullPeriod(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.ParseInLocation(time.DateTime, s, Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		cadence    reportschedule.Cadence
		now        time.Time
		start, end string
	}{
		{reportschedule.CadenceWEEKLY, at("2026-12-07 00:00:00"), "2026-11-30", "2026-12-07"}, // a Monday
		{reportschedule.CadenceWEEKLY, at("2026-12-06 23:59:59"), "2026-11-23", "2026-11-30"}, // a Sunday
		{reportschedule.CadenceWEEKLY, time.Date(2026, 12, 6, 16, 0, 0, 0, time.UTC), "2026-11-30", "2026-12-07"},
		{reportschedule.CadenceMONTHLY, at("2026-12-01 00:00:00"), "2026-11-01", "2026-12-01"},
		{reportschedule.CadenceMONTHLY, at("2026-03-31 12:00:00"), "2026-02-01", "2026-03-01"},
		{reportschedule.CadenceMONTHLY, at("2026-01-15 12:00:00"), "2025-12-01", "2026-01-01"},
	} {
		p := lastFull(c.cadence, c.now)
		if got := p.Start.In(Shanghai).Format(time.DateOnly); got != c.start {
			t.Errorf("%s at %s: starts %s, want %s", c.cadence, c.now, got, c.start)
		}
		if got := p.End.In(Shanghai).Format(time.DateOnly); got != c.end {
			t.Errorf("%s at %s: ends %s, want %s", c.cadence, c.now, got, c.end)
		}
	}
}
