package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Logger returns logger adding trace_id and span_id to each record logged with a context
// whose span is valid (a request's, or one continued from the caller's traceparent).
// Wrapping twice is harmless.
func Logger(logger *slog.Logger) *slog.Logger {
	if _, ok := logger.Handler().(traceHandler); ok {
		return logger
	}
	return slog.New(traceHandler{logger.Handler()})
}

// traceHandler adds the trace and span ids of a record's context.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
