package upload

import (
	"context"
	"fmt"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	entupload "github.com/xiadan/xiadan/ent/upload"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/viewer"
)

// ProductImages resolves the images given by upload id (catalog.ImageUploads): each is
// checked for the product (Check: the caller's own PRODUCT_IMAGE of the merchant, READY,
// or already on this product) and given its public URL, size and thumbnails. An image
// given by the URL of an upload already on the product is taken as that upload, so a
// client that sends back the images it read keeps them.
func (s *Service) ProductImages(ctx context.Context, db *ent.Client, merchantID, productID int, images []schematype.Image) ([]schematype.Image, error) {
	byURL := map[string]int{}
	if productID != 0 {
		current, err := db.Upload.Query().Where(entupload.BoundEntity(EntityProduct), entupload.BoundID(productID),
			entupload.StateEQ(entupload.StateBOUND)).All(viewer.SystemContext(ctx))
		if err != nil {
			return nil, err
		}
		for _, u := range current {
			url, err := s.URL(ctx, u)
			if err != nil {
				return nil, err
			}
			byURL[url] = u.ID
		}
	}
	out := make([]schematype.Image, len(images))
	var ids []int
	var at []int // index in images of each of ids
	for i, im := range images {
		if im.UploadID != 0 && im.URL != "" {
			return nil, apperror.BadInput(fmt.Sprintf("images[%d]", i), "give an image's url or its uploadID, not both")
		}
		if im.UploadID == 0 {
			im.UploadID = byURL[im.URL]
		}
		out[i] = schematype.Image{URL: im.URL, Alt: im.Alt, UploadID: im.UploadID}
		if im.UploadID != 0 {
			ids = append(ids, im.UploadID)
			at = append(at, i)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	if s.store == nil {
		return nil, apperror.BadInput(fmt.Sprintf("images[%d].uploadID", at[0]), "this server takes no uploads (UPLOAD_STORE is not set)")
	}
	us, err := Check(ctx, db, BindRequest{IDs: ids, Field: "images", Entity: EntityProduct, EntityID: productID, MerchantID: merchantID})
	if err != nil {
		return nil, renameField(err, ids, at)
	}
	for k, u := range us {
		im := &out[at[k]]
		// The URL of a bound product image is its public one, which it is about to be.
		im.URL, err = s.store.URL(ctx, u.StorageKey, true, s.now())
		if err != nil {
			return nil, err
		}
		im.Width, im.Height = deref(u.Width), deref(u.Height)
		im.Thumbnails = make([]schematype.ImageThumbnail, len(u.Thumbnails))
		for j, t := range u.Thumbnails {
			url, err := s.store.URL(ctx, t.Key, true, s.now())
			if err != nil {
				return nil, err
			}
			im.Thumbnails[j] = schematype.ImageThumbnail{Size: t.Size, Width: t.Width, Height: t.Height, URL: url}
		}
	}
	return out, nil
}

// BindProductImages binds the images' uploads to the product and releases the uploads it
// no longer shows (catalog.ImageUploads).
func (s *Service) BindProductImages(ctx context.Context, db *ent.Client, productID int, images []schematype.Image) error {
	var ids, at []int
	for i, im := range images {
		if im.UploadID != 0 {
			ids = append(ids, im.UploadID)
			at = append(at, i)
		}
	}
	if len(ids) > 0 {
		p, err := db.Product.Get(viewer.SystemContext(ctx), productID)
		if err != nil {
			return err
		}
		if _, err := s.Bind(ctx, db, BindRequest{IDs: ids, Field: "images", Entity: EntityProduct, EntityID: productID, MerchantID: p.MerchantID}); err != nil {
			return renameField(err, ids, at)
		}
	}
	return s.Release(ctx, db, EntityProduct, productID, ids)
}

// renameField turns an error about images[k] of the upload ids into one about
// images[i].uploadID of the caller's list.
func renameField(err error, ids, at []int) error {
	e, ok := err.(*apperror.Error)
	if !ok {
		return err
	}
	for k := range ids {
		if e.Field == fmt.Sprintf("images[%d]", k) {
			e.Field = fmt.Sprintf("images[%d].uploadID", at[k])
			break
		}
	}
	return e
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
