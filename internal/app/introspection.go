package app

import (
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// ReasonIntrospectionDisabled is extensions.reason of a query for __schema or __type while
// INTROSPECTION is off (code BAD_USER_INPUT, graphqlCode GRAPHQL_VALIDATION_FAILED).
const ReasonIntrospectionDisabled = "INTROSPECTION_DISABLED"

// disableIntrospection makes a query for __schema or __type a validation error, as
// graphql-js's NoSchemaIntrospectionCustomRule does, rather than letting it run into
// gqlgen's unexplained "introspection disabled" at execution. It also takes away what
// would describe the schema another way: the "Did you mean …?" suggestions of validation
// errors. __typename stays allowed; clients need it.
func disableIntrospection(srv *handler.Server) {
	srv.SetValidationRulesFn(func() *rules.Rules {
		r := rules.NewDefaultRules()
		r.AddRule("XiadanNoIntrospection", noIntrospection)
		return r
	})
	srv.SetDisableSuggestion(true) // the rules that can; the presenter strips the others
}

// noIntrospection is the validation rule of disableIntrospection.
func noIntrospection(observers *core.Events, addError core.AddErrFunc) {
	observers.OnField(func(_ *core.Walker, field *ast.Field) {
		if field.Name != "__schema" && field.Name != "__type" {
			return
		}
		addError(
			core.Message("introspection is disabled on this server, so %s cannot be queried; "+
				"the schema is published with the API's documentation", field.Name),
			core.At(field.Position),
			func(err *gqlerror.Error) {
				if err.Extensions == nil {
					err.Extensions = map[string]any{}
				}
				err.Extensions["reason"] = ReasonIntrospectionDisabled
			},
		)
	})
}
