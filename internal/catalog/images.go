package catalog

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/apperror"
)

// ImageUploads turns uploads into product images (internal/upload implements it).
type ImageUploads interface {
	// ProductImages fills in the images given by upload id — URL, size, thumbnails —
	// after checking each may be used for productID (0 for a new product) of merchantID,
	// and recognises an image given by the URL of an upload already on the product.
	ProductImages(ctx context.Context, db *ent.Client, merchantID, productID int, images []schematype.Image) ([]schematype.Image, error)
	// BindProductImages binds the images' uploads to the product and lets go of the
	// uploads it no longer shows.
	BindProductImages(ctx context.Context, db *ent.Client, productID int, images []schematype.Image) error
}

// resolveImages checks images and, when any is an upload or the product may hold
// uploads, resolves them through uploads.
func resolveImages(ctx context.Context, db *ent.Client, uploads ImageUploads, merchantID, productID int, in []schematype.Image) ([]schematype.Image, error) {
	if uploads == nil {
		for i, im := range in {
			if im.UploadID != 0 {
				return nil, apperror.BadInput(indexed("images", i)+".uploadID", "uploads are not available here")
			}
		}
		return checkImages(in)
	}
	resolved, err := uploads.ProductImages(ctx, db, merchantID, productID, in)
	if err != nil {
		return nil, err
	}
	return checkImages(resolved)
}
