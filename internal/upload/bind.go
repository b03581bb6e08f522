package upload

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/xiadan/xiadan/ent"
	entupload "github.com/xiadan/xiadan/ent/upload"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Entities uploads are bound to (Upload.bound_entity). Issue #10's reviews and
// after-sales requests bind with EntityReview and EntityAfterSales.
const (
	EntityProduct    = "PRODUCT"
	EntityMerchant   = "MERCHANT"
	EntityReview     = "REVIEW"
	EntityAfterSales = "AFTER_SALES"
	// EntityTicketMessage is a customer-service message (internal/support).
	EntityTicketMessage = "TICKET_MESSAGE"
)

// Uses is which purpose each entity takes: an upload is bound only to a use of its purpose.
var Uses = map[string]entupload.Purpose{
	EntityProduct:       entupload.PurposePRODUCT_IMAGE,
	EntityMerchant:      entupload.PurposeMERCHANT_LICENCE,
	EntityReview:        entupload.PurposeREVIEW_PHOTO,
	EntityAfterSales:    entupload.PurposeAFTER_SALES_EVIDENCE,
	EntityTicketMessage: entupload.PurposeTICKET_ATTACHMENT,
}

// BindRequest binds uploads to one use.
type BindRequest struct {
	// IDs are the uploads, in the order the caller gave them.
	IDs []int
	// Field names the input list in errors: Field[i].
	Field string
	// Entity and EntityID are the use (EntityID 0 while it does not exist yet: Check only).
	Entity   string
	EntityID int
	// MerchantID, when not 0, is the merchant the uploads must be scoped to (product images).
	MerchantID int
	// ShareWith, when not 0, lets that merchant's staff read the uploads once bound (a
	// licence of a new merchant; a review photo or after-sales evidence of its order).
	ShareWith int
}

// Check checks that each upload may be bound to the use, and returns them in order:
// an upload already bound to this very use stays; a new one must be the caller's own
// (anyone else's is NOT_FOUND, as a missing one), of the use's purpose (BAD_USER_INPUT),
// of the merchant (BAD_USER_INPUT) and READY (INVALID_STATE).
//
// On MySQL the uploads are read with a locking read, which sees the latest committed rows
// and holds them: requests racing to use one upload queue here, before writing anything
// else, and the ones after the winner find it bound and stop. Without the lock they would
// all insert their product (say) first, and the losers, rolling back inserts that wait on
// each other's unique keys (a product's slug), could deadlock instead of getting a code.
func Check(ctx context.Context, db *ent.Client, req BindRequest) ([]*ent.Upload, error) {
	purpose, ok := Uses[req.Entity]
	if !ok {
		return nil, fmt.Errorf("upload: no use %q", req.Entity)
	}
	v := viewer.FromContext(ctx)
	found, err := db.Upload.Query().Where(entupload.IDIn(req.IDs...), hooks.LockRows).All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]*ent.Upload, len(req.IDs))
	for i, id := range req.IDs {
		field := fmt.Sprintf("%s[%d]", req.Field, i)
		if slices.Index(req.IDs, id) != i {
			return nil, apperror.BadInput(field, "upload %d is given twice", id)
		}
		j := slices.IndexFunc(found, func(u *ent.Upload) bool { return u.ID == id })
		if j < 0 {
			return nil, notFound(field)
		}
		u := found[j]
		mine := u.State == entupload.StateBOUND && req.EntityID != 0 &&
			u.BoundEntity != nil && *u.BoundEntity == req.Entity && u.BoundID != nil && *u.BoundID == req.EntityID
		if mine {
			out[i] = u
			continue
		}
		if v.UserID == 0 || u.OwnerID != v.UserID {
			return nil, notFound(field)
		}
		if u.Purpose != purpose {
			return nil, apperror.BadInput(field, "upload %d is a %s; this takes a %s", id, u.Purpose, purpose)
		}
		if req.MerchantID != 0 && (u.MerchantID == nil || *u.MerchantID != req.MerchantID) {
			return nil, apperror.BadInput(field, "upload %d was made for another merchant", id)
		}
		if u.State != entupload.StateREADY {
			e := apperror.WrongState(string(u.State), "upload %d cannot be used: only a READY upload can (complete it first; a bound one is in use)", id)
			e.Field = field
			return nil, e
		}
		out[i] = u
	}
	return out, nil
}

// Bind checks the uploads (Check) and binds the new ones to the use, with a write
// conditional on their being READY still, so one upload never ends up in two uses.
func (s *Service) Bind(ctx context.Context, db *ent.Client, req BindRequest) ([]*ent.Upload, error) {
	us, err := Check(ctx, db, req)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	for i, u := range us {
		if u.State == entupload.StateBOUND {
			continue
		}
		up := db.Upload.Update().Where(entupload.ID(u.ID), entupload.StateEQ(entupload.StateREADY)).
			SetState(entupload.StateBOUND).SetBoundEntity(req.Entity).SetBoundID(req.EntityID).
			SetBoundAt(s.now().UTC())
		if req.ShareWith != 0 {
			up.SetMerchantID(req.ShareWith)
		}
		n, err := up.Save(sys)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, apperror.ConflictOn(fmt.Sprintf("%s[%d]", req.Field, i), "upload %d was used elsewhere meanwhile", u.ID)
		}
		if us[i], err = db.Upload.Get(sys, u.ID); err != nil {
			return nil, err
		}
	}
	return us, nil
}

// Release lets go of the uploads bound to a use other than keep: they expire now, and
// Cleanup removes their files.
func (s *Service) Release(ctx context.Context, db *ent.Client, entity string, entityID int, keep []int) error {
	return db.Upload.Update().
		Where(entupload.BoundEntity(entity), entupload.BoundID(entityID), entupload.IDNotIn(keep...),
			entupload.StateEQ(entupload.StateBOUND)).
		SetState(entupload.StateEXPIRED).SetExpiresAt(s.now().UTC().Truncate(time.Microsecond)).
		Exec(viewer.SystemContext(ctx))
}

func notFound(field string) *apperror.Error {
	e := apperror.NotFoundf("no such upload")
	e.Field = field
	return e
}

// BindLicence binds the caller's MERCHANT_LICENCE uploads to a merchant and shares them
// with its staff (onboarding.LicenceUploads); errors name licenceUploadIDs[i].
func (s *Service) BindLicence(ctx context.Context, db *ent.Client, merchantID int, ids []int) error {
	if s.store == nil {
		return apperror.BadInput("licenceUploadIDs", "this server takes no uploads (UPLOAD_STORE is not set)")
	}
	_, err := s.Bind(ctx, db, BindRequest{IDs: ids, Field: "licenceUploadIDs", Entity: EntityMerchant,
		EntityID: merchantID, ShareWith: merchantID})
	return err
}

// LicenceFiles are a merchant's licence uploads the viewer may read (its owner, staff and
// admins); none for anyone else.
func (s *Service) LicenceFiles(ctx context.Context, db *ent.Client, merchantID int) ([]*ent.Upload, error) {
	if viewer.FromContext(ctx).UserID == 0 { // partners and anonymous viewers see none
		return []*ent.Upload{}, nil
	}
	return db.Upload.Query().Where(entupload.BoundEntity(EntityMerchant), entupload.BoundID(merchantID),
		entupload.StateEQ(entupload.StateBOUND)).Order(ent.Asc(entupload.FieldID)).All(ctx)
}

// Get is an upload the viewer may read, or nil.
func (s *Service) Get(ctx context.Context, db *ent.Client, id int) (*ent.Upload, error) {
	if viewer.FromContext(ctx).UserID == 0 {
		return nil, nil
	}
	u, err := db.Upload.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return u, err
}
