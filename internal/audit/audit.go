// Package audit records privileged actions — who did what to which record, when and why —
// in the same transaction as the action itself.
package audit

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Entry is one action to record.
type Entry struct {
	Action     string
	TargetType string
	TargetID   int
	Reason     string
	Details    map[string]any
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id, which audit entries keep.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Record writes e on db, attributed to the viewer in ctx.
func Record(ctx context.Context, db *ent.Client, e Entry) error {
	v := viewer.FromContext(ctx)
	c := db.AuditLog.Create().
		SetAction(e.Action).
		SetTargetType(e.TargetType).
		SetTargetID(e.TargetID).
		SetReason(e.Reason).
		SetRequestID(RequestID(ctx))
	if v.UserID != 0 {
		c.SetActorID(v.UserID)
	}
	if len(e.Details) > 0 {
		c.SetDetails(e.Details)
	}
	// Entries are append-only and written by whoever acted, so the write itself runs as
	// the system; the privacy policy still refuses updates and deletes.
	return c.Exec(viewer.SystemContext(ctx))
}
