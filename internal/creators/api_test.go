package creators_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/commission"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/creators"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/testdb"
)

const (
	applyQ   = `mutation($n: String!, $c: String!) { applyAsCreator(displayName: $n, code: $c) { id status links { code } } }`
	approveQ = `mutation($id: ID!) { approveCreator(id: $id) { id status } }`
	linkQ    = `mutation($i: CreateCreatorLinkInput!) { createCreatorLink(input: $i) { code merchantId } }`
	clickQ   = `mutation($c: String!) { recordAttribution(code: $c) { code creatorName expiresAt } }`
	ruleQ    = `mutation($i: SetCommissionRuleInput!) { setCommissionRule(input: $i) { merchantId active rateBps windowDays } }`
	earnQ    = `{ myCreatorEarnings { pending { minorUnits } settlable { minorUnits } reversed { minorUnits } count
  commissions { merchantName orderNumber creatorName status base { minorUnits } amount { minorUnits } net { minorUnits } } } }`
	merchantQ = `query($m: ID!) { merchantCommissions(merchantId: $m) { count pending { minorUnits }
  commissions { orderNumber creatorName status amount { minorUnits } reversed { minorUnits } } } }`
)

var orderSeq atomic.Int64

type world struct {
	s        *apitest.Server
	clock    *apitest.Clock
	admin    apitest.Session
	client   *ent.Client
	ctx      context.Context
	svc      *creators.Service
	shop     apitest.Merchant
	other    apitest.Merchant
	buyer    apitest.Session
	buyerID  int
	creators map[string]apitest.Session
}

// newCreator registers a user who applies with code and is approved.
func (w *world) newCreator(t *testing.T, name, code string) apitest.Session {
	t.Helper()
	u := w.s.Register(strings.ToLower(name)+"@example.com", name)
	var out struct{ ApplyAsCreator struct{ ID string } }
	w.s.MustQuery(u.AccessToken, applyQ, map[string]any{"n": name, "c": code}).Decode(t, &out)
	w.s.MustQuery(w.admin.AccessToken, approveQ, map[string]any{"id": out.ApplyAsCreator.ID})
	return u
}

// place commits the commissions provider for one order of merchant m (goods gross with
// discount off, plus shipping), in a transaction, as placeOrder will; code is the
// checkout's attribution code.
func (w *world) place(t *testing.T, m int, gross, discount, shipping int64, code string) (*ent.Order, error) {
	t.Helper()
	tx, err := w.client.Tx(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := gross - discount + shipping
	o, err := tx.Client().Order.Create().SetNumber(fmt.Sprintf("T%d", orderSeq.Add(1))).SetCheckoutID("test").
		SetCustomerID(w.buyerID).SetMerchantID(m).SetSubtotal(gross).SetDiscount(discount).SetShippingFee(shipping).
		SetTotal(total).Save(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := pricing.NewBasket(w.buyerID, "CNY", w.clock.Now(),
		[]*pricing.Line{{MerchantID: m, Quantity: 2, ListPrice: gross / 2, Discount: discount}}, map[int]int64{m: shipping})
	b.Choice.AttributionCode = code
	p := []pricing.Provider{w.svc.Provider()}
	if err := pricing.Run(w.ctx, tx.Client(), b, p); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := pricing.Commit(w.ctx, tx.Client(), b, p, map[int]int{m: o.ID}); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return o, tx.Commit()
}

func (w *world) commissionOf(t *testing.T, o *ent.Order) *ent.Commission {
	t.Helper()
	c, err := w.client.Commission.Query().Where(commission.OrderID(o.ID)).Only(w.ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (w *world) inTx(t *testing.T, f func(db *ent.Client) error) {
	t.Helper()
	tx, err := w.client.Tx(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f(tx.Client()); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func newWorld(t *testing.T, url string) *world {
	clock := apitest.NewClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	s := apitest.NewWithClock(t, url, clock)
	client, ctx := s.Client()
	w := &world{s: s, clock: clock, client: client, ctx: ctx, svc: s.App.Creators, creators: map[string]apitest.Session{}}
	w.admin = s.NewAdmin(t, "admin@example.com")
	w.shop = s.NewMerchant(t, "shop", merchant.StatusACTIVE)
	w.other = s.NewMerchant(t, "other", merchant.StatusACTIVE)
	w.buyer = s.Register("buyer@example.com", "Buyer Zhang")
	w.buyerID, _ = strconv.Atoi(w.buyer.UserID)
	return w
}

// TestAttributionCommissionAndViews drives the whole programme on SQLite and MySQL: a
// merchant opts in, creators apply and are approved, a buyer arrives through codes, and
// orders placed through the provider earn the last applicable click within the window,
// on the goods after discounts without shipping; refunds reverse in proportion and a
// cancellation in full; the job settles after the hold; each party sees only its share.
func TestAttributionCommissionAndViews(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d.URL(t))
			s := w.s
			alice := w.newCreator(t, "Alice", "alice88")
			bob := w.newCreator(t, "Bob", "BOB888")
			// Access tokens expire as the clock jumps days ahead: sign in again.
			relogin := func() {
				w.buyer, alice, bob, w.admin = s.Login(w.buyer.Email), s.Login(alice.Email), s.Login(bob.Email), s.Login(w.admin.Email)
				w.shop.Owner, w.other.Owner = s.Login(w.shop.Owner.Email), s.Login(w.other.Owner.Email)
			}

			// Rules: the shop's owner opts in at 10%; others may not set it.
			rule := map[string]any{"merchantId": w.shop.ID, "active": true, "rateBps": 1000}
			if r := s.Query(w.other.Owner.AccessToken, ruleQ, map[string]any{"i": rule}); r.Code() != "FORBIDDEN" {
				t.Errorf("another merchant sets the rule: %s", r.Raw)
			}
			bad := map[string]any{"merchantId": w.shop.ID, "active": true, "rateBps": 20000}
			if r := s.Query(w.shop.Owner.AccessToken, ruleQ, map[string]any{"i": bad}); r.Code() != "BAD_USER_INPUT" || r.Field() != "rateBps" {
				t.Errorf("rate above 100%%: %s", r.Raw)
			}
			s.MustQuery(w.shop.Owner.AccessToken, ruleQ, map[string]any{"i": rule})
			const readRule = `query($m: ID!) { commissionRule(merchantId: $m) { rateBps windowDays active } }`
			if r := s.MustQuery(w.shop.Owner.AccessToken, readRule, map[string]any{"m": w.shop.ID}); !r.Contains(`"rateBps":1000`) {
				t.Errorf("the owner reads the rule: %s", r.Raw)
			}
			if r := s.Query(w.other.Owner.AccessToken, readRule, map[string]any{"m": w.shop.ID}); r.Code() != "NOT_FOUND" {
				t.Errorf("another merchant reads the rule: %s", r.Raw)
			}
			if r := s.MustQuery(w.other.Owner.AccessToken, readRule, map[string]any{"m": w.other.ID}); string(r.Data) != `{"commissionRule":null}` {
				t.Errorf("a merchant without a rule: %s", r.Raw)
			}

			// Error codes of the creator side.
			if r := s.Query(alice.AccessToken, applyQ, map[string]any{"n": "Again", "c": "AGAIN123"}); r.Code() != "CONFLICT" || r.Errors[0].Extensions["reason"] != "ALREADY_APPLIED" {
				t.Errorf("second application: %s", r.Raw)
			}
			pending := s.Register("pending@example.com", "Pending")
			if r := s.Query(pending.AccessToken, applyQ, map[string]any{"n": "Pending", "c": "alice88"}); r.Code() != "CONFLICT" || r.Field() != "code" {
				t.Errorf("taken code: %s", r.Raw)
			}
			s.MustQuery(pending.AccessToken, applyQ, map[string]any{"n": "Pending", "c": "PEND1234"})
			for _, code := range []string{"NOPE1234", "PEND1234"} {
				if r := s.Query(w.buyer.AccessToken, clickQ, map[string]any{"c": code}); r.Code() != "NOT_FOUND" {
					t.Errorf("click on %s: %s", code, r.Raw)
				}
			}
			if r := s.Query(alice.AccessToken, clickQ, map[string]any{"c": "ALICE88"}); r.Code() != "CONFLICT" || r.Errors[0].Extensions["reason"] != "SELF_REFERRAL" {
				t.Errorf("own code: %s", r.Raw)
			}
			if r := s.Query("", clickQ, map[string]any{"c": "ALICE88"}); r.Code() != "UNAUTHENTICATED" {
				t.Errorf("anonymous click: %s", r.Raw)
			}

			// Last click wins: Alice, then an hour later Bob.
			s.MustQuery(w.buyer.AccessToken, clickQ, map[string]any{"c": "alice88"})
			w.clock.Advance(time.Hour)
			relogin()
			s.MustQuery(w.buyer.AccessToken, clickQ, map[string]any{"c": "bob888"})
			// 2 × 6000 less 2000 off = 10000 of goods, 800 shipping: 10% of 10000.
			o1, err := w.place(t, w.shop.IntID, 12000, 2000, 800, "")
			if err != nil {
				t.Fatal(err)
			}
			c1 := w.commissionOf(t, o1)
			if c1 == nil || c1.CreatorUserID != mustAtoi(bob.UserID) || c1.Base != 10000 || c1.Amount != 1000 {
				t.Fatalf("commission %+v, want Bob's 1000 on a base of 10000", c1)
			}
			// An order is credited once: recording it again fails.
			tx, err := w.client.Tx(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			again := pricing.NewBasket(w.buyerID, "CNY", w.clock.Now(), []*pricing.Line{{MerchantID: w.shop.IntID, Quantity: 1, ListPrice: 10000}}, nil)
			err = w.svc.Provider().Commit(w.ctx, tx.Client(), again, map[int]int{w.shop.IntID: o1.ID})
			_ = tx.Rollback()
			if apperror.CodeOf(err) != apperror.Conflict {
				t.Errorf("second commission for an order: %v, want CONFLICT", err)
			}
			// The other merchant has no rule: no commission.
			o2, err := w.place(t, w.other.IntID, 5000, 0, 0, "")
			if err != nil || w.commissionOf(t, o2) != nil {
				t.Errorf("order at a merchant without a rule: %v, %+v", err, w.commissionOf(t, o2))
			}

			// Past the window (7 days by default) Bob's click no longer credits.
			w.clock.Advance(7*24*time.Hour + time.Second)
			relogin()
			o3, err := w.place(t, w.shop.IntID, 4000, 0, 0, "")
			if err != nil || w.commissionOf(t, o3) != nil {
				t.Errorf("order after the window: %v, %+v", err, w.commissionOf(t, o3))
			}

			// A code for the other merchant does not credit the shop's orders.
			var link struct{ CreateCreatorLink struct{ Code string } }
			s.MustQuery(alice.AccessToken, linkQ, map[string]any{"i": map[string]any{"merchantId": w.other.ID}}).Decode(t, &link)
			s.MustQuery(w.buyer.AccessToken, clickQ, map[string]any{"c": link.CreateCreatorLink.Code})
			o4, err := w.place(t, w.shop.IntID, 4000, 0, 0, "")
			if err != nil || w.commissionOf(t, o4) != nil {
				t.Errorf("shop order after a click for the other merchant: %v, %+v", err, w.commissionOf(t, o4))
			}

			// A code given at checkout is the last click; a wrong one is refused.
			if _, err := w.place(t, w.shop.IntID, 4000, 0, 0, "WRONG999"); apperror.CodeOf(err) != apperror.BadUserInput {
				t.Errorf("wrong checkout code: %v", err)
			}
			o5, err := w.place(t, w.shop.IntID, 3000, 0, 500, "alice88")
			if err != nil {
				t.Fatal(err)
			}
			c5 := w.commissionOf(t, o5)
			if c5 == nil || c5.CreatorUserID != mustAtoi(alice.UserID) || c5.Amount != 300 {
				t.Fatalf("checkout-code commission %+v, want Alice's 300", c5)
			}

			// Refunds reverse in proportion; a cancellation reverses the rest.
			p := w.svc.Provider()
			w.inTx(t, func(db *ent.Client) error { return p.Refunded(w.ctx, db, o1, 2500) })
			if c := w.commissionOf(t, o1); c.Reversed != 250 || c.RefundedBase != 2500 || c.Status != commission.StatusPENDING {
				t.Errorf("after refunding 2500 of 10000: %+v, want 250 reversed", c)
			}
			w.inTx(t, func(db *ent.Client) error { return p.Refunded(w.ctx, db, o5, 1000) })
			w.inTx(t, func(db *ent.Client) error { return p.Refunded(w.ctx, db, o5, 1000) })
			if c := w.commissionOf(t, o5); c.Reversed != 200 {
				t.Errorf("after refunding 2000 of 3000: %+v, want 200 reversed", c)
			}
			w.inTx(t, func(db *ent.Client) error { return p.Release(w.ctx, db, o5) })
			w.inTx(t, func(db *ent.Client) error { return p.Refunded(w.ctx, db, o5, 1000) })
			if c := w.commissionOf(t, o5); c.Reversed != 300 || c.Status != commission.StatusREVERSED {
				t.Errorf("after cancelling: %+v, want all 300 reversed", c)
			}

			// Settlement: only after the order completed and the hold (7 days) passed;
			// two runs at once move it once.
			w.client.Order.UpdateOneID(o1.ID).SetStatus(order.StatusCOMPLETED).SetCompletedAt(w.clock.Now()).ExecX(w.ctx)
			if n, err := w.svc.SettleOnce(w.ctx, w.client); err != nil || n != 0 {
				t.Errorf("settled %d, %v before the hold passed", n, err)
			}
			w.clock.Advance(7*24*time.Hour + time.Second)
			var moved atomic.Int64
			var wg sync.WaitGroup
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := w.svc.SettleOnce(w.ctx, w.client)
					if err != nil {
						t.Error(err)
					}
					moved.Add(int64(n))
				}()
			}
			wg.Wait()
			relogin()
			if moved.Load() != 1 || w.commissionOf(t, o1).Status != commission.StatusSETTLABLE {
				t.Errorf("two settlement runs moved %d, status %s; want 1, SETTLABLE", moved.Load(), w.commissionOf(t, o1).Status)
			}

			// Views. Bob: 750 settlable, 250 reversed; no order, no buyer.
			r := s.MustQuery(bob.AccessToken, earnQ, nil)
			var e struct {
				MyCreatorEarnings struct {
					Pending, Settlable, Reversed struct{ MinorUnits string }
					Count                        int
					Commissions                  []struct {
						MerchantName string
						OrderNumber  *string
						CreatorName  *string
						Status       string
					}
				}
			}
			r.Decode(t, &e)
			me := e.MyCreatorEarnings
			if me.Settlable.MinorUnits != "750" || me.Pending.MinorUnits != "0" || me.Reversed.MinorUnits != "250" || me.Count != 1 ||
				len(me.Commissions) != 1 || me.Commissions[0].OrderNumber != nil || me.Commissions[0].MerchantName != "shop" {
				t.Errorf("Bob's earnings: %s", r.Data)
			}
			if r.Contains(o1.Number) || r.Contains("Buyer Zhang") || r.Contains("buyer@example.com") {
				t.Errorf("the creator learns the order or the buyer: %s", r.Raw)
			}
			// Alice: one reversed commission.
			s.MustQuery(alice.AccessToken, earnQ, nil).Decode(t, &e)
			if e.MyCreatorEarnings.Reversed.MinorUnits != "300" || e.MyCreatorEarnings.Count != 1 {
				t.Errorf("Alice's earnings: %+v", e.MyCreatorEarnings)
			}
			// Not a creator.
			if r := s.Query(w.buyer.AccessToken, earnQ, nil); r.Code() != "NOT_FOUND" {
				t.Errorf("non-creator earnings: %s", r.Raw)
			}
			// The shop sees its commissions with order numbers; others see nothing.
			r = s.MustQuery(w.shop.Owner.AccessToken, merchantQ, map[string]any{"m": w.shop.ID})
			if !r.Contains(o1.Number) || !r.Contains(`"count":2`) || r.Contains("buyer@example.com") {
				t.Errorf("the shop's commissions: %s", r.Raw)
			}
			for _, who := range []apitest.Session{w.other.Owner, bob, w.buyer} {
				if r := s.Query(who.AccessToken, merchantQ, map[string]any{"m": w.shop.ID}); r.Code() != "NOT_FOUND" {
					t.Errorf("%s reads the shop's commissions: %s", who.Email, r.Raw)
				}
			}
			r = s.MustQuery(w.admin.AccessToken, `{ creatorOverview { creator { displayName } settlable { minorUnits } reversed { minorUnits } } }`, nil)
			if !r.Contains(`"displayName":"Bob"},"settlable":{"minorUnits":"750"}`) {
				t.Errorf("admin overview: %s", r.Data)
			}
			if r := s.Query(bob.AccessToken, `{ creatorOverview { count } }`, nil); r.Code() != "FORBIDDEN" {
				t.Errorf("creator reads the overview: %s", r.Raw)
			}

			// Opting out: new orders earn nothing.
			s.MustQuery(w.shop.Owner.AccessToken, ruleQ, map[string]any{"i": map[string]any{"merchantId": w.shop.ID, "active": false, "rateBps": 1000}})
			o6, err := w.place(t, w.shop.IntID, 4000, 0, 0, "alice88")
			if err != nil || w.commissionOf(t, o6) != nil {
				t.Errorf("order after opting out: %v, %+v", err, w.commissionOf(t, o6))
			}
		})
	}
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// TestCommissionAmountByCategory checks the amount arithmetic: per-line rates by category
// and one rounding down of the sum.
func TestCommissionAmountByCategory(t *testing.T) {
	t.Parallel()
	b := pricing.NewBasket(1, "CNY", time.Now(), []*pricing.Line{
		{MerchantID: 7, CategoryID: 3, Quantity: 1, ListPrice: 9999},              // 9999 × 5% = 499.95
		{MerchantID: 7, CategoryID: 4, Quantity: 3, ListPrice: 1000, Discount: 1}, // 2999 × 10% = 299.9
		{MerchantID: 8, Quantity: 1, ListPrice: 5000},                             // another merchant
	}, map[int]int64{7: 1000})
	r := &ent.CommissionRule{MerchantID: 7, RateBps: 1000, CategoryRates: map[string]int{"3": 500}}
	base, amount := creators.Amount(b, r)
	if base != 12998 || amount != 799 {
		t.Errorf("Amount = %d, %d; want base 12998 and ⌊499.95 + 299.9⌋ = 799", base, amount)
	}
}

// TestConcurrentRefundsReverseExactly runs refunds of one order in concurrent
// transactions: the commission's reversals add up to exactly the proportional total and
// never pass the commission, on SQLite and on MySQL (RR and RC).
func TestConcurrentRefundsReverseExactly(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d.URL(t))
			alice := w.newCreator(t, "Alice", "ALICE888")
			w.s.MustQuery(w.shop.Owner.AccessToken, ruleQ, map[string]any{"i": map[string]any{"merchantId": w.shop.ID, "active": true, "rateBps": 1000}})
			p := w.svc.Provider()
			for round := range apitest.RaceRounds(d, 4) {
				w.s.MustQuery(w.buyer.AccessToken, clickQ, map[string]any{"c": "ALICE888"})
				o, err := w.place(t, w.shop.IntID, 10000, 0, 0, "")
				if err != nil {
					t.Fatal(err)
				}
				if c := w.commissionOf(t, o); c == nil || c.CreatorUserID != mustAtoi(alice.UserID) || c.Amount != 1000 {
					t.Fatalf("commission %+v", c)
				}
				// Round even: 6 refunds of 1000 → 600 reversed. Odd: 6 of 2000 (12000 >
				// base) → all 1000, REVERSED.
				each := int64(1000)
				want, wantStatus := int64(600), commission.StatusPENDING
				if round%2 == 1 {
					each, want, wantStatus = 2000, 1000, commission.StatusREVERSED
				}
				var wg sync.WaitGroup
				errs := make([]error, 6)
				start := make(chan struct{})
				for i := range errs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						tx, err := w.client.Tx(w.ctx)
						if err != nil {
							errs[i] = err
							return
						}
						if err := p.Refunded(w.ctx, tx.Client(), o, each); err != nil {
							_ = tx.Rollback()
							errs[i] = err
							return
						}
						errs[i] = tx.Commit()
					}()
				}
				close(start)
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
				}
				c := w.commissionOf(t, o)
				if c.Reversed != want || c.Status != wantStatus || c.RefundedBase != min(6*each, 10000) {
					t.Fatalf("round %d: %+v; want reversed %d, %s", round, c, want, wantStatus)
				}
			}
		})
	}
}
