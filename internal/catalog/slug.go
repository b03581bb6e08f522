package catalog

import (
	"context"
	"strings"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/slug"
	"github.com/xiadan/xiadan/internal/viewer"
)

// ReasonSlugTaken is the extensions.reason of a CONFLICT over a slug another product has.
const ReasonSlugTaken = "SLUG_TAKEN"

// checkSlug validates a slug a merchant chose for product id (0 for a new product): its
// form, then that no other product holds it. Slugs are unique across the platform, so a
// hidden product of another merchant holds its slug too; the answer names no product.
func checkSlug(ctx context.Context, db *ent.Client, s string, id int) (string, error) {
	s = strings.TrimSpace(s)
	if !slug.Valid(s) {
		return "", apperror.BadInput("slug", "must be 1 to %d lower-case letters, digits and single hyphens, such as xi-hu-long-jing", slug.MaxLen)
	}
	taken, err := db.Product.Query().Where(product.Slug(s), product.IDNEQ(id)).Exist(viewer.SystemContext(ctx))
	if err != nil {
		return "", err
	}
	if taken {
		e := apperror.ConflictOn("slug", "the slug %q is taken; choose another", s)
		e.Extensions = map[string]any{"reason": ReasonSlugTaken}
		return "", e
	}
	return s, nil
}
