// Package scalar reads and writes the API's custom scalars — ID, Cursor and Time — for
// gqlgen (gqlgen.yml maps them here). It is the one place client input becomes an id, a
// page cursor or a time, so anything a client can send for one is either accepted or
// refused as BAD_USER_INPUT naming the argument or input field at fault; never an INTERNAL
// error, never a panic.
package scalar

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/xiadan/xiadan/internal/apperror"
)

// MaxCursorLength bounds a cursor's text. The API's own cursors are a few dozen bytes; a
// keyword cursor carrying a relevance score stays well under it.
const MaxCursorLength = 512

// MarshalID writes an id as a GraphQL ID, a decimal string.
func MarshalID(id int) graphql.ContextMarshaler {
	return contextMarshaler(graphql.MarshalIntID(id))
}

// UnmarshalID reads an ID: a positive decimal integer without sign, leading zeros,
// exponent or spaces, as a string ("42") or a JSON integer (42). Ids are Ent's global ids,
// so zero and negative numbers are never ids and are refused with the rest. Inside a list
// argument marked @idsPerItem a malformed ID is not an error here but InvalidID, which the
// resolver reports at its position (see WithIDsPerItem).
func UnmarshalID(ctx context.Context, v any) (int, error) {
	id, ok := parseID(v)
	if ok {
		return id, nil
	}
	if idsPerItem(ctx) {
		return InvalidID, nil
	}
	return 0, apperror.BadInput(inputPath(ctx), "%s is not a valid ID", describe(v))
}

// InvalidID stands for a malformed ID in a list argument marked @idsPerItem. No record has
// it: Ent's ids start at 1.
const InvalidID = 0

// parseID is UnmarshalID without the error.
func parseID(v any) (int, bool) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = string(v)
	case int64:
		return int(v), v > 0
	case int:
		return v, v > 0
	default:
		return 0, false
	}
	if len(s) == 0 || len(s) > 19 || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || int64(int(n)) != n {
		return 0, false
	}
	return int(n), true
}

// idsPerItemKey marks a context in which a malformed ID becomes InvalidID.
type idsPerItemKey struct{}

// WithIDsPerItem returns ctx in which UnmarshalID turns a malformed ID into InvalidID
// rather than failing: the @idsPerItem directive reads its list argument with it, so one
// bad id of nodes(ids:) nulls only its own item, not the whole list.
func WithIDsPerItem(ctx context.Context) context.Context {
	return context.WithValue(ctx, idsPerItemKey{}, true)
}

func idsPerItem(ctx context.Context) bool {
	on, _ := ctx.Value(idsPerItemKey{}).(bool)
	return on
}

// BadItem reports that item i of the list argument named field held a malformed ID (it
// was read as InvalidID): the error's path points at the item's position in the field's
// result, which the resolver leaves null.
func BadItem(ctx context.Context, field string, i int) {
	err := apperror.BadInput(fmt.Sprintf("%s[%d]", field, i), "%s[%d] is not a valid ID", field, i)
	path := append(slices.Clone(graphql.GetPath(ctx)), ast.PathIndex(i))
	graphql.AddError(ctx, &gqlerror.Error{Path: path, Message: err.Message, Err: err})
}

// MarshalCursor writes a page cursor as entgql does (base64 of msgpack of {i, v}), except
// that the ordering value is always written: entgql leaves it out when it is zero
// (msgpack's omitempty), and a cursor without its value is read back as one on the id
// alone, so the next page of, say, products by SALES_COUNT after one that never sold
// repeated products (TestCursorsKeepAZeroOrderingValue).
func MarshalCursor(c entgql.Cursor[int]) graphql.ContextMarshaler {
	return contextMarshaler(graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, `"`)
		enc := base64.NewEncoder(base64.RawStdEncoding, w)
		_ = msgpack.NewEncoder(enc).Encode(wireCursor{ID: c.ID, Value: c.Value})
		_ = enc.Close()
		_, _ = io.WriteString(w, `"`)
	}))
}

// wireCursor is entgql.Cursor[int] without omitempty; entgql reads it alike.
type wireCursor struct {
	ID    int `msgpack:"i"`
	Value any `msgpack:"v"`
}

// UnmarshalCursor reads a page cursor. A cursor is opaque: anything but one this API
// handed out — not a string, too long, not base64, not msgpack of {id, value}, or a value
// that is not a single scalar — is refused.
func UnmarshalCursor(ctx context.Context, v any) (entgql.Cursor[int], error) {
	if s, ok := v.(string); ok && len(s) <= MaxCursorLength {
		if c, ok := decodeCursor(s); ok {
			return c, nil
		}
	}
	return entgql.Cursor[int]{}, apperror.BadInput(inputPath(ctx),
		"%s is not a cursor of this list; pass a cursor from pageInfo or an edge of it", describe(v))
}

// decodeCursor reads what MarshalCursor writes: base64 (unpadded) of a msgpack map with the
// integer "i" and, optionally, the scalar "v", and nothing after it. It decodes into a
// plain map rather than entgql's Cursor, as entgql does: msgpack's struct decoder panics on
// a map naming "v" twice (found by FuzzUnmarshalCursor), which any client could send.
func decodeCursor(s string) (entgql.Cursor[int], bool) {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return entgql.Cursor[int]{}, false
	}
	r := bytes.NewReader(b)
	var m map[string]any
	if err := msgpack.NewDecoder(r).Decode(&m); err != nil || r.Len() > 0 {
		return entgql.Cursor[int]{}, false
	}
	id, ok := intOf(m["i"])
	if !ok || len(m) > 2 || (len(m) == 2 && !hasKey(m, "v")) || !scalarValue(m["v"]) {
		return entgql.Cursor[int]{}, false
	}
	return entgql.Cursor[int]{ID: id, Value: m["v"]}, true
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// intOf reads an id that msgpack decoded into one of its sized integer types.
func intOf(v any) (int, bool) {
	var n int64
	switch v := v.(type) {
	case int8:
		n = int64(v)
	case int16:
		n = int64(v)
	case int32:
		n = int64(v)
	case int64:
		n = v
	case uint8:
		n = int64(v)
	case uint16:
		n = int64(v)
	case uint32:
		n = int64(v)
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		n = int64(v)
	default:
		return 0, false
	}
	return int(n), int64(int(n)) == n
}

// scalarValue reports whether a cursor's ordering value is one the database can compare:
// nothing, a boolean, an integer, a finite number, text or a time (msgpack decodes
// numbers into the sized Go types).
func scalarValue(v any) bool {
	switch v := v.(type) {
	case time.Time:
		return storableTime(v)
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	case float32:
		return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
	case float64:
		return !math.IsNaN(v) && !math.IsInf(v, 0)
	case string:
		return utf8.ValidString(v)
	}
	return false
}

// MarshalTime writes a time in RFC 3339 with nanoseconds, null for the zero time.
func MarshalTime(t time.Time) graphql.ContextMarshaler {
	return contextMarshaler(graphql.MarshalTime(t))
}

// UnmarshalTime reads a time as gqlgen does (RFC 3339, with or without fractional
// seconds; "" and null are the zero time), refusing anything else as bad input.
func UnmarshalTime(ctx context.Context, v any) (time.Time, error) {
	t, err := graphql.UnmarshalTime(v)
	if err != nil {
		return time.Time{}, apperror.BadInput(inputPath(ctx),
			"%s is not a date-time; write it in RFC 3339, such as \"2026-01-02T15:04:05+08:00\"", describe(v))
	}
	if !t.IsZero() && !storableTime(t) {
		return time.Time{}, apperror.BadInput(inputPath(ctx),
			"%s is outside the dates this API keeps (years 1000 to 9999, in UTC)", describe(v))
	}
	return t, nil
}

// storableTime reports whether t falls in the range of MySQL's DATETIME (1000-01-01 to
// 9999-12-31 in UTC): MySQL refuses a comparison with a time outside it, which a client
// could otherwise turn into an INTERNAL error with a filter or a cursor.
func storableTime(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1000 && y <= 9999
}

// inputPath names the argument or input field being read, as the caller spelled it
// ("id", "ids[2]", "input.lines[0].variantID"), from the path gqlgen keeps while it reads
// arguments.
func inputPath(ctx context.Context) string {
	var parts []string
	for pc := graphql.GetPathContext(ctx); pc != nil; pc = pc.Parent {
		switch {
		case pc.Index != nil:
			parts = append(parts, "["+strconv.Itoa(*pc.Index)+"]")
		case pc.Field != nil:
			parts = append(parts, "."+*pc.Field)
		}
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return strings.TrimPrefix(b.String(), ".")
}

// describe quotes a bad value for an error message, shortened, without echoing a long
// input back.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return strconv.Quote(v)
	case json.Number, int, int64, float64, bool:
		s := fmt.Sprint(v)
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return s
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// contextMarshaler adapts a plain marshaler: gqlgen calls a scalar's unmarshaler with a
// context only when its marshaler takes one too.
func contextMarshaler(m graphql.Marshaler) graphql.ContextMarshaler {
	if cm, ok := m.(graphql.ContextMarshaler); ok {
		return cm // graphql.Null, which the executor compares against
	}
	return plain{m}
}

type plain struct{ m graphql.Marshaler }

func (p plain) MarshalGQLContext(_ context.Context, w io.Writer) error {
	p.m.MarshalGQL(w)
	return nil
}
