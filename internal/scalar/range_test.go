package scalar

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/internal/apperror"
)

// TestTimesTheDatabaseCannotHoldAreBadInput: MySQL refuses to compare a DATETIME with a
// time outside years 1000–9999, so such a time — in a filter or inside a cursor — is the
// client's mistake (BAD_USER_INPUT), not an INTERNAL error from the database.
func TestTimesTheDatabaseCannotHoldAreBadInput(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"2026-12-06T10:00:00+08:00", true},
		{"1000-01-01T00:00:00Z", true},
		{"9999-12-31T23:59:59Z", true},
		{"", true}, // the zero time: no value
		{"0000-01-01T00:00:00Z", false},
		{"0999-12-31T23:59:59Z", false},
		{"9999-12-31T23:59:59-10:00", false}, // year 10000 in UTC
		{"1000-01-01T07:59:59+08:00", false}, // year 999 in UTC
	} {
		_, err := UnmarshalTime(context.Background(), c.in)
		if c.ok != (err == nil) || (err != nil && apperror.CodeOf(err) != apperror.BadUserInput) {
			t.Errorf("UnmarshalTime(%q): %v", c.in, err)
		}
	}
	for _, c := range []struct {
		v  time.Time
		ok bool
	}{
		{time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), true},
		{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		var b strings.Builder
		entgql.Cursor[int]{ID: 1, Value: c.v}.MarshalGQL(&b)
		s, _ := strconv.Unquote(b.String())
		_, err := UnmarshalCursor(context.Background(), s)
		if c.ok != (err == nil) || (err != nil && apperror.CodeOf(err) != apperror.BadUserInput) {
			t.Errorf("a cursor at %v: %v", c.v, err)
		}
	}
}
