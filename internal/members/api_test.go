package members_test

import (
	"context"
	"crypto/rand"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/auditlog"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/testdb"
)

// world is a shop with a product, another shop, an admin and two customers, on a server
// whose clock the test moves.
type world struct {
	s             *apitest.Server
	clock         *apitest.Clock
	admin         apitest.Session
	buyer, second apitest.Session
	shop, other   apitest.Merchant
	variantID     int
	otherVariant  int
}

func newWorld(t *testing.T, url string) *world {
	t.Helper()
	clock := apitest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	return buildWorld(t, apitest.NewWithClock(t, url, clock), clock)
}

// buildWorld is newWorld on server s, whose clock is clock (nil: the wall clock).
func buildWorld(t *testing.T, s *apitest.Server, clock *apitest.Clock) *world {
	t.Helper()
	w := &world{s: s, clock: clock, admin: s.NewAdmin(t, "ops@example.com"),
		buyer: s.Register("buyer@example.com", "Buyer"), second: s.Register("second@example.com", "Second"),
		shop: s.NewMerchant(t, "member-shop", merchant.StatusACTIVE), other: s.NewMerchant(t, "other-shop", merchant.StatusACTIVE)}
	_, w.variantID = s.NewProduct(t, w.shop, "会员茶 Member tea", product.KindPHYSICAL, "TEA-1", 10000, 100)
	_, w.otherVariant = s.NewProduct(t, w.other, "别家茶 Other tea", product.KindPHYSICAL, "TEA-9", 5000, 100)
	return w
}

// forEachDialect runs fn on a fresh world per database.
func forEachDialect(t *testing.T, fn func(t *testing.T, w *world)) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, newWorld(t, d.URL(t)))
		})
	}
}

// advance moves the clock on by d and signs everyone in again (tokens expire by it).
func (w *world) advance(d time.Duration) {
	w.clock.Advance(d)
	w.admin = w.s.Login("ops@example.com")
	w.buyer = w.s.Login("buyer@example.com")
	w.second = w.s.Login("second@example.com")
	w.shop.Owner = w.s.Login("member-shop-owner@example.com")
	w.other.Owner = w.s.Login("other-shop-owner@example.com")
}

// now is the world's time.
func (w *world) now() time.Time {
	if w.clock == nil {
		return time.Now().UTC()
	}
	return w.clock.Now()
}

// ctx is a system context on the world's clock, for the job.
func (w *world) ctx() context.Context {
	_, ctx := w.s.Client()
	if w.clock == nil {
		return ctx
	}
	return standing.WithClock(ctx, w.clock.Now)
}

func uid(s apitest.Session) int { n, _ := strconv.Atoi(s.UserID); return n }

// orderOpt changes an order before it is written.
type orderOpt func(*ent.OrderCreate)

func refunded(n int64) orderOpt { return func(c *ent.OrderCreate) { c.SetRefundedAmount(n) } }
func cancelled(at time.Time) orderOpt {
	return func(c *ent.OrderCreate) { c.SetStatus(order.StatusCANCELLED).SetCancelledAt(at) }
}

// paid writes an order of customer with m, paid at at, for total (minor units).
func (w *world) paid(t *testing.T, customer apitest.Session, m apitest.Merchant, total int64, at time.Time, opts ...orderOpt) {
	t.Helper()
	client, ctx := w.s.Client()
	c := client.Order.Create().SetNumber("M" + rand.Text()[:12]).SetCheckoutID("c-" + rand.Text()[:12]).
		SetCustomerID(uid(customer)).SetMerchantID(m.IntID).SetStatus(order.StatusPAID).SetSubtotal(total).SetTotal(total).
		SetPaidAt(at)
	for _, o := range opts {
		o(c)
	}
	if err := c.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

const (
	createTierM = `mutation($i: MemberTierInput!) { createMemberTier(input: $i) { id code level minSpend { amount } discountBps discountCap { amount } freeShipping freeShippingMin { amount } } }`
	myQ         = `query { myMembership { tier { code } nextTier { code } spend { amount } orders windowDays
		progress { spendToNext { amount } ordersToNext percent } computedAt } }`
)

type membershipView struct {
	Tier, NextTier *struct{ Code string }
	Spend          struct{ Amount string }
	Orders         int
	WindowDays     int
	Progress       *struct {
		SpendToNext  *struct{ Amount string }
		OrdersToNext *int
		Percent      int
	}
}

func (m membershipView) tier() string {
	if m.Tier == nil {
		return ""
	}
	return m.Tier.Code
}

// tiers creates SILVER (100.00 or 2 orders), GOLD (1000.00 or 5 orders: 5% off up to
// 3.00, free shipping from 50.00) and PLATINUM (5000.00 and 10 orders) and returns
// their ids by code.
func (w *world) tiers(t *testing.T) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, in := range []map[string]any{
		{"code": "SILVER", "name": "白银", "level": 1, "minSpend": "100.00", "minOrders": 2},
		{"code": "GOLD", "name": "黄金", "level": 2, "minSpend": "1000.00", "minOrders": 5, "discountBps": 500,
			"discountCap": "3.00", "freeShipping": true, "freeShippingMin": "50.00"},
		{"code": "PLATINUM", "name": "铂金", "level": 3, "minSpend": "5000.00", "minOrders": 10, "matchAll": true,
			"discountBps": 1000, "freeShipping": true},
	} {
		var out struct{ CreateMemberTier struct{ ID, Code string } }
		w.s.MustQuery(w.admin.AccessToken, createTierM, map[string]any{"i": in}).Decode(t, &out)
		ids[out.CreateMemberTier.Code] = out.CreateMemberTier.ID
	}
	return ids
}

func (w *world) mine(t *testing.T, s apitest.Session) membershipView {
	t.Helper()
	var out struct{ MyMembership membershipView }
	w.s.MustQuery(s.AccessToken, myQ, nil).Decode(t, &out)
	return out.MyMembership
}

func (w *world) runJob(t *testing.T) int {
	t.Helper()
	n, err := w.s.App.Members.RunOnce(w.ctx(), w.s.DB.Client)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func wantCode(t *testing.T, what string, r *apitest.Response, code, field string) {
	t.Helper()
	if r.Code() != code || (field != "" && r.Field() != field) {
		t.Errorf("%s: got %s/%s, want %s/%s: %s", what, r.Code(), r.Field(), code, field, r.Raw)
	}
}

func wantReason(t *testing.T, what string, r *apitest.Response, reason string) {
	t.Helper()
	if r.Code() != "CONFLICT" || len(r.Errors) == 0 || r.Errors[0].Extensions["reason"] != reason {
		t.Errorf("%s: want CONFLICT %s: %s", what, reason, r.Raw)
	}
}

// TestTiersByThresholdsWindowAndRefunds: spend counts paid orders net of refunds, leaving
// out cancelled and fully refunded ones; a threshold reached exactly earns the tier; a
// payment (Upgrade) raises a tier at once but never lowers it; orders leaving the rolling
// window lower it at the job's recompute; matchAll needs both thresholds.
func TestTiersByThresholdsWindowAndRefunds(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, w *world) {
		w.tiers(t)
		if m := w.mine(t, w.buyer); m.Tier != nil || m.NextTier == nil || m.NextTier.Code != "SILVER" || m.Spend.Amount != "0.00" {
			t.Fatalf("a new customer: %+v", m)
		}
		t0 := w.now()
		w.paid(t, w.buyer, w.shop, 40000, t0.Add(-time.Hour))                    // 400.00
		w.paid(t, w.buyer, w.other, 70000, t0.Add(-time.Hour), refunded(10001))  // 599.99 net
		w.paid(t, w.buyer, w.shop, 900000, t0.Add(-time.Hour), cancelled(t0))    // cancelled: nothing
		w.paid(t, w.buyer, w.shop, 500000, t0.Add(-time.Hour), refunded(500000)) // refunded in full: nothing
		w.paid(t, w.buyer, w.shop, 800000, t0.Add(-400*24*time.Hour))            // before the window
		w.paid(t, w.second, w.shop, 2000, t0.Add(-time.Hour))                    // 20.00, 1 order
		if n := w.runJob(t); n != 2 {
			t.Errorf("the job recorded %d memberships, want 2", n)
		}
		m := w.mine(t, w.buyer)
		if m.tier() != "SILVER" || m.Spend.Amount != "999.99" || m.Orders != 2 || m.NextTier.Code != "GOLD" ||
			m.Progress == nil || m.Progress.SpendToNext.Amount != "0.01" || *m.Progress.OrdersToNext != 3 || m.Progress.Percent != 99 || m.WindowDays != 365 {
			t.Fatalf("999.99 net over 2 orders: %+v %+v", m, m.Progress)
		}
		if m := w.mine(t, w.second); m.Tier != nil || m.Orders != 1 {
			t.Errorf("20.00 over 1 order earns nothing: %+v", m)
		}
		// One cent more, paid a day later: the payment's upgrade makes GOLD at once.
		w.advance(24 * time.Hour)
		w.paid(t, w.buyer, w.shop, 1, w.clock.Now())
		if _, err := w.s.App.Members.Upgrade(w.ctx(), w.s.DB.Client, uid(w.buyer)); err != nil {
			t.Fatal(err)
		}
		if m := w.mine(t, w.buyer); m.tier() != "GOLD" || m.Spend.Amount != "1000.00" || m.NextTier.Code != "PLATINUM" {
			t.Fatalf("exactly 1000.00: %+v", m)
		}
		// The first orders leave the window 365 days after they were paid: an upgrade keeps
		// GOLD, the job's recompute lowers it to none (0.01 over one order).
		w.advance(365 * 24 * time.Hour)
		if _, err := w.s.App.Members.Upgrade(w.ctx(), w.s.DB.Client, uid(w.buyer)); err != nil {
			t.Fatal(err)
		}
		if m := w.mine(t, w.buyer); m.tier() != "GOLD" || m.Spend.Amount != "0.01" || m.Orders != 1 {
			t.Fatalf("a payment never lowers a tier: %+v", m)
		}
		if n := w.runJob(t); n != 2 {
			t.Errorf("the job recorded %d, want 2 (both customers are a year old)", n)
		}
		if m := w.mine(t, w.buyer); m.Tier != nil || m.Orders != 1 {
			t.Fatalf("after the window the recompute lowers the tier: %+v", m)
		}
		if n := w.runJob(t); n != 0 {
			t.Errorf("a second run at once recorded %d", n)
		}
		// PLATINUM needs both thresholds: 10 orders of 1.00 reach the order threshold only.
		for i := 0; i < 10; i++ {
			w.paid(t, w.second, w.shop, 100, w.clock.Now())
		}
		var out struct{ RecomputeMembership membershipView }
		w.s.MustQuery(w.admin.AccessToken, `mutation($u: ID!) { recomputeMembership(userID: $u) { tier { code } orders spend { amount } } }`,
			map[string]any{"u": w.second.UserID}).Decode(t, &out)
		if out.RecomputeMembership.tier() != "GOLD" || out.RecomputeMembership.Orders != 10 {
			t.Errorf("10 orders of 1.00 (the first left the window): %+v", out.RecomputeMembership)
		}
	})
}

// TestTierAdministration: only admins manage tiers; bad input names the field, taken
// codes and levels are CONFLICT with a reason, a held tier cannot be deleted, each change
// is audited; everyone reads the tiers.
func TestTierAdministration(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, w *world) {
		gold := map[string]any{"code": "GOLD", "name": "黄金", "level": 2, "minSpend": "1000.00"}
		wantCode(t, "a customer", w.s.Query(w.buyer.AccessToken, createTierM, map[string]any{"i": gold}), "FORBIDDEN", "")
		wantCode(t, "a merchant", w.s.Query(w.shop.Owner.AccessToken, createTierM, map[string]any{"i": gold}), "FORBIDDEN", "")
		wantCode(t, "anonymous", w.s.Query("", createTierM, map[string]any{"i": gold}), "UNAUTHENTICATED", "")
		for _, c := range []struct {
			field string
			set   map[string]any
		}{
			{"code", map[string]any{"code": "gold"}},
			{"name", map[string]any{"name": " "}},
			{"level", map[string]any{"level": 0}},
			{"minSpend", map[string]any{"minSpend": "1.001"}},
			{"minSpend", map[string]any{"minSpend": nil, "minOrders": nil}},
			{"discountBps", map[string]any{"discountBps": 10001}},
			{"discountCap", map[string]any{"discountCap": "0"}},
		} {
			in := map[string]any{}
			for k, v := range gold {
				in[k] = v
			}
			for k, v := range c.set {
				in[k] = v
			}
			wantCode(t, "bad "+c.field, w.s.Query(w.admin.AccessToken, createTierM, map[string]any{"i": in}), "BAD_USER_INPUT", c.field)
		}
		ids := w.tiers(t)
		wantReason(t, "a taken code", w.s.Query(w.admin.AccessToken, createTierM, map[string]any{"i": gold}), "CODE_TAKEN")
		gold["code"] = "GOLD2"
		wantReason(t, "a taken level", w.s.Query(w.admin.AccessToken, createTierM, map[string]any{"i": gold}), "LEVEL_TAKEN")
		var tiers struct {
			MemberTiers []struct {
				Code        string
				DiscountCap *struct{ Amount string }
			}
		}
		w.s.MustQuery("", `query { memberTiers { code discountCap { amount } } }`, nil).Decode(t, &tiers)
		if len(tiers.MemberTiers) != 3 || tiers.MemberTiers[1].Code != "GOLD" || tiers.MemberTiers[1].DiscountCap.Amount != "3.00" {
			t.Errorf("the public reads the tiers by level: %+v", tiers)
		}
		updateM := `mutation($id: ID!, $i: MemberTierInput!) { updateMemberTier(id: $id, input: $i) { code level minSpend { amount } } }`
		r := w.s.MustQuery(w.admin.AccessToken, updateM, map[string]any{"id": ids["SILVER"],
			"i": map[string]any{"code": "SILVER", "name": "白银", "level": 1, "minSpend": "50.00"}})
		if !r.Contains(`"50.00"`) {
			t.Errorf("update: %s", r.Raw)
		}
		wantReason(t, "update to a taken code", w.s.Query(w.admin.AccessToken, updateM, map[string]any{"id": ids["SILVER"],
			"i": map[string]any{"code": "GOLD", "name": "x", "level": 1, "minSpend": "50.00"}}), "CODE_TAKEN")
		wantCode(t, "update of a missing tier", w.s.Query(w.admin.AccessToken, updateM, map[string]any{"id": "999999",
			"i": map[string]any{"code": "NEW", "name": "x", "level": 9, "minSpend": "50.00"}}), "NOT_FOUND", "")
		// SILVER is held once the buyer earns it: it cannot be deleted.
		w.paid(t, w.buyer, w.shop, 6000, w.clock.Now())
		w.runJob(t)
		deleteM := `mutation($id: ID!) { deleteMemberTier(id: $id) }`
		wantReason(t, "a held tier", w.s.Query(w.admin.AccessToken, deleteM, map[string]any{"id": ids["SILVER"]}), "TIER_IN_USE")
		wantCode(t, "a missing tier", w.s.Query(w.admin.AccessToken, deleteM, map[string]any{"id": "999999"}), "NOT_FOUND", "")
		w.s.MustQuery(w.admin.AccessToken, deleteM, map[string]any{"id": ids["PLATINUM"]})
		recomputeM := `mutation($u: ID!) { recomputeMembership(userID: $u) { tier { code } } }`
		wantCode(t, "recompute by a customer", w.s.Query(w.buyer.AccessToken, recomputeM, map[string]any{"u": w.buyer.UserID}), "FORBIDDEN", "")
		wantCode(t, "recompute of nobody", w.s.Query(w.admin.AccessToken, recomputeM, map[string]any{"u": "999999"}), "NOT_FOUND", "")
		wantCode(t, "another's membership", w.s.Query(w.buyer.AccessToken, `query($u: ID!) { membership(userID: $u) { orders } }`,
			map[string]any{"u": w.second.UserID}), "FORBIDDEN", "")
		wantCode(t, "myMembership anonymous", w.s.Query("", myQ, nil), "UNAUTHENTICATED", "")
		client, ctx := w.s.Client()
		for action, want := range map[string]int{"member_tier.create": 3, "member_tier.update": 1, "member_tier.delete": 1} {
			if n := client.AuditLog.Query().Where(auditlog.Action(action)).CountX(ctx); n != want {
				t.Errorf("%d %s audit entries, want %d", n, action, want)
			}
		}
	})
}
