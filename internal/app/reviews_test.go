package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/auditlog"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/review"
	"github.com/xiadan/xiadan/ent/reviewvote"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/reviews"
	"github.com/xiadan/xiadan/internal/testdb"
)

// Tests of reviews (internal/reviews, docs/REVIEWS.md): the review-and-reply story over
// GraphQL, the rules and their error codes, the default-review job, and reviews raced on
// MySQL — every review counted in the product's and merchant's ratings.

const reviewFields = `id rating body tags anonymous isDefault withPhotos helpfulCount hidden hiddenReason
  reply repliedAt followUp followedUpAt images { url } followUpImages { url }
  author { displayName anonymous isViewer } product { id }`

const ratingFields = `ratingSummary { average count withPhotosCount distribution { stars count } }`

// reviewJSON is a review as the tests decode it.
type reviewJSON struct {
	ID, Body                         string
	Rating, HelpfulCount             int
	Tags                             []string
	Anonymous, IsDefault, WithPhotos bool
	Hidden                           bool
	HiddenReason                     string
	Reply, FollowUp                  *string
	Images, FollowUpImages           []struct{ URL string }
	Author                           struct {
		DisplayName         string
		Anonymous, IsViewer bool
	}
}

type ratingJSON struct {
	Average         float64
	Count           int
	WithPhotosCount int
	Distribution    []struct{ Stars, Count int }
}

// summaryOf reads the rating summary of a product (or, with merchant, a merchant) as
// anyone sees it.
func summaryOf(t *testing.T, s *apitest.Server, kind, id string) ratingJSON {
	t.Helper()
	r := s.MustQuery("", fmt.Sprintf(`query($id: ID!) { node(id: $id) { ... on %s { %s } } }`, kind, ratingFields),
		map[string]any{"id": id})
	var out struct {
		Node struct{ RatingSummary ratingJSON }
	}
	r.Decode(t, &out)
	return out.Node.RatingSummary
}

func stars(r ratingJSON) string {
	var b strings.Builder
	for _, d := range r.Distribution {
		fmt.Fprintf(&b, "%d:%d ", d.Stars, d.Count)
	}
	return strings.TrimSpace(b.String())
}

func decodeReview(t *testing.T, r *apitest.Response, field string) reviewJSON {
	t.Helper()
	var out map[string]reviewJSON
	r.Decode(t, &out)
	return out[field]
}

const createReviewQ = `mutation($i: CreateReviewInput!) { createReview(input: $i) { ` + reviewFields + ` } }`

// TestReviewAndReplyStory: a customer buys, gets the parcel, reviews the line with photos
// and anonymously; the merchant replies (once); another customer finds it helpful and
// reports it; an admin hides it (the ratings drop, the public no longer sees it, its
// author does, flagged) and restores it; the author adds a follow-up. The merchant,
// the public and the events never learn the anonymous author.
func TestReviewAndReplyStory(t *testing.T) {
	t.Parallel()
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, _ *apitest.Clock) {
		w := newEvShop(t, s)
		admin := s.NewAdmin(t, "admin@example.com")
		orderID, _, checkout := w.place(t, w.buyer.AccessToken, w.tea, "story")
		w.pay(t, w.buyer.AccessToken, checkout, "story")
		w.deliver(t, w.acceptAndShip(t, orderID))
		var o struct {
			Order struct {
				Status string
				Items  []struct{ ID string }
			}
		}
		s.MustQuery(w.buyer.AccessToken, `query($id: ID!) { order(id: $id) { status items { id } } }`,
			map[string]any{"id": orderID}).Decode(t, &o)
		if o.Order.Status != "DELIVERED" || len(o.Order.Items) != 1 {
			t.Fatalf("order: %+v", o.Order)
		}
		line := o.Order.Items[0].ID
		productID := strconv.Itoa(productOfVariant(t, s, w.tea))

		var photos []string
		for i := range 2 {
			r := multipartUpload(t, s, w.buyer.AccessToken, `mutation($file: Upload!) { uploadFile(file: $file, purpose: REVIEW_PHOTO) { id } }`,
				map[string]any{}, fmt.Sprintf("p%d.png", i), "image/png", testPNG(t, 40, 30))
			var up struct{ UploadFile struct{ ID string } }
			r.Decode(t, &up)
			photos = append(photos, up.UploadFile.ID)
		}

		// Before: nobody but the buyer may review; the input is checked field by field.
		for _, tc := range []struct {
			name, token string
			input       map[string]any
			code, field string
		}{
			{"another customer", w.other.AccessToken, map[string]any{"rating": 5}, "NOT_FOUND", "orderItemID"},
			{"the merchant", w.a.Owner.AccessToken, map[string]any{"rating": 5}, "NOT_FOUND", "orderItemID"},
			{"no stars", w.buyer.AccessToken, map[string]any{"rating": 0}, "BAD_USER_INPUT", "rating"},
			{"six stars", w.buyer.AccessToken, map[string]any{"rating": 6}, "BAD_USER_INPUT", "rating"},
			{"long text", w.buyer.AccessToken, map[string]any{"rating": 5, "body": strings.Repeat("好", reviews.MaxBody+1)}, "BAD_USER_INPUT", "body"},
			{"ten photos", w.buyer.AccessToken, map[string]any{"rating": 5, "photoUploadIDs": []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}}, "BAD_USER_INPUT", "photoUploadIDs"},
			{"long tag", w.buyer.AccessToken, map[string]any{"rating": 5, "tags": []string{strings.Repeat("快", 17)}}, "BAD_USER_INPUT", "tags[0]"},
		} {
			in := map[string]any{"orderItemID": line}
			for k, v := range tc.input {
				in[k] = v
			}
			r := s.Query(tc.token, createReviewQ, map[string]any{"i": in})
			if r.Code() != tc.code || r.Field() != tc.field {
				t.Errorf("%s: got %s %s, want %s %s: %s", tc.name, r.Code(), r.Field(), tc.code, tc.field, r.Raw)
			}
		}

		r := s.MustQuery(w.buyer.AccessToken, createReviewQ, map[string]any{"i": map[string]any{"orderItemID": line, "rating": 4,
			"body": "茶香浓郁，物流很快。", "photoUploadIDs": photos, "anonymous": true, "tags": []string{"物流快", "质量好"}}})
		mine := decodeReview(t, r, "createReview")
		if mine.Rating != 4 || !mine.WithPhotos || len(mine.Images) != 2 || !mine.Anonymous || mine.IsDefault ||
			mine.Author.DisplayName != "Buyer" || !mine.Author.IsViewer || strings.Join(mine.Tags, ",") != "物流快,质量好" {
			t.Fatalf("the author's review: %+v", mine)
		}
		if r := s.Query(w.buyer.AccessToken, createReviewQ, map[string]any{"i": map[string]any{"orderItemID": line, "rating": 1}}); r.Code() != "CONFLICT" ||
			r.Errors[0].Extensions["reason"] != "ALREADY_REVIEWED" {
			t.Errorf("second review: %s", r.Raw)
		}
		// The photos are public once bound, at their stable address.
		if status, _, _ := fetchFile(t, mine.Images[0].URL); status != 200 {
			t.Errorf("photo %s: HTTP %d", mine.Images[0].URL, status)
		}

		// Everyone but the author and admins sees the masked name.
		nodeQ := `query($id: ID!) { node(id: $id) { ... on Review { ` + reviewFields + ` } } }`
		for who, token := range map[string]string{"merchant": w.a.Owner.AccessToken, "other": w.other.AccessToken, "public": ""} {
			got := decodeReview(t, s.MustQuery(token, nodeQ, map[string]any{"id": mine.ID}), "node")
			if got.Author.DisplayName != reviews.Masked || got.Author.IsViewer || !got.Author.Anonymous {
				t.Errorf("%s sees the author as %+v", who, got.Author)
			}
		}
		if got := decodeReview(t, s.MustQuery(admin.AccessToken, nodeQ, map[string]any{"id": mine.ID}), "node"); got.Author.DisplayName != "Buyer" {
			t.Errorf("admin sees the author as %+v", got.Author)
		}
		want := "1:0 2:0 3:0 4:1 5:0"
		for kind, id := range map[string]string{"Product": productID, "Merchant": w.a.ID} {
			if sum := summaryOf(t, s, kind, id); sum.Count != 1 || sum.Average != 4 || sum.WithPhotosCount != 1 || stars(sum) != want {
				t.Errorf("%s rating after the review: %+v", kind, sum)
			}
		}

		// The merchant replies once; other merchants cannot.
		replyQ := `mutation($id: ID!, $b: String!) { replyToReview(reviewID: $id, body: $b) { ` + reviewFields + ` } }`
		if r := s.Query(w.b.Owner.AccessToken, replyQ, map[string]any{"id": mine.ID, "b": "hi"}); r.Code() != "NOT_FOUND" {
			t.Errorf("another merchant's reply: %s", r.Raw)
		}
		if r := s.Query(w.a.Owner.AccessToken, replyQ, map[string]any{"id": mine.ID, "b": " "}); r.Code() != "BAD_USER_INPUT" || r.Field() != "body" {
			t.Errorf("empty reply: %s", r.Raw)
		}
		got := decodeReview(t, s.MustQuery(w.a.Owner.AccessToken, replyQ, map[string]any{"id": mine.ID, "b": "谢谢支持！"}), "replyToReview")
		if got.Reply == nil || *got.Reply != "谢谢支持！" || got.Author.DisplayName != reviews.Masked {
			t.Errorf("reply: %+v", got)
		}
		if r := s.Query(w.a.Owner.AccessToken, replyQ, map[string]any{"id": mine.ID, "b": "again"}); r.Code() != "CONFLICT" {
			t.Errorf("second reply: %s", r.Raw)
		}

		// Helpful: one mark per person, repeatable, withdrawable.
		helpfulQ := `mutation($id: ID!, $h: Boolean!) { markReviewHelpful(reviewID: $id, helpful: $h) { helpfulCount } }`
		for i, h := range []bool{true, true, false, false, true} {
			var out struct{ MarkReviewHelpful struct{ HelpfulCount int } }
			s.MustQuery(w.other.AccessToken, helpfulQ, map[string]any{"id": mine.ID, "h": h}).Decode(t, &out)
			want := map[bool]int{true: 1, false: 0}[h]
			if out.MarkReviewHelpful.HelpfulCount != want {
				t.Errorf("helpful step %d (%v): count %d", i, h, out.MarkReviewHelpful.HelpfulCount)
			}
		}
		// Reports: once per person; admins see the reported review.
		reportQ := `mutation($id: ID!, $r: String!) { reportReview(reviewID: $id, reason: $r) { id } }`
		s.MustQuery(w.other.AccessToken, reportQ, map[string]any{"id": mine.ID, "r": "广告"})
		if r := s.Query(w.other.AccessToken, reportQ, map[string]any{"id": mine.ID, "r": "again"}); r.Code() != "CONFLICT" {
			t.Errorf("second report: %s", r.Raw)
		}
		modQ := `query($h: Boolean) { reviewsForModeration(hidden: $h) { totalCount nodes { id } } }`
		if r := s.Query(w.other.AccessToken, modQ, nil); r.Code() != "FORBIDDEN" {
			t.Errorf("moderation queue as a customer: %s", r.Raw)
		}
		if r := s.MustQuery(admin.AccessToken, modQ, nil); !r.Contains(`"id":"` + mine.ID + `"`) {
			t.Errorf("moderation queue: %s", r.Raw)
		}

		// Hidden: out of the ratings, lists and node(id:) for the public; the author sees it.
		hideQ := `mutation($id: ID!, $r: String!) { hideReview(reviewID: $id, reason: $r) { hidden hiddenReason } }`
		if r := s.Query(w.a.Owner.AccessToken, hideQ, map[string]any{"id": mine.ID, "r": "x"}); r.Code() != "FORBIDDEN" {
			t.Errorf("merchant hides: %s", r.Raw)
		}
		if r := s.Query(admin.AccessToken, hideQ, map[string]any{"id": mine.ID, "r": ""}); r.Code() != "BAD_USER_INPUT" || r.Field() != "reason" {
			t.Errorf("hide without a reason: %s", r.Raw)
		}
		s.MustQuery(admin.AccessToken, hideQ, map[string]any{"id": mine.ID, "r": "含广告"})
		if r := s.Query(admin.AccessToken, hideQ, map[string]any{"id": mine.ID, "r": "again"}); r.Code() != "INVALID_STATE" {
			t.Errorf("hide twice: %s", r.Raw)
		}
		for kind, id := range map[string]string{"Product": productID, "Merchant": w.a.ID} {
			if sum := summaryOf(t, s, kind, id); sum.Count != 0 || sum.Average != 0 || sum.WithPhotosCount != 0 || stars(sum) != "1:0 2:0 3:0 4:0 5:0" {
				t.Errorf("%s rating after hiding: %+v", kind, sum)
			}
		}
		listQ := `query($p: ID!) { product(id: $p) { reviews(first: 10) { totalCount nodes { id hidden } } } }`
		for who, token := range map[string]string{"merchant": w.a.Owner.AccessToken, "public": ""} {
			if r := s.MustQuery(token, listQ, map[string]any{"p": productID}); !r.Contains(`"totalCount":0`) {
				t.Errorf("%s lists the hidden review: %s", who, r.Raw)
			}
			if r := s.MustQuery(token, nodeQ, map[string]any{"id": mine.ID}); !r.Contains(`"node":null`) {
				t.Errorf("%s reads the hidden review: %s", who, r.Raw)
			}
			if r := s.Query(token, helpfulQ, map[string]any{"id": mine.ID, "h": true}); token != "" && r.Code() != "NOT_FOUND" {
				t.Errorf("%s marks the hidden review: %s", who, r.Raw)
			}
		}
		// Nor can a product filter learn of it: hasReviews and hasReviewsWith see only shown
		// reviews, except for admins.
		filterQ := `query($m: ID!, $w: ProductWhereInput) { merchant(id: $m) { products(first: 20, where: $w) { totalCount } } }`
		for _, f := range []map[string]any{{"hasReviews": true}, {"hasReviewsWith": []any{map[string]any{"ratingGTE": 1}}},
			{"not": map[string]any{"hasReviews": false}}, {"or": []any{map[string]any{"hasReviews": true}, map[string]any{"titleContains": "no such title"}}}} {
			vars := map[string]any{"m": w.a.ID, "w": f}
			for who, token := range map[string]string{"merchant": w.a.Owner.AccessToken, "public": "", "buyer": w.other.AccessToken} {
				if r := s.MustQuery(token, filterQ, vars); !r.Contains(`"totalCount":0`) {
					t.Errorf("%s finds a product by its hidden review with %v: %s", who, f, r.Raw)
				}
			}
			if r := s.MustQuery(admin.AccessToken, filterQ, vars); !r.Contains(`"totalCount":1`) {
				t.Errorf("admin filters by the hidden review with %v: %s", f, r.Raw)
			}
		}
		if r := s.MustQuery(w.buyer.AccessToken, `{ myReviews { totalCount nodes { id hidden hiddenReason } } }`, nil); !r.Contains(`"hidden":true,"hiddenReason":"含广告"`) {
			t.Errorf("the author's reviews: %s", r.Raw)
		}
		if got := decodeReview(t, s.MustQuery(w.buyer.AccessToken, nodeQ, map[string]any{"id": mine.ID}), "node"); !got.Hidden {
			t.Errorf("the author reads the hidden review as %+v", got)
		}

		// Restored: counted again.
		if r := s.MustQuery(admin.AccessToken, `mutation($id: ID!) { restoreReview(reviewID: $id, reason: "申诉成功") { hidden hiddenReason } }`,
			map[string]any{"id": mine.ID}); !r.Contains(`"hidden":false,"hiddenReason":""`) {
			t.Errorf("restored: %s", r.Raw) // the reason is in the audit log, not on the review
		}
		if sum := summaryOf(t, s, "Product", productID); sum.Count != 1 || sum.Average != 4 || stars(sum) != want {
			t.Errorf("rating after restoring: %+v", sum)
		}
		client, ctx := s.Client()
		if n := client.AuditLog.Query().Where(auditlog.TargetType("Review"), auditlog.ActionIn("review.hide", "review.restore")).CountX(ctx); n != 2 {
			t.Errorf("%d audit entries, want 2", n)
		}

		// The follow-up, once.
		followQ := `mutation($i: FollowUpReviewInput!) { followUpReview(input: $i) { ` + reviewFields + ` } }`
		if r := s.Query(w.other.AccessToken, followQ, map[string]any{"i": map[string]any{"reviewID": mine.ID, "body": "x"}}); r.Code() != "NOT_FOUND" {
			t.Errorf("someone else's follow-up: %s", r.Raw)
		}
		got = decodeReview(t, s.MustQuery(w.buyer.AccessToken, followQ, map[string]any{"i": map[string]any{"reviewID": mine.ID, "body": "用了一个月，依然很好。"}}), "followUpReview")
		if got.FollowUp == nil || *got.FollowUp != "用了一个月，依然很好。" {
			t.Errorf("follow-up: %+v", got)
		}
		if r := s.Query(w.buyer.AccessToken, followQ, map[string]any{"i": map[string]any{"reviewID": mine.ID, "body": "again"}}); r.Code() != "CONFLICT" {
			t.Errorf("second follow-up: %s", r.Raw)
		}

		// The events: REVIEW_CREATED without the anonymous author, REVIEW_REPLIED by the
		// merchant; neither names the anonymous review, which would tie it to the order.
		waitPublished(t, s)
		var since struct {
			OrderEventsSince []struct {
				Type     string
				ReviewID *string
				Actor    struct {
					Role   string
					UserID *string
				}
			}
		}
		s.MustQuery(w.a.Owner.AccessToken, `query($m: ID) { orderEventsSince(merchantID: $m, first: 100) { type reviewID actor { role userID } } }`,
			map[string]any{"m": w.a.ID}).Decode(t, &since)
		seen := map[string]bool{}
		for _, e := range since.OrderEventsSince {
			switch e.Type {
			case "REVIEW_CREATED":
				seen[e.Type] = true
				if e.ReviewID != nil || e.Actor.Role != "CUSTOMER" || e.Actor.UserID != nil {
					t.Errorf("REVIEW_CREATED: %+v", e)
				}
			case "REVIEW_REPLIED":
				seen[e.Type] = true
				if e.ReviewID != nil || e.Actor.Role != "MERCHANT" || e.Actor.UserID == nil || *e.Actor.UserID != w.a.Owner.UserID {
					t.Errorf("REVIEW_REPLIED: %+v", e)
				}
			}
		}
		if !seen["REVIEW_CREATED"] || !seen["REVIEW_REPLIED"] {
			t.Errorf("review events: %+v", since.OrderEventsSince)
		}
	})
}

func productOfVariant(t *testing.T, s *apitest.Server, variantID int) int {
	t.Helper()
	client, ctx := s.Client()
	return client.ProductVariant.GetX(ctx, variantID).ProductID
}

// reviewWorld is a merchant with one product and customers with orders of it, written
// directly: the rules and races are about reviews, not about buying.
type reviewWorld struct {
	s          *apitest.Server
	m, other   apitest.Merchant
	productID  int
	variantID  int
	orderCount atomic.Int64
}

func newReviewWorld(t *testing.T, s *apitest.Server) *reviewWorld {
	t.Helper()
	w := &reviewWorld{s: s}
	w.m = s.NewMerchant(t, "review-shop", merchant.StatusACTIVE)
	w.other = s.NewMerchant(t, "other-shop", merchant.StatusACTIVE)
	w.productID, w.variantID = s.NewProduct(t, w.m, "碧螺春", product.KindPHYSICAL, "BLC-1", 5800, 1000)
	return w
}

// order gives the customer an order of the product in status, completed at completed
// (COMPLETED only), and returns its line's id.
func (w *reviewWorld) order(t *testing.T, customer apitest.Session, status order.Status, completed time.Time) string {
	t.Helper()
	client, ctx := w.s.Client()
	uid, _ := strconv.Atoi(customer.UserID)
	n := w.orderCount.Add(1)
	c := client.Order.Create().SetNumber(fmt.Sprintf("RV%08d", n)).SetCheckoutID(fmt.Sprintf("co-rv-%d", n)).
		SetCustomerID(uid).SetMerchantID(w.m.IntID).SetStatus(status).SetSubtotal(5800).SetTotal(5800)
	if status == order.StatusCOMPLETED {
		c.SetCompletedAt(completed)
	}
	o := c.SaveX(ctx)
	it := client.OrderItem.Create().SetOrderID(o.ID).SetProductID(w.productID).SetVariantID(w.variantID).
		SetTitle("碧螺春").SetSku("BLC-1").SetUnitPrice(5800).SetQuantity(1).SetLineTotal(5800).SaveX(ctx)
	return strconv.Itoa(it.ID)
}

// checkRatings fails unless the product's and merchant's aggregates equal what their
// shown review rows say.
func checkRatings(t *testing.T, s *apitest.Server, productID, merchantID int) (count int) {
	t.Helper()
	client, ctx := s.Client()
	rows := client.Review.Query().Where(review.ProductID(productID), review.Hidden(false)).AllX(ctx)
	var sum, photos int
	dist := [6]int{}
	for _, r := range rows {
		sum += r.Rating
		dist[r.Rating]++
		if r.WithPhotos {
			photos++
		}
	}
	p := client.Product.GetX(ctx, productID)
	m := client.Merchant.GetX(ctx, merchantID)
	for what, got := range map[string][9]int{
		"product":  {p.RatingCount, p.RatingSum, p.Rating1, p.Rating2, p.Rating3, p.Rating4, p.Rating5, p.RatingWithPhotos},
		"merchant": {m.RatingCount, m.RatingSum, m.Rating1, m.Rating2, m.Rating3, m.Rating4, m.Rating5, m.RatingWithPhotos},
	} {
		want := [9]int{len(rows), sum, dist[1], dist[2], dist[3], dist[4], dist[5], photos}
		if got != want {
			t.Errorf("%s aggregates (count sum 1..5 photos) %v, rows say %v", what, got, want)
		}
	}
	avg := 0.0
	if len(rows) > 0 {
		avg = float64(sum) / float64(len(rows))
	}
	if diff := p.RatingAverage - avg; diff > 1e-9 || diff < -1e-9 {
		t.Errorf("product average %v, rows say %v", p.RatingAverage, avg)
	}
	if diff := m.RatingAverage - avg; diff > 1e-9 || diff < -1e-9 {
		t.Errorf("merchant average %v, rows say %v", m.RatingAverage, avg)
	}
	return len(rows)
}

// TestReviewWindowAndDefaultReviews: a line of an order not received yet cannot be
// reviewed (INVALID_STATE); a completed order's lines can until REVIEW_WINDOW after its
// completion, then not (INVALID_STATE, REVIEW_WINDOW_CLOSED); the follow-up closes after
// REVIEW_FOLLOW_UP_WINDOW. The default-review job, run by two replicas at once, writes
// one 5-star default review for each line left unreviewed, and none before the window
// closes or for reviewed lines.
func TestReviewWindowAndDefaultReviews(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := apitest.NewClock(time.Now().UTC().Truncate(time.Microsecond))
			s := apitest.NewWithClock(t, d.URL(t), clock)
			w := newReviewWorld(t, s)
			buyer := s.Register("window@example.com", "Window Buyer")
			paid := w.order(t, buyer, order.StatusPAID, time.Time{})
			delivered := w.order(t, buyer, order.StatusDELIVERED, time.Time{})
			done := w.order(t, buyer, order.StatusCOMPLETED, clock.Now())
			late := w.order(t, buyer, order.StatusCOMPLETED, clock.Now())
			left := w.order(t, buyer, order.StatusCOMPLETED, clock.Now())

			r := s.Query(buyer.AccessToken, createReviewQ, map[string]any{"i": map[string]any{"orderItemID": paid, "rating": 5}})
			if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "PAID" {
				t.Errorf("review of a PAID order: %s", r.Raw)
			}
			s.MustQuery(buyer.AccessToken, createReviewQ, map[string]any{"i": map[string]any{"orderItemID": delivered, "rating": 3}})
			clock.Advance(s.Config.Reviews.Window - time.Minute)
			buyer = s.Login(buyer.Email) // the access token expired meanwhile
			rv := decodeReview(t, s.MustQuery(buyer.AccessToken, createReviewQ, map[string]any{"i": map[string]any{"orderItemID": done, "rating": 2}}), "createReview")

			// Before the window closes the job writes nothing.
			if n, err := s.App.Reviews.RunJobsOnce(context.Background(), s.DB.Client); err != nil || n != 0 {
				t.Errorf("job inside the window: %d, %v", n, err)
			}
			clock.Advance(2 * time.Minute)
			buyer = s.Login(buyer.Email)
			r = s.Query(buyer.AccessToken, createReviewQ, map[string]any{"i": map[string]any{"orderItemID": late, "rating": 5}})
			if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["reason"] != "REVIEW_WINDOW_CLOSED" {
				t.Errorf("review after the window: %s", r.Raw)
			}
			// Two replicas run the job at once: each line gets one default review.
			outs := apitest.Race(
				func() (*apitest.Response, error) {
					_, err := s.App.Reviews.RunJobsOnce(context.Background(), s.DB.Client)
					return nil, err
				},
				func() (*apitest.Response, error) {
					_, err := s.App.Reviews.RunJobsOnce(context.Background(), s.DB.Client)
					return nil, err
				},
			)
			for _, o := range outs {
				if o.Err != nil {
					t.Errorf("job: %v", o.Err)
				}
			}
			client, ctx := s.Client()
			defaults := client.Review.Query().Where(review.IsDefault(true)).AllX(ctx)
			if len(defaults) != 2 {
				t.Fatalf("%d default reviews, want 2 (late and left)", len(defaults))
			}
			for _, d := range defaults {
				if d.Rating != 5 || !d.Anonymous || d.OrderItemID == nil || (strconv.Itoa(*d.OrderItemID) != late && strconv.Itoa(*d.OrderItemID) != left) {
					t.Errorf("default review %+v", d)
				}
			}
			if n := checkRatings(t, s, w.productID, w.m.IntID); n != 4 {
				t.Errorf("%d reviews counted, want 4", n)
			}
			if n, _ := s.App.Reviews.RunJobsOnce(context.Background(), s.DB.Client); n != 0 {
				t.Errorf("the job ran again and wrote %d", n)
			}

			// The follow-up window.
			followQ := `mutation($i: FollowUpReviewInput!) { followUpReview(input: $i) { id } }`
			clock.Advance(s.Config.Reviews.FollowUpWindow)
			buyer = s.Login(buyer.Email)
			r = s.Query(buyer.AccessToken, followQ, map[string]any{"i": map[string]any{"reviewID": rv.ID, "body": "late"}})
			if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["reason"] != "FOLLOW_UP_WINDOW_CLOSED" {
				t.Errorf("follow-up after its window: %s", r.Raw)
			}
			// The merchant's staff reply; another merchant's cannot.
			replyQ := `mutation($id: ID!) { replyToReview(reviewID: $id, body: "谢谢") { id } }`
			if r := s.Query(s.Login(w.other.Owner.Email).AccessToken, replyQ, map[string]any{"id": rv.ID}); r.Code() != "NOT_FOUND" {
				t.Errorf("other merchant replies: %s", r.Raw)
			}
			staff := s.AddStaff(t, w.m, "staff@example.com")
			s.MustQuery(staff.AccessToken, replyQ, map[string]any{"id": rv.ID})
		})
	}
}

// TestConcurrentReviewsOfOneProduct races, over HTTP: six customers reviewing the same
// product at once (all count: the aggregates equal the rows), one customer reviewing
// one line twice at once (one review, CONFLICT), one person marking a review helpful
// twice at once (one vote), and two admins hiding one review at once (it leaves the
// ratings once).
func TestConcurrentReviewsOfOneProduct(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			w := newReviewWorld(t, s)
			admins := []apitest.Session{s.NewAdmin(t, "a1@example.com"), s.NewAdmin(t, "a2@example.com")}
			var buyers []apitest.Session
			for i := range 6 {
				buyers = append(buyers, s.Register(fmt.Sprintf("racer%d@example.com", i), fmt.Sprintf("Racer %d", i)))
			}
			for round := range 2 {
				var racers []apitest.Racer
				for i, b := range buyers {
					line := w.order(t, b, order.StatusCOMPLETED, time.Now())
					racers = append(racers, s.Request(b.AccessToken, createReviewQ, map[string]any{"i": map[string]any{
						"orderItemID": line, "rating": 1 + (i+round)%5, "anonymous": i%2 == 0}}))
				}
				if n := apitest.Successes(t, "six reviews", apitest.Race(racers...)); n != len(buyers) {
					t.Errorf("round %d: %d of %d reviews written", round, n, len(buyers))
				}
				if n := checkRatings(t, s, w.productID, w.m.IntID); n != (round+1)*len(buyers) {
					t.Errorf("round %d: %d reviews", round, n)
				}

				line := w.order(t, buyers[0], order.StatusCOMPLETED, time.Now())
				in := map[string]any{"i": map[string]any{"orderItemID": line, "rating": 5}}
				outs := apitest.Race(s.Request(buyers[0].AccessToken, createReviewQ, in), s.Request(buyers[0].AccessToken, createReviewQ, in))
				if n := apitest.Successes(t, "one line twice", outs, "CONFLICT"); n != 1 {
					t.Errorf("round %d: %d reviews of one line", round, n)
				}
				client, ctx := s.Client()
				target := client.Review.Query().Where(review.Hidden(false)).FirstX(ctx)
				id := strconv.Itoa(target.ID)
				helpful := `mutation($id: ID!) { markReviewHelpful(reviewID: $id) { id } }`
				outs = apitest.Race(s.Request(buyers[1].AccessToken, helpful, map[string]any{"id": id}),
					s.Request(buyers[1].AccessToken, helpful, map[string]any{"id": id}))
				apitest.Successes(t, "helpful twice", outs)
				votes := client.ReviewVote.Query().Where(reviewvote.ReviewID(target.ID)).CountX(ctx)
				if got := client.Review.GetX(ctx, target.ID).HelpfulCount; got != votes || votes < 1 {
					t.Errorf("round %d: helpful count %d, %d votes", round, got, votes)
				}
				// Two replies at once: one is written, the other is CONFLICT, and one
				// REVIEW_REPLIED event is recorded.
				replied := func() int {
					return client.OrderEvent.Query().Where(orderevent.TypeEQ(orderevent.TypeREVIEW_REPLIED)).CountX(ctx)
				}
				before := replied()
				reply := `mutation($id: ID!, $b: String!) { replyToReview(reviewID: $id, body: $b) { id } }`
				outs = apitest.Race(s.Request(w.m.Owner.AccessToken, reply, map[string]any{"id": id, "b": "谢谢 A"}),
					s.Request(w.m.Owner.AccessToken, reply, map[string]any{"id": id, "b": "谢谢 B"}))
				if n := apitest.Successes(t, "two replies", outs, "CONFLICT"); n != 1 {
					t.Errorf("round %d: %d replies", round, n)
				}
				if got := replied() - before; got != 1 {
					t.Errorf("round %d: %d REVIEW_REPLIED events for one reply", round, got)
				}
				hide := `mutation($id: ID!) { hideReview(reviewID: $id, reason: "race") { id } }`
				outs = apitest.Race(s.Request(admins[0].AccessToken, hide, map[string]any{"id": id}),
					s.Request(admins[1].AccessToken, hide, map[string]any{"id": id}))
				if n := apitest.Successes(t, "two hides", outs, "INVALID_STATE"); n != 1 {
					t.Errorf("round %d: %d hides", round, n)
				}
				checkRatings(t, s, w.productID, w.m.IntID)
			}
		})
	}
}

// TestReviewsGuideIsValid: every GraphQL block of docs/REVIEWS.md is valid against the
// schema, so the copy-paste operations work as written.
func TestReviewsGuideIsValid(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "REVIEWS.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := guideBlock.FindAllStringSubmatch(string(b), -1)
	if len(blocks) < 8 {
		t.Fatalf("%d GraphQL blocks in docs/REVIEWS.md", len(blocks))
	}
	for _, m := range blocks {
		demoOperations(t, m[1])
	}
}
