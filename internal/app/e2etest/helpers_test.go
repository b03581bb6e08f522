package e2etest_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// waitSubscribers waits until the hub has n subscribers.
func waitSubscribers(t *testing.T, s *apitest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.App.Hub.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("the hub has %d subscribers, want %d", s.App.Hub.Subscribers(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// evShop is a merchant selling tea, and a buyer.
type evShop struct {
	s     *apitest.Server
	a     apitest.Merchant
	buyer apitest.Session
	tea   int
}

func newEvShop(t *testing.T, s *apitest.Server) *evShop {
	t.Helper()
	w := &evShop{s: s}
	w.a = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	w.buyer = s.Register("buyer@example.com", "Buyer")
	_, w.tea = s.NewProduct(t, w.a, "Longjing tea", product.KindPHYSICAL, "TEA-1", 3800, 100_000)
	return w
}

var evAddress = map[string]any{"recipientName": "王小明", "phone": "13800138000", "province": "上海市",
	"city": "上海市", "district": "浦东新区", "street": "世纪大道 100 号"}

// place places one order of variant as the holder of token and returns its id, number and
// checkout.
func (w *evShop) place(t *testing.T, token string, variant int, key string) (id, number, checkout string) {
	t.Helper()
	r := w.s.MustQuery(token, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID orders { id number } } }`,
		map[string]any{"i": map[string]any{"lines": []any{map[string]any{"variantID": strconv.Itoa(variant), "quantity": 1}},
			"shippingAddress": evAddress, "idempotencyKey": "place-" + key}})
	var out struct {
		PlaceOrder struct {
			CheckoutID string
			Orders     []struct{ ID, Number string }
		}
	}
	r.Decode(t, &out)
	if len(out.PlaceOrder.Orders) != 1 {
		t.Fatalf("placeOrder made %d orders: %s", len(out.PlaceOrder.Orders), r.Raw)
	}
	return out.PlaceOrder.Orders[0].ID, out.PlaceOrder.Orders[0].Number, out.PlaceOrder.CheckoutID
}

// demoCustomer is the seeded demo's customer.
const demoCustomer = "xiaoming@demo.xiadan.dev"

// browser lets one Chromium run at a time: the browser tests run in parallel with the rest,
// but two browsers starting together on a small, busy machine can miss their page-load
// deadlines.
var browser sync.Mutex
