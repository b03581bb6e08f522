package reviews

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/review"
	"github.com/xiadan/xiadan/internal/viewer"
)

// CloseReviewFilters is a field middleware that keeps product filters from learning of
// hidden reviews. A product's where input reaches reviews through hasReviews and
// hasReviewsWith, which run as subqueries the Review privacy rule never sees; so for
// everyone but admins every such subquery is narrowed to reviews that are not hidden,
// wherever the where input is taken (Category.products, Merchant.products, and product
// filters nested in variant filters).
func CloseReviewFilters(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || len(fc.Args) == 0 || viewer.FromContext(ctx).IsAdmin() {
		return next(ctx)
	}
	for _, a := range fc.Args {
		switch w := a.(type) {
		case *ent.ProductWhereInput:
			closeProduct(w)
		case *ent.ProductVariantWhereInput:
			closeVariant(w)
		}
	}
	return next(ctx)
}

// shownFilter is a review filter that only a review shown to the public passes.
func shownFilter() *ent.ReviewWhereInput {
	w := &ent.ReviewWhereInput{}
	w.AddPredicates(review.Hidden(false))
	return w
}

func closeProduct(w *ent.ProductWhereInput) {
	if w == nil {
		return
	}
	for _, r := range w.HasReviewsWith {
		if r != nil {
			r.AddPredicates(review.Hidden(false))
		}
	}
	closeProduct(w.Not)
	for _, x := range w.And {
		closeProduct(x)
	}
	for _, x := range w.Or {
		closeProduct(x)
	}
	for _, v := range w.HasVariantsWith {
		closeVariant(v)
	}
	// After the walk, so the filter added here is not narrowed twice.
	if w.HasReviews != nil {
		has := &ent.ProductWhereInput{HasReviewsWith: []*ent.ReviewWhereInput{shownFilter()}}
		if !*w.HasReviews {
			has = &ent.ProductWhereInput{Not: has}
		}
		w.HasReviews = nil
		w.And = append(w.And, has)
	}
}

func closeVariant(w *ent.ProductVariantWhereInput) {
	if w == nil {
		return
	}
	closeVariant(w.Not)
	for _, x := range w.And {
		closeVariant(x)
	}
	for _, x := range w.Or {
		closeVariant(x)
	}
	for _, p := range w.HasProductWith {
		closeProduct(p)
	}
}
