package seed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/reviews"
	"github.com/xiadan/xiadan/internal/viewer"
)

// reviewSeed is the random stream of the demo reviews, apart from the catalogue's.
const reviewSeed = 20250603

// demoReviewTexts are what the demo customers say, by stars (index 0: 1 star).
var demoReviewTexts = [5][]string{
	{"质量太差，和描述不符。", "Not as described, poor quality."},
	{"一般般，包装有破损。", "So-so; the box was damaged."},
	{"还可以，对得起这个价格。", "Fine for the price."},
	{"不错，物流很快，会回购。", "Good, fast delivery, will buy again.", "东西挺好的，就是颜色比图片深一点。"},
	{"非常满意！做工精致，包装用心。", "Excellent, beautifully made.", "第二次购买了，一如既往的好。", "物流超快，隔天就到了，推荐！"},
}

var demoReviewTags = []string{"物流快", "质量好", "包装好", "性价比高", "服务好", "Fast delivery"}

// seedReviews gives the demo its reviews: the demo customers review the lines of their
// received tea-house orders through internal/reviews (as the API does: events, ratings),
// the owner replies to one, and the ACTIVE products of the demo merchants get a few
// reviews of earlier (imagined) orders each, so ratings show everywhere. Returns how many
// reviews it wrote.
func (s *seeder) seedReviews(ctx context.Context, client *ent.Client) (int, error) {
	ctx = viewer.SystemContext(ctx)
	svc := reviews.New(reviews.Config{Window: 15 * 24 * time.Hour, FollowUpWindow: 180 * 24 * time.Hour}, nil)
	written := 0
	// 1. Real reviews of the demo orders the customers have received.
	items, err := client.OrderItem.Query().
		Where(orderitem.HasOrderWith(order.StatusIn(order.StatusDELIVERED, order.StatusFULFILLED, order.StatusCOMPLETED))).
		WithOrder().Order(orderitem.ByID()).All(ctx)
	if err != nil {
		return 0, err
	}
	var first *ent.Review
	for i, it := range items {
		u, err := client.User.Get(ctx, it.Edges.Order.CustomerID)
		if err != nil {
			return written, err
		}
		stars := 5 - i%2
		texts := demoReviewTexts[stars-1]
		var r *ent.Review
		err = inTx(viewer.NewContext(ctx, auth.ViewerOf(u)), client, func(ctx context.Context, tx *ent.Client) error {
			var err error
			r, err = svc.Create(ctx, tx, reviews.CreateInput{OrderItemID: it.ID, Rating: stars, Body: texts[i%len(texts)],
				Anonymous: i%3 == 1, Tags: []string{demoReviewTags[i%len(demoReviewTags)]}})
			return err
		})
		if err != nil {
			return written, fmt.Errorf("review of order line %d: %w", it.ID, err)
		}
		if first == nil {
			first = r
		}
		written++
	}
	if first != nil {
		owner, err := client.Merchant.Query().Where(merchant.ID(first.MerchantID)).QueryOwner().Only(ctx)
		if err != nil {
			return written, err
		}
		err = inTx(viewer.NewContext(ctx, auth.ViewerOf(owner)), client, func(ctx context.Context, tx *ent.Client) error {
			_, err := svc.Reply(ctx, tx, first.ID, "感谢您的支持，期待再次光临！Thank you, see you again!")
			return err
		})
		if err != nil {
			return written, fmt.Errorf("reply to review %d: %w", first.ID, err)
		}
	}

	// 2. Earlier reviews of the demo products, written directly and then counted.
	var authors []*ent.User
	for _, p := range customers {
		u, err := client.User.Query().Where(user.Email(p.email)).Only(ctx)
		if err != nil {
			return written, err
		}
		authors = append(authors, u)
	}
	products, err := client.Product.Query().
		Where(product.StatusEQ(product.StatusACTIVE), product.HasMerchantWith(merchant.StatusEQ(merchant.StatusACTIVE))).
		Order(product.ByID()).All(ctx)
	if err != nil {
		return written, err
	}
	rng := rand.New(rand.NewPCG(reviewSeed, reviewSeed))
	var bulk []*ent.ReviewCreate
	var productIDs []int
	merchants := map[int]bool{}
	for _, p := range products {
		n := rng.IntN(7) // 0 to 6 reviews
		if n == 0 {
			continue
		}
		productIDs = append(productIDs, p.ID)
		merchants[p.MerchantID] = true
		for k := range n {
			stars := []int{5, 5, 5, 5, 4, 4, 4, 3, 2, 1}[rng.IntN(10)]
			texts := demoReviewTexts[stars-1]
			a := authors[(p.ID+k)%len(authors)]
			at := s.gen.now.Add(-time.Duration(1+rng.IntN(60*24)) * time.Hour)
			c := client.Review.Create().SetProductID(p.ID).SetMerchantID(p.MerchantID).SetAuthorID(a.ID).
				SetAuthorName(a.DisplayName).SetRating(stars).SetBody(texts[rng.IntN(len(texts))]).
				SetTags([]string{demoReviewTags[rng.IntN(len(demoReviewTags))]}).
				SetAnonymous(rng.IntN(4) == 0).SetHelpfulCount(rng.IntN(12)).
				SetCreatedAt(at).SetUpdatedAt(at)
			if len(p.Images) > 0 && rng.IntN(3) == 0 {
				c.SetImages(p.Images[:1]).SetWithPhotos(true) // the demo has no customer photos: the product's
			}
			if rng.IntN(4) == 0 {
				c.SetReply("谢谢亲的评价！Thanks for your review!").SetRepliedAt(at.Add(3 * time.Hour))
			}
			bulk = append(bulk, c)
		}
	}
	for start := 0; start < len(bulk); start += 500 {
		end := min(start+500, len(bulk))
		if err := client.Review.CreateBulk(bulk[start:end]...).Exec(ctx); err != nil {
			return written, err
		}
	}
	written += len(bulk)
	merchantIDs := make([]int, 0, len(merchants))
	for id := range merchants {
		merchantIDs = append(merchantIDs, id)
	}
	// The merchants' counts include the reviews of part 1 again: Recount reads all rows.
	if err := reviews.Recount(ctx, client, productIDs, merchantIDs); err != nil {
		return written, err
	}
	return written, nil
}
