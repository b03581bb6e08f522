package credit_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/auditlog"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/merchantcredit"
	"github.com/xiadan/xiadan/ent/merchantcreditsnapshot"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/testdb"
)

// world is a shop on sale, another shop, an admin and a customer, on a server whose
// clock the test moves.
type world struct {
	s           *apitest.Server
	clock       *apitest.Clock
	admin       apitest.Session
	buyer       apitest.Session
	shop, other apitest.Merchant
	productID   int
	variantID   int
}

func newWorld(t *testing.T, url string) *world {
	t.Helper()
	clock := apitest.NewClock(time.Now().UTC())
	s := apitest.NewWithClock(t, url, clock)
	w := &world{s: s, clock: clock, admin: s.NewAdmin(t, "ops@example.com"), buyer: s.Register("buyer@example.com", "Buyer"),
		shop: s.NewMerchant(t, "credit-shop", merchant.StatusACTIVE), other: s.NewMerchant(t, "other-shop", merchant.StatusACTIVE)}
	w.productID, w.variantID = s.NewProduct(t, w.shop, "信用茶 Credit tea", product.KindPHYSICAL, "TEA-1", 3800, 100)
	return w
}

// advance moves the clock on by d and signs everyone in again: access tokens expire by the
// same clock.
func (w *world) advance(d time.Duration) {
	w.clock.Advance(d)
	w.admin = w.s.Login("ops@example.com")
	w.buyer = w.s.Login("buyer@example.com")
	w.shop.Owner = w.s.Login("credit-shop-owner@example.com")
	w.other.Owner = w.s.Login("other-shop-owner@example.com")
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

var address = map[string]any{"recipientName": "王小明", "phone": "13800138000", "province": "上海市",
	"city": "上海市", "district": "浦东新区", "street": "世纪大道 100 号"}

func (w *world) place(token string, variantID int) *apitest.Response {
	return w.s.Query(token, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { number } } }`,
		map[string]any{"i": map[string]any{
			"lines":           []any{map[string]any{"variantID": strconv.Itoa(variantID), "quantity": 1}},
			"shippingAddress": address, "idempotencyKey": "credit-" + rand.Text()}})
}

const (
	imposeM = `mutation($i: ImposeSanctionInput!) { imposeSanction(input: $i) { id kind reason endsAt active merchant { id } } }`
	liftM   = `mutation($id: ID!, $r: String!) { liftSanction(id: $id, reason: $r) { id active liftedAt liftReason } }`
	appealM = `mutation($id: ID!, $n: String!) { appealSanction(id: $id, note: $n) { id appealNote appealedAt } }`
	recompM = `mutation($m: ID!) { recomputeMerchantCredit(merchantID: $m) { score level badges components { name value weight }
		inputs { paidOrders shipmentsDue shippedOnTime ratings ratingAverage promisedShipHours restrictions afterSales { disputes } }
		afterSalesAvailable history { day score level } } }`
	merchantQ = `query($m: ID!) { merchant(id: $m) { id credit { score level badges updatedAt }
		creditDetails { score penalty } sanctions { id kind } standing { restrictedUntil suspendedUntil removedAt } } }`
	createProductM = `mutation($i: CreateProductInput!) { createProduct(input: $i) { id status } }`
	productsQ      = `query { products(first: 50) { nodes { id } } }`
)

func (w *world) impose(t *testing.T, kind string, hours int) string {
	t.Helper()
	r := w.s.MustQuery(w.admin.AccessToken, imposeM, map[string]any{"i": map[string]any{
		"merchantID": w.shop.ID, "kind": kind, "reason": "投诉过多 too many complaints", "durationHours": hours}})
	var out struct{ ImposeSanction struct{ ID string } }
	r.Decode(t, &out)
	return out.ImposeSanction.ID
}

type merchantView struct {
	Merchant *struct {
		ID     string
		Credit *struct {
			Score, Level int
			Badges       []string
		}
		CreditDetails *struct{ Score, Penalty int }
		Sanctions     []struct{ ID, Kind string }
		Standing      *struct{ RestrictedUntil, SuspendedUntil, RemovedAt *string }
	}
}

func (w *world) view(t *testing.T, token string) merchantView {
	t.Helper()
	var v merchantView
	w.s.MustQuery(token, merchantQ, map[string]any{"m": w.shop.ID}).Decode(t, &v)
	return v
}

func (w *world) listed(t *testing.T) bool {
	t.Helper()
	var out struct {
		Products struct{ Nodes []struct{ ID string } }
	}
	w.s.MustQuery("", productsQ, nil).Decode(t, &out)
	for _, n := range out.Products.Nodes {
		if n.ID == strconv.Itoa(w.productID) {
			return true
		}
	}
	return false
}

func (w *world) createProduct(sku string) *apitest.Response {
	return w.s.Query(w.shop.Owner.AccessToken, createProductM, map[string]any{"i": map[string]any{
		"title": "New " + sku, "variants": []any{map[string]any{"sku": sku, "price": "9.90", "stock": 3}}}})
}

func (w *world) audits(action string) int {
	client, ctx := w.s.Client()
	return client.AuditLog.Query().Where(auditlog.Action(action), auditlog.TargetID(w.shop.IntID)).CountX(ctx)
}

func wantCode(t *testing.T, what string, r *apitest.Response, code, field string) {
	t.Helper()
	if r.Code() != code || (field != "" && r.Field() != field) {
		t.Errorf("%s: got %s/%s, want %s/%s: %s", what, r.Code(), r.Field(), code, field, r.Raw)
	}
}

// TestCreditIsPublicAndDetailsPrivate: everyone sees a merchant's score, level and badges;
// only its members and admins see how they came about, its sanctions and its standing.
// The admin's recompute is audited and refused to anyone else.
func TestCreditIsPublicAndDetailsPrivate(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, w *world) {
		if v := w.view(t, ""); v.Merchant == nil || v.Merchant.Credit != nil {
			t.Fatalf("before any recompute the credit is null: %+v", v.Merchant)
		}
		wantCode(t, "recompute by the owner", w.s.Query(w.shop.Owner.AccessToken, recompM, map[string]any{"m": w.shop.ID}), "FORBIDDEN", "")
		wantCode(t, "recompute of a missing merchant", w.s.Query(w.admin.AccessToken, recompM, map[string]any{"m": "999999"}), "NOT_FOUND", "")
		var out struct {
			RecomputeMerchantCredit struct {
				Score, Level        int
				Badges              []string
				AfterSalesAvailable bool
				History             []struct{ Score int }
			}
		}
		w.s.MustQuery(w.admin.AccessToken, recompM, map[string]any{"m": w.shop.ID}).Decode(t, &out)
		got := out.RecomputeMerchantCredit
		if got.Score != 86 || got.Level != 4 || len(got.Badges) != 1 || got.Badges[0] != "NEW_SHOP" || !got.AfterSalesAvailable || len(got.History) != 1 {
			t.Fatalf("a new shop: %+v", got)
		}
		if n := w.audits("merchant.recompute_credit"); n != 1 {
			t.Errorf("%d recompute audit entries", n)
		}
		warning := w.impose(t, "WARNING", 24)
		nodeQ := `query($id: ID!) { node(id: $id) { id ... on MerchantSanction { kind reason } } }`
		for name, token := range map[string]string{"anonymous": "", "customer": w.buyer.AccessToken, "another shop's owner": w.other.Owner.AccessToken} {
			var n struct{ Node *struct{ ID string } }
			w.s.MustQuery(token, nodeQ, map[string]any{"id": warning}).Decode(t, &n)
			if n.Node != nil {
				t.Errorf("%s reads the sanction by id", name)
			}
		}
		var own struct{ Node *struct{ Kind string } }
		w.s.MustQuery(w.shop.Owner.AccessToken, nodeQ, map[string]any{"id": warning}).Decode(t, &own)
		if own.Node == nil || own.Node.Kind != "WARNING" {
			t.Errorf("the owner reads its sanction by id: %+v", own.Node)
		}
		for name, token := range map[string]string{"anonymous": "", "customer": w.buyer.AccessToken, "another shop's owner": w.other.Owner.AccessToken} {
			v := w.view(t, token)
			if v.Merchant == nil || v.Merchant.Credit == nil || v.Merchant.Credit.Score != 81 || v.Merchant.Credit.Level != 4 {
				t.Errorf("%s: public credit %+v", name, v.Merchant)
				continue
			}
			if v.Merchant.CreditDetails != nil || len(v.Merchant.Sanctions) != 0 || v.Merchant.Standing != nil {
				t.Errorf("%s sees the details: %+v", name, v.Merchant)
			}
		}
		for name, token := range map[string]string{"owner": w.shop.Owner.AccessToken, "admin": w.admin.AccessToken,
			"staff": w.s.AddStaff(t, w.shop, "staff@example.com").AccessToken} {
			v := w.view(t, token)
			if v.Merchant.CreditDetails == nil || v.Merchant.CreditDetails.Penalty != 5 || len(v.Merchant.Sanctions) != 1 || v.Merchant.Standing == nil {
				t.Errorf("%s: details %+v", name, v.Merchant)
			}
		}
		// Another shop's staff list no sanctions but their own.
		var list struct{ MerchantSanctions struct{ TotalCount int } }
		w.s.MustQuery(w.other.Owner.AccessToken, `{ merchantSanctions(first: 10) { totalCount } }`, nil).Decode(t, &list)
		if list.MerchantSanctions.TotalCount != 0 {
			t.Errorf("another shop lists %d sanctions", list.MerchantSanctions.TotalCount)
		}
		wantCode(t, "customers list no sanctions", w.s.Query(w.buyer.AccessToken, `{ merchantSanctions(first: 10) { totalCount } }`, nil), "FORBIDDEN", "")
	})
}

// TestSanctionEffects: a restriction refuses new listings and takes the shop's products
// out of the product list (its page and products by id stay); a suspension hides the shop
// and refuses orders, while it lasts; both end by the clock, with no job; lifting ends them
// early, once. Every admin action is audited; the merchant appeals once.
func TestSanctionEffects(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, w *world) {
		// Bad input and who may impose.
		in := func(m map[string]any) map[string]any {
			base := map[string]any{"merchantID": w.shop.ID, "kind": "RESTRICTION", "reason": "late shipping", "durationHours": 24}
			for k, v := range m {
				base[k] = v
			}
			return map[string]any{"i": base}
		}
		for _, tc := range []struct {
			name, token string
			vars        map[string]any
			code, field string
		}{
			{"by a merchant", w.shop.Owner.AccessToken, in(nil), "FORBIDDEN", ""},
			{"without a reason", w.admin.AccessToken, in(map[string]any{"reason": "  "}), "BAD_USER_INPUT", "reason"},
			{"without a duration", w.admin.AccessToken, in(map[string]any{"durationHours": nil}), "BAD_USER_INPUT", "durationHours"},
			{"with both", w.admin.AccessToken, in(map[string]any{"endsAt": w.clock.Now().Add(time.Hour).Format(time.RFC3339)}), "BAD_USER_INPUT", "durationHours"},
			{"ending in the past", w.admin.AccessToken, in(map[string]any{"durationHours": nil, "endsAt": w.clock.Now().Add(-time.Hour).Format(time.RFC3339)}), "BAD_USER_INPUT", "endsAt"},
			{"too long", w.admin.AccessToken, in(map[string]any{"durationHours": 24 * 400}), "BAD_USER_INPUT", "durationHours"},
			{"a removal with a duration", w.admin.AccessToken, in(map[string]any{"kind": "REMOVAL"}), "BAD_USER_INPUT", "endsAt"},
			{"a missing merchant", w.admin.AccessToken, in(map[string]any{"merchantID": "999999"}), "NOT_FOUND", ""},
		} {
			wantCode(t, tc.name, w.s.Query(tc.token, imposeM, tc.vars), tc.code, tc.field)
		}

		// Restriction.
		if !w.listed(t) {
			t.Fatal("the product is not listed to begin with")
		}
		restriction := w.impose(t, "RESTRICTION", 24)
		r := w.createProduct("NEW-1")
		wantCode(t, "create while restricted", r, "INVALID_STATE", "")
		if len(r.Errors) > 0 && (r.Errors[0].Extensions["reason"] != standing.ReasonSanctioned || r.Errors[0].Extensions["currentState"] != "RESTRICTED") {
			t.Errorf("refusal: %s", r.Raw)
		}
		client, ctx := w.s.Client()
		draft := client.Product.Create().SetMerchantID(w.shop.IntID).SetTitle("Draft").SetStatus(product.StatusDRAFT).SaveX(ctx)
		client.ProductVariant.Create().SetProductID(draft.ID).SetMerchantID(w.shop.IntID).SetSku("DRAFT-1").SetPrice(990).SetCurrency("CNY").SetStock(1).ExecX(ctx)
		wantCode(t, "publish while restricted", w.s.Query(w.shop.Owner.AccessToken, `mutation($id: ID!) { publishProduct(id: $id) { status } }`,
			map[string]any{"id": strconv.Itoa(draft.ID)}), "INVALID_STATE", "")
		if w.listed(t) {
			t.Error("a restricted shop's product is listed")
		}
		var byID struct{ Product *struct{ ID string } }
		w.s.MustQuery("", `query($id: ID!) { product(id: $id) { id } }`, map[string]any{"id": strconv.Itoa(w.productID)}).Decode(t, &byID)
		if byID.Product == nil || w.view(t, "").Merchant == nil {
			t.Error("a restricted shop's page or product by id is gone")
		}
		if r := w.place(w.buyer.AccessToken, w.variantID); r.Code() != "" {
			t.Errorf("a restricted shop takes orders: %s", r.Raw)
		}
		wantCode(t, "a second restriction", w.s.Query(w.admin.AccessToken, imposeM, in(nil)), "CONFLICT", "kind")
		if v := w.view(t, w.shop.Owner.AccessToken); v.Merchant.Standing.RestrictedUntil == nil || v.Merchant.Credit.Score != 71 {
			t.Errorf("the owner's view while restricted: %+v %+v", v.Merchant.Standing, v.Merchant.Credit)
		}

		// Appeals: the merchant's own staff, once.
		wantCode(t, "another shop appeals", w.s.Query(w.other.Owner.AccessToken, appealM, map[string]any{"id": restriction, "n": "not ours"}), "NOT_FOUND", "")
		w.s.MustQuery(w.shop.Owner.AccessToken, appealM, map[string]any{"id": restriction, "n": "快递停运 the courier stopped over the holiday"})
		wantCode(t, "a second appeal", w.s.Query(w.shop.Owner.AccessToken, appealM, map[string]any{"id": restriction, "n": "again"}), "CONFLICT", "id")
		var appeals struct {
			MerchantSanctions struct {
				Nodes []struct{ ID, AppealNote string }
			}
		}
		w.s.MustQuery(w.admin.AccessToken, `{ merchantSanctions(first: 10, where: {appealedAtNotNil: true}) { nodes { id appealNote } } }`, nil).Decode(t, &appeals)
		if len(appeals.MerchantSanctions.Nodes) != 1 || appeals.MerchantSanctions.Nodes[0].ID != restriction {
			t.Errorf("admins' appeals: %+v", appeals)
		}

		// The restriction ends by the clock.
		w.advance(25 * time.Hour)
		if r := w.createProduct("NEW-2"); r.Code() != "" {
			t.Errorf("create after the restriction ended: %s", r.Raw)
		}
		if !w.listed(t) {
			t.Error("the product is not listed after the restriction ended")
		}
		if v := w.view(t, w.shop.Owner.AccessToken); v.Merchant.Standing.RestrictedUntil != nil {
			t.Errorf("standing after the end: %+v", v.Merchant.Standing)
		}
		wantCode(t, "lift an ended sanction", w.s.Query(w.admin.AccessToken, liftM, map[string]any{"id": restriction, "r": "late"}), "INVALID_STATE", "")

		// Suspension: hidden, no orders; its own staff are told why.
		placed := w.place(w.buyer.AccessToken, w.variantID) // an order before the suspension goes on
		if placed.Code() != "" {
			t.Fatalf("order before the suspension: %s", placed.Raw)
		}
		suspension := w.impose(t, "SUSPENSION", 48)
		if v := w.view(t, ""); v.Merchant != nil {
			t.Error("a suspended shop shows to the public")
		}
		wantCode(t, "order from a suspended shop", w.place(w.buyer.AccessToken, w.variantID), "NOT_FOUND", "lines[0]")
		r = w.place(w.shop.Owner.AccessToken, w.variantID)
		wantCode(t, "its owner orders", r, "CONFLICT", "lines[0]")
		if len(r.Errors) > 0 && r.Errors[0].Extensions["reason"] != "MERCHANT_UNAVAILABLE" {
			t.Errorf("owner's refusal: %s", r.Raw)
		}
		// Orders placed before go on: the customer and the merchant still have them.
		var mine struct{ MyOrders struct{ TotalCount int } }
		w.s.MustQuery(w.buyer.AccessToken, `{ myOrders(first: 5) { totalCount } }`, nil).Decode(t, &mine)
		var theirs struct{ MerchantOrders struct{ TotalCount int } }
		w.s.MustQuery(w.shop.Owner.AccessToken, `{ merchantOrders(first: 5) { totalCount } }`, nil).Decode(t, &theirs)
		if mine.MyOrders.TotalCount != 2 || theirs.MerchantOrders.TotalCount != 2 {
			t.Errorf("earlier orders: the customer has %d, the merchant %d", mine.MyOrders.TotalCount, theirs.MerchantOrders.TotalCount)
		}

		// Lifting ends it early, once.
		wantCode(t, "lift without a reason", w.s.Query(w.admin.AccessToken, liftM, map[string]any{"id": suspension, "r": ""}), "BAD_USER_INPUT", "reason")
		wantCode(t, "lift by the merchant", w.s.Query(w.shop.Owner.AccessToken, liftM, map[string]any{"id": suspension, "r": "x"}), "FORBIDDEN", "")
		w.s.MustQuery(w.admin.AccessToken, liftM, map[string]any{"id": suspension, "r": "appeal upheld"})
		wantCode(t, "lift twice", w.s.Query(w.admin.AccessToken, liftM, map[string]any{"id": suspension, "r": "again"}), "INVALID_STATE", "")
		if v := w.view(t, ""); v.Merchant == nil {
			t.Error("a lifted suspension still hides the shop")
		}
		if r := w.place(w.buyer.AccessToken, w.variantID); r.Code() != "" {
			t.Errorf("order after the lifting: %s", r.Raw)
		}

		// Removal: permanent until lifted, the score is 0.
		removal := w.s.MustQuery(w.admin.AccessToken, imposeM, map[string]any{"i": map[string]any{
			"merchantID": w.shop.ID, "kind": "REMOVAL", "reason": "counterfeit goods 售假"}})
		w.advance(400 * 24 * time.Hour)
		if v := w.view(t, w.shop.Owner.AccessToken); v.Merchant.Standing.RemovedAt == nil || v.Merchant.Credit.Score != 0 {
			t.Errorf("a removed shop: %+v", v.Merchant)
		}
		if v := w.view(t, ""); v.Merchant != nil {
			t.Error("a removed shop shows to the public")
		}
		_ = removal

		for action, want := range map[string]int{"merchant.impose_sanction": 3, "merchant.lift_sanction": 1, "merchant.appeal_sanction": 1} {
			if n := w.audits(action); n != want {
				t.Errorf("%s: %d audit entries, want %d", action, n, want)
			}
		}
	})
}

// TestCreditJob: the job computes every approved merchant's credit from its orders and
// reviews, against the merchant's own shipping promise; it leaves fresh credit alone and
// recomputes it once stale; two replicas running it at once record each merchant once.
func TestCreditJob(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, w *world) {
		client, ctx := w.s.Client()
		w.s.MustQuery(w.shop.Owner.AccessToken, `mutation($m: ID!) { updateMerchant(id: $m, input: {promisedShipHours: 24}) { promisedShipHours } }`,
			map[string]any{"m": w.shop.ID})
		wantCode(t, "a promise of 0 hours", w.s.Query(w.shop.Owner.AccessToken, `mutation($m: ID!) { updateMerchant(id: $m, input: {promisedShipHours: 0}) { id } }`,
			map[string]any{"m": w.shop.ID}), "BAD_USER_INPUT", "promisedShipHours")
		now := w.clock.Now()
		// Three paid orders: shipped in 2 hours, shipped after 30 hours, not shipped after 48.
		for i, shipped := range []time.Duration{2 * time.Hour, 30 * time.Hour, -1} {
			w.place(w.buyer.AccessToken, w.variantID)
			o := client.Order.Query().Where(order.MerchantID(w.shop.IntID), order.PaidAtIsNil()).FirstX(ctx)
			paid := now.Add(-72 * time.Hour).Add(time.Duration(i) * time.Minute)
			u := o.Update().SetStatus(order.StatusPAID).SetPaidAt(paid).ClearPaymentDeadline()
			if shipped > 0 {
				u.SetStatus(order.StatusSHIPPED).SetShippedAt(paid.Add(shipped))
			}
			u.ExecX(ctx)
		}
		buyer, _ := strconv.Atoi(w.buyer.UserID)
		for _, stars := range []int{5, 4, 3} {
			client.Review.Create().SetProductID(w.productID).SetMerchantID(w.shop.IntID).SetAuthorID(buyer).SetRating(stars).SetCreatedAt(now.Add(-time.Hour)).ExecX(ctx)
		}
		w.s.NewMerchant(t, "pending-shop", merchant.StatusPENDING_REVIEW) // not rated

		job := standing.WithClock(context.Background(), w.clock.Now)
		// Two replicas at once: each merchant recorded once.
		var wg sync.WaitGroup
		done := make([]int, 2)
		for i := range done {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := w.s.App.Credit.RunOnce(job, w.s.DB.Client)
				if err != nil {
					t.Errorf("replica %d: %v", i, err)
				}
				done[i] = n
			}()
		}
		wg.Wait()
		if done[0]+done[1] != 2 || client.MerchantCredit.Query().CountX(ctx) != 2 {
			t.Fatalf("replicas recorded %v; %d credit rows", done, client.MerchantCredit.Query().CountX(ctx))
		}
		c := client.MerchantCredit.Query().Where(merchantcredit.MerchantID(w.shop.IntID)).OnlyX(ctx)
		in := c.Breakdown["inputs"].(map[string]any)
		want := map[string]float64{"PaidOrders": 3, "ShipmentsDue": 3, "ShippedOnTime": 1, "Ratings": 3, "RatingSum": 12, "PromisedShipHours": 24}
		for k, v := range want {
			if in[k] != v {
				t.Errorf("input %s = %v, want %v", k, in[k], v)
			}
		}
		if c.Version != 0 {
			t.Errorf("version %d after one round", c.Version)
		}
		if n, err := w.s.App.Credit.RunOnce(job, w.s.DB.Client); err != nil || n != 0 {
			t.Errorf("fresh credit recomputed: %d, %v", n, err)
		}
		w.clock.Advance(7 * time.Hour)
		if n, err := w.s.App.Credit.RunOnce(job, w.s.DB.Client); err != nil || n != 2 {
			t.Errorf("stale credit: %d recomputed, %v", n, err)
		}
		w.clock.Advance(24 * time.Hour)
		if _, err := w.s.App.Credit.RunOnce(job, w.s.DB.Client); err != nil {
			t.Fatal(err)
		}
		if n := client.MerchantCreditSnapshot.Query().Where(merchantcreditsnapshot.MerchantID(w.shop.IntID)).CountX(ctx); n < 2 {
			t.Errorf("%d days of history", n)
		}
	})
}

// TestSanctionRaces races sanction decisions over HTTP on SQLite and MySQL (REPEATABLE
// READ and READ COMMITTED): four admins restricting one shop at once (one restriction,
// the rest CONFLICT), two liftings of it at once (one wins, the other INVALID_STATE), and
// three appeals of one sanction at once (one note stands, the rest CONFLICT).
func TestSanctionRaces(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d.URL(t))
			client, ctx := w.s.Client()
			for round := range 4 {
				t.Run(fmt.Sprintf("round %d", round+1), func(t *testing.T) {
					var racers []apitest.Racer
					for i := range 4 {
						racers = append(racers, w.s.Request(w.admin.AccessToken, imposeM, map[string]any{"i": map[string]any{
							"merchantID": w.shop.ID, "kind": "RESTRICTION", "reason": fmt.Sprintf("admin %d", i), "durationHours": 24}}))
					}
					outs := apitest.Race(racers...)
					if won := apitest.Successes(t, "impose", outs, "CONFLICT"); won != 1 {
						t.Fatalf("%d restrictions imposed", won)
					}
					var id string
					for _, o := range outs {
						if o.Code() == "" {
							var out struct{ ImposeSanction struct{ ID string } }
							o.R.Decode(t, &out)
							id = out.ImposeSanction.ID
						}
					}
					outs = apitest.Race(
						w.s.Request(w.shop.Owner.AccessToken, appealM, map[string]any{"id": id, "n": "first"}),
						w.s.Request(w.shop.Owner.AccessToken, appealM, map[string]any{"id": id, "n": "second"}),
						w.s.Request(w.shop.Owner.AccessToken, appealM, map[string]any{"id": id, "n": "third"}),
					)
					if won := apitest.Successes(t, "appeal", outs, "CONFLICT"); won != 1 {
						t.Errorf("%d appeals recorded", won)
					}
					outs = apitest.Race(
						w.s.Request(w.admin.AccessToken, liftM, map[string]any{"id": id, "r": "one"}),
						w.s.Request(w.admin.AccessToken, liftM, map[string]any{"id": id, "r": "two"}),
					)
					if won := apitest.Successes(t, "lift", outs, "INVALID_STATE"); won != 1 {
						t.Errorf("%d liftings", won)
					}
					m := client.Merchant.GetX(ctx, w.shop.IntID)
					if m.RestrictedUntil != nil {
						t.Errorf("restricted until %v after the lifting", m.RestrictedUntil)
					}
				})
			}
			for action, want := range map[string]int{"merchant.impose_sanction": 4, "merchant.lift_sanction": 4, "merchant.appeal_sanction": 4} {
				if n := w.audits(action); n != want {
					t.Errorf("%s: %d audit entries, want %d", action, n, want)
				}
			}
		})
	}
}
