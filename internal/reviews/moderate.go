package reviews

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/review"
	"github.com/xiadan/xiadan/ent/reviewreport"
	"github.com/xiadan/xiadan/ent/reviewvote"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/viewer"
)

// FollowUp adds the author's one follow-up (追评) to their review, within FollowUpWindow
// of the review: someone else's review is NOT_FOUND, a second follow-up CONFLICT (the
// write is conditional on there being none), a late one INVALID_STATE.
func (s *Service) FollowUp(ctx context.Context, db *ent.Client, reviewID int, body string, photoIDs []int) (*ent.Review, error) {
	v := viewer.FromContext(ctx)
	body = strings.TrimSpace(body)
	if n := utf8.RuneCountInString(body); n == 0 || n > MaxBody {
		return nil, apperror.BadInput("body", "a follow-up has 1 to %d characters", MaxBody)
	}
	if len(photoIDs) > MaxPhotos {
		return nil, apperror.BadInput("photoUploadIDs", "at most %d photos, got %d", MaxPhotos, len(photoIDs))
	}
	r, err := visible(ctx, db, reviewID)
	if err != nil {
		return nil, err
	}
	if r.AuthorID != v.UserID {
		return nil, apperror.NotFoundf("no such review of yours")
	}
	if r.FollowedUpAt != nil {
		return nil, followedUp()
	}
	if s.now().After(r.CreatedAt.Add(s.Config.FollowUpWindow)) {
		e := apperror.WrongState("FOLLOW_UP_CLOSED", "follow-ups are taken until %s after the review", s.Config.FollowUpWindow)
		e.Extensions["reason"] = "FOLLOW_UP_WINDOW_CLOSED"
		return nil, e
	}
	sctx := system(ctx)
	if err := lockProduct(ctx, db, r.ProductID); err != nil {
		return nil, err
	}
	n, err := db.Review.Update().Where(review.ID(r.ID), review.FollowedUpAtIsNil()).
		SetFollowUp(body).SetFollowedUpAt(s.now()).Save(sctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, followedUp()
	}
	if len(photoIDs) > 0 {
		images, err := s.photos(ctx, db, r, "photoUploadIDs", photoIDs)
		if err != nil {
			return nil, err
		}
		if err := db.Review.UpdateOneID(r.ID).SetFollowUpImages(images).Exec(sctx); err != nil {
			return nil, err
		}
		// The first photos of the review: it now counts as one with photos (a conditional
		// write, so a follow-up racing nothing else counts once).
		n, err := db.Review.Update().Where(review.ID(r.ID), review.WithPhotos(false)).SetWithPhotos(true).Save(sctx)
		if err != nil {
			return nil, err
		}
		if n == 1 && !r.Hidden {
			if err := photosRated(ctx, db, r.ProductID, r.MerchantID, 1); err != nil {
				return nil, err
			}
		}
	}
	return reload(ctx, db, r.ID)
}

func followedUp() error {
	e := apperror.ConflictOn("reviewID", "this review already has its follow-up")
	e.Extensions = map[string]any{"reason": "ALREADY_FOLLOWED_UP"}
	return e
}

// Reply is the merchant's one reply to a review of its product: staff of the review's
// merchant only (anyone else: NOT_FOUND); a second reply is CONFLICT (the write is
// conditional on there being none). REVIEW_REPLIED is recorded on the order.
func (s *Service) Reply(ctx context.Context, db *ent.Client, reviewID int, body string) (*ent.Review, error) {
	v := viewer.FromContext(ctx)
	body = strings.TrimSpace(body)
	if n := utf8.RuneCountInString(body); n == 0 || n > MaxBody {
		return nil, apperror.BadInput("body", "a reply has 1 to %d characters", MaxBody)
	}
	r, err := visible(ctx, db, reviewID)
	if err != nil {
		return nil, err
	}
	if !v.IsMerchantMember(r.MerchantID) {
		return nil, apperror.NotFoundf("no such review of your shop")
	}
	sctx := system(ctx)
	n, err := db.Review.Update().Where(review.ID(r.ID), review.RepliedAtIsNil()).
		SetReply(body).SetRepliedAt(s.now()).Save(sctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		e := apperror.ConflictOn("reviewID", "this review is already replied to")
		e.Extensions = map[string]any{"reason": "ALREADY_REPLIED"}
		return nil, e
	}
	if r.OrderID != nil {
		o, err := db.Order.Query().Where(order.ID(*r.OrderID)).Only(sctx)
		if err != nil {
			return nil, err
		}
		eventReview := r.ID
		if r.Anonymous {
			eventReview = 0 // as REVIEW_CREATED: the order's timeline never names an anonymous review
		}
		if err := s.record(ctx, db, o, eventReview, orderevent.TypeREVIEW_REPLIED, v.UserID, orderevent.ActorRoleMERCHANT); err != nil {
			return nil, err
		}
	}
	return reload(ctx, db, r.ID)
}

// Helpful marks a review helpful for the caller (helpful) or takes the mark back. It is
// idempotent: one vote per person and review (a unique index), and the count moves only
// when a vote was really added or removed.
func (s *Service) Helpful(ctx context.Context, db *ent.Client, reviewID int, helpful bool) (*ent.Review, error) {
	v := viewer.FromContext(ctx)
	r, err := visible(ctx, db, reviewID)
	if err != nil {
		return nil, err
	}
	sctx := system(ctx)
	if err := lockReview(ctx, db, r.ID); err != nil {
		return nil, err
	}
	delta := 0
	if helpful {
		exists, err := db.ReviewVote.Query().Where(reviewvote.ReviewID(r.ID), reviewvote.UserID(v.UserID)).Exist(sctx)
		if err != nil {
			return nil, err
		}
		if !exists {
			err := db.ReviewVote.Create().SetReviewID(r.ID).SetUserID(v.UserID).SetCreatedAt(s.now()).Exec(sctx)
			switch {
			case ent.IsConstraintError(err): // a concurrent request of the same person voted
			case err != nil:
				return nil, err
			default:
				delta = 1
			}
		}
	} else {
		n, err := db.ReviewVote.Delete().Where(reviewvote.ReviewID(r.ID), reviewvote.UserID(v.UserID)).Exec(sctx)
		if err != nil {
			return nil, err
		}
		delta = -n
	}
	if delta != 0 {
		if err := db.Review.UpdateOneID(r.ID).AddHelpfulCount(delta).Exec(sctx); err != nil {
			return nil, err
		}
	}
	return reload(ctx, db, r.ID)
}

// Report reports a review to the admins with a reason, once per person (CONFLICT after).
func (s *Service) Report(ctx context.Context, db *ent.Client, reviewID int, reason string) (*ent.Review, error) {
	v := viewer.FromContext(ctx)
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n == 0 || n > MaxReason {
		return nil, apperror.BadInput("reason", "a reason has 1 to %d characters", MaxReason)
	}
	r, err := visible(ctx, db, reviewID)
	if err != nil {
		return nil, err
	}
	sctx := system(ctx)
	if err := lockReview(ctx, db, r.ID); err != nil {
		return nil, err
	}
	reported := func() error {
		e := apperror.ConflictOn("reviewID", "you have already reported this review")
		e.Extensions = map[string]any{"reason": "ALREADY_REPORTED"}
		return e
	}
	if exists, err := db.ReviewReport.Query().Where(reviewreport.ReviewID(r.ID), reviewreport.UserID(v.UserID)).Exist(sctx); err != nil {
		return nil, err
	} else if exists {
		return nil, reported()
	}
	err = db.ReviewReport.Create().SetReviewID(r.ID).SetUserID(v.UserID).SetReason(reason).SetCreatedAt(s.now()).Exec(sctx)
	if ent.IsConstraintError(err) {
		return nil, reported()
	}
	if err != nil {
		return nil, err
	}
	if err := db.Review.UpdateOneID(r.ID).AddReportCount(1).Exec(sctx); err != nil {
		return nil, err
	}
	return reload(ctx, db, r.ID)
}

// Hide hides a review (admins; audited): it leaves lists, counts and averages for all
// but its author and admins. Hiding a hidden review is INVALID_STATE; the write is
// conditional on the review being shown, so two admins at once change the ratings once.
func (s *Service) Hide(ctx context.Context, db *ent.Client, reviewID int, reason string) (*ent.Review, error) {
	return s.setHidden(ctx, db, reviewID, reason, true)
}

// Restore shows a hidden review again (admins; audited), counted in the ratings again.
func (s *Service) Restore(ctx context.Context, db *ent.Client, reviewID int, reason string) (*ent.Review, error) {
	return s.setHidden(ctx, db, reviewID, reason, false)
}

func (s *Service) setHidden(ctx context.Context, db *ent.Client, reviewID int, reason string, hide bool) (*ent.Review, error) {
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n == 0 || n > MaxReason {
		return nil, apperror.BadInput("reason", "a reason has 1 to %d characters", MaxReason)
	}
	r, err := visible(ctx, db, reviewID)
	if err != nil {
		return nil, err
	}
	sctx := system(ctx)
	if err := lockProduct(ctx, db, r.ProductID); err != nil {
		return nil, err
	}
	// The reason shows to the author (and admins) while the review is hidden; a restored
	// review shows none, its reason stays in the audit log.
	up := db.Review.Update().Where(review.ID(r.ID), review.Hidden(!hide)).SetHidden(hide)
	if hide {
		up.SetHiddenReason(reason).SetHiddenAt(s.now())
	} else {
		up.SetHiddenReason("").ClearHiddenAt()
	}
	n, err := up.Save(sctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		state := "SHOWN"
		if hide {
			state = "HIDDEN"
		}
		return nil, apperror.WrongState(state, "the review is already %s", strings.ToLower(state))
	}
	sign, action := -1, "review.hide"
	if !hide {
		sign, action = 1, "review.restore"
	}
	if err := rate(ctx, db, r.ProductID, r.MerchantID, r.Rating, r.WithPhotos, sign); err != nil {
		return nil, err
	}
	if err := audit.Record(ctx, db, audit.Entry{Action: action, TargetType: "Review", TargetID: r.ID, Reason: reason,
		Details: map[string]any{"productId": r.ProductID, "merchantId": r.MerchantID, "rating": r.Rating}}); err != nil {
		return nil, err
	}
	return reload(ctx, db, r.ID)
}

// lockProduct locks the product's row until the transaction ends (MySQL; SQLite
// serialises writers): every review write that changes ratings takes it first, so they
// queue in one order (product, then review, then merchant) and never deadlock.
func lockProduct(ctx context.Context, db *ent.Client, id int) error {
	_, err := db.Product.Query().Where(product.ID(id), hooks.LockRows).Only(system(ctx))
	return err
}

// lockReview locks the review's row: votes and reports insert rows whose foreign key
// takes a shared lock on it, and then update it; taking the exclusive lock first makes
// two such requests queue instead of deadlocking.
func lockReview(ctx context.Context, db *ent.Client, id int) error {
	_, err := db.Review.Query().Where(review.ID(id), hooks.LockRows).Only(system(ctx))
	return err
}
