package seed_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	entpayment "github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/demoimage"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/viewer"
)

// servedDemoPicture reports whether url is a picture the binary serves, at the default
// public URL.
func servedDemoPicture(url string) bool {
	name, ok := strings.CutPrefix(url, seed.DefaultPublicURL+demoimage.Path)
	if !ok {
		return false
	}
	w := httptest.NewRecorder()
	demoimage.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodHead, demoimage.Path+name, nil))
	return w.Code == http.StatusOK
}

func TestDemoOrdersCoverEveryStatus(t *testing.T) {
	t.Parallel()
	client, sum := demo(t)
	ctx := viewer.SystemContext(context.Background())
	os, err := client.Order.Query().WithEvents().WithPayments().WithMerchant().Order(ent.Asc(order.FieldID)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(os) != sum.Orders || sum.Orders == 0 {
		t.Fatalf("%d orders in the database, the summary says %d", len(os), sum.Orders)
	}
	statuses := map[order.Status]int{}
	var partlyRefunded, refundedInFull, cancelledUnpaid int
	for _, o := range os {
		statuses[o.Status]++
		if o.Edges.Merchant.Slug != seed.OrdersMerchant {
			t.Errorf("order %s is of %s, want %s", o.Number, o.Edges.Merchant.Slug, seed.OrdersMerchant)
		}
		// The timeline starts with CREATED and its last status change is the order's status.
		evs := o.Edges.Events
		if len(evs) == 0 || evs[0].Type != orderevent.TypeCREATED {
			t.Errorf("order %s: timeline %v does not start with CREATED", o.Number, evs)
			continue
		}
		last := ""
		for _, e := range evs {
			if e.ToStatus != "" {
				last = e.ToStatus
			}
		}
		if last != string(o.Status) {
			t.Errorf("order %s is %s, its timeline ends at %s", o.Number, o.Status, last)
		}
		paid := false
		for _, p := range o.Edges.Payments {
			paid = paid || p.Status == entpayment.StatusSUCCEEDED || p.Status == entpayment.StatusREFUNDED ||
				p.Status == entpayment.StatusPARTIALLY_REFUNDED
		}
		if wantPaid := o.Status != order.StatusPENDING_PAYMENT && !(o.Status == order.StatusCANCELLED && len(o.Edges.Payments) == 0); paid != wantPaid {
			t.Errorf("order %s is %s with payments %v", o.Number, o.Status, o.Edges.Payments)
		}
		switch {
		case o.Status == order.StatusCANCELLED && !paid:
			cancelledUnpaid++
		case o.Status == order.StatusCANCELLED && o.RefundedAmount == o.Total:
			refundedInFull++
		case o.RefundedAmount > 0 && o.RefundedAmount < o.Total:
			partlyRefunded++
		}
		// Stock was taken through the ledger: a RESERVE movement for the order.
		n, err := client.StockMovement.Query().Where(stockmovement.OrderID(o.ID)).Count(ctx)
		if err != nil || n == 0 {
			t.Errorf("order %s has %d stock movements (%v)", o.Number, n, err)
		}
	}
	for _, s := range []order.Status{order.StatusPENDING_PAYMENT, order.StatusPAID, order.StatusACCEPTED, order.StatusSHIPPED,
		order.StatusDELIVERED, order.StatusFULFILLED, order.StatusCOMPLETED, order.StatusCANCELLED} {
		if statuses[s] == 0 {
			t.Errorf("no demo order is %s (%v)", s, statuses)
		}
	}
	// The merchant's day in the playground needs orders to accept.
	if statuses[order.StatusPAID] < 2 {
		t.Errorf("%d PAID orders, want a couple for the merchant to accept", statuses[order.StatusPAID])
	}
	if partlyRefunded == 0 || refundedInFull == 0 || cancelledUnpaid == 0 {
		t.Errorf("partly refunded %d, cancelled and refunded in full %d, cancelled unpaid %d; want some of each",
			partlyRefunded, refundedInFull, cancelledUnpaid)
	}
	// Merchant logos are the binary's pictures too.
	ms, err := client.Merchant.Query().Where(merchant.StatusEQ(merchant.StatusACTIVE)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if !servedDemoPicture(m.LogoURL) {
			t.Errorf("merchant %s logo %q is not a picture the binary serves", m.Slug, m.LogoURL)
		}
	}
}
