package i18n

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// request is the locale of one GraphQL operation: set from Accept-Language when the
// operation starts, replaced by @inContext before any field runs, echoed in
// extensions.locale.
type request struct {
	locales *Locales
	code    string
}

type ctxKey struct{}

// WithLocale returns ctx serving code of locales (a served code). Tests and jobs use it;
// requests get theirs from Extension.
func WithLocale(ctx context.Context, locales *Locales, code string) context.Context {
	return context.WithValue(ctx, ctxKey{}, &request{locales: locales, code: code})
}

func fromContext(ctx context.Context) *request {
	r, _ := ctx.Value(ctxKey{}).(*request)
	return r
}

// FromContext returns the locale the request is served in, and "" outside a request
// (where records show their own, default-locale text). Response caches key on it.
func FromContext(ctx context.Context) string {
	if r := fromContext(ctx); r != nil {
		return r.code
	}
	return ""
}

// chain is the request's fallback chain; nil means the records' own text.
func (r *request) chain() []string {
	if r == nil || r.code == r.locales.Default() {
		return nil
	}
	return r.locales.Chain(r.code)
}

// Extension is the gqlgen handler extension that resolves each operation's locale from its
// Accept-Language header and writes the locale served into extensions.locale, so clients
// and caches know which language they got.
type Extension struct{ Locales *Locales }

var (
	_ graphql.HandlerExtension     = Extension{}
	_ graphql.OperationInterceptor = Extension{}
	_ graphql.ResponseInterceptor  = Extension{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Extension) ExtensionName() string { return "Locale" }

// Validate implements graphql.HandlerExtension.
func (Extension) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation sets the operation's locale from Accept-Language.
func (e Extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	code := e.Locales.Default()
	if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Headers != nil {
		code = e.Locales.FromHeader(oc.Headers.Get("Accept-Language"))
	}
	return next(WithLocale(ctx, e.Locales, code))
}

// InterceptResponse echoes the locale served.
func (e Extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if r := fromContext(ctx); r != nil && resp != nil {
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["locale"] = r.code
	}
	return resp
}

// InContext implements the operation directive @inContext(language:): the caller names the
// locale, over Accept-Language (Shopify's Storefront API spells it the same way). A tag
// no served locale matches is BAD_USER_INPUT on language.
func InContext(ctx context.Context, _ any, next graphql.Resolver, language *string) (any, error) {
	r := fromContext(ctx)
	if r == nil || language == nil {
		return next(ctx)
	}
	code, err := r.locales.Explicit("language", *language)
	if err != nil {
		return nil, err
	}
	r.code = code // before any field runs: the directive wraps the whole operation
	return next(ctx)
}
