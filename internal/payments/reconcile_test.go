package payments_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	entpayment "github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/payment"
)

// reporting is the sandbox with a Query that reports a fixed outcome, as a real provider
// answers for a payment whose notification never arrived.
type reporting struct {
	payment.Provider
	outcome payment.Outcome
	amount  money.Money
}

func (r reporting) Query(_ context.Context, ref string) (*payment.Status, error) {
	return &payment.Status{PaymentRef: ref, ProviderRef: "T-" + ref, Outcome: r.outcome, Amount: r.amount,
		PaidAt: time.Now()}, nil
}

// TestReconciliationRecoversALostNotification: a payment whose notification was lost is
// found PAID by asking the provider; a wrong amount changes nothing; an unpaid one past
// its expiry is closed.
func TestReconciliationRecoversALostNotification(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		svc := s.App.Payments
		orig := svc.Registry
		t.Cleanup(func() { svc.Registry, svc.Now = orig, nil })
		sandboxProvider, err := orig.Named("SANDBOX")
		if err != nil {
			t.Fatal(err)
		}
		later := func(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

		o := f.place(t, 1, 1) // ¥25.50 + ¥40.00, plus shipping
		p := f.mustPay(t, f.payInput(o.CheckoutID))
		id, _ := strconv.Atoi(p.ID)
		total, err := money.ParseAmount(p.Amount.Amount, p.Amount.Currency)
		if err != nil {
			t.Fatal(err)
		}
		_, sys := s.Client()
		ctx := context.Background()

		// Too fresh: left to its notification.
		svc.Registry = payment.NewRegistry(reporting{sandboxProvider, payment.OutcomeSucceeded, money.Money{Minor: total, Currency: "CNY"}}, nil)
		if n, err := svc.Reconcile(ctx); n != 0 || err != nil {
			t.Fatalf("a fresh payment was reconciled: %d %v", n, err)
		}
		// The provider reports another amount: nothing changes.
		svc.Now = later(5 * time.Minute)
		svc.Registry = payment.NewRegistry(reporting{sandboxProvider, payment.OutcomeSucceeded, money.Money{Minor: total - 1, Currency: "CNY"}}, nil)
		if n, err := svc.Reconcile(ctx); n != 0 || err == nil {
			t.Fatalf("a wrong amount was applied: %d %v", n, err)
		}
		if got := f.client.Payment.GetX(sys, id).Status; got != entpayment.StatusPENDING {
			t.Fatalf("payment after a wrong amount: %s", got)
		}
		// The provider reports it paid: the payment succeeds and its orders are PAID.
		svc.Registry = payment.NewRegistry(reporting{sandboxProvider, payment.OutcomeSucceeded, money.Money{Minor: total, Currency: "CNY"}}, nil)
		if n, err := svc.Reconcile(ctx); n != 1 || err != nil {
			t.Fatalf("reconcile: %d %v", n, err)
		}
		if got := f.client.Payment.GetX(sys, id).Status; got != entpayment.StatusSUCCEEDED {
			t.Fatalf("payment after reconciliation: %s", got)
		}
		for _, oid := range o.orderIDs() {
			r := s.MustQuery(f.buyer.AccessToken, `query($id: ID!) { order(id: $id) { status timeline { type actorRole } } }`, map[string]any{"id": oid})
			if !r.Contains(`"status":"PAID"`) || !r.Contains(`{"type":"PAID","actorRole":"SYSTEM"}`) {
				t.Errorf("order %s: %s", oid, r.Raw)
			}
		}
		// Running again changes nothing.
		if n, err := svc.Reconcile(ctx); n != 0 || err != nil {
			t.Fatalf("second reconcile: %d %v", n, err)
		}

		// A payment the provider knows nothing about is closed once it expires.
		o2 := f.place(t, 1, 0)
		p2 := f.mustPay(t, f.payInput(o2.CheckoutID))
		id2, _ := strconv.Atoi(p2.ID)
		svc.Registry = orig // the sandbox answers UNKNOWN
		svc.Now = later(10 * time.Minute)
		if n, err := svc.Reconcile(ctx); n != 0 || err != nil {
			t.Fatalf("before expiry: %d %v", n, err)
		}
		svc.Now = later(31 * time.Minute)
		if n, err := svc.Reconcile(ctx); n != 1 || err != nil {
			t.Fatalf("after expiry: %d %v", n, err)
		}
		if got := f.client.Payment.GetX(sys, id2).Status; got != entpayment.StatusCLOSED {
			t.Fatalf("expired payment: %s", got)
		}
	})
}
