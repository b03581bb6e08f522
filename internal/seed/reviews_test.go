package seed_test

import (
	"context"
	"testing"

	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/review"
	"github.com/xiadan/xiadan/internal/viewer"
)

// TestDemoReviews: the demo has reviews — of its received orders (with their events and
// a reply) and of most products — and every product's and merchant's ratings agree with
// its reviews, so the storefront shows ratings that add up.
func TestDemoReviews(t *testing.T) {
	t.Parallel()
	client, sum := demo(t)
	ctx := viewer.SystemContext(context.Background())
	all := client.Review.Query().AllX(ctx)
	if len(all) != sum.Reviews || len(all) < 100 {
		t.Fatalf("%d reviews, summary says %d", len(all), sum.Reviews)
	}
	if n := client.Review.Query().Where(review.OrderItemIDNotNil()).CountX(ctx); n < 3 {
		t.Errorf("%d reviews of demo orders, want at least 3", n)
	}
	if n := client.OrderEvent.Query().Where(orderevent.TypeEQ(orderevent.TypeREVIEW_CREATED)).CountX(ctx); n < 3 {
		t.Errorf("%d REVIEW_CREATED events", n)
	}
	if n := client.Review.Query().Where(review.RepliedAtNotNil()).CountX(ctx); n == 0 {
		t.Error("no review is replied to")
	}
	type agg struct{ count, sum, photos int }
	byProduct, byMerchant := map[int]agg{}, map[int]agg{}
	for _, r := range all {
		p, m := byProduct[r.ProductID], byMerchant[r.MerchantID]
		p.count, p.sum, m.count, m.sum = p.count+1, p.sum+r.Rating, m.count+1, m.sum+r.Rating
		if r.WithPhotos {
			p.photos, m.photos = p.photos+1, m.photos+1
		}
		byProduct[r.ProductID], byMerchant[r.MerchantID] = p, m
	}
	rated := 0
	for _, p := range client.Product.Query().Where(product.StatusEQ(product.StatusACTIVE)).AllX(ctx) {
		want := byProduct[p.ID]
		if p.RatingCount != want.count || p.RatingSum != want.sum || p.RatingWithPhotos != want.photos ||
			p.Rating1+p.Rating2+p.Rating3+p.Rating4+p.Rating5 != want.count {
			t.Errorf("product %d: count %d sum %d photos %d, reviews say %+v", p.ID, p.RatingCount, p.RatingSum, p.RatingWithPhotos, want)
		}
		if p.RatingCount > 0 {
			rated++
		}
	}
	if rated < 10 {
		t.Errorf("%d products rated", rated)
	}
	for _, m := range client.Merchant.Query().AllX(ctx) {
		if want := byMerchant[m.ID]; m.RatingCount != want.count || m.RatingSum != want.sum {
			t.Errorf("merchant %s: count %d sum %d, reviews say %+v", m.Slug, m.RatingCount, m.RatingSum, want)
		}
	}
}
