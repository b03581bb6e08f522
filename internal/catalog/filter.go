package catalog

import "github.com/xiadan/xiadan/ent/product"

// ProductFilter is the storefront's product filter (GraphQL input ProductFilter).
type ProductFilter struct {
	MerchantID *int
	CategoryID *int
	Kind       *product.Kind
	MinPrice   *string
	MaxPrice   *string
	InStock    *bool
	Keyword    *string
	Status     *product.Status
}
