package creators_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/bench"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/testdb"
)

// TestRecordProvidersStatements measures what the two StageRecord providers add to
// placeOrder's statement budget: Quote sends nothing without a checkout code, and Commit
// one read each for a customer with no exposure and no click; with a running experiment
// and an attributed order, four each.
func TestRecordProvidersStatements(t *testing.T) {
	t.Parallel()
	var counter bench.StatementCounter
	s := apitest.NewWithDriver(t, testdb.SQLiteURL(t), counter.Wrap)
	client, ctx := s.Client()
	admin := s.NewAdmin(t, "admin@example.com")
	shop := s.NewMerchant(t, "shop", merchant.StatusACTIVE)
	buyer := s.Register("buyer@example.com", "Buyer")
	buyerID, _ := strconv.Atoi(buyer.UserID)
	exp, cre := s.App.Experiments.Provider(), s.App.Creators.Provider()

	measure := func(p pricing.Provider) (quote, commit int) {
		t.Helper()
		tx, err := client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		o, err := tx.Client().Order.Create().SetNumber("S" + strconv.FormatInt(time.Now().UnixNano(), 36)).SetCheckoutID("c").
			SetCustomerID(buyerID).SetMerchantID(shop.IntID).SetSubtotal(5000).SetTotal(5000).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b := pricing.NewBasket(buyerID, "CNY", time.Now().UTC(), []*pricing.Line{{MerchantID: shop.IntID, Quantity: 1, ListPrice: 5000}}, nil)
		var errs [2]error
		// Only the provider's own statements: the server's feed, relay and jobs run beside.
		quote = len(counter.RecordCtx(ctx, func(ctx context.Context) { errs[0] = p.Quote(ctx, tx.Client(), b) }))
		commit = len(counter.RecordCtx(ctx, func(ctx context.Context) {
			errs[1] = p.Commit(ctx, tx.Client(), b, map[int]int{shop.IntID: o.ID})
		}))
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		return quote, commit
	}
	for name, p := range map[string]pricing.Provider{"experiments": exp, "creators": cre} {
		if q, c := measure(p); q != 0 || c != 1 {
			t.Errorf("%s with nothing to record: quote %d, commit %d statements; want 0 and 1", name, q, c)
		}
	}

	// Now an exposure to a running experiment, and a click on an approved creator's code
	// with the shop opted in.
	s.MustQuery(admin.AccessToken, `mutation { createExperiment(input: {key: "x", name: "X", arms: [{key: "a", weight: 1}, {key: "b", weight: 1}]}) { key } }`, nil)
	s.MustQuery(admin.AccessToken, `mutation { startExperiment(key: "x") { key } }`, nil)
	s.MustQuery(buyer.AccessToken, `{ experimentAssignment(key: "x") { arm } }`, nil)
	creator := s.Register("creator@example.com", "Creator")
	var out struct{ ApplyAsCreator struct{ ID string } }
	s.MustQuery(creator.AccessToken, applyQ, map[string]any{"n": "C", "c": "CODE1234"}).Decode(t, &out)
	s.MustQuery(admin.AccessToken, approveQ, map[string]any{"id": out.ApplyAsCreator.ID})
	s.MustQuery(shop.Owner.AccessToken, ruleQ, map[string]any{"i": map[string]any{"merchantId": shop.ID, "active": true, "rateBps": 500}})
	s.MustQuery(buyer.AccessToken, clickQ, map[string]any{"c": "CODE1234"})
	for name, p := range map[string]pricing.Provider{"experiments": exp, "creators": cre} {
		q, c := measure(p)
		t.Logf("%s recording one order: quote %d, commit %d statements", name, q, c)
		if q != 0 || c != 4 {
			t.Errorf("%s recording one order: quote %d, commit %d statements; want 0 and 4", name, q, c)
		}
	}
}
