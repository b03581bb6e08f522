package reviews

import (
	"context"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/review"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Author is who wrote a review, as the viewer may know it.
type Author struct {
	DisplayName string
	Anonymous   bool
	IsViewer    bool
}

// AuthorOf is the author of r for the viewer of ctx: the name they wrote under, masked
// (Mask) for an anonymous review unless the viewer is its author or an admin.
func AuthorOf(ctx context.Context, r *ent.Review) *Author {
	v := viewer.FromContext(ctx)
	mine := v.UserID != 0 && v.UserID == r.AuthorID
	name := r.AuthorName
	if r.Anonymous && !mine && !v.IsAdmin() {
		name = Mask(name)
	}
	return &Author{DisplayName: name, Anonymous: r.Anonymous, IsViewer: mine}
}

// Masked is the name every anonymous review shows to others. Not even the first
// character of the real name is kept: the merchant knows its buyers' names, and one
// character narrows them down.
const Masked = "匿***"

// Mask returns the masked form of a name.
func Mask(string) string { return Masked }

// Mine is a page of the caller's own reviews, newest first, hidden ones included.
func Mine(ctx context.Context, db *ent.Client, first *int, after *entgql.Cursor[int]) (*ent.ReviewConnection, error) {
	return db.Review.Query().Where(review.AuthorID(viewer.FromContext(ctx).UserID)).
		Paginate(ctx, after, first, nil, nil, ent.WithReviewOrder(newestFirst))
}

// ForModeration is a page of the reviews for admins, newest first: the reported ones
// still shown, or (hidden) the hidden ones.
func ForModeration(ctx context.Context, db *ent.Client, hidden bool, first *int, after *entgql.Cursor[int]) (*ent.ReviewConnection, error) {
	q := db.Review.Query().Where(review.Hidden(hidden))
	if !hidden {
		q.Where(review.ReportCountGT(0))
	}
	return q.Paginate(ctx, after, first, nil, nil, ent.WithReviewOrder(newestFirst))
}

var newestFirst = &ent.ReviewOrder{Field: ent.ReviewOrderFieldCreatedAt, Direction: entgql.OrderDirectionDesc}
