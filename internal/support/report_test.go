package support

import (
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	d := func(s ...int) []time.Duration {
		out := make([]time.Duration, len(s))
		for i, v := range s {
			out[i] = time.Duration(v) * time.Second
		}
		return out
	}
	for _, c := range []struct {
		in       []time.Duration
		p50, p90 time.Duration
	}{
		{d(7), 7 * time.Second, 7 * time.Second},
		{d(1, 2), 1 * time.Second, 2 * time.Second},
		{d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 5 * time.Second, 9 * time.Second},
		{d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 6 * time.Second, 10 * time.Second},
	} {
		if got := percentile(c.in, 50); got != c.p50 {
			t.Errorf("p50 of %v: %v, want %v", c.in, got, c.p50)
		}
		if got := percentile(c.in, 90); got != c.p90 {
			t.Errorf("p90 of %v: %v, want %v", c.in, got, c.p90)
		}
	}
}

func TestPeriodStart(t *testing.T) {
	at := time.Date(2026, 12, 6, 15, 4, 5, 0, time.UTC) // a Sunday
	for _, c := range []struct {
		p    Period
		want time.Time
	}{
		{PeriodDay, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)},
		{PeriodWeek, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)},
		{PeriodMonth, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if got := periodStart(c.p, at); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.p, got, c.want)
		}
		if got := periodStart(c.p, c.want); !got.Equal(c.want) {
			t.Errorf("%s of its own start: %v", c.p, got)
		}
	}
}
