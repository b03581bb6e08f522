// Package guard protects the GraphQL executor from abusive queries: it rejects oversized,
// too deep or too wide operations cheaply, before gqlgen's validation (whose cost grows with
// the square of the query size), and limits and reports query cost.
//
// Two checks run on every operation, over HTTP POST, GET, websockets and persisted queries
// alike:
//
//   - before validation, the query text is parsed once more with a token limit and its
//     shape measured (depth, selections, aliases, fragments, directives, operations), with
//     fragments expanded by memo so nesting cannot blow the count up;
//   - after validation, the operation's cost is estimated from its selections and the
//     first/last of its connections, refused above MaxCost, and charged to the caller's
//     budget (Options.Budget), which refuses it when it runs short.
//
// Accepted operations report their cost in the response's extensions.cost, Shopify-style.
// docs/QUERY_LIMITS.md explains every limit and the cost formula.
package guard

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Options are the limits. A zero field takes its default (see the Default… constants).
type Options struct {
	// MaxQueryBytes caps the length of the query text. POST bodies are capped by the HTTP
	// layer already; this also covers GET query strings and websocket messages.
	MaxQueryBytes int
	// TokenLimit caps the lexical tokens of the query document (comments do not count).
	TokenLimit int
	// MaxDepth caps the nesting of fields, through fragments, outside introspection.
	MaxDepth int
	// MaxIntrospectionDepth caps the nesting inside __schema and __type (and fragments on
	// introspection types), counted from that field: GraphiQL's query nests 15 levels,
	// nine of them ofType.
	MaxIntrospectionDepth int
	// MaxSelections caps fields, fragment spreads and inline fragments of one operation or
	// fragment, counted after expanding fragments.
	MaxSelections int
	// MaxRepeatedField caps how often one response name is selected in one selection set,
	// fragments included.
	MaxRepeatedField int
	// MaxAliases caps aliased fields of one operation or fragment, after expansion.
	MaxAliases int
	// MaxDirectives caps directives in the whole document.
	MaxDirectives int
	// MaxFragments caps fragment definitions in the document.
	MaxFragments int
	// MaxOperations caps operations in the document.
	MaxOperations int
	// MaxCost caps the estimated cost of the operation that runs.
	MaxCost int
	// ListSize is the length assumed for lists of objects that are not connections and
	// not bounded by an ids argument.
	ListSize int
	// PageSize is the page assumed for a connection given neither first nor last (the API
	// refuses such a request, but the estimate must not be zero).
	PageSize int
	// MaxIDs caps the ids argument of a list field (nodes), as first and last cap pages.
	MaxIDs int
	// MaxFilterDepth caps how deeply a where argument's input objects nest, through and,
	// or, not and has…With; the where object itself is level 1.
	MaxFilterDepth int
	// MaxFilterEdgeDepth caps how many has…With predicates may sit one inside another:
	// each level is a correlated subquery run for every row of the level above.
	MaxFilterEdgeDepth int
	// Budget, when set, charges each operation's requested cost to its caller before it
	// runs, and refuses it (RATE_LIMITED, reason THROTTLED) when the caller's budget does
	// not hold it.
	Budget Budget
}

// Budget is a per-caller budget of query cost (internal/app puts the rate limiter's
// leaky buckets behind it).
type Budget interface {
	// Charge takes cost from the budget of the caller of ctx and reports the budget.
	Charge(ctx context.Context, cost int64) Charge
}

// Charge is the outcome of Budget.Charge.
type Charge struct {
	// Status is the caller's budget after the charge.
	Status ThrottleStatus
	// RetryAfter, when positive, refuses the operation: the budget holds its cost only
	// after that long.
	RetryAfter time.Duration
	// Shared marks a caller whose answers caches may share (an anonymous one): its
	// budget, which changes with every request, is reported only when it refuses.
	Shared bool
}

// ThrottleStatus is extensions.cost.throttleStatus, Shopify's name for the state of the
// caller's budget.
type ThrottleStatus struct {
	// MaximumAvailable is the capacity of the budget.
	MaximumAvailable float64 `json:"maximumAvailable"`
	// CurrentlyAvailable is what is left, after this operation's charge.
	CurrentlyAvailable float64 `json:"currentlyAvailable"`
	// RestoreRate is the points restored per second.
	RestoreRate float64 `json:"restoreRate"`
}

// Defaults of Options; docs/QUERY_LIMITS.md says why each is what it is.
const (
	DefaultMaxQueryBytes         = 64 << 10
	DefaultTokenLimit            = 5_000
	DefaultMaxDepth              = 12
	DefaultMaxIntrospectionDepth = 20
	DefaultMaxSelections         = 500
	DefaultMaxRepeatedField      = 20
	DefaultMaxAliases            = 50
	DefaultMaxDirectives         = 50
	DefaultMaxFragments          = 100
	DefaultMaxOperations         = 20
	DefaultMaxCost               = 1000
	DefaultListSize              = 10
	DefaultPageSize              = 100
	DefaultMaxIDs                = 100
	DefaultMaxFilterDepth        = 4
	DefaultMaxFilterEdgeDepth    = 1
)

// Reasons are the machine-readable extensions.reason of a rejected operation; its
// extensions.code is BAD_USER_INPUT, but RATE_LIMITED for ReasonThrottled.
const (
	ReasonQueryTooLarge      = "QUERY_TOO_LARGE"
	ReasonTokenLimit         = "TOKEN_LIMIT"
	ReasonTooManyOperations  = "TOO_MANY_OPERATIONS"
	ReasonTooManyFragments   = "TOO_MANY_FRAGMENTS"
	ReasonTooManyDirectives  = "TOO_MANY_DIRECTIVES"
	ReasonDuplicateDirective = "DUPLICATE_DIRECTIVE"
	ReasonFragmentCycle      = "FRAGMENT_CYCLE"
	ReasonQueryTooDeep       = "QUERY_TOO_DEEP"
	ReasonTooManyAliases     = "TOO_MANY_ALIASES"
	ReasonTooManySelections  = "TOO_MANY_SELECTIONS"
	ReasonRepeatedField      = "REPEATED_FIELD"
	ReasonQueryTooComplex    = "QUERY_TOO_COMPLEX"
	ReasonFilterTooDeep      = "FILTER_TOO_DEEP"
	ReasonTooManyIDs         = "TOO_MANY_IDS"
	ReasonThrottled          = "THROTTLED"
)

// badUserInput is apperror.BadUserInput; the presenter keeps a gqlgen error whose code is
// already in the closed set, with all its extensions.
const badUserInput = "BAD_USER_INPUT"

// rateLimited is apperror.RateLimited.
const rateLimited = "RATE_LIMITED"

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxQueryBytes, DefaultMaxQueryBytes)
	def(&o.TokenLimit, DefaultTokenLimit)
	def(&o.MaxDepth, DefaultMaxDepth)
	def(&o.MaxIntrospectionDepth, DefaultMaxIntrospectionDepth)
	def(&o.MaxSelections, DefaultMaxSelections)
	def(&o.MaxRepeatedField, DefaultMaxRepeatedField)
	def(&o.MaxAliases, DefaultMaxAliases)
	def(&o.MaxDirectives, DefaultMaxDirectives)
	def(&o.MaxFragments, DefaultMaxFragments)
	def(&o.MaxOperations, DefaultMaxOperations)
	def(&o.MaxCost, DefaultMaxCost)
	def(&o.ListSize, DefaultListSize)
	def(&o.PageSize, DefaultPageSize)
	def(&o.MaxIDs, DefaultMaxIDs)
	def(&o.MaxFilterDepth, DefaultMaxFilterDepth)
	def(&o.MaxFilterEdgeDepth, DefaultMaxFilterEdgeDepth)
	return o
}

// Install adds the guards to srv and sets its parser token limit. Call it after
// srv.Use(extension.AutomaticPersistedQuery{…}), so that a query sent as a hash is checked
// once it has been looked up, before validation; a query the pre-validation check could not
// see (installed the other way round, with a cache filled elsewhere) is checked after
// validation instead, still before it runs.
func Install(srv *handler.Server, opts Options) {
	g := New(opts)
	srv.SetParserTokenLimit(g.opts.TokenLimit)
	srv.Use(g)
}

// Guard is the gqlgen handler extension behind Install.
type Guard struct {
	opts      Options
	schema    *ast.Schema
	composite map[string]bool // object, interface and union type names of the schema
	// accepted remembers query texts whose shape passed, so the clients' everyday queries
	// are not parsed twice per request; gqlgen caches their validated documents alike.
	accepted *lru.LRU[struct{}]
}

// acceptedCacheSize is as many query texts as the handler's query cache holds.
const acceptedCacheSize = 1000

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
	graphql.ResponseInterceptor
} = (*Guard)(nil)

// New returns a guard with opts (zero fields take their defaults).
func New(opts Options) *Guard {
	return &Guard{opts: opts.withDefaults(), accepted: lru.New[struct{}](acceptedCacheSize)}
}

// ExtensionName names the extension.
func (*Guard) ExtensionName() string { return "XiadanQueryGuard" }

// Validate learns which types of the schema are objects.
func (g *Guard) Validate(es graphql.ExecutableSchema) error {
	g.schema = es.Schema()
	g.composite = map[string]bool{}
	for name, def := range g.schema.Types {
		switch def.Kind {
		case ast.Object, ast.Interface, ast.Union:
			g.composite[name] = true
		}
	}
	return nil
}

// statsKey keys the guard's per-operation state in OperationContext.Stats.
const statsKey = "XiadanQueryGuard"

// operation is the guard's state of one operation.
type operation struct {
	shapeChecked bool
	costed       bool // requested is known
	requested    int64
	actual       counter
	// status is the caller's budget to report, when there is a budget and it may be
	// reported.
	status *ThrottleStatus
}

func operationOf(oc *graphql.OperationContext) *operation {
	op, _ := oc.Stats.GetExtension(statsKey).(*operation)
	return op
}

// MutateOperationParameters checks the shape of the raw query before gqlgen parses and
// validates it.
func (g *Guard) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if params.Query == "" {
		return nil // a persisted-query hash not looked up yet, or nothing at all: gqlgen answers
	}
	oc := graphql.GetOperationContext(ctx)
	op := &operation{shapeChecked: true}
	oc.Stats.SetExtension(statsKey, op)
	if len(params.Query) > g.opts.MaxQueryBytes {
		return reject(ReasonQueryTooLarge, g.opts.MaxQueryBytes,
			"the query is %d bytes long; the limit is %d", len(params.Query), g.opts.MaxQueryBytes)
	}
	if _, ok := g.accepted.Get(ctx, params.Query); ok {
		return nil
	}
	doc, err := g.parseQuery(params.Query)
	if err != nil {
		return err
	}
	if doc == nil {
		return nil // a syntax error: gqlgen reports it with its position
	}
	if err := g.checkShape(doc); err != nil {
		return err
	}
	g.accepted.Add(ctx, params.Query, struct{}{})
	return nil
}

// MutateOperationContext estimates the cost of the validated operation, refuses it above
// MaxCost and starts counting what is actually resolved.
func (g *Guard) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := operationOf(oc)
	if op == nil {
		op = &operation{}
		oc.Stats.SetExtension(statsKey, op)
	}
	if !op.shapeChecked {
		if err := g.checkShape(oc.Doc); err != nil {
			return err
		}
		op.shapeChecked = true
	}
	requested, err := g.requestedCost(oc.Operation, oc.Variables)
	if err != nil {
		return err // a filter nested too deep, or too many ids: refused whatever the cost
	}
	op.requested, op.costed = requested, true
	if op.requested > int64(g.opts.MaxCost) {
		err := reject(ReasonQueryTooComplex, 0,
			"the query's estimated cost is %d; the limit is %d (ask for fewer items with first/last, or split the query)",
			op.requested, g.opts.MaxCost)
		err.Extensions["cost"] = op.requested
		err.Extensions["maxCost"] = g.opts.MaxCost
		return err
	}
	if err := g.charge(ctx, op); err != nil {
		return err
	}
	previous := oc.ResolverMiddleware
	oc.ResolverMiddleware = func(ctx context.Context, next graphql.Resolver) (any, error) {
		res, err := previous(ctx, next)
		if fc := graphql.GetFieldContext(ctx); fc != nil {
			op.actual.add(g.actualCost(fc, res))
		}
		return res, err
	}
	return nil
}

// InterceptResponse reports the cost in extensions.cost.
func (g *Guard) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || !graphql.HasOperationContext(ctx) {
		return resp
	}
	op := operationOf(graphql.GetOperationContext(ctx))
	if op == nil || !op.costed {
		return resp // refused before the cost was known
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["cost"] = Cost{
		RequestedQueryCost: op.requested,
		ActualQueryCost:    op.actual.load(),
		MaxCost:            g.opts.MaxCost,
		ThrottleStatus:     op.status,
	}
	return resp
}

// charge takes the operation's cost from its caller's budget, at least one point (so that
// free queries, such as introspection or a bare __typename, cannot be sent without
// bound), and refuses it when the budget does not hold that much.
func (g *Guard) charge(ctx context.Context, op *operation) *gqlerror.Error {
	if g.opts.Budget == nil {
		return nil
	}
	c := g.opts.Budget.Charge(ctx, max(op.requested, 1))
	if !c.Shared || c.RetryAfter > 0 {
		op.status = &c.Status
	}
	if c.RetryAfter <= 0 {
		return nil
	}
	secs := int64(math.Ceil(c.RetryAfter.Seconds()))
	return &gqlerror.Error{
		Message: fmt.Sprintf("the query costs %d points and %d are left of your budget of %d (restored at %d a second); try again in %d seconds",
			max(op.requested, 1), int64(c.Status.CurrentlyAvailable), int64(c.Status.MaximumAvailable), int64(c.Status.RestoreRate), secs),
		Extensions: map[string]any{"code": rateLimited, "reason": ReasonThrottled, "retryAfter": secs},
	}
}

// Cost is the extensions.cost of a response.
type Cost struct {
	// RequestedQueryCost is the estimate made before running the operation.
	RequestedQueryCost int64 `json:"requestedQueryCost"`
	// ActualQueryCost is what was resolved, by the same rules.
	ActualQueryCost int64 `json:"actualQueryCost"`
	// MaxCost is the most an operation may request.
	MaxCost int `json:"maxCost"`
	// ThrottleStatus is the caller's budget, when there is one (Options.Budget) and its
	// answers are its own.
	ThrottleStatus *ThrottleStatus `json:"throttleStatus,omitempty"`
}

// refuseField is reject for one argument, which extensions.field names.
func refuseField(reason string, limit int, field, format string, args ...any) *gqlerror.Error {
	err := reject(reason, limit, format, args...)
	err.Extensions["field"] = field
	return err
}

// reject returns the error of a refused operation, with the limit it broke when there is
// one.
func reject(reason string, limit int, format string, args ...any) *gqlerror.Error {
	err := &gqlerror.Error{
		Message:    fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": badUserInput, "reason": reason},
	}
	if limit > 0 {
		err.Extensions["limit"] = limit
	}
	return err
}
