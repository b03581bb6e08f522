package scalar

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/internal/apperror"
)

// FuzzUnmarshalID: an ID is accepted exactly when it is the canonical decimal form of a
// positive int, as a string or a JSON number; it then writes back as the same string.
// Anything else is BAD_USER_INPUT, and inside @idsPerItem InvalidID without an error.
func FuzzUnmarshalID(f *testing.F) {
	for _, s := range []string{"1", "42", "0", "-1", "007", "+7", "1e3", "1.0", " 1", "9223372036854775807", "9223372036854775808", ""} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, number bool) {
		var v any = s
		if number {
			v = json.Number(s)
		}
		id, err := UnmarshalID(context.Background(), v)
		n, perr := strconv.ParseInt(s, 10, 64)
		canonical := perr == nil && n > 0 && strconv.FormatInt(n, 10) == s
		switch {
		case canonical && (err != nil || id != int(n)):
			t.Fatalf("UnmarshalID(%q) = %d, %v", s, id, err)
		case !canonical && (err == nil || apperror.CodeOf(err) != apperror.BadUserInput):
			t.Fatalf("UnmarshalID(%q) = %d, %v; want BAD_USER_INPUT", s, id, err)
		case canonical:
			var b bytes.Buffer
			if err := MarshalID(id).MarshalGQLContext(context.Background(), &b); err != nil || b.String() != strconv.Quote(s) {
				t.Fatalf("%d writes as %s, %v", id, b.String(), err)
			}
		}
		if lenient, err := UnmarshalID(WithIDsPerItem(context.Background()), v); err != nil || (!canonical && lenient != InvalidID) || (canonical && lenient != id) {
			t.Fatalf("per item, UnmarshalID(%q) = %d, %v", s, lenient, err)
		}
	})
}

// FuzzUnmarshalCursor: whatever is accepted as a cursor has a scalar value and writes back
// to a cursor that reads the same; the rest is BAD_USER_INPUT.
func FuzzUnmarshalCursor(f *testing.F) {
	for _, c := range []entgql.Cursor[int]{{ID: 1}, {ID: 7, Value: "title"}, {ID: 9, Value: int64(1250)}, {ID: 3, Value: 0.5}, {ID: 2, Value: map[string]any{"a": 1}}} {
		var b strings.Builder
		c.MarshalGQL(&b)
		s, _ := strconv.Unquote(b.String())
		f.Add(s)
	}
	for _, s := range []string{"", "null", "garbage", "gqFp", strings.Repeat("A", MaxCursorLength+4)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := UnmarshalCursor(context.Background(), s)
		if err != nil {
			if apperror.CodeOf(err) != apperror.BadUserInput {
				t.Fatalf("UnmarshalCursor(%q): %v", s, err)
			}
			return
		}
		if len(s) > MaxCursorLength || !scalarValue(c.Value) {
			t.Fatalf("accepted %q as %+v", s, c)
		}
		var b bytes.Buffer
		if err := MarshalCursor(c).MarshalGQLContext(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		var again string
		if err := json.Unmarshal(b.Bytes(), &again); err != nil {
			t.Fatalf("%+v writes as %s", c, b.String())
		}
		back, err := UnmarshalCursor(context.Background(), again)
		if err != nil || back.ID != c.ID || !sameValue(back.Value, c.Value) {
			t.Fatalf("%q reads as %+v, writes as %q, reads back as %+v, %v", s, c, again, back, err)
		}
	})
}

// sameValue compares cursor values (times by instant).
func sameValue(a, b any) bool {
	ta, aok := a.(time.Time)
	tb, bok := b.(time.Time)
	if aok && bok {
		return ta.Equal(tb)
	}
	return a == b
}
