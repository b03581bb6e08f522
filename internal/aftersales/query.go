package aftersales

import (
	"context"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/aftersalesevent"
	"github.com/xiadan/xiadan/ent/aftersalesrequest"
	"github.com/xiadan/xiadan/ent/orderitem"
	entupload "github.com/xiadan/xiadan/ent/upload"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/upload"
	"github.com/xiadan/xiadan/internal/viewer"
)

var (
	newestFirst = ent.WithAfterSalesRequestOrder(&ent.AfterSalesRequestOrder{
		Field: ent.AfterSalesRequestOrderFieldCreatedAt, Direction: entgql.OrderDirectionDesc})
	oldestFirst = ent.WithAfterSalesRequestOrder(&ent.AfterSalesRequestOrder{
		Field: ent.AfterSalesRequestOrderFieldCreatedAt, Direction: entgql.OrderDirectionAsc})
)

// Mine lists the caller's own requests, newest first.
func Mine(ctx context.Context, db *ent.Client, status []aftersalesrequest.Status, p orders.Page) (*ent.AfterSalesRequestConnection, error) {
	q := db.AfterSalesRequest.Query().Where(aftersalesrequest.CustomerID(viewer.FromContext(ctx).UserID))
	if len(status) > 0 {
		q.Where(aftersalesrequest.StatusIn(status...))
	}
	return q.Paginate(ctx, p.After, p.First, p.Before, p.Last, newestFirst)
}

// Queue lists a merchant's requests, oldest first (each step's deadline runs from when
// it began, so the oldest are the most urgent): staff their own merchant's, admins the one
// they name. dueBefore keeps the requests whose current step is due before it; by default
// the open ones are listed.
func Queue(ctx context.Context, db *ent.Client, merchantID *int, status []aftersalesrequest.Status, dueBefore *time.Time, p orders.Page) (*ent.AfterSalesRequestConnection, error) {
	v := viewer.FromContext(ctx)
	var mid int
	switch {
	case v.IsAdmin() && merchantID != nil:
		mid = *merchantID
	case v.IsAdmin():
		return nil, apperror.BadInput("merchantID", "admins name the merchant")
	case v.Has(viewer.RoleMerchant) && v.MerchantID != 0:
		if merchantID != nil && *merchantID != v.MerchantID {
			return nil, apperror.NotFoundf("merchant %d not found", *merchantID)
		}
		mid = v.MerchantID
	default:
		return nil, apperror.New(apperror.Forbidden, "only merchant staff have an after-sales queue")
	}
	if len(status) == 0 {
		status = open
	}
	q := db.AfterSalesRequest.Query().Where(aftersalesrequest.MerchantID(mid), aftersalesrequest.StatusIn(status...))
	if dueBefore != nil {
		q.Where(aftersalesrequest.DueAtLT(dueBefore.UTC()))
	}
	return q.Paginate(ctx, p.After, p.First, p.Before, p.Last, oldestFirst)
}

// Arbitration lists requests for admins, by default the escalated ones, oldest first.
func Arbitration(ctx context.Context, db *ent.Client, status []aftersalesrequest.Status, p orders.Page) (*ent.AfterSalesRequestConnection, error) {
	if len(status) == 0 {
		status = []aftersalesrequest.Status{aftersalesrequest.StatusESCALATED}
	}
	return db.AfterSalesRequest.Query().Where(aftersalesrequest.StatusIn(status...)).
		Paginate(ctx, p.After, p.First, p.Before, p.Last, oldestFirst)
}

// OfOrder lists the requests of an order the caller sees, newest first.
func OfOrder(ctx context.Context, db *ent.Client, o *ent.Order) ([]*ent.AfterSalesRequest, error) {
	return db.AfterSalesRequest.Query().Where(aftersalesrequest.OrderID(o.ID)).
		Order(ent.Desc(aftersalesrequest.FieldID)).All(ctx)
}

// Items are the lines a request is about (none for the whole order).
func Items(ctx context.Context, db *ent.Client, r *ent.AfterSalesRequest) ([]*ent.OrderItem, error) {
	if len(r.OrderItemIds) == 0 {
		return []*ent.OrderItem{}, nil
	}
	return db.OrderItem.Query().Where(orderitem.IDIn(r.OrderItemIds...), orderitem.OrderID(r.OrderID)).
		Order(ent.Asc(orderitem.FieldID)).All(ctx)
}

// Timeline is a request's steps and messages, oldest first.
func Timeline(ctx context.Context, db *ent.Client, r *ent.AfterSalesRequest) ([]*ent.AfterSalesEvent, error) {
	return db.AfterSalesEvent.Query().Where(aftersalesevent.RequestID(r.ID)).
		Order(ent.Asc(aftersalesevent.FieldID)).All(ctx)
}

// Evidence is the files attached to a step. The step was read through its request's
// privacy rule, so its customer, merchant staff and admins get here; the files are read
// as the system, as each side may not own (or share) the other's uploads.
func Evidence(ctx context.Context, db *ent.Client, e *ent.AfterSalesEvent) ([]*ent.Upload, error) {
	if len(e.EvidenceUploadIds) == 0 || viewer.FromContext(ctx).UserID == 0 {
		return []*ent.Upload{}, nil
	}
	return db.Upload.Query().Where(entupload.IDIn(e.EvidenceUploadIds...),
		entupload.BoundEntity(upload.EntityAfterSales), entupload.BoundID(e.RequestID),
		entupload.StateEQ(entupload.StateBOUND)).
		Order(ent.Asc(entupload.FieldID)).All(system(ctx))
}
