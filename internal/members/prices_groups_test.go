package members_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
)

const (
	setPriceM    = `mutation($v: ID!, $t: ID!, $p: String!) { setMemberPrice(variantID: $v, tierID: $t, price: $p) { id memberPrices { tier { code } price { amount } } } }`
	removePriceM = `mutation($v: ID!, $t: ID!) { removeMemberPrice(variantID: $v, tierID: $t) { id memberPrices { tier { code } } } }`
	variantQ     = `query($id: ID!) { node(id: $id) { ... on ProductVariant { memberPrices { tier { code } price { amount currency } } } } }`
)

type variantView struct {
	Node *struct {
		MemberPrices []struct {
			Tier  struct{ Code string }
			Price struct{ Amount, Currency string }
		}
	}
}

func (w *world) memberPrices(t *testing.T, token string, id int) *variantView {
	t.Helper()
	var v variantView
	w.s.MustQuery(token, variantQ, map[string]any{"id": strconv.Itoa(id)}).Decode(t, &v)
	return &v
}

// TestMemberPrices: a merchant's staff set a variant's price per tier below its list
// price; everyone sees them on the variant, lowest tier first; other merchants' variants,
// unknown tiers and prices at or above the list price are refused with their codes; a
// hidden product's member prices stay hidden with it.
func TestMemberPrices(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, w *world) {
		ids := w.tiers(t)
		owner := w.shop.Owner.AccessToken
		v := strconv.Itoa(w.variantID)
		w.s.MustQuery(owner, setPriceM, map[string]any{"v": v, "t": ids["GOLD"], "p": "80.00"})
		w.s.MustQuery(w.s.AddStaff(t, w.shop, "staff@example.com").AccessToken, setPriceM, map[string]any{"v": v, "t": ids["SILVER"], "p": "90"})
		w.s.MustQuery(owner, setPriceM, map[string]any{"v": v, "t": ids["GOLD"], "p": "79.90"}) // replaces
		got := w.memberPrices(t, "", w.variantID)
		if got.Node == nil || len(got.Node.MemberPrices) != 2 || got.Node.MemberPrices[0].Tier.Code != "SILVER" ||
			got.Node.MemberPrices[0].Price.Amount != "90.00" || got.Node.MemberPrices[1].Price.Amount != "79.90" ||
			got.Node.MemberPrices[1].Price.Currency != "CNY" {
			t.Fatalf("the public sees the member prices: %+v", got.Node)
		}
		for _, c := range []struct {
			what, token, variant, tier, price, code, field string
		}{
			{"the list price", owner, v, ids["GOLD"], "100.00", "BAD_USER_INPUT", "price"},
			{"above the list price", owner, v, ids["GOLD"], "120", "BAD_USER_INPUT", "price"},
			{"zero", owner, v, ids["GOLD"], "0", "BAD_USER_INPUT", "price"},
			{"not an amount", owner, v, ids["GOLD"], "8O.00", "BAD_USER_INPUT", "price"},
			{"another shop's variant", owner, strconv.Itoa(w.otherVariant), ids["GOLD"], "10.00", "NOT_FOUND", ""},
			{"an unknown tier", owner, v, "999999", "10.00", "NOT_FOUND", ""},
			{"a customer", w.buyer.AccessToken, v, ids["GOLD"], "10.00", "FORBIDDEN", ""},
			{"the other shop", w.other.Owner.AccessToken, v, ids["GOLD"], "10.00", "NOT_FOUND", ""},
		} {
			wantCode(t, c.what, w.s.Query(c.token, setPriceM, map[string]any{"v": c.variant, "t": c.tier, "p": c.price}), c.code, c.field)
		}
		wantCode(t, "the other shop removes", w.s.Query(w.other.Owner.AccessToken, removePriceM, map[string]any{"v": v, "t": ids["GOLD"]}), "NOT_FOUND", "")
		w.s.MustQuery(owner, removePriceM, map[string]any{"v": v, "t": ids["GOLD"]})
		if got := w.memberPrices(t, w.buyer.AccessToken, w.variantID); len(got.Node.MemberPrices) != 1 {
			t.Errorf("after removing GOLD's: %+v", got.Node)
		}
		// A lowered list price hides member prices no longer below it.
		client, ctx := w.s.Client()
		client.ProductVariant.UpdateOneID(w.variantID).SetPrice(9000).ExecX(ctx)
		if got := w.memberPrices(t, "", w.variantID); len(got.Node.MemberPrices) != 0 {
			t.Errorf("a member price at the list price is not shown: %+v", got.Node)
		}
		// A delisted product's variant, and so its member prices, is hidden from the public.
		client.ProductVariant.UpdateOneID(w.variantID).SetPrice(10000).ExecX(ctx)
		pid := client.ProductVariant.GetX(ctx, w.variantID).ProductID
		client.Product.UpdateOneID(pid).SetStatus(product.StatusDELISTED).ExecX(ctx)
		if got := w.memberPrices(t, "", w.variantID); got.Node != nil {
			t.Errorf("a delisted variant's member prices: %+v", got.Node)
		}
		if got := w.memberPrices(t, owner, w.variantID); got.Node == nil || len(got.Node.MemberPrices) != 1 {
			t.Errorf("the owner still sees them: %+v", got.Node)
		}
	})
}

const (
	createGroupM = `mutation($i: CustomerGroupInput!) { createCustomerGroup(input: $i) { id name minPaidOrders minSpend { amount } memberCount audience members { customerID source } } }`
	addMembersM  = `mutation($id: ID!, $c: [ID!]!) { addCustomerGroupMembers(id: $id, customerIDs: $c) { memberCount } }`
	groupsQ      = `query { customerGroups { id name memberCount } }`
	groupNodeQ   = `query($id: ID!) { node(id: $id) { id ... on CustomerGroup { name } } }`
)

type groupView struct {
	ID            string
	Name          string
	MinPaidOrders *int
	MemberCount   int
	Audience      string
	Members       []struct{ CustomerID, Source string }
}

// TestCustomerGroupsArePrivate: a merchant's group takes its customers by rule (paid
// orders with the merchant, cancelled and refunded ones left out) and by hand (only its
// own customers); no other merchant and no customer sees or changes it, by list, by id or
// by mutation; the group audience answers for its members only.
func TestCustomerGroupsArePrivate(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		w.paid(t, w.buyer, w.shop, 1000, now)
		w.paid(t, w.buyer, w.shop, 1000, now)
		w.paid(t, w.second, w.shop, 1000, now)
		w.paid(t, w.second, w.shop, 1000, now, refunded(1000))
		w.paid(t, w.second, w.other, 1000, now)
		third := w.s.Register("third@example.com", "Third")
		w.paid(t, third, w.other, 1000, now)
		owner := w.shop.Owner.AccessToken
		var out struct{ CreateCustomerGroup groupView }
		w.s.MustQuery(owner, createGroupM, map[string]any{"i": map[string]any{"name": "老客", "minPaidOrders": 2}}).Decode(t, &out)
		g := out.CreateCustomerGroup
		if g.MemberCount != 1 || len(g.Members) != 1 || g.Members[0].CustomerID != w.buyer.UserID || g.Members[0].Source != "RULE" ||
			g.Audience != "group:"+g.ID {
			t.Fatalf("by rule, the buyer's 2 paid orders: %+v", g)
		}
		wantReason(t, "a taken name", w.s.Query(owner, createGroupM, map[string]any{"i": map[string]any{"name": "老客"}}), "NAME_TAKEN")
		wantCode(t, "no name", w.s.Query(owner, createGroupM, map[string]any{"i": map[string]any{"name": ""}}), "BAD_USER_INPUT", "name")
		wantCode(t, "0 orders", w.s.Query(owner, createGroupM, map[string]any{"i": map[string]any{"name": "x", "minPaidOrders": 0}}), "BAD_USER_INPUT", "minPaidOrders")
		wantCode(t, "a customer creates", w.s.Query(w.buyer.AccessToken, createGroupM, map[string]any{"i": map[string]any{"name": "x"}}), "FORBIDDEN", "")
		// The other shop's group of the same name is its own.
		w.s.MustQuery(w.other.Owner.AccessToken, createGroupM, map[string]any{"i": map[string]any{"name": "老客"}})

		wantCode(t, "not a customer of the shop", w.s.Query(owner, addMembersM, map[string]any{"id": g.ID, "c": []string{third.UserID}}), "BAD_USER_INPUT", "customerIDs")
		wantCode(t, "nobody", w.s.Query(owner, addMembersM, map[string]any{"id": g.ID, "c": []string{"999999"}}), "BAD_USER_INPUT", "customerIDs")
		var added struct{ AddCustomerGroupMembers struct{ MemberCount int } }
		w.s.MustQuery(owner, addMembersM, map[string]any{"id": g.ID, "c": []string{w.second.UserID, w.buyer.UserID, w.second.UserID}}).Decode(t, &added)
		w.s.MustQuery(owner, addMembersM, map[string]any{"id": g.ID, "c": []string{w.second.UserID}}) // again: no duplicate
		if added.AddCustomerGroupMembers.MemberCount != 2 {
			t.Errorf("by hand: %+v", added)
		}

		for _, c := range []struct{ name, token, code string }{
			{"the other shop", w.other.Owner.AccessToken, "NOT_FOUND"},
			{"a member customer", w.buyer.AccessToken, "FORBIDDEN"},
			{"anonymous", "", "UNAUTHENTICATED"},
		} {
			var n struct{ Node *struct{ ID string } }
			w.s.MustQuery(c.token, groupNodeQ, map[string]any{"id": g.ID}).Decode(t, &n)
			if n.Node != nil {
				t.Errorf("%s reads the group by id", c.name)
			}
			wantCode(t, c.name+" adds", w.s.Query(c.token, addMembersM, map[string]any{"id": g.ID, "c": []string{w.second.UserID}}), c.code, "")
		}
		var theirs struct{ CustomerGroups []groupView }
		w.s.MustQuery(w.other.Owner.AccessToken, groupsQ, nil).Decode(t, &theirs)
		if len(theirs.CustomerGroups) != 1 || theirs.CustomerGroups[0].ID == g.ID || theirs.CustomerGroups[0].MemberCount != 0 {
			t.Errorf("the other shop lists its own group only: %+v", theirs)
		}
		wantCode(t, "a customer lists groups", w.s.Query(w.buyer.AccessToken, groupsQ, nil), "FORBIDDEN", "")
		wantCode(t, "the other shop updates", w.s.Query(w.other.Owner.AccessToken,
			`mutation($id: ID!) { updateCustomerGroup(id: $id, input: {name: "mine"}) { id } }`, map[string]any{"id": g.ID}), "NOT_FOUND", "")
		var all struct{ CustomerGroups []groupView }
		w.s.MustQuery(w.admin.AccessToken, groupsQ, nil).Decode(t, &all)
		if len(all.CustomerGroups) != 2 {
			t.Errorf("admins list every group: %+v", all)
		}

		// The audience: members either way; not the other shop's customer; nonsense is nobody.
		gid, _ := strconv.Atoi(g.ID)
		checker := w.s.App.Members.GroupChecker()
		for _, c := range []struct {
			user int
			rest string
			want bool
		}{{uid(w.buyer), g.ID, true}, {uid(w.second), g.ID, true}, {uid(third), g.ID, false},
			{uid(w.buyer), strconv.Itoa(gid + 1), false}, {uid(w.buyer), "x", false}, {0, g.ID, false}} {
			if got, err := checker.InAudience(w.ctx(), w.s.DB.Client, c.user, c.rest); err != nil || got != c.want {
				t.Errorf("group:%s for %d = %v %v, want %v", c.rest, c.user, got, err, c.want)
			}
		}

		// The buyer's orders are refunded: at the next run (a day on) the rule drops them;
		// the second, added by hand, stays after a second paid order adds them by rule too.
		client, ctx := w.s.Client()
		w.paid(t, w.second, w.shop, 500, now)
		client.Order.Update().Where(order.CustomerID(uid(w.buyer)), order.MerchantID(w.shop.IntID)).SetRefundedAmount(1000).ExecX(ctx)
		w.advance(25 * time.Hour)
		w.runJob(t)
		var after struct {
			Node *struct {
				MemberCount int
				Members     []struct{ CustomerID, Source string }
			}
		}
		w.s.MustQuery(w.shop.Owner.AccessToken, `query($id: ID!) { node(id: $id) { ... on CustomerGroup { memberCount members { customerID source } } } }`,
			map[string]any{"id": g.ID}).Decode(t, &after)
		if after.Node == nil || after.Node.MemberCount != 2 || len(after.Node.Members) != 3 {
			t.Fatalf("after the job: %+v", after.Node)
		}
		w.s.MustQuery(w.shop.Owner.AccessToken, `mutation($id: ID!, $c: [ID!]!) { removeCustomerGroupMembers(id: $id, customerIDs: $c) { memberCount } }`,
			map[string]any{"id": g.ID, "c": []string{w.second.UserID, w.buyer.UserID}})
		if ok, _ := checker.InAudience(w.ctx(), w.s.DB.Client, uid(w.second), g.ID); !ok {
			t.Error("a member by rule stays when taken out by hand")
		}
		if ok, _ := checker.InAudience(w.ctx(), w.s.DB.Client, uid(w.buyer), g.ID); ok {
			t.Error("the buyer, refunded and taken out by hand, is out")
		}
	})
}
