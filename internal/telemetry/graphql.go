package telemetry

import (
	"context"
	"fmt"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// CodeOK is the code label of an operation answered without errors.
const CodeOK = "OK"

// codeNone labels an error without extensions.code.
const codeNone = "NONE"

// GraphQL returns the gqlgen extension that counts and times operations and root fields
// and opens a span per operation; nil when metrics and tracing are off. Use it before
// the other extensions, so the span encloses the request transaction.
func (t *Telemetry) GraphQL() graphql.HandlerExtension {
	if !t.MetricsOn() && !t.TracingOn() {
		return nil
	}
	return extension{t: t}
}

// extension is the gqlgen side of the telemetry.
type extension struct{ t *Telemetry }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.ResponseInterceptor
	graphql.RootFieldInterceptor
} = extension{}

// ExtensionName names the extension for gqlgen.
func (extension) ExtensionName() string { return "XiadanTelemetry" }

// Validate checks the extension when the handler starts.
func (extension) Validate(graphql.ExecutableSchema) error { return nil }

// operationKey marks the context of an operation the extension is following, so the
// response interceptor leaves it to InterceptOperation.
type operationKey struct{}

// InterceptOperation opens the operation's span and records its outcome at its final
// response.
func (e extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	typ, name := string(oc.Operation.Operation), e.t.ops.label(oc.Operation.Name)
	var span trace.Span
	if e.t.tracer != nil {
		ctx, span = e.t.tracer.Start(ctx, spanName(oc.Operation), trace.WithAttributes(
			attribute.String("graphql.operation.type", typ),
			attribute.String("graphql.operation.name", oc.Operation.Name)))
	}
	ctx = context.WithValue(ctx, operationKey{}, true)
	handler := next(ctx)
	done := false
	return func(ctx context.Context) *graphql.Response {
		resp := handler(ctx)
		if done {
			return resp
		}
		final := resp == nil || resp.HasNext == nil || !*resp.HasNext || oc.Operation.Operation == ast.Subscription
		if !final {
			return resp
		}
		done = true
		var errs gqlerror.List
		if resp != nil {
			errs = resp.Errors
		}
		code := outcome(errs)
		e.t.observeOperation(oc, name, typ, code)
		if span != nil {
			if code != CodeOK {
				span.SetAttributes(attribute.String("graphql.error.code", code))
				span.SetStatus(codes.Error, code)
			}
			span.End()
		}
		return resp
	}
}

// InterceptResponse records requests refused before an operation was chosen (parse and
// validation errors), which never reach InterceptOperation.
func (e extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if ctx.Value(operationKey{}) != nil || e.t.m == nil {
		return resp
	}
	var errs gqlerror.List
	if resp != nil {
		errs = resp.Errors
	}
	name, typ := OperationUnknown, "unknown"
	var oc *graphql.OperationContext
	if graphql.HasOperationContext(ctx) {
		oc = graphql.GetOperationContext(ctx)
		if oc.Operation != nil { // a variable that failed validation
			name, typ = e.t.ops.label(oc.Operation.Name), string(oc.Operation.Operation)
		}
	}
	e.t.observeOperation(oc, name, typ, outcome(errs))
	return resp
}

// InterceptRootField times each root field with everything beneath it.
func (e extension) InterceptRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	if e.t.m == nil {
		return next(ctx)
	}
	fc := graphql.GetRootFieldContext(ctx)
	start := time.Now()
	res := next(ctx)
	if fc != nil && fc.Field.Field != nil && fc.Field.ObjectDefinition != nil {
		// (RootFieldContext.Object holds the field's name, not its type's.)
		e.t.m.fieldDuration.WithLabelValues(fc.Field.ObjectDefinition.Name + "." + fc.Field.Name).Observe(time.Since(start).Seconds())
	}
	return res
}

// observeOperation counts one operation and, but for subscriptions, records how long it
// took since its request was read.
func (t *Telemetry) observeOperation(oc *graphql.OperationContext, name, typ, code string) {
	if t.m == nil {
		return
	}
	t.m.gqlRequests.WithLabelValues(name, typ, code).Inc()
	if oc != nil && !oc.Stats.OperationStart.IsZero() && typ != string(ast.Subscription) {
		t.m.gqlDuration.WithLabelValues(typ).Observe(time.Since(oc.Stats.OperationStart).Seconds())
	}
}

// outcome is the code label of a response: OK, or the first error's extensions.code.
func outcome(errs gqlerror.List) string {
	if len(errs) == 0 {
		return CodeOK
	}
	if c, ok := errs[0].Extensions["code"].(string); ok && c != "" && len(c) <= 40 {
		return c
	}
	return codeNone
}

// spanName is "query Name", or the type alone for an anonymous operation.
func spanName(op *ast.OperationDefinition) string {
	if op.Name == "" {
		return string(op.Operation)
	}
	return fmt.Sprintf("%s %s", op.Operation, op.Name)
}
