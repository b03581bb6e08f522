// Package reviews runs the reviews of order lines: writing one (once per line, within the
// review window), the follow-up (追评), the merchant's reply, helpful marks, reports, the
// admins' hide and restore, the default 5-star reviews of lines left unreviewed, and the
// product and merchant rating aggregates, kept in the transaction of every change.
// docs/REVIEWS.md.
package reviews

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/upload"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Limits of a review's input.
const (
	MaxBody   = 1000
	MaxPhotos = 9
	MaxTags   = 5
	MaxTagLen = 16
	MaxReason = 500
)

// Config is how reviews behave (REVIEW_* settings, internal/config).
type Config struct {
	// Window is how long after an order's completion its lines may be reviewed
	// (REVIEW_WINDOW); before completion (DELIVERED, FULFILLED) they always may.
	Window time.Duration
	// FollowUpWindow is how long after a review its author may add the follow-up
	// (REVIEW_FOLLOW_UP_WINDOW).
	FollowUpWindow time.Duration
	// DefaultReviews makes the job write a 5-star default review for every line of a
	// completed order not reviewed when the window closes (REVIEW_DEFAULT_ENABLED).
	DefaultReviews bool
}

// Validate reports settings out of range, naming the environment variable.
func (c Config) Validate() error {
	var errs []error
	if c.Window < time.Hour || c.Window > 365*24*time.Hour {
		errs = append(errs, errors.New("REVIEW_WINDOW: must be between 1h and 8760h"))
	}
	if c.FollowUpWindow < time.Hour || c.FollowUpWindow > 365*24*time.Hour {
		errs = append(errs, errors.New("REVIEW_FOLLOW_UP_WINDOW: must be between 1h and 8760h"))
	}
	return errors.Join(errs...)
}

// Service runs reviews. Build it with New.
type Service struct {
	Config  Config
	Uploads *upload.Service
	// Now is the clock (time.Now in production; tests set theirs).
	Now func() time.Time
}

// New returns the service of cfg, binding photos with uploads.
func New(cfg Config, uploads *upload.Service) *Service {
	return &Service{Config: cfg, Uploads: uploads, Now: time.Now}
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return stamp(time.Now())
	}
	return stamp(s.Now())
}

func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func system(ctx context.Context) context.Context { return viewer.SystemContext(ctx) }

// photos binds the caller's REVIEW_PHOTO uploads to review r (shared with its merchant's
// staff) and returns them as images with their public URLs; errors name field[i].
func (s *Service) photos(ctx context.Context, db *ent.Client, r *ent.Review, field string, ids []int) ([]schematype.Image, error) {
	if len(ids) == 0 {
		return []schematype.Image{}, nil
	}
	if len(ids) > MaxPhotos {
		return nil, apperror.BadInput(field, "at most %d photos, got %d", MaxPhotos, len(ids))
	}
	if s.Uploads == nil {
		return nil, apperror.BadInput(field, "this server takes no uploads")
	}
	return s.Uploads.ReviewPhotos(ctx, db, r.ID, r.MerchantID, field, ids)
}

// visible reads a review as the caller may see it: NOT_FOUND otherwise.
func visible(ctx context.Context, db *ent.Client, id int) (*ent.Review, error) {
	r, err := db.Review.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("no such review")
	}
	return r, err
}

// reload reads review id again after a write, as the system.
func reload(ctx context.Context, db *ent.Client, id int) (*ent.Review, error) {
	r, err := db.Review.Get(system(ctx), id)
	if err != nil {
		return nil, fmt.Errorf("reviews: reading review %d: %w", id, err)
	}
	return r, nil
}
