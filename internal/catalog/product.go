package catalog

import (
	"context"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/category"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/searchtoken"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/ent/translation"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// CreateProduct creates a DRAFT product with its variants, and records each variant's
// opening stock in the ledger.
func CreateProduct(ctx context.Context, db *ent.Client, in ProductInput) (*ent.Product, error) {
	merchantID, err := scopeMerchant(ctx, db, in.MerchantID)
	if err != nil {
		return nil, err
	}
	if err := mayList(ctx, db, merchantID); err != nil {
		return nil, err
	}
	title, err := checkText("title", in.Title, 1, MaxTitle)
	if err != nil {
		return nil, err
	}
	description, err := checkLongText("description", in.Description, 0, MaxDescription)
	if err != nil {
		return nil, err
	}
	kind := in.Kind
	if kind == "" {
		kind = product.KindPHYSICAL
	} else if product.KindValidator(kind) != nil {
		return nil, apperror.BadInput("kind", "is not a product kind")
	}
	images, err := resolveImages(ctx, db, in.Uploads, merchantID, 0, in.Images)
	if err != nil {
		return nil, err
	}
	attributes, err := checkAttributes(in.Attributes)
	if err != nil {
		return nil, err
	}
	if in.CategoryID != nil {
		if err := checkCategory(ctx, db, *in.CategoryID); err != nil {
			return nil, err
		}
	}
	currency, err := merchantCurrency(ctx, db, merchantID)
	if err != nil {
		return nil, err
	}
	variants, err := checkVariants(in.Variants, currency)
	if err != nil {
		return nil, err
	}
	skus := make([]string, len(variants))
	for i, v := range variants {
		skus[i] = v.sku
	}
	if i, taken, err := firstTakenSKU(ctx, db, merchantID, skus, 0); err != nil {
		return nil, err
	} else if taken {
		return nil, apperror.ConflictOn(indexed("variants", i)+".sku", "the SKU %q is already used by another variant of this merchant", skus[i])
	}
	create := db.Product.Create()
	if in.Slug != nil { // otherwise ProductSlugHook makes one from the title
		s, err := checkSlug(ctx, db, *in.Slug, 0)
		if err != nil {
			return nil, err
		}
		create.SetSlug(s)
	}
	p, err := create.
		SetMerchantID(merchantID).
		SetNillableCategoryID(in.CategoryID).
		SetTitle(title).
		SetDescription(description).
		SetKind(kind).
		SetImages(images).
		SetAttributes(attributes).
		Save(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := createVariants(ctx, db, p, variants, 0); err != nil {
		return nil, err
	}
	if in.Uploads != nil {
		if err := in.Uploads.BindProductImages(ctx, db, p.ID, images); err != nil {
			return nil, err
		}
	}
	// Read again for the aggregates the variant hook has just written.
	return db.Product.Get(ctx, p.ID)
}

// merchantCurrency is the currency merchant id sells in, which its variants are priced in.
func merchantCurrency(ctx context.Context, db *ent.Client, id int) (string, error) {
	m, err := db.Merchant.Query().Where(merchant.ID(id)).Select(merchant.FieldCurrency).Only(viewer.SystemContext(ctx))
	if err != nil {
		return "", err
	}
	return m.Currency, nil
}

// checkCategory checks that a category exists.
func checkCategory(ctx context.Context, db *ent.Client, id int) error {
	ok, err := db.Category.Query().Where(category.ID(id)).Exist(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return apperror.BadInput("categoryID", "no such category")
	}
	return nil
}

// firstTakenSKU reports the index of the first of skus already used by a variant of the
// merchant other than exceptVariant.
func firstTakenSKU(ctx context.Context, db *ent.Client, merchantID int, skus []string, exceptVariant int) (int, bool, error) {
	taken, err := db.ProductVariant.Query().
		Where(productvariant.MerchantID(merchantID), productvariant.SkuIn(skus...), productvariant.IDNEQ(exceptVariant)).
		Select(productvariant.FieldSku).
		Strings(viewer.SystemContext(ctx))
	if err != nil {
		return 0, false, err
	}
	for i, sku := range skus {
		for _, t := range taken {
			if t == sku {
				return i, true, nil
			}
		}
	}
	return 0, false, nil
}

// createVariants inserts validated variants of p, positioned from firstPosition on, with
// an INITIAL ledger entry each.
func createVariants(ctx context.Context, db *ent.Client, p *ent.Product, vs []variant, firstPosition int) ([]*ent.ProductVariant, error) {
	builders := make([]*ent.ProductVariantCreate, len(vs))
	for i, v := range vs {
		builders[i] = db.ProductVariant.Create().
			SetProductID(p.ID).
			SetMerchantID(p.MerchantID).
			SetSku(v.sku).
			SetOptions(v.options).
			SetPrice(v.price).
			SetCurrency(v.currency).
			SetStock(v.stock).
			SetLowStockThreshold(v.lowStockThreshold).
			SetPosition(firstPosition + i)
	}
	created, err := db.ProductVariant.CreateBulk(builders...).Save(ctx)
	if err != nil {
		return nil, err
	}
	movements := make([]*ent.StockMovementCreate, len(created))
	for i, pv := range created {
		movements[i] = movement(ctx, db, pv, stockmovement.KindINITIAL, 0, pv.Stock, "opening stock")
	}
	return created, db.StockMovement.CreateBulk(movements...).Exec(ctx)
}

// UpdateProduct edits a product's details. The kind changes only while it is a DRAFT:
// orders and fulfilment depend on it once the product has been on sale.
func UpdateProduct(ctx context.Context, db *ent.Client, id int, in ProductUpdate) (*ent.Product, error) {
	p, err := managedProduct(ctx, db, id, true)
	if err != nil {
		return nil, err
	}
	up := db.Product.UpdateOneID(id)
	switch {
	case in.ClearCategory && in.CategoryID != nil:
		return nil, apperror.BadInput("clearCategory", "cannot be combined with categoryID")
	case in.ClearCategory:
		up.ClearCategoryID()
	case in.CategoryID != nil:
		if err := checkCategory(ctx, db, *in.CategoryID); err != nil {
			return nil, err
		}
		up.SetCategoryID(*in.CategoryID)
	}
	if in.Title != nil {
		title, err := checkText("title", *in.Title, 1, MaxTitle)
		if err != nil {
			return nil, err
		}
		up.SetTitle(title)
	}
	if in.Description != nil {
		description, err := checkLongText("description", *in.Description, 0, MaxDescription)
		if err != nil {
			return nil, err
		}
		up.SetDescription(description)
	}
	if in.Slug != nil && *in.Slug != p.Slug {
		s, err := checkSlug(ctx, db, *in.Slug, id)
		if err != nil {
			return nil, err
		}
		up.SetSlug(s)
	}
	if in.Kind != nil && *in.Kind != p.Kind {
		if product.KindValidator(*in.Kind) != nil {
			return nil, apperror.BadInput("kind", "is not a product kind")
		}
		if p.Status != product.StatusDRAFT {
			return nil, apperror.WrongState(string(p.Status), "the kind can change only while the product is a DRAFT")
		}
		up.SetKind(*in.Kind)
	}
	if in.Images != nil {
		images, err := resolveImages(ctx, db, in.Uploads, p.MerchantID, p.ID, in.Images)
		if err != nil {
			return nil, err
		}
		up.SetImages(images)
		if in.Uploads != nil {
			if err := in.Uploads.BindProductImages(ctx, db, p.ID, images); err != nil {
				return nil, err
			}
		}
	}
	if in.Attributes != nil {
		attributes, err := checkAttributes(in.Attributes)
		if err != nil {
			return nil, err
		}
		up.SetAttributes(attributes)
	}
	return up.Save(ctx)
}

// PublishProduct puts a DRAFT or DELISTED product on sale. The merchant must be ACTIVE
// and the product must have a priced variant.
func PublishProduct(ctx context.Context, db *ent.Client, id int) (*ent.Product, error) {
	return setStatus(ctx, db, id, product.StatusACTIVE)
}

// DelistProduct takes an ACTIVE product off sale.
func DelistProduct(ctx context.Context, db *ent.Client, id int) (*ent.Product, error) {
	return setStatus(ctx, db, id, product.StatusDELISTED)
}

func setStatus(ctx context.Context, db *ent.Client, id int, to product.Status) (*ent.Product, error) {
	p, err := managedProduct(ctx, db, id, true)
	if err != nil {
		return nil, err
	}
	facts, err := loadPublishFacts(ctx, db, []*ent.Product{p}, to)
	if err != nil {
		return nil, err
	}
	if err := checkTransition(p, to, facts); err != nil {
		return nil, err
	}
	if err := applyStatus(ctx, db, []int{id}, to); err != nil {
		return nil, err
	}
	return db.Product.Get(ctx, id)
}

// publishFacts is what a transition to ACTIVE depends on besides the product itself.
type publishFacts struct {
	merchantStatus map[int]merchant.Status // by merchant id
	// listingRefused is, by merchant id, why a sanction keeps it from publishing
	// (internal/credit/standing), when one does.
	listingRefused map[int]error
	priced         map[int]bool // by product id
	// foreign marks, by product id, products with a variant priced in a currency other
	// than their merchant's (written around the catalog's checks): such a product is
	// never put on sale.
	foreign map[int]bool
}

// loadPublishFacts reads the merchants' statuses, which products have a priced variant and
// which a variant in a foreign currency, in three queries whatever the number of products.
// Nothing is needed for other transitions.
// The products are locked by the caller; their variants are read with a locking read, so
// a variant removed since the transaction's snapshot does not count.
func loadPublishFacts(ctx context.Context, db *ent.Client, ps []*ent.Product, to product.Status) (publishFacts, error) {
	facts := publishFacts{merchantStatus: map[int]merchant.Status{}, listingRefused: map[int]error{}, priced: map[int]bool{}, foreign: map[int]bool{}}
	if to != product.StatusACTIVE || len(ps) == 0 {
		return facts, nil
	}
	sys := viewer.SystemContext(ctx)
	var merchantIDs, productIDs []int
	for _, p := range ps {
		merchantIDs = append(merchantIDs, p.MerchantID)
		productIDs = append(productIDs, p.ID)
	}
	ms, err := db.Merchant.Query().Where(merchant.IDIn(merchantIDs...)).
		Select(merchant.FieldID, merchant.FieldStatus, merchant.FieldRestrictedUntil, merchant.FieldSuspendedUntil, merchant.FieldRemovedAt).
		All(sys)
	if err != nil {
		return facts, err
	}
	now := standing.Now(ctx)
	for _, m := range ms {
		facts.merchantStatus[m.ID] = m.Status
		if err := standing.ListingRefused(m, now); err != nil {
			facts.listingRefused[m.ID] = err
		}
	}
	priced, err := db.ProductVariant.Query().
		Where(productvariant.ProductIDIn(productIDs...), productvariant.PriceGT(0), hooks.LockRows).
		Unique(true).Select(productvariant.FieldProductID).Ints(sys)
	if err != nil {
		return facts, err
	}
	for _, id := range priced {
		facts.priced[id] = true
	}
	foreign, err := db.ProductVariant.Query().
		Where(productvariant.ProductIDIn(productIDs...), notInMerchantCurrency).
		Unique(true).Select(productvariant.FieldProductID).Ints(sys)
	if err != nil {
		return facts, err
	}
	for _, id := range foreign {
		facts.foreign[id] = true
	}
	return facts, nil
}

// notInMerchantCurrency keeps the variants priced in another currency than their merchant's.
func notInMerchantCurrency(s *sql.Selector) {
	t := sql.Table(merchant.Table)
	s.Where(sql.Exists(sql.Dialect(s.Dialect()).Select(t.C(merchant.FieldID)).From(t).Where(sql.And(
		sql.ColumnsEQ(t.C(merchant.FieldID), s.C(productvariant.FieldMerchantID)),
		sql.ColumnsNEQ(t.C(merchant.FieldCurrency), s.C(productvariant.FieldCurrency)),
	))))
}

// checkTransition checks that p may move to status to.
func checkTransition(p *ent.Product, to product.Status, facts publishFacts) error {
	switch to {
	case product.StatusACTIVE:
		if p.Status == product.StatusACTIVE {
			return apperror.WrongState(string(p.Status), "the product is already on sale")
		}
		if ms := facts.merchantStatus[p.MerchantID]; ms != merchant.StatusACTIVE {
			return apperror.WrongState(string(ms), "the merchant must be ACTIVE to put products on sale")
		}
		if err := facts.listingRefused[p.MerchantID]; err != nil {
			return err
		}
		if !facts.priced[p.ID] {
			return apperror.WrongState(string(p.Status), "the product needs a variant with a price to go on sale")
		}
		if facts.foreign[p.ID] {
			return apperror.WrongState(string(p.Status),
				"a variant is priced in another currency than the merchant's; remove it and add it again in the merchant's currency")
		}
	case product.StatusDELISTED:
		if p.Status != product.StatusACTIVE {
			return apperror.WrongState(string(p.Status), "only products on sale (ACTIVE) can be delisted")
		}
	default:
		return apperror.BadInput("status", "products move to ACTIVE or DELISTED; only new products are DRAFT")
	}
	return nil
}

// applyStatus moves products ids, already checked, to status to; the first publication
// sets published_at.
func applyStatus(ctx context.Context, db *ent.Client, ids []int, to product.Status) error {
	if len(ids) == 0 {
		return nil
	}
	if err := db.Product.Update().Where(product.IDIn(ids...)).SetStatus(to).Exec(ctx); err != nil {
		return err
	}
	if to != product.StatusACTIVE {
		return nil
	}
	return db.Product.Update().
		Where(product.IDIn(ids...), product.PublishedAtIsNil()).
		SetPublishedAt(time.Now().UTC().Truncate(time.Microsecond)).
		Exec(ctx)
}

// DeleteProduct deletes a DRAFT product with its variants, their ledger and its search
// tokens. Products that have been on sale are delisted instead: orders refer to them.
func DeleteProduct(ctx context.Context, db *ent.Client, id int) (int, error) {
	p, err := managedProduct(ctx, db, id, true)
	if err != nil {
		return 0, err
	}
	if p.Status != product.StatusDRAFT {
		return 0, apperror.WrongState(string(p.Status), "only DRAFT products can be deleted; delist it instead")
	}
	variantIDs, err := db.ProductVariant.Query().Where(productvariant.ProductID(id)).IDs(ctx)
	if err != nil {
		return 0, err
	}
	// The ledger and the search index are written only by the catalog itself, so their
	// rows go with the product by the catalog's authority, not the caller's.
	allow := privacy.DecisionContext(ctx, privacy.Allow)
	if len(variantIDs) > 0 {
		if _, err := db.StockMovement.Delete().Where(stockmovement.VariantIDIn(variantIDs...)).Exec(allow); err != nil {
			return 0, err
		}
		if _, err := db.ProductVariant.Delete().Where(productvariant.ProductID(id)).Exec(ctx); err != nil {
			return 0, err
		}
	}
	if _, err := db.SearchToken.Delete().Where(searchtoken.ProductID(id)).Exec(allow); err != nil {
		return 0, err
	}
	// Its translations (internal/i18n) too.
	if _, err := db.Translation.Delete().Where(translation.EntityTypeEQ(translation.EntityTypePRODUCT), translation.EntityIDEQ(id)).Exec(allow); err != nil {
		return 0, err
	}
	if err := db.Product.DeleteOneID(id).Exec(ctx); err != nil {
		return 0, err
	}
	return id, nil
}

// mayList refuses new listings of a merchant under a restriction, suspension or removal
// (internal/credit): INVALID_STATE with reason MERCHANT_SANCTIONED.
func mayList(ctx context.Context, db *ent.Client, merchantID int) error {
	m, err := db.Merchant.Query().Where(merchant.ID(merchantID)).
		Select(merchant.FieldID, merchant.FieldRestrictedUntil, merchant.FieldSuspendedUntil, merchant.FieldRemovedAt).
		Only(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	return standing.ListingRefused(m, standing.Now(ctx))
}
