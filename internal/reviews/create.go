package reviews

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/review"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/viewer"
)

// CreateInput is a customer's review of one order line.
type CreateInput struct {
	OrderItemID int
	Rating      int
	Body        string
	PhotoIDs    []int
	Anonymous   bool
	Tags        []string
}

// reviewable are the order statuses whose lines may be reviewed: the customer has them.
var reviewable = []order.Status{order.StatusDELIVERED, order.StatusFULFILLED, order.StatusCOMPLETED}

// Create writes the caller's review of one line of their order, in db's transaction:
// the line must be the caller's (NOT_FOUND otherwise, as a missing one), its order
// received (DELIVERED, FULFILLED, COMPLETED: INVALID_STATE otherwise) and, once completed,
// within Window of its completion (INVALID_STATE, reason REVIEW_WINDOW_CLOSED). A line is
// reviewed once: a second review is CONFLICT, also when two race (the unique index on
// order_item_id decides). The photos are bound to the review, the product's and
// merchant's ratings counted, and REVIEW_CREATED recorded on the order — without the
// author for an anonymous review.
func (s *Service) Create(ctx context.Context, db *ent.Client, in CreateInput) (*ent.Review, error) {
	v := viewer.FromContext(ctx)
	if err := checkReview(in); err != nil {
		return nil, err
	}
	sctx := system(ctx)
	item, err := db.OrderItem.Query().Where(orderitem.ID(in.OrderItemID)).WithOrder().Only(sctx)
	if ent.IsNotFound(err) || err == nil && item.Edges.Order.CustomerID != v.UserID {
		e := apperror.NotFoundf("no such order line of yours")
		e.Field = "orderItemID"
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	o := item.Edges.Order
	if err := s.open(o); err != nil {
		return nil, err
	}
	if item.ProductID == nil {
		e := apperror.WrongState("PRODUCT_REMOVED", "the product of this line no longer exists")
		e.Field = "orderItemID"
		return nil, e
	}
	if done, err := db.Review.Query().Where(review.OrderItemID(item.ID)).Exist(sctx); err != nil {
		return nil, err
	} else if done {
		return nil, alreadyReviewed()
	}
	author, err := db.User.Get(sctx, v.UserID)
	if err != nil {
		return nil, err
	}
	r, err := s.insert(ctx, db, o, item, author.DisplayName, in, false)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// insert writes the review of item (o's line) with its photos, ratings and event.
func (s *Service) insert(ctx context.Context, db *ent.Client, o *ent.Order, item *ent.OrderItem, authorName string,
	in CreateInput, isDefault bool) (*ent.Review, error) {
	sctx := system(ctx)
	// The ratings first: the UPDATE locks the product's row (then the merchant's) before
	// the insert takes a shared lock on it for its foreign key, so concurrent reviews of
	// one product queue there instead of deadlocking on each other's shared locks.
	if err := rate(ctx, db, *item.ProductID, o.MerchantID, in.Rating, len(in.PhotoIDs) > 0, 1); err != nil {
		return nil, err
	}
	r, err := db.Review.Create().
		SetProductID(*item.ProductID).
		SetMerchantID(o.MerchantID).
		SetAuthorID(o.CustomerID).
		SetOrderID(o.ID).
		SetOrderItemID(item.ID).
		SetAuthorName(clip(authorName, 64)).
		SetRating(in.Rating).
		SetBody(in.Body).
		SetTags(nonNil(in.Tags)).
		SetAnonymous(in.Anonymous).
		SetIsDefault(isDefault).
		SetCreatedAt(s.now()).
		SetUpdatedAt(s.now()).
		Save(sctx)
	if ent.IsConstraintError(err) {
		return nil, alreadyReviewed()
	}
	if err != nil {
		return nil, err
	}
	if len(in.PhotoIDs) > 0 {
		images, err := s.photos(ctx, db, r, "photoUploadIDs", in.PhotoIDs)
		if err != nil {
			return nil, err
		}
		if r, err = r.Update().SetImages(images).SetWithPhotos(true).Save(sctx); err != nil {
			return nil, err
		}
	}
	actor := viewer.FromContext(ctx).UserID
	role := orderevent.ActorRoleCUSTOMER
	if isDefault {
		actor, role = 0, orderevent.ActorRoleSYSTEM
	}
	eventReview := r.ID
	if in.Anonymous {
		// The event is on the buyer's order: naming the review (or the author) there would
		// tell the merchant and webhooks who wrote it. They learn that the order's line was
		// reviewed, not which review is its.
		actor, eventReview = 0, 0
	}
	if err := s.record(ctx, db, o, eventReview, orderevent.TypeREVIEW_CREATED, actor, role); err != nil {
		return nil, err
	}
	return r, nil
}

// open reports whether o's lines may be reviewed now.
func (s *Service) open(o *ent.Order) error {
	received := false
	for _, st := range reviewable {
		received = received || o.Status == st
	}
	if !received {
		e := apperror.WrongState(string(o.Status), "only a received order's lines are reviewed")
		e.Field = "orderItemID"
		return e
	}
	if o.CompletedAt != nil && s.now().After(o.CompletedAt.Add(s.Config.Window)) {
		e := apperror.WrongState(string(o.Status), "the review window closed at %s",
			o.CompletedAt.Add(s.Config.Window).UTC().Format("2006-01-02 15:04:05Z"))
		e.Field = "orderItemID"
		e.Extensions["reason"] = "REVIEW_WINDOW_CLOSED"
		return e
	}
	return nil
}

// record appends a review event to order o's timeline, the outbox of subscriptions and
// webhooks.
func (s *Service) record(ctx context.Context, db *ent.Client, o *ent.Order, reviewID int, typ orderevent.Type,
	actorID int, role orderevent.ActorRole) error {
	c := db.OrderEvent.Create().
		SetOrderID(o.ID).
		SetMerchantID(o.MerchantID).
		SetCustomerID(o.CustomerID).
		SetType(typ).
		SetActorRole(role).
		SetCreatedAt(s.now())
	if reviewID != 0 {
		c.SetReviewID(reviewID)
	}
	if actorID != 0 {
		c.SetActorID(actorID)
	}
	return c.Exec(system(ctx))
}

func alreadyReviewed() error {
	e := apperror.ConflictOn("orderItemID", "this order line is already reviewed; add a follow-up instead")
	e.Extensions = map[string]any{"reason": "ALREADY_REVIEWED"}
	return e
}

// checkReview checks a review's input, naming the field at fault.
func checkReview(in CreateInput) error {
	if in.Rating < 1 || in.Rating > 5 {
		return apperror.BadInput("rating", "must be 1 to 5 stars, got %d", in.Rating)
	}
	if n := utf8.RuneCountInString(in.Body); n > MaxBody {
		return apperror.BadInput("body", "at most %d characters, got %d", MaxBody, n)
	}
	if len(in.PhotoIDs) > MaxPhotos {
		return apperror.BadInput("photoUploadIDs", "at most %d photos, got %d", MaxPhotos, len(in.PhotoIDs))
	}
	if len(in.Tags) > MaxTags {
		return apperror.BadInput("tags", "at most %d tags, got %d", MaxTags, len(in.Tags))
	}
	for i, t := range in.Tags {
		if n := utf8.RuneCountInString(t); strings.TrimSpace(t) == "" || n > MaxTagLen {
			return apperror.BadInput(fmt.Sprintf("tags[%d]", i), "a tag has 1 to %d characters", MaxTagLen)
		}
	}
	return nil
}

// clip cuts s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}
