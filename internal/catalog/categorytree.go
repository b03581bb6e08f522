package catalog

import "github.com/xiadan/xiadan/ent/predicate"

// InCategoryTree keeps the products of category id or of any category below it, in one
// statement (see inCategoryTree); internal/recommend narrows "trending" with it.
func InCategoryTree(id int) predicate.Product { return inCategoryTree(id) }
