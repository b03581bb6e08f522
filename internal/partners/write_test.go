package partners_test

import (
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestPartnerManagesOrdersWithOrdersWrite: orders:write lets a partner accept its
// merchant's paid order (recorded as PARTNER on the timeline); orders:read alone does not,
// and neither does orders:write for another merchant.
func TestPartnerManagesOrdersWithOrdersWrite(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		client, ctx := s.Client()
		for _, id := range []string{w.shopOrder, w.rivalOrder} {
			n, _ := strconv.Atoi(id)
			client.Order.UpdateOneID(n).SetStatus(order.StatusPAID).ExecX(ctx)
		}
		reader := w.create(t, w.shop.Owner.AccessToken, "ERP", []string{w.shop.ID}, []string{"orders:read"})
		writer := w.create(t, w.shop.Owner.AccessToken, "OMS", []string{w.shop.ID}, []string{"orders:write"})
		readerToken := w.token(t, reader, reader.Secret, "")
		writerToken := w.token(t, writer, writer.Secret, "")
		const accept = `mutation($id: ID!) { acceptOrder(id: $id) { status timeline { type actorRole } } }`

		wantCode(t, "orders:read accepts", s.Query(readerToken, accept, map[string]any{"id": w.shopOrder}), "FORBIDDEN", "")
		wantCode(t, "another merchant's order", s.Query(writerToken, accept, map[string]any{"id": w.rivalOrder}), "NOT_FOUND", "")
		r := s.MustQuery(writerToken, accept, map[string]any{"id": w.shopOrder})
		if !r.Contains(`"status":"ACCEPTED"`) || !r.Contains(`{"type":"ACCEPTED","actorRole":"PARTNER"}`) {
			t.Fatalf("partner accept: %s", r.Raw)
		}
		// orders:write includes reading them.
		if r := s.MustQuery(writerToken, ordersOf, map[string]any{"m": w.shop.ID}); !r.Contains(w.shopOrder) {
			t.Errorf("orders:write lists its merchant's orders: %s", r.Raw)
		}
		// Cancelling stays with the merchant's people.
		r = s.Query(writerToken, `mutation($id: ID!) { cancelOrder(id: $id, reason: "x") { status } }`, map[string]any{"id": w.shopOrder})
		wantCode(t, "partner cancels", r, "FORBIDDEN", "")
	})
}
