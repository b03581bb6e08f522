package datarights

import (
	"context"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/datarequest"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Get is a request the caller may see (their own; admins any), or NOT_FOUND.
func Get(ctx context.Context, db *ent.Client, id int) (*ent.DataRequest, error) {
	r, err := db.DataRequest.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, notFound()
	}
	return r, err
}

// Mine lists the caller's own requests, newest first (at most 100).
func Mine(ctx context.Context, db *ent.Client) ([]*ent.DataRequest, error) {
	return db.DataRequest.Query().Where(datarequest.UserID(viewer.FromContext(ctx).UserID)).
		Order(ent.Desc(datarequest.FieldID)).Limit(100).All(ctx)
}

// QueueFilter narrows the admins' queue.
type QueueFilter struct {
	Status    *datarequest.Status
	Kind      *datarequest.Kind
	DueBefore *time.Time
}

// Queue lists every request (admins), soonest deadline first.
func Queue(ctx context.Context, db *ent.Client, f QueueFilter, after *entgql.Cursor[int], first *int) (*ent.DataRequestConnection, error) {
	q := db.DataRequest.Query()
	if f.Status != nil {
		q.Where(datarequest.StatusEQ(*f.Status))
	}
	if f.Kind != nil {
		q.Where(datarequest.KindEQ(*f.Kind))
	}
	if f.DueBefore != nil {
		q.Where(datarequest.DueAtLT(f.DueBefore.UTC()))
	}
	return q.Paginate(ctx, after, first, nil, nil, ent.WithDataRequestOrder(&ent.DataRequestOrder{
		Field: ent.DataRequestOrderFieldDueAt, Direction: entgql.OrderDirectionAsc}))
}

// Archive is the export's JSON document, for the request's own user only: admins and
// everyone else get FORBIDDEN (admins handle requests, not their contents). Null for
// erasure requests and for exports whose archive was dropped by an erasure.
func Archive(ctx context.Context, r *ent.DataRequest) (*string, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 || v.UserID != r.UserID {
		e := apperror.New(apperror.Forbidden, "only the person who asked for an export may read it")
		e.Field = "archive"
		return nil, e
	}
	return r.Archive, nil
}

// Requester is the user who made the request, as the caller may see them.
func Requester(ctx context.Context, db *ent.Client, r *ent.DataRequest) (*ent.User, error) {
	u, err := db.User.Get(ctx, r.UserID)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return u, err
}
