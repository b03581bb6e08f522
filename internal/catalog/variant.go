package catalog

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/cartline"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
)

// siblings reads the variants of product productID other than exceptVariant, in position
// order. Callers hold the product's lock; the locking read sees variants committed since
// the transaction's snapshot (MySQL), so no sibling escapes the checks.
func siblings(ctx context.Context, db *ent.Client, productID, exceptVariant int) ([]*ent.ProductVariant, error) {
	return db.ProductVariant.Query().
		Where(productvariant.ProductID(productID), productvariant.IDNEQ(exceptVariant), hooks.LockRows).
		Order(productvariant.ByPosition(), productvariant.ByID()).
		All(ctx)
}

// checkFitsSiblings checks that options suit a product whose other variants are others.
func checkFitsSiblings(field string, opts []schematype.OptionValue, others []*ent.ProductVariant) error {
	sets := make([][]schematype.OptionValue, len(others))
	names := make([]string, len(others))
	for i, o := range others {
		sets[i] = o.Options
		names[i] = "the variant " + o.Sku
	}
	return checkOptionsFit(field, opts, sets, names)
}

// AddProductVariant adds a variant to a product and records its opening stock.
func AddProductVariant(ctx context.Context, db *ent.Client, productID int, in VariantInput) (*ent.ProductVariant, error) {
	p, err := managedProduct(ctx, db, productID, true)
	if err != nil {
		return nil, err
	}
	currency, err := merchantCurrency(ctx, db, p.MerchantID)
	if err != nil {
		return nil, err
	}
	v, err := checkVariant("", in, currency)
	if err != nil {
		return nil, err
	}
	others, err := siblings(ctx, db, productID, 0)
	if err != nil {
		return nil, err
	}
	if len(others) >= MaxVariants {
		return nil, apperror.BadInput("productID", "already has the most variants a product may have (%d)", MaxVariants)
	}
	if len(others) > 0 && v.currency != others[0].Currency {
		return nil, apperror.BadInput("currency", "must be %s, as for every variant of the product", others[0].Currency)
	}
	if err := checkFitsSiblings("options", v.options, others); err != nil {
		return nil, err
	}
	if _, taken, err := firstTakenSKU(ctx, db, p.MerchantID, []string{v.sku}, 0); err != nil {
		return nil, err
	} else if taken {
		return nil, apperror.ConflictOn("sku", "the SKU %q is already used by another variant of this merchant", v.sku)
	}
	position := 0
	for _, o := range others {
		position = max(position, o.Position+1)
	}
	created, err := createVariants(ctx, db, p, []variant{v}, position)
	if err != nil {
		return nil, err
	}
	return created[0], nil
}

// UpdateProductVariant edits a variant's SKU, options, price and low-stock threshold.
func UpdateProductVariant(ctx context.Context, db *ent.Client, id int, in VariantUpdate) (*ent.ProductVariant, error) {
	pv, err := managedVariant(ctx, db, id)
	if err != nil {
		return nil, err
	}
	// Lock the product first, in the hook's order, so no sibling changes under the checks.
	if err := hooks.LockProducts(ctx, db, pv.ProductID); err != nil {
		return nil, err
	}
	up := db.ProductVariant.UpdateOneID(id)
	if in.SKU != nil {
		sku, err := checkSKU("sku", *in.SKU)
		if err != nil {
			return nil, err
		}
		if _, taken, err := firstTakenSKU(ctx, db, pv.MerchantID, []string{sku}, id); err != nil {
			return nil, err
		} else if taken {
			return nil, apperror.ConflictOn("sku", "the SKU %q is already used by another variant of this merchant", sku)
		}
		up.SetSku(sku)
	}
	if in.Options != nil {
		opts, err := checkOptions("options", in.Options)
		if err != nil {
			return nil, err
		}
		others, err := siblings(ctx, db, pv.ProductID, id)
		if err != nil {
			return nil, err
		}
		if err := checkFitsSiblings("options", opts, others); err != nil {
			return nil, err
		}
		up.SetOptions(opts)
	}
	if in.Price != nil {
		price, err := checkPrice("price", *in.Price, pv.Currency)
		if err != nil {
			return nil, err
		}
		up.SetPrice(price)
	}
	if in.LowStockThreshold != nil {
		if *in.LowStockThreshold < 0 || *in.LowStockThreshold > MaxStock {
			return nil, apperror.BadInput("lowStockThreshold", "must be between 0 and %d", MaxStock)
		}
		up.SetLowStockThreshold(*in.LowStockThreshold)
	}
	return up.Save(ctx)
}

// RemoveProductVariant deletes a variant and returns its product. A product on sale keeps
// at least one variant.
//
// The variant's ledger rows are deleted with it: the ledger's variant reference is
// required, so rows cannot outlive their variant. That is acceptable while nothing else
// refers to the ledger; once orders reserve stock (issue 4), variants that have been
// ordered should be archived rather than deleted, which needs a schema change.
func RemoveProductVariant(ctx context.Context, db *ent.Client, id int) (*ent.Product, error) {
	pv, err := managedVariant(ctx, db, id)
	if err != nil {
		return nil, err
	}
	p, err := managedProduct(ctx, db, pv.ProductID, true)
	if err != nil {
		return nil, err
	}
	if p.Status == product.StatusACTIVE {
		n, err := db.ProductVariant.Query().Where(productvariant.ProductID(p.ID), hooks.LockRows).Count(ctx)
		if err != nil {
			return nil, err
		}
		if n <= 1 {
			return nil, apperror.WrongState(string(p.Status), "a product on sale keeps at least one variant; delist it first")
		}
	}
	allow := privacy.DecisionContext(ctx, privacy.Allow)
	if ordered, err := db.OrderItem.Query().Where(orderitem.VariantID(id)).Exist(allow); err != nil {
		return nil, err
	} else if ordered {
		return nil, apperror.ConflictOn("id", "this variant has been ordered and is kept for its orders; set its stock to 0 instead")
	}
	// Customers' carts let go of it.
	if _, err := db.CartLine.Delete().Where(cartline.VariantID(id)).Exec(allow); err != nil {
		return nil, err
	}
	if _, err := db.StockMovement.Delete().Where(stockmovement.VariantID(id)).Exec(allow); err != nil {
		return nil, err
	}
	if err := db.ProductVariant.DeleteOneID(id).Exec(ctx); err != nil {
		return nil, err
	}
	return db.Product.Get(ctx, p.ID)
}
