package guard

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The cost of an operation, after Shopify's: what it would cost to resolve, in objects.
//
//   - scalars, enums, __typename and everything under __schema and __type cost 0;
//   - an object (or interface, or union) field costs 1 plus its selection;
//   - a connection (a type named …Connection) costs 2 plus, for each of the first or last
//     items it asks for, one item's selection: an edge costs 0 and its node 1 plus the
//     node's selection, and pageInfo is part of the 2;
//   - any other list of objects costs 1 plus ListSize times one item's selection; a list
//     bounded by an ids argument (nodes) costs 1 plus, for each id, 1 and the item's
//     selection, since every id is looked up;
//   - a where argument adds its predicates: 1 for each field it sets, and 1 plus ListSize
//     times the inner predicates for each has…With, which is a subquery over the related
//     rows (and, or and not add what they hold).
//
// Fragments on different object types of an interface or union cost the most expensive of
// them rather than their sum, since one item is only ever of one type.
//
// The actual cost counts the same things as they are resolved: each object field that
// returned an object 1, each connection 2, each node of a page 1, each other list 1 (its
// items' fields count as they resolve).

// costCap bounds every sum and product, so counts of exponentially nested fragments or
// absurd first values saturate instead of overflowing.
const costCap = 1 << 40

func addSat(a, b int64) int64 {
	return min(a+b, costCap)
}

func mulSat(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > costCap/b {
		return costCap
	}
	return min(a*b, costCap)
}

// counter is the actual cost of an operation, added to by concurrent resolvers.
type counter struct{ n atomic.Int64 }

func (c *counter) add(n int64) {
	if n != 0 {
		c.n.Add(n)
	}
}

func (c *counter) load() int64 { return c.n.Load() }

// coster estimates the cost of one validated operation.
type coster struct {
	g    *Guard
	vars map[string]any
	// refused is the first argument found over a limit that no cost may buy (a where
	// filter nested too deep, too many ids).
	refused *gqlerror.Error
}

// requestedCost estimates the cost of op with the request's variables, or refuses an
// argument over its limit.
func (g *Guard) requestedCost(op *ast.OperationDefinition, vars map[string]any) (int64, *gqlerror.Error) {
	if op == nil {
		return 0, nil
	}
	root := ""
	if g.schema != nil {
		var def *ast.Definition
		switch op.Operation {
		case ast.Mutation:
			def = g.schema.Mutation
		case ast.Subscription:
			def = g.schema.Subscription
		default:
			def = g.schema.Query
		}
		if def != nil {
			root = def.Name
		}
	}
	c := coster{g: g, vars: vars}
	cost := c.set(op.SelectionSet, root, 0)
	return cost, c.refused
}

// set is the cost of a selection set on parent. page is the number of items when set
// belongs to a connection, and 0 otherwise.
func (c *coster) set(set ast.SelectionSet, parent string, page int64) int64 {
	var sum int64
	var alternatives map[string]int64 // cost of fragments on each concrete type but parent
	branch := func(on string, cost int64) {
		if on == "" || on == parent || !c.g.isObject(on) {
			sum = addSat(sum, cost) // applies whatever the item's type
			return
		}
		if alternatives == nil {
			alternatives = map[string]int64{}
		}
		alternatives[on] = addSat(alternatives[on], cost)
	}
	for _, sel := range set {
		switch x := sel.(type) {
		case *ast.Field:
			if !c.skipped(x.Directives) {
				sum = addSat(sum, c.field(x, page))
			}
		case *ast.InlineFragment:
			if !c.skipped(x.Directives) {
				on := x.TypeCondition
				if on == "" {
					on = parent
				}
				branch(on, c.set(x.SelectionSet, on, page))
			}
		case *ast.FragmentSpread:
			if x.Definition != nil && !c.skipped(x.Directives) {
				on := x.Definition.TypeCondition
				branch(on, c.set(x.Definition.SelectionSet, on, page))
			}
		}
	}
	var most int64
	for _, cost := range alternatives {
		most = max(most, cost)
	}
	return addSat(sum, most)
}

func (c *coster) field(f *ast.Field, page int64) int64 {
	if f.Definition == nil || strings.HasPrefix(f.Name, "__") {
		return 0 // __typename, and introspection, which is static and has its own limits
	}
	t := f.Definition.Type
	named := t.Name()
	if !c.g.composite[named] || valueObjects[named] {
		return 0
	}
	filter := c.filter(f)
	switch {
	case t.Elem != nil && page > 0:
		// The items of a page: edges are free, nodes listed directly cost 1 each.
		var each int64 = 1
		if isEdge(named) {
			each = 0
		}
		return mulSat(page, addSat(each, c.set(f.SelectionSet, named, 0)))
	case t.Elem != nil:
		if ids, ok := c.listLen(f.Arguments.ForName("ids")); ok {
			if ids > int64(c.g.opts.MaxIDs) {
				c.refuse(refuseField(ReasonTooManyIDs, c.g.opts.MaxIDs, "ids",
					"%s asks for %d ids; the limit is %d", f.Name, ids, c.g.opts.MaxIDs))
			}
			// Each id is a lookup, found or not, as each item of a page is.
			return addSat(1, mulSat(ids, addSat(1, c.set(f.SelectionSet, named, 0))))
		}
		return addSat(addSat(1, filter), mulSat(int64(c.g.opts.ListSize), c.set(f.SelectionSet, named, 0)))
	case isConnection(named):
		return addSat(addSat(2, filter), c.set(f.SelectionSet, named, c.pageSize(f)))
	case named == "PageInfo":
		return 0 // part of its connection's cost
	}
	return addSat(addSat(1, filter), c.set(f.SelectionSet, named, 0))
}

// refuse records the first argument found over a hard limit.
func (c *coster) refuse(err *gqlerror.Error) {
	if c.refused == nil {
		c.refused = err
	}
}

// filter is the cost of f's where argument: its predicates, counted as they are given in
// the query or in variables. A where filter nesting deeper than the limits is refused.
//
// The depth limits are what keep a filter's work bounded: Ent turns each has…With into a
// correlated EXISTS subquery, evaluated for every row of the level above, so n nested
// has…With levels cost the product of n fan-outs — a few hundred bytes of filter
// (merchant → products → merchant → products …) ran for minutes on a demo catalogue.
func (c *coster) filter(f *ast.Field) int64 {
	arg := f.Arguments.ForName("where")
	if arg == nil || f.Definition == nil {
		return 0
	}
	def := f.Definition.Arguments.ForName("where")
	if def == nil || def.Type == nil || c.g.schema == nil {
		return 0
	}
	in := c.g.schema.Types[def.Type.Name()]
	if in == nil || in.Kind != ast.InputObject {
		return 0
	}
	w := filterWalk{c: c, field: f.Name}
	return w.object(c.value(arg), in, 1, 0, "where")
}

// filterWalk measures one where argument.
type filterWalk struct {
	c     *coster
	field string
}

// object is the cost of one input object value v of type def, found at depth (the where
// object is 1) under edges has…With predicates.
func (w *filterWalk) object(v any, def *ast.Definition, depth, edges int, path string) int64 {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return 0
	}
	o := w.c.g.opts
	if depth > o.MaxFilterDepth {
		w.c.refuse(refuseField(ReasonFilterTooDeep, o.MaxFilterDepth, "where",
			"the where filter of %s nests more than %d levels deep (at %s); combine conditions in fewer levels of and, or, not and has…With",
			w.field, o.MaxFilterDepth, path))
		return 0
	}
	var sum int64
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names) // the first refusal found is the same every time
	for _, name := range names {
		value := m[name]
		if value == nil {
			continue
		}
		fd := def.Fields.ForName(name)
		if fd == nil || fd.Type == nil {
			continue
		}
		inner := w.c.g.schema.Types[fd.Type.Name()]
		if inner == nil || inner.Kind != ast.InputObject {
			sum = addSat(sum, 1) // one predicate, however many values an …In list holds
			continue
		}
		edge := strings.HasPrefix(name, "has") && strings.HasSuffix(name, "With")
		at := path + "." + name
		if edge && edges+1 > o.MaxFilterEdgeDepth {
			w.c.refuse(refuseField(ReasonFilterTooDeep, o.MaxFilterEdgeDepth, "where",
				"the where filter of %s nests has…With predicates %d deep (at %s); the limit is %d",
				w.field, edges+1, at, o.MaxFilterEdgeDepth))
			continue
		}
		nextEdges := edges
		if edge {
			nextEdges++
		}
		var held int64
		if items, ok := value.([]any); ok {
			for _, item := range items {
				held = addSat(held, w.object(item, inner, depth+1, nextEdges, at))
			}
		} else {
			held = w.object(value, inner, depth+1, nextEdges, at)
		}
		if edge {
			// A subquery over the related rows, checked for each row it filters.
			held = addSat(1, mulSat(int64(o.ListSize), held))
		}
		sum = addSat(sum, held)
	}
	return sum
}

// pageSize is the first or last argument of a connection field.
func (c *coster) pageSize(f *ast.Field) int64 {
	first, hasFirst := c.intArg(f.Arguments.ForName("first"))
	last, hasLast := c.intArg(f.Arguments.ForName("last"))
	if !hasFirst && !hasLast {
		return int64(c.g.opts.PageSize)
	}
	return max(first, last, 0)
}

func (c *coster) value(arg *ast.Argument) any {
	if arg == nil || arg.Value == nil {
		return nil
	}
	v, err := arg.Value.Value(c.vars)
	if err != nil {
		return nil
	}
	return v
}

func (c *coster) intArg(arg *ast.Argument) (int64, bool) {
	switch v := c.value(arg).(type) {
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case float64:
		return int64(min(v, costCap)), true
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// listLen is the length of a list argument.
func (c *coster) listLen(arg *ast.Argument) (int64, bool) {
	if arg == nil || arg.Value == nil {
		return 0, false
	}
	if arg.Value.Kind == ast.ListValue {
		return int64(len(arg.Value.Children)), true
	}
	if v := reflect.ValueOf(c.value(arg)); v.Kind() == reflect.Slice {
		return int64(v.Len()), true
	}
	return 0, false
}

// skipped reports whether @skip or @include leave a selection out.
func (c *coster) skipped(dirs ast.DirectiveList) bool {
	for _, d := range dirs {
		v, ok := c.value(d.Arguments.ForName("if")).(bool)
		if !ok {
			continue
		}
		if d.Name == "skip" && v || d.Name == "include" && !v {
			return true
		}
	}
	return false
}

// actualCost is what resolving the field of fc to res cost, by the rules of the estimate.
func (g *Guard) actualCost(fc *graphql.FieldContext, res any) int64 {
	if fc.Field.Field == nil || fc.Field.Definition == nil ||
		strings.HasPrefix(fc.Field.Name, "__") || strings.HasPrefix(fc.Object, "__") {
		return 0
	}
	t := fc.Field.Definition.Type
	named := t.Name()
	if !g.composite[named] || valueObjects[named] || isNil(res) {
		return 0
	}
	switch {
	case t.Elem != nil && isConnection(fc.Object):
		if isEdge(named) {
			return 0
		}
		if rv := reflect.ValueOf(res); rv.Kind() == reflect.Slice {
			return int64(rv.Len())
		}
		return 0
	case t.Elem != nil && fc.Field.Arguments.ForName("ids") != nil:
		// Every id was looked up, found or not.
		if rv := reflect.ValueOf(res); rv.Kind() == reflect.Slice {
			return 1 + int64(rv.Len())
		}
		return 1
	case isConnection(named):
		return 2
	case named == "PageInfo":
		return 0
	}
	return 1
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return rv.IsNil()
	}
	return false
}

func isConnection(name string) bool {
	return len(name) > len("Connection") && strings.HasSuffix(name, "Connection")
}

func isEdge(name string) bool {
	return len(name) > len("Edge") && strings.HasSuffix(name, "Edge")
}

// isObject reports whether name is a concrete object type.
func (g *Guard) isObject(name string) bool {
	if g.schema == nil {
		return false
	}
	def := g.schema.Types[name]
	return def != nil && def.Kind == ast.Object
}

// valueObjects are object types computed from the row that holds them — no lookup, no
// query — so, like scalars, they cost nothing.
var valueObjects = map[string]bool{
	"Money": true, "PriceRange": true, "ProductImage": true, "ProductAttribute": true,
	"VariantOption": true, "PostalAddress": true,
	// A promotion's tiers are in its row (internal/promotions).
	"PromotionTier": true,
}
