package upload

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/apperror"
)

// ReviewPhotos binds the caller's REVIEW_PHOTO uploads to review reviewID (shared with
// the staff of merchantID, whose product it reviews) and returns them as images at their
// public addresses: a bound review photo is public, as the review is. Errors name
// field[i] (Check, Bind).
func (s *Service) ReviewPhotos(ctx context.Context, db *ent.Client, reviewID, merchantID int, field string, ids []int) ([]schematype.Image, error) {
	if s.store == nil {
		return nil, apperror.BadInput(field, "this server takes no uploads (UPLOAD_STORE is not set)")
	}
	us, err := s.Bind(ctx, db, BindRequest{IDs: ids, Field: field, Entity: EntityReview, EntityID: reviewID, ShareWith: merchantID})
	if err != nil {
		return nil, err
	}
	out := make([]schematype.Image, len(us))
	for i, u := range us {
		url, err := s.store.URL(ctx, u.StorageKey, true, s.now())
		if err != nil {
			return nil, err
		}
		out[i] = schematype.Image{URL: url, UploadID: u.ID, Width: deref(u.Width), Height: deref(u.Height)}
		for _, t := range u.Thumbnails {
			turl, err := s.store.URL(ctx, t.Key, true, s.now())
			if err != nil {
				return nil, err
			}
			out[i].Thumbnails = append(out[i].Thumbnails, schematype.ImageThumbnail{Size: t.Size, Width: t.Width, Height: t.Height, URL: turl})
		}
	}
	return out, nil
}
