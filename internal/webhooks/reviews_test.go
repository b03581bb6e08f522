package webhooks_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/orderevent"
)

// TestReviewEventsAreDelivered: a webhook subscribed to REVIEW_CREATED receives the
// review events (written by internal/reviews: no actor for an anonymous review) with
// reviewId, and nothing that names the author.
func TestReviewEventsAreDelivered(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		r := newReceiver(t, 200)
		e.hook(t, e.shop, r.URL+"/hook", orderevent.TypeREVIEW_CREATED)
		created := e.order(t, e.shop)
		ev := e.db.OrderEvent.Create().SetOrderID(created.OrderID).SetMerchantID(created.MerchantID).
			SetCustomerID(created.CustomerID).SetType(orderevent.TypeREVIEW_CREATED).
			SetActorRole(orderevent.ActorRoleCUSTOMER).SetReviewID(4242).SaveX(e.sys)
		ev = e.number(t, ev)
		e.enqueue(t, created, ev)
		if n := e.runOnce(t); n != 1 {
			t.Fatalf("attempted %d deliveries, want 1 (the review event only)", n)
		}
		got := r.requests()
		if len(got) != 1 {
			t.Fatalf("receiver got %d requests", len(got))
		}
		body := decode(t, got[0].Body)
		if body["type"] != "REVIEW_CREATED" || body["reviewId"] != "4242" || body["actorRole"] != "CUSTOMER" ||
			body["fromStatus"] != nil || body["toStatus"] != nil || body["id"] != strconv.Itoa(ev.ID) {
			t.Errorf("payload: %s", got[0].Body)
		}
		if strings.Contains(string(got[0].Body), strconv.Itoa(created.CustomerID)) {
			t.Errorf("the payload names the customer: %s", got[0].Body)
		}
	})
}
