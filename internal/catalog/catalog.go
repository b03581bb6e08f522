// Package catalog is the merchants' product catalog: products and their variants, prices,
// stock and the stock ledger, managed by merchant staff and admins, and the storefront's
// view of them.
//
// Management functions take a *ent.Client that may be a transaction's client (the request
// transaction, in mutations) and do every step of a change through it, so a change is
// written whole or not at all. Who may touch what is decided by the Ent privacy policies;
// these functions add the rules that need the caller's intent, such as "staff create for
// their own merchant", and report a record of another merchant exactly like a missing one.
package catalog

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Limits of the catalog.
const (
	MaxTitle       = 200
	MaxDescription = 20000
	MaxImages      = 20
	MaxAlt         = 200
	MaxAttributes  = 50
	MaxNameValue   = 100 // attribute and option names and values
	MaxVariants    = 100
	MaxSKU         = 64
	MaxReason      = 500
	MaxBulkItems   = 100
	// MaxStock bounds a variant's stock so that a product's total (up to MaxVariants
	// variants) still fits GraphQL's 32-bit Int.
	MaxStock = 10_000_000
	// MaxPrice bounds a unit price, in minor units (¥100,000,000.00), so that what checkout
	// multiplies stays far inside int64: a line of 999 units, a basket of 50 lines, and a
	// percentage in basis points of it.
	MaxPrice = 10_000_000_000
)

// ProductInput is a new product with its variants.
type ProductInput struct {
	// MerchantID is the merchant to create for: required for admins, optional (and only
	// their own) for merchant staff.
	MerchantID *int
	CategoryID *int
	Title      string
	// Slug is the product's URL name; made from the title when nil.
	Slug        *string
	Description string
	// Kind is PHYSICAL when empty.
	Kind       product.Kind
	Images     []schematype.Image
	Attributes []schematype.Attribute
	Variants   []VariantInput
	// Uploads resolves images given by upload id; without it only URLs are accepted.
	Uploads ImageUploads
}

// VariantInput is a new variant.
type VariantInput struct {
	SKU     string
	Options []schematype.OptionValue
	// Price is a decimal amount such as "19.90".
	Price string
	// Currency is an ISO 4217 code, which must be the merchant's; the merchant's when empty.
	Currency string
	// Stock is the opening stock, recorded in the ledger.
	Stock             int
	LowStockThreshold int
}

// ProductUpdate edits a product; nil fields stay as they are, and lists given (even
// empty) replace the old ones.
type ProductUpdate struct {
	CategoryID    *int
	ClearCategory bool
	Title         *string
	Slug          *string
	Description   *string
	Kind          *product.Kind
	Images        []schematype.Image
	Attributes    []schematype.Attribute
	// Uploads resolves images given by upload id; without it only URLs are accepted.
	Uploads ImageUploads
}

// VariantUpdate edits a variant; nil fields stay as they are. Stock is not here: it
// changes only through AdjustStock and BulkUpdateVariants, which keep the ledger.
type VariantUpdate struct {
	SKU               *string
	Options           []schematype.OptionValue
	Price             *string
	LowStockThreshold *int
}

// canManage reports whether the viewer manages merchantID's catalog.
func canManage(v *viewer.Viewer, merchantID int) bool {
	return v.System || v.IsAdmin() || v.IsMerchantMember(merchantID)
}

// productNotFound is what callers see for a product that is missing or not theirs.
func productNotFound() error { return apperror.NotFoundf("product not found") }

// variantNotFound is what callers see for a variant that is missing or not theirs.
func variantNotFound() error { return apperror.NotFoundf("product variant not found") }

// managedProduct reads a product the viewer manages, or NOT_FOUND. With lock, the row
// stays locked until the transaction ends (MySQL), so its state cannot change under a
// check-then-write.
func managedProduct(ctx context.Context, db *ent.Client, id int, lock bool) (*ent.Product, error) {
	q := db.Product.Query().Where(product.ID(id))
	if lock {
		q.Where(hooks.LockRows)
	}
	p, err := q.Only(ctx)
	if ent.IsNotFound(err) || (err == nil && !canManage(viewer.FromContext(ctx), p.MerchantID)) {
		return nil, productNotFound()
	}
	return p, err
}

// managedVariant reads a variant the viewer manages, or NOT_FOUND.
func managedVariant(ctx context.Context, db *ent.Client, id int) (*ent.ProductVariant, error) {
	pv, err := db.ProductVariant.Get(ctx, id)
	if ent.IsNotFound(err) || (err == nil && !canManage(viewer.FromContext(ctx), pv.MerchantID)) {
		return nil, variantNotFound()
	}
	return pv, err
}

// lockedVariant re-reads a variant with a locking read, after its product was locked, so
// its stock is the latest committed one and stays so until the transaction ends.
func lockedVariant(ctx context.Context, db *ent.Client, id int) (*ent.ProductVariant, error) {
	pv, err := db.ProductVariant.Query().Where(productvariant.ID(id), hooks.LockRows).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, variantNotFound()
	}
	return pv, err
}

// scopeMerchant decides which merchant's catalog a call acts on: staff act on their own
// (naming another is NOT_FOUND); admins must name one.
func scopeMerchant(ctx context.Context, db *ent.Client, requested *int) (int, error) {
	v := viewer.FromContext(ctx)
	member := v.IsMerchantMember(v.MerchantID)
	switch {
	case requested == nil && member:
		return v.MerchantID, nil
	case requested == nil && (v.IsAdmin() || v.System):
		return 0, apperror.BadInput("merchantID", "is required for admins")
	case requested == nil:
		return 0, apperror.New(apperror.Forbidden, "only merchant staff and admins manage catalogs")
	case v.IsAdmin() || v.System:
		ok, err := db.Merchant.Query().Where(merchant.ID(*requested)).Exist(viewer.SystemContext(ctx))
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, apperror.NotFoundf("merchant not found")
		}
		return *requested, nil
	case member && *requested == v.MerchantID:
		return v.MerchantID, nil
	}
	return 0, apperror.NotFoundf("merchant not found")
}
