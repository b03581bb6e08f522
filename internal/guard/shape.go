package guard

import (
	"errors"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// parseQuery parses query with at most limit tokens. Exceeding the limit, or the parser's
// own nesting limit, is a rejection; any other syntax error returns a nil document and no
// error, for gqlgen to report with its position as it always does.
func (g *Guard) parseQuery(query string) (*ast.QueryDocument, *gqlerror.Error) {
	limit := g.opts.TokenLimit
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, limit)
	if err == nil {
		return doc, nil
	}
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) {
		switch {
		case strings.HasPrefix(gqlErr.Message, "exceeded token limit"):
			return nil, reject(ReasonTokenLimit, limit, "the query has more than %d tokens", limit)
		case strings.HasPrefix(gqlErr.Message, "exceeded maximum nesting depth"):
			return nil, reject(ReasonQueryTooDeep, g.opts.MaxDepth,
				"the query nests more than %d levels deep; the limit is %d", parser.MaxNestingDepth, g.opts.MaxDepth)
		}
	}
	return nil, nil
}

// shape is what the pre-validation check measures of a selection set, with its fragments
// expanded.
type shape struct {
	// depth is the nesting of fields outside introspection; root fields are at depth 1.
	depth int
	// introspectionDepth is the nesting below __schema and __type, counting that field.
	introspectionDepth int
	// fullDepth is the nesting of every field, which introspectionDepth is made of.
	fullDepth int
	// selections counts fields, fragment spreads and inline fragments.
	selections int64
	// aliases counts fields whose alias differs from their name.
	aliases int64
}

func (s *shape) merge(c shape) {
	s.depth = max(s.depth, c.depth)
	s.introspectionDepth = max(s.introspectionDepth, c.introspectionDepth)
	s.fullDepth = max(s.fullDepth, c.fullDepth)
	s.selections = addSat(s.selections, c.selections)
	s.aliases = addSat(s.aliases, c.aliases)
}

// shapeWalker measures a parsed but not yet validated document: fragments may be missing,
// duplicated or spread in a cycle. Each fragment is measured once and its result reused, so
// fragments spreading each other twice at every level cost linear time, not exponential.
type shapeWalker struct {
	maxDirectives int
	fragments     map[string]*ast.FragmentDefinition
	memo          map[string]shape
	visiting      map[string]bool
	// cycle names a fragment found spreading itself, directly or not.
	cycle string
	// directives counts the directives written in the document (not once per expansion).
	directives int
	// duplicate names a directive written twice at one place.
	duplicate string
}

// checkShape measures doc and rejects it when it is over a limit. The checks go from the
// cheapest to compute and the most specific to the most general, so that a query over
// several limits is told about the one it most obviously breaks.
func (g *Guard) checkShape(doc *ast.QueryDocument) *gqlerror.Error {
	o := g.opts
	if n := len(doc.Operations); n > o.MaxOperations {
		return reject(ReasonTooManyOperations, o.MaxOperations,
			"the document has %d operations; the limit is %d", n, o.MaxOperations)
	}
	if n := len(doc.Fragments); n > o.MaxFragments {
		return reject(ReasonTooManyFragments, o.MaxFragments,
			"the document has %d fragments; the limit is %d", n, o.MaxFragments)
	}

	w := &shapeWalker{
		maxDirectives: o.MaxDirectives,
		fragments:     make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		memo:          make(map[string]shape, len(doc.Fragments)),
		visiting:      map[string]bool{},
	}
	for _, f := range doc.Fragments {
		if _, dup := w.fragments[f.Name]; !dup {
			w.fragments[f.Name] = f
		}
	}
	// Every operation and every fragment is validated, used or not, so each is measured.
	var worst shape
	for _, op := range doc.Operations {
		w.countDirectives(op.Directives)
		for _, v := range op.VariableDefinitions {
			w.countDirectives(v.Directives)
		}
		worst.maxOf(w.set(op.SelectionSet))
	}
	for _, f := range doc.Fragments {
		w.countDirectives(f.Directives)
		if w.fragments[f.Name] == f {
			worst.maxOf(onType(f.TypeCondition, w.fragment(f.Name)))
		} else {
			worst.maxOf(onType(f.TypeCondition, w.set(f.SelectionSet))) // a duplicate name, which validation refuses
		}
	}

	switch {
	case w.directives > o.MaxDirectives:
		return reject(ReasonTooManyDirectives, o.MaxDirectives,
			"the document has %d directives; the limit is %d", w.directives, o.MaxDirectives)
	case w.duplicate != "":
		return reject(ReasonDuplicateDirective, 1,
			"the directive @%s is repeated at one location", w.duplicate)
	case w.cycle != "":
		return reject(ReasonFragmentCycle, 0, "the fragment %s spreads itself", w.cycle)
	case worst.depth > o.MaxDepth:
		return reject(ReasonQueryTooDeep, o.MaxDepth,
			"the query nests %d levels deep; the limit is %d", worst.depth, o.MaxDepth)
	case worst.introspectionDepth > o.MaxIntrospectionDepth:
		return reject(ReasonQueryTooDeep, o.MaxIntrospectionDepth,
			"the introspection query nests %d levels deep; the limit is %d",
			worst.introspectionDepth, o.MaxIntrospectionDepth)
	case worst.aliases > int64(o.MaxAliases):
		return reject(ReasonTooManyAliases, o.MaxAliases,
			"the query has %s aliases; the limit is %d", count(worst.aliases), o.MaxAliases)
	case worst.selections > int64(o.MaxSelections):
		return reject(ReasonTooManySelections, o.MaxSelections,
			"the query selects %s fields and fragments once fragments are expanded; the limit is %d",
			count(worst.selections), o.MaxSelections)
	}

	// Now every operation and fragment expands to at most MaxSelections, the repeats can be
	// counted on the expanded selections.
	r := repeats{fragments: w.fragments}
	for _, op := range doc.Operations {
		r.set(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		r.set(f.SelectionSet)
	}
	if r.most > o.MaxRepeatedField {
		return reject(ReasonRepeatedField, o.MaxRepeatedField,
			"%s is selected %d times in one selection set; the limit is %d", r.name, r.most, o.MaxRepeatedField)
	}
	return nil
}

// repeats finds the response name selected most often in one selection set, fragments
// included: the validator compares every two fields of the same name, which makes a
// selection set repeating one field a thousand times cost a million comparisons.
type repeats struct {
	fragments map[string]*ast.FragmentDefinition
	most      int
	name      string
}

// set counts the response names of set and, in turn, of each field's selection set. It
// expands fragments without a memo: the caller has checked that they expand to little.
func (r *repeats) set(set ast.SelectionSet) {
	counts := map[string]int{}
	r.flatten(set, counts, func(f *ast.Field) { r.set(f.SelectionSet) })
	for name, n := range counts {
		if n > r.most {
			r.most, r.name = n, name
		}
	}
}

// flatten counts the fields of set and of the fragments in it by response name, and calls
// each with every field.
func (r *repeats) flatten(set ast.SelectionSet, counts map[string]int, each func(*ast.Field)) {
	for _, sel := range set {
		switch x := sel.(type) {
		case *ast.Field:
			counts[x.Alias]++
			each(x)
		case *ast.InlineFragment:
			r.flatten(x.SelectionSet, counts, each)
		case *ast.FragmentSpread:
			if def := r.fragments[x.Name]; def != nil {
				r.flatten(def.SelectionSet, counts, each)
			}
		}
	}
}

// maxOf keeps the larger of each measure, for limits that apply to each operation and
// fragment on its own.
func (s *shape) maxOf(c shape) {
	s.depth = max(s.depth, c.depth)
	s.introspectionDepth = max(s.introspectionDepth, c.introspectionDepth)
	s.fullDepth = max(s.fullDepth, c.fullDepth)
	s.selections = max(s.selections, c.selections)
	s.aliases = max(s.aliases, c.aliases)
}

func (w *shapeWalker) set(set ast.SelectionSet) shape {
	var s shape
	for _, sel := range set {
		var c shape
		switch x := sel.(type) {
		case *ast.Field:
			w.countDirectives(x.Directives)
			sub := w.set(x.SelectionSet)
			c.selections = addSat(1, sub.selections)
			c.aliases = sub.aliases
			if x.Alias != "" && x.Alias != x.Name {
				c.aliases = addSat(c.aliases, 1)
			}
			c.fullDepth = 1 + sub.fullDepth
			if x.Name == "__schema" || x.Name == "__type" {
				// Introspection has its own depth limit: the standard query needs more
				// than any data query should, and its types are static.
				c.introspectionDepth = c.fullDepth
			} else {
				c.depth = 1 + sub.depth
				c.introspectionDepth = sub.introspectionDepth
			}
		case *ast.InlineFragment:
			w.countDirectives(x.Directives)
			c = onType(x.TypeCondition, w.set(x.SelectionSet))
			c.selections = addSat(c.selections, 1)
		case *ast.FragmentSpread:
			w.countDirectives(x.Directives)
			c = w.fragment(x.Name)
			if def := w.fragments[x.Name]; def != nil {
				c = onType(def.TypeCondition, c)
			}
			c.selections = addSat(c.selections, 1)
		}
		s.merge(c)
	}
	return s
}

// onType adjusts the shape of a fragment on typ: fragments on introspection types (such
// as GraphiQL's TypeRef on __Type) are measured against the introspection depth limit.
func onType(typ string, s shape) shape {
	if strings.HasPrefix(typ, "__") {
		s.introspectionDepth = max(s.introspectionDepth, s.fullDepth)
		s.depth = 0
	}
	return s
}

func (w *shapeWalker) fragment(name string) shape {
	if s, ok := w.memo[name]; ok {
		return s
	}
	if w.visiting[name] {
		if w.cycle == "" {
			w.cycle = name
		}
		return shape{}
	}
	def := w.fragments[name]
	if def == nil {
		return shape{} // unknown: validation reports it
	}
	w.visiting[name] = true
	s := w.set(def.SelectionSet)
	delete(w.visiting, name)
	w.memo[name] = s
	return s
}

// countDirectives counts the directives written at one place and notes one written twice.
// Repeated @include and @skip are invalid anyway; refusing them here spares the validator
// a flood of them.
func (w *shapeWalker) countDirectives(list ast.DirectiveList) {
	w.directives += len(list)
	if w.duplicate != "" || len(list) < 2 || len(list) > w.maxDirectives {
		return // one directive cannot repeat; too many is refused by the total anyway
	}
	for i, d := range list {
		for _, e := range list[:i] {
			if d.Name == e.Name {
				w.duplicate = d.Name
				return
			}
		}
	}
}

// count formats a saturated count.
func count(n int64) string {
	if n >= costCap {
		return "more than a trillion"
	}
	return strconv.FormatInt(n, 10)
}
