package app_test

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// The schema as introspection describes it, as much of it as the walk below needs.
type (
	introType struct {
		Kind, Name  string
		Fields      []introField
		InputFields []introInput
		EnumValues  []struct{ Name string }
	}
	introField struct {
		Name string
		Args []introInput
		Type introTypeRef
	}
	introInput struct {
		Name         string
		Type         introTypeRef
		DefaultValue *string
	}
	introTypeRef struct {
		Kind   string
		Name   *string
		OfType *introTypeRef
	}
)

const introspectForWalk = `{ __schema {
  queryType { name } mutationType { name } subscriptionType { name }
  types { kind name
    fields { name args { name defaultValue type { ...T } } type { ...T } }
    inputFields { name defaultValue type { ...T } }
    enumValues { name } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }`

// named is the named type under the wrappers.
func (r introTypeRef) named() string {
	for r.Name == nil {
		r = *r.OfType
	}
	return *r.Name
}

// String writes the reference in SDL ("[ID!]!").
func (r introTypeRef) String() string {
	switch r.Kind {
	case "NON_NULL":
		return r.OfType.String() + "!"
	case "LIST":
		return "[" + r.OfType.String() + "]"
	}
	return *r.Name
}

// badValues are what a client might send where a scalar is expected, by scalar.
var badValues = map[string][]any{
	"ID": {"abc", "1e3", "-1", "0", "", " 7", "07", "+7", "1.0", "0x1F", "99999999999999999999999",
		jsonNumber("1e3"), jsonNumber("2.5"), jsonNumber("-4")},
	"Cursor": {"garbage", "null", "", strings.Repeat("A", 2000), forgedCursor(map[string]any{"x": 1}),
		forgedCursor([]any{1, 2}), forgedCursor(math.NaN()), forgedCursor("\xff"), "g6F27aF270"},
	"Time": {"yesterday", "2026-13-01T00:00:00Z", "1700000000"},
}

// jsonNumber is a number as it appears in the JSON body, exponent and all.
type jsonNumber string

// MarshalJSON writes the number as it is.
func (n jsonNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }

// forgedCursor is a well-encoded cursor whose ordering value is not a scalar.
func forgedCursor(v any) string {
	var b strings.Builder
	entgql.Cursor[int]{ID: 1, Value: v}.MarshalGQL(&b)
	s, _ := strconv.Unquote(b.String())
	return s
}

// slot is one place in a root field's arguments where a scalar of interest is read.
type slot struct {
	op, field string
	// arg is the argument the slot is in, with its SDL type.
	arg, argType string
	// path leads from the argument's value to the slot (input field names and list
	// indexes); empty when the argument is the slot.
	path []any
	// scalar is ID, Cursor or Time; shape its wrapped type ("[ID!]!").
	scalar, shape string
}

// name is what the server names the slot in extensions.field.
func (s slot) name() string {
	var b strings.Builder
	b.WriteString(s.arg)
	for _, p := range s.path {
		switch p := p.(type) {
		case string:
			b.WriteString("." + p)
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		}
	}
	return b.String()
}

// TestEveryIDCursorAndTimeArgumentRefusesMalformedInput walks the schema by introspection:
// every argument of every root field (query, mutation, subscription) that holds an ID, a
// Cursor or a Time — directly, in a list, or anywhere inside an input object — gets
// malformed values, and each request must fail with BAD_USER_INPUT naming the slot, never
// INTERNAL. gqlgen reads each wrapped form of a scalar ("ID!", "[ID!]", …) with one
// generated function, whichever field the argument belongs to; the test also checks that
// every form used anywhere in the schema (nested fields such as Merchant.products(where:)
// included) was exercised through a root field, so a new argument cannot escape the walk.
func TestEveryIDCursorAndTimeArgumentRefusesMalformedInput(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	var schema struct {
		Schema struct {
			QueryType, MutationType, SubscriptionType struct{ Name string }
			Types                                     []introType
		} `json:"__schema"`
	}
	s.MustQuery("", introspectForWalk, nil).Decode(t, &schema)
	types := map[string]introType{}
	for _, ty := range schema.Schema.Types {
		types[ty.Name] = ty
	}

	// Every wrapped form of the scalars anywhere in the schema's inputs.
	everyShape := map[string]string{}
	for _, ty := range types {
		for _, f := range ty.Fields {
			for _, a := range f.Args {
				collectShapes(types, a.Type, ty.Name+"."+f.Name+"("+a.Name+")", everyShape, map[string]bool{})
			}
		}
	}

	roots := []struct{ op, typ string }{{"query", schema.Schema.QueryType.Name},
		{"mutation", schema.Schema.MutationType.Name}, {"subscription", schema.Schema.SubscriptionType.Name}}
	var slots []slot
	seenInput := map[string]bool{} // input type.field already walked through one root field
	for _, root := range roots {
		for _, f := range types[root.typ].Fields {
			for _, a := range f.Args {
				base := slot{op: root.op, field: f.Name, arg: a.Name, argType: a.Type.String()}
				slots = append(slots, findSlots(types, base, a.Type, nil, seenInput)...)
			}
		}
	}
	if len(slots) < 50 {
		t.Fatalf("found only %d slots; is the walk broken?", len(slots))
	}
	exercised := map[string]bool{}
	requests := 0
	for _, sl := range slots {
		exercised[sl.shape] = true
		for _, bad := range badValues[sl.scalar] {
			requests++
			checkBadSlot(t, s, types, sl, bad)
		}
	}
	for shape, where := range everyShape {
		if !exercised[shape] {
			t.Errorf("%s (as in %s) is never reached from a root field; extend the walk", shape, where)
		}
	}
	t.Logf("%d slots, %d requests, forms %v", len(slots), requests, keys(exercised))
}

// collectShapes records the wrapped forms of ID, Cursor and Time under ref.
func collectShapes(types map[string]introType, ref introTypeRef, where string, out map[string]string, seen map[string]bool) {
	name := ref.named()
	if _, ok := badValues[name]; ok {
		out[shapeOf(ref)] = where
		return
	}
	ty := types[name]
	if ty.Kind != "INPUT_OBJECT" || seen[name] {
		return
	}
	seen[name] = true
	for _, f := range ty.InputFields {
		collectShapes(types, f.Type, where+"."+f.Name, out, seen)
	}
}

// shapeOf is a reference's SDL form with nullability, which picks gqlgen's function.
func shapeOf(ref introTypeRef) string { return ref.String() }

// findSlots lists the slots under ref, reached from base by path. Each field of an input
// type is walked once over the whole schema (through the first root field that reaches
// it), which keeps the walk linear.
func findSlots(types map[string]introType, base slot, ref introTypeRef, path []any, seen map[string]bool) []slot {
	name := ref.named()
	if _, ok := badValues[name]; ok {
		sl := base
		sl.path = slices.Clone(path)
		if isList(ref) {
			sl.path = append(sl.path, 0)
		}
		sl.scalar, sl.shape = name, shapeOf(ref)
		return []slot{sl}
	}
	ty := types[name]
	if ty.Kind != "INPUT_OBJECT" {
		return nil
	}
	var out []slot
	for _, f := range ty.InputFields {
		key := name + "." + f.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		p := slices.Clone(path)
		if isList(ref) {
			p = append(p, 0)
		}
		out = append(out, findSlots(types, base, f.Type, append(p, f.Name), seen)...)
	}
	return out
}

func isList(ref introTypeRef) bool {
	if ref.Kind == "NON_NULL" {
		ref = *ref.OfType
	}
	return ref.Kind == "LIST"
}

// checkBadSlot sends the root field with bad in the slot and every required input filled
// with a valid value, and checks the refusal.
func checkBadSlot(t *testing.T, s *apitest.Server, types map[string]introType, sl slot, bad any) {
	t.Helper()
	root := types[map[string]string{"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}[sl.op]]
	var field introField
	for _, f := range root.Fields {
		if f.Name == sl.field {
			field = f
		}
	}
	vars := map[string]any{}
	var decl, args []string
	for i, a := range field.Args {
		if a.Name != sl.arg && (a.Type.Kind != "NON_NULL" || a.DefaultValue != nil) {
			continue
		}
		v := validValue(types, a.Type)
		if a.Name == sl.arg {
			v = place(types, a.Type, sl.path, bad)
		}
		name := fmt.Sprintf("v%d", i)
		vars[name] = v
		decl = append(decl, "$"+name+": "+a.Type.String())
		args = append(args, a.Name+": $"+name)
	}
	sel := ""
	if k := types[field.Type.named()].Kind; k == "OBJECT" || k == "INTERFACE" || k == "UNION" {
		sel = " { __typename }"
	}
	query := fmt.Sprintf("%s(%s) { %s(%s)%s }", sl.op, strings.Join(decl, ", "), sl.field, strings.Join(args, ", "), sel)
	r := s.Query("", query, vars)
	desc := fmt.Sprintf("%s %s(%s: %s) at %s = %#v", sl.op, sl.field, sl.arg, sl.argType, sl.name(), bad)
	if r.Code() != "BAD_USER_INPUT" || r.Contains(`"INTERNAL"`) {
		t.Errorf("%s: want BAD_USER_INPUT, got %d %s", desc, r.Status, r.Raw)
		return
	}
	// The error names the slot, unless the query was refused before its arguments were
	// read (a query limit, which gives its reason, or gqlparser's variable coercion).
	e := r.Errors[0]
	if e.Extensions["field"] != sl.name() && e.Extensions["reason"] == nil && e.Extensions["graphqlCode"] == nil {
		t.Errorf("%s: the error names %v: %s", desc, e.Extensions["field"], r.Raw)
	}
}

// place returns a valid value of ref with bad at path.
func place(types map[string]introType, ref introTypeRef, path []any, bad any) any {
	if len(path) == 0 {
		return bad
	}
	if ref.Kind == "NON_NULL" {
		ref = *ref.OfType
	}
	switch p := path[0].(type) {
	case int:
		return []any{place(types, *ref.OfType, path[1:], bad)}
	case string:
		obj := validValue(types, ref).(map[string]any)
		for _, f := range types[ref.named()].InputFields {
			if f.Name == p {
				obj[p] = place(types, f.Type, path[1:], bad)
			}
		}
		return obj
	}
	panic("unreachable: a path holds field names and indexes")
}

// validValue is a well-formed value of ref: what a client would send, with every required
// input field filled.
func validValue(types map[string]introType, ref introTypeRef) any {
	switch ref.Kind {
	case "NON_NULL":
		return validValue(types, *ref.OfType)
	case "LIST":
		return []any{validValue(types, *ref.OfType)}
	}
	ty := types[*ref.Name]
	switch ty.Kind {
	case "ENUM":
		return ty.EnumValues[0].Name
	case "INPUT_OBJECT":
		obj := map[string]any{}
		for _, f := range ty.InputFields {
			if f.Type.Kind == "NON_NULL" && f.DefaultValue == nil {
				obj[f.Name] = validValue(types, f.Type)
			}
		}
		return obj
	}
	switch ty.Name {
	case "ID":
		return "1"
	case "Int", "Float":
		return 1
	case "Boolean":
		return true
	case "Time":
		return "2026-01-02T15:04:05Z"
	case "Map":
		return map[string]any{}
	}
	return "x"
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestNodesNullsOnlyTheBadItem: in nodes(ids:), a malformed id is null at its position with
// a BAD_USER_INPUT error whose path points at it; the others resolve (a missing one is null
// without an error); node, product and a connection's after refuse malformed input the
// same way.
func TestNodesNullsOnlyTheBadItem(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		m := s.NewMerchant(t, "tea", merchant.StatusACTIVE)
		pid, _ := s.NewProduct(t, m, "Longjing", product.KindPHYSICAL, "TEA-1", 3800, 10)
		good := strconv.Itoa(pid)

		r := s.Query("", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
			map[string]any{"ids": []any{good, "abc", strconv.Itoa(pid + 1000), "-1", jsonNumber("1e3")}})
		var out struct{ Nodes []*struct{ ID string } }
		r.Decode(t, &out)
		if len(out.Nodes) != 5 || out.Nodes[0] == nil || out.Nodes[0].ID != good ||
			out.Nodes[1] != nil || out.Nodes[2] != nil || out.Nodes[3] != nil || out.Nodes[4] != nil {
			t.Fatalf("nodes: %s", r.Raw)
		}
		if len(r.Errors) != 3 {
			t.Fatalf("want errors at 1, 3 and 4: %s", r.Raw)
		}
		for i, at := range []int{1, 3, 4} {
			e := r.Errors[i]
			if e.Extensions["code"] != "BAD_USER_INPUT" || e.Extensions["field"] != fmt.Sprintf("ids[%d]", at) ||
				len(e.Path) != 2 || e.Path[0] != "nodes" || e.Path[1] != float64(at) {
				t.Errorf("error %d: %+v", i, e)
			}
		}
		// The same list inline, as a literal.
		r = s.Query("", `{ nodes(ids: ["`+good+`", "x"]) { id } }`, nil)
		if !r.Contains(`"nodes":[{"id":"`+good+`"},null]`) || r.Code() != "BAD_USER_INPUT" {
			t.Errorf("literal ids: %s", r.Raw)
		}

		for _, c := range []struct{ query, field string }{
			{`{ product(id: "abc") { id } }`, "id"},
			{`{ product(id: "1e3") { id } }`, "id"},
			{`{ node(id: "99999999999999999999") { id } }`, "id"},
			{`{ node(id: "-5") { id } }`, "id"},
			{`{ node(id: -5) { id } }`, ""}, // a negative Int literal: refused by validation
			{`{ products(first: 1, after: "garbage") { totalCount } }`, "after"},
			{`{ products(first: 1, after: "null") { totalCount } }`, "after"},
			{`{ products(last: 1, before: "` + forgedCursor(map[string]any{"a": 1}) + `") { totalCount } }`, "before"},
			{`{ merchantBySlug(slug: "tea") { products(first: 1, after: "bm90IGEgY3Vyc29y") { totalCount } } }`, "after"},
			// "v" twice: msgpack's struct decoder panicked on it (found by FuzzUnmarshalCursor).
			{`{ products(first: 1, after: "g6F27aF270") { totalCount } }`, "after"},
		} {
			r := s.Query("", c.query, nil)
			if r.Code() != "BAD_USER_INPUT" || r.Contains(`"INTERNAL"`) || (c.field != "" && r.Field() != c.field) {
				t.Errorf("%s: %s", c.query, r.Raw)
			}
		}
		// A real cursor still pages.
		r = s.MustQuery("", `{ products(first: 1) { edges { cursor } pageInfo { endCursor } } }`, nil)
		var page struct {
			Products struct{ PageInfo struct{ EndCursor string } }
		}
		r.Decode(t, &page)
		if page.Products.PageInfo.EndCursor == "" {
			t.Fatalf("no cursor: %s", r.Raw)
		}
		s.MustQuery("", `query($a: Cursor) { products(first: 1, after: $a) { totalCount } }`, map[string]any{"a": page.Products.PageInfo.EndCursor})
	})
}

// TestCursorsKeepAZeroOrderingValue: paging products by SALES_COUNT (or any order) across
// a row whose ordering value is zero returns every product exactly once. entgql writes a
// cursor's value with msgpack's omitempty, so a zero value was left out and the next page
// was cut by id alone, repeating products; internal/scalar writes the value always.
func TestCursorsKeepAZeroOrderingValue(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		m := s.NewMerchant(t, "tea", merchant.StatusACTIVE)
		client, ctx := s.Client()
		want := map[string]bool{}
		for i, sales := range []int{5, 0, 0, 3, 0} {
			pid, _ := s.NewProduct(t, m, fmt.Sprint("tea ", i), product.KindPHYSICAL, fmt.Sprint("T-", i), 100, 1)
			client.Product.UpdateOneID(pid).SetSalesCount(sales).ExecX(ctx)
			want[strconv.Itoa(pid)] = true
		}
		for _, dir := range []string{"DESC", "ASC"} {
			seen := map[string]bool{}
			var after any
			for range len(want) + 1 {
				r := s.MustQuery("", `query($a: Cursor, $d: OrderDirection!) { products(first: 2, after: $a, orderBy: {field: SALES_COUNT, direction: $d}) {
					edges { node { id } } pageInfo { hasNextPage endCursor } } }`, map[string]any{"a": after, "d": dir})
				var page struct {
					Products struct {
						Edges    []struct{ Node struct{ ID string } }
						PageInfo struct {
							HasNextPage bool
							EndCursor   string
						}
					}
				}
				r.Decode(t, &page)
				for _, e := range page.Products.Edges {
					if seen[e.Node.ID] {
						t.Fatalf("%s: product %s came twice", dir, e.Node.ID)
					}
					seen[e.Node.ID] = true
				}
				if !page.Products.PageInfo.HasNextPage {
					break
				}
				after = page.Products.PageInfo.EndCursor
			}
			if len(seen) != len(want) {
				t.Errorf("%s: saw %d of %d products", dir, len(seen), len(want))
			}
		}
	})
}

// TestAmountsAreRefusedWithASign: a decimal amount is digits with an optional minus and
// decimals; "+1.00" and "--1" were read as 1.00 (found by FuzzParseAmount).
func TestAmountsAreRefusedWithASign(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	for _, bad := range []string{"+1.00", "--1", "-+1", "1e2", "0x10"} {
		r := s.Query("", `query($p: String) { products(first: 1, where: {minPrice: $p}) { totalCount } }`, map[string]any{"p": bad})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "where.minPrice" {
			t.Errorf("minPrice %q: %s", bad, r.Raw)
		}
	}
	s.MustQuery("", `{ products(first: 1, where: {minPrice: " 1.5"}) { totalCount } }`, nil)
}
