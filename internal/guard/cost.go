package guard

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// The cost of an operation, after Shopify's: what it would cost to resolve, in objects.
//
//   - scalars, enums, __typename and everything under __schema and __type cost 0;
//   - an object (or interface, or union) field costs 1 plus its selection;
//   - a connection (a type named …Connection) costs 2 plus, for each of the first or last
//     items it asks for, one item's selection: an edge costs 0 and its node 1 plus the
//     node's selection, and pageInfo is part of the 2;
//   - any other list of objects costs 1 plus ListSize times one item's selection, or as
//     many times as its ids argument has ids.
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
}

// requestedCost estimates the cost of op with the request's variables.
func (g *Guard) requestedCost(op *ast.OperationDefinition, vars map[string]any) int64 {
	if op == nil {
		return 0
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
	return c.set(op.SelectionSet, root, 0)
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
	switch {
	case t.Elem != nil && page > 0:
		// The items of a page: edges are free, nodes listed directly cost 1 each.
		var each int64 = 1
		if isEdge(named) {
			each = 0
		}
		return mulSat(page, addSat(each, c.set(f.SelectionSet, named, 0)))
	case t.Elem != nil:
		n := int64(c.g.opts.ListSize)
		if ids, ok := c.listLen(f.Arguments.ForName("ids")); ok {
			n = ids
		}
		return addSat(1, mulSat(n, c.set(f.SelectionSet, named, 0)))
	case isConnection(named):
		return addSat(2, c.set(f.SelectionSet, named, c.pageSize(f)))
	case named == "PageInfo":
		return 0 // part of its connection's cost
	}
	return addSat(1, c.set(f.SelectionSet, named, 0))
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
}
