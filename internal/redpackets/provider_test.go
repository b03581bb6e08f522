package redpackets_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/redpacket"
	"github.com/xiadan/xiadan/ent/redpacketspend"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/pricing"
)

var address = map[string]any{"recipientName": "王小明", "phone": "13800138000", "province": "上海市",
	"city": "上海市", "district": "浦东新区", "street": "世纪大道 100 号"}

// TestProviderSpendAndRelease drives the checkout provider against real rows: baskets
// built from real variants, orders placed over GraphQL. It proves: soonest-expiring
// packets go first, each spread over all lines in proportion; UseRedPackets false spends
// none; two checkouts committing the same packets at once — exactly one spends them, the
// other is CONFLICT RED_PACKET_UNAVAILABLE; spends are recorded per order; releases racing
// give the balance back exactly once; a packet partly used keeps the rest; an expired
// packet is not offered.
func TestProviderSpendAndRelease(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		admin := s.NewAdmin(t, "ops@example.com")
		buyer := s.Register("buyer@example.com", "Buyer")
		uid, _ := strconv.Atoi(buyer.UserID)
		shopA := s.NewMerchant(t, "shop-a", merchant.StatusACTIVE)
		shopB := s.NewMerchant(t, "shop-b", merchant.StatusACTIVE)
		_, vA := s.NewProduct(t, shopA, "茶 Tea", product.KindPHYSICAL, "A-1", 3000, 10)
		_, vB := s.NewProduct(t, shopB, "杯 Cup", product.KindPHYSICAL, "B-1", 2000, 10)
		_, vC := s.NewProduct(t, shopB, "勺 Spoon", product.KindPHYSICAL, "C-1", 1000, 10)
		fixed := func(name string, amount, hours int) string {
			return create(t, s, admin.AccessToken, input(name, map[string]any{"split": "FIXED", "budget": amount, "count": 1,
				"minAmount": nil, "maxAmount": nil, "validityHours": hours}))
		}
		claimOne := func(campaign string) int {
			var out struct{ ClaimRedPacket struct{ ID string } }
			s.MustQuery(buyer.AccessToken, claimM, map[string]any{"c": campaign}).Decode(t, &out)
			id, _ := strconv.Atoi(out.ClaimRedPacket.ID)
			return id
		}
		p1 := claimOne(fixed("late", 400, 48))
		p2 := claimOne(fixed("soon", 1500, 24))

		s.MustQuery(buyer.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { number } } }`,
			map[string]any{"i": map[string]any{"lines": []any{
				map[string]any{"variantID": strconv.Itoa(vA), "quantity": 1},
				map[string]any{"variantID": strconv.Itoa(vB), "quantity": 1}},
				"shippingAddress": address, "idempotencyKey": "rp-" + rand.Text(), "useRedPackets": false}}) // its order ids only
		client, ctx := s.Client()
		orders := map[int]int{}
		placed, err := client.Order.Query().Where(order.CustomerID(uid)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range placed {
			orders[o.MerchantID] = o.ID
		}
		if len(orders) != 2 {
			t.Fatalf("placed %d orders, want 2", len(orders))
		}

		prov := s.App.RedPackets.Provider()
		basket := func(now time.Time, variants ...int) *pricing.Basket {
			var lines []*pricing.Line
			for _, v := range variants {
				row, err := client.ProductVariant.Query().Where(productvariant.ID(v)).Only(ctx)
				if err != nil {
					t.Fatal(err)
				}
				lines = append(lines, &pricing.Line{VariantID: v, ProductID: row.ProductID, MerchantID: row.MerchantID,
					Quantity: 1, ListPrice: row.Price})
			}
			b := pricing.NewBasket(uid, "CNY", now, lines, nil)
			if err := pricing.Run(ctx, client, b, []pricing.Provider{prov}); err != nil {
				t.Fatal(err)
			}
			return b
		}
		now := time.Now().UTC()
		b1 := basket(now, vA, vB)
		if len(b1.Adjustments) != 2 || b1.Adjustments[0].SourceID != p2 || b1.Adjustments[1].SourceID != p1 {
			t.Fatalf("adjustments %+v, want packet %d (soonest) then %d", b1.Adjustments, p2, p1)
		}
		// 1500 over 3000 and 2000: 900 and 600; then 400 over 2100 and 1400: 240 and 160.
		a := b1.Adjustments
		if a[0].Lines[0] != 900 || a[0].Lines[1] != 600 || a[1].Lines[0] != 240 || a[1].Lines[1] != 160 ||
			a[0].FundedBy != pricing.FundedByPlatform || a[0].Kind != pricing.KindRedPacket || b1.TotalsOf(0).Discount != 1900 {
			t.Errorf("spread: %+v %+v", a[0], a[1])
		}
		no := false
		off := pricing.NewBasket(uid, "CNY", now, []*pricing.Line{{MerchantID: shopA.IntID, Quantity: 1, ListPrice: 3000}}, nil)
		off.Choice.UseRedPackets = &no
		if err := pricing.Run(ctx, client, off, []pricing.Provider{prov}); err != nil || len(off.Adjustments) != 0 {
			t.Errorf("UseRedPackets false: %v %+v", err, off.Adjustments)
		}

		// Two checkouts commit the same packets at once.
		b2 := basket(now, vA, vB)
		errs := make(chan error, 2)
		for _, b := range []*pricing.Basket{b1, b2} {
			go func() {
				errs <- inTx(ctx, client, func(tx *ent.Client) error { return pricing.Commit(ctx, tx, b, []pricing.Provider{prov}, orders) })
			}()
		}
		var ok, refused int
		for range 2 {
			err := <-errs
			var ae *apperror.Error
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ae) && ae.Code == apperror.Conflict && ae.Extensions["reason"] == "RED_PACKET_UNAVAILABLE":
				refused++
			default:
				t.Errorf("commit: %v", err)
			}
		}
		if ok != 1 || refused != 1 {
			t.Fatalf("%d commits spent, %d refused; want 1 and 1", ok, refused)
		}
		balances := func() (int64, int64) {
			x, err := client.RedPacket.Get(ctx, p1)
			if err != nil {
				t.Fatal(err)
			}
			y, err := client.RedPacket.Get(ctx, p2)
			if err != nil {
				t.Fatal(err)
			}
			return x.Balance, y.Balance
		}
		if x, y := balances(); x != 0 || y != 0 {
			t.Errorf("balances after the spend %d, %d; want 0, 0", x, y)
		}
		spends, err := client.RedPacketSpend.Query().Order(redpacketspend.ByID()).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var spent int64
		perOrder := map[int]int64{}
		for _, sp := range spends {
			spent += sp.Amount
			perOrder[sp.OrderID] += sp.Amount
		}
		if len(spends) != 4 || spent != 1900 || perOrder[orders[shopA.IntID]] != 1140 || perOrder[orders[shopB.IntID]] != 760 {
			t.Errorf("spends %d summing to %d (%v), want 4 summing to 1900 (1140 + 760)", len(spends), spent, perOrder)
		}

		// Full cancellation of shop A's order, released twice at once, then again.
		oa, err := client.Order.Get(ctx, orders[shopA.IntID])
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			go func() { errs <- inTx(ctx, client, func(tx *ent.Client) error { return prov.Release(ctx, tx, oa) }) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Errorf("release: %v", err)
			}
		}
		if err := inTx(ctx, client, func(tx *ent.Client) error { return prov.Release(ctx, tx, oa) }); err != nil {
			t.Fatal(err)
		}
		if x, y := balances(); x != 240 || y != 900 {
			t.Errorf("balances after releasing order A %d, %d; want 240, 900", x, y)
		}

		// A basket of 1000: 900 from the soon packet, 100 from the late one, which keeps 140.
		s.MustQuery(buyer.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { number } } }`,
			map[string]any{"i": map[string]any{"lines": []any{map[string]any{"variantID": strconv.Itoa(vC), "quantity": 1}},
				"shippingAddress": address, "idempotencyKey": "rp-" + rand.Text(), "useRedPackets": false}}) // its order ids only
		oc, err := client.Order.Query().Where(order.CustomerID(uid)).Order(order.ByID()).All(ctx)
		if err != nil || len(oc) != 3 {
			t.Fatalf("orders %d, %v", len(oc), err)
		}
		b3 := basket(now, vC)
		if b3.TotalsOf(0).Discount != 1000 || len(b3.Adjustments) != 2 || b3.Adjustments[0].Amount != 900 || b3.Adjustments[1].Amount != 100 {
			t.Fatalf("small basket: %+v %+v", b3.Adjustments[0], b3.Adjustments[1])
		}
		if err := inTx(ctx, client, func(tx *ent.Client) error {
			return pricing.Commit(ctx, tx, b3, []pricing.Provider{prov}, map[int]int{shopB.IntID: oc[2].ID})
		}); err != nil {
			t.Fatal(err)
		}
		if x, y := balances(); x != 140 || y != 0 {
			t.Errorf("balances after the small basket %d, %d; want 140, 0", x, y)
		}
		// After the soon packet's expiry only the late one is offered.
		b4 := basket(now.Add(25*time.Hour), vA)
		if len(b4.Adjustments) != 1 || b4.Adjustments[0].SourceID != p1 || b4.Adjustments[0].Amount != 140 {
			t.Errorf("after expiry: %+v", b4.Adjustments)
		}
		n, err := client.RedPacket.Query().Where(redpacket.UserID(uid)).Count(ctx)
		if err != nil || n != 2 {
			t.Errorf("buyer holds %d packets (%v), want 2", n, err)
		}
	})
}

// inTx runs fn in a transaction of its own, committed when fn succeeds.
func inTx(ctx context.Context, client *ent.Client, fn func(*ent.Client) error) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
