package promotions_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/auditlog"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

const (
	createQ = `mutation($m: ID, $i: PromotionInput!) { createPromotion(merchantID: $m, input: $i) { id status running label } }`
	updateQ = `mutation($id: ID!, $i: PromotionInput!) { updatePromotion(id: $id, input: $i) { id status label } }`
	moveQ   = `mutation($id: ID!) { activatePromotion(id: $id) { id status running } }`
	pauseQ  = `mutation($id: ID!) { pausePromotion(id: $id) { id status running } }`
	endQ    = `mutation($id: ID!) { endPromotion(id: $id) { id status running } }`
	listQ   = `query($m: ID, $w: PromotionListFilter) { merchantPromotions(merchantID: $m, first: 50, where: $w) { totalCount nodes { id status } } }`
	publicQ = `query($p: ID!, $m: ID!, $n: ID!) {
		product(id: $p) { promotions { id label kind tiers { label threshold { formatted } off { formatted } } audiences }
			variants { flashSale { label price { formatted } remaining perUserLimit endsAt } } }
		merchant(id: $m) { promotions { id kind } }
		node(id: $n) { id }
	}`
)

// TestPromotionManagement drives the management API over GraphQL on SQLite and MySQL:
// its error codes, the life of a promotion (draft, active, paused, ended by time) and who
// sees what — drafts and paused promotions stay hidden from the public and from other
// merchants, in lists, counts and node lookups.
func TestPromotionManagement(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := apitest.NewClock(time.Now().UTC().Truncate(time.Second))
			s := apitest.NewWithClock(t, d.URL(t), clock)
			shop := s.NewMerchant(t, "promo-shop", merchant.StatusACTIVE)
			rival := s.NewMerchant(t, "promo-rival", merchant.StatusACTIVE)
			admin := s.NewAdmin(t, "promo-admin@example.com")
			buyer := s.Register("promo-buyer@example.com", "Buyer")
			pid, vid := s.NewProduct(t, shop, "龙井", product.KindPHYSICAL, "LJ-1", 10000, 100)
			_, rivalVariant := s.NewProduct(t, rival, "普洱", product.KindPHYSICAL, "PE-1", 10000, 100)
			now := clock.Now()
			window := func(in map[string]any) map[string]any {
				in["startsAt"] = now.Format(time.RFC3339)
				in["endsAt"] = now.Add(24 * time.Hour).Format(time.RFC3339)
				return in
			}
			fullReduction := func() map[string]any {
				return window(map[string]any{"kind": "FULL_REDUCTION", "label": "店铺满减",
					"tiers": []map[string]any{{"threshold": "100", "off": "10"}, {"threshold": "200", "off": "30"}}})
			}

			for _, c := range []struct {
				name, token, code, field string
				in                       map[string]any
			}{
				{"anonymous", "", "UNAUTHENTICATED", "", fullReduction()},
				{"a customer", buyer.AccessToken, "FORBIDDEN", "", fullReduction()},
				{"no kind", shop.Owner.AccessToken, "BAD_USER_INPUT", "input.kind", func() map[string]any { in := fullReduction(); delete(in, "kind"); return in }()},
				{"empty label", shop.Owner.AccessToken, "BAD_USER_INPUT", "input.label", func() map[string]any { in := fullReduction(); in["label"] = " "; return in }()},
				{"ends before it starts", shop.Owner.AccessToken, "BAD_USER_INPUT", "input.endsAt", func() map[string]any {
					in := fullReduction()
					in["endsAt"] = now.Add(-time.Hour).Format(time.RFC3339)
					return in
				}()},
				{"tiers going down", shop.Owner.AccessToken, "BAD_USER_INPUT", "input.tiers[1]", func() map[string]any {
					in := fullReduction()
					in["tiers"] = []map[string]any{{"threshold": "200", "off": "30"}, {"threshold": "100", "off": "10"}}
					return in
				}()},
				{"more off than the threshold", shop.Owner.AccessToken, "BAD_USER_INPUT", "input.tiers[0].off", func() map[string]any {
					in := fullReduction()
					in["tiers"] = []map[string]any{{"threshold": "100", "off": "101"}}
					return in
				}()},
				{"repeating with two tiers", shop.Owner.AccessToken, "BAD_USER_INPUT", "input.tiers", func() map[string]any {
					in := fullReduction()
					in["repeating"] = true
					return in
				}()},
				{"buy nothing", shop.Owner.AccessToken, "BAD_USER_INPUT", "input.buyQuantity",
					window(map[string]any{"kind": "BUY_N_GET_M", "label": "买二送一", "buyQuantity": 0, "freeQuantity": 1})},
				{"flash above the price", shop.Owner.AccessToken, "BAD_USER_INPUT", "input.flashItems[0].price",
					window(map[string]any{"kind": "FLASH_SALE", "label": "秒杀", "flashItems": []map[string]any{{"variantID": vid, "price": "100", "cap": 5}}})},
				{"flash of another merchant's variant", shop.Owner.AccessToken, "BAD_USER_INPUT", "input.flashItems[0].variantID",
					window(map[string]any{"kind": "FLASH_SALE", "label": "秒杀", "flashItems": []map[string]any{{"variantID": rivalVariant, "price": "50", "cap": 5}}})},
				{"for another merchant", rival.Owner.AccessToken, "NOT_FOUND", "merchantID", fullReduction()},
			} {
				vars := map[string]any{"i": c.in}
				if c.name == "for another merchant" {
					vars["m"] = shop.ID
				}
				r := s.Query(c.token, createQ, vars)
				if r.Code() != c.code || r.Field() != c.field {
					t.Errorf("%s: got %s %q, want %s %q: %s", c.name, r.Code(), r.Field(), c.code, c.field, r.Raw)
				}
			}

			var created struct {
				CreatePromotion struct{ ID, Status string }
			}
			s.MustQuery(shop.Owner.AccessToken, createQ, map[string]any{"i": fullReduction()}).Decode(t, &created)
			fr := created.CreatePromotion.ID
			if created.CreatePromotion.Status != "DRAFT" {
				t.Fatalf("created %+v, want DRAFT", created.CreatePromotion)
			}
			s.MustQuery(shop.Owner.AccessToken, createQ, map[string]any{"i": window(map[string]any{"kind": "FLASH_SALE",
				"label": "限时秒杀", "perUserLimit": 2, "flashItems": []map[string]any{{"variantID": vid, "price": "79.9", "cap": 5}}})}).Decode(t, &created)
			flash := created.CreatePromotion.ID

			public := func(token, node string) (promos, merchantPromos int, flashSale map[string]any, nodeSeen bool, raw string) {
				t.Helper()
				r := s.MustQuery(token, publicQ, map[string]any{"p": pid, "m": shop.ID, "n": node})
				var out struct {
					Product struct {
						Promotions []map[string]any
						Variants   []struct{ FlashSale map[string]any }
					}
					Merchant struct{ Promotions []map[string]any }
					Node     *struct{ ID string }
				}
				r.Decode(t, &out)
				return len(out.Product.Promotions), len(out.Merchant.Promotions), out.Product.Variants[0].FlashSale, out.Node != nil, string(r.Raw)
			}
			count := func(token string, m any, where map[string]any) (int, string) {
				t.Helper()
				r := s.Query(token, listQ, map[string]any{"m": m, "w": where})
				var out struct {
					MerchantPromotions struct{ TotalCount int }
				}
				if len(r.Errors) > 0 {
					return -1, r.Code()
				}
				r.Decode(t, &out)
				return out.MerchantPromotions.TotalCount, ""
			}

			// Drafts: hidden from the public and from the rival.
			if p, m, f, seen, raw := public("", fr); p != 0 || m != 0 || f != nil || seen {
				t.Errorf("the public sees drafts: %s", raw)
			}
			if p, _, _, seen, raw := public(rival.Owner.AccessToken, fr); p != 0 || seen {
				t.Errorf("the rival sees drafts: %s", raw)
			}
			if n, _ := count(shop.Owner.AccessToken, nil, nil); n != 2 {
				t.Errorf("the shop counts %d promotions, want 2", n)
			}
			if n, code := count(rival.Owner.AccessToken, shop.ID, nil); code != "NOT_FOUND" {
				t.Errorf("the rival lists the shop's promotions: %d %s", n, code)
			}
			if n, _ := count(rival.Owner.AccessToken, nil, nil); n != 0 {
				t.Errorf("the rival counts %d promotions, want 0", n)
			}
			if n, _ := count(admin.AccessToken, nil, map[string]any{"status": []string{"DRAFT"}}); n != 2 {
				t.Errorf("the admin counts %d drafts, want 2", n)
			}
			if r := s.Query(rival.Owner.AccessToken, moveQ, map[string]any{"id": fr}); r.Code() != "NOT_FOUND" {
				t.Errorf("the rival activates a draft: %s", r.Raw)
			}
			if r := s.Query(rival.Owner.AccessToken, updateQ, map[string]any{"id": fr, "i": fullReduction()}); r.Code() != "NOT_FOUND" {
				t.Errorf("the rival updates a draft: %s", r.Raw)
			}

			// Running: public, with public fields only.
			for _, id := range []string{fr, flash} {
				r := s.MustQuery(shop.Owner.AccessToken, moveQ, map[string]any{"id": id})
				if !r.Contains(`"status":"ACTIVE","running":true`) {
					t.Fatalf("activate: %s", r.Raw)
				}
			}
			p, m, f, seen, raw := public("", fr)
			if p != 1 || m != 2 || !seen || f == nil || f["remaining"] != float64(5) || f["perUserLimit"] != float64(2) ||
				f["price"].(map[string]any)["formatted"] != "¥79.90" {
				t.Errorf("the public's view of running promotions: %s", raw)
			}
			if r := s.MustQuery("", publicQ, map[string]any{"p": pid, "m": shop.ID, "n": fr}); !r.Contains(`"label":"店铺满减 · 满200减30"`) && !r.Contains(`"label":"满200减30"`) {
				t.Errorf("tiers: %s", r.Raw)
			} else if !r.Contains(`"audiences":null`) {
				t.Errorf("the public sees audiences: %s", r.Raw)
			}
			if r := s.Query(rival.Owner.AccessToken, pauseQ, map[string]any{"id": fr}); r.Code() != "FORBIDDEN" {
				t.Errorf("the rival pauses a running promotion: %s", r.Raw)
			}
			if r := s.Query(shop.Owner.AccessToken, updateQ, map[string]any{"id": fr, "i": fullReduction()}); r.Code() != "INVALID_STATE" ||
				r.Errors[0].Extensions["currentState"] != "ACTIVE" {
				t.Errorf("updating a running promotion: %s", r.Raw)
			}
			if r := s.Query(shop.Owner.AccessToken, moveQ, map[string]any{"id": fr}); r.Code() != "INVALID_STATE" {
				t.Errorf("activating twice: %s", r.Raw)
			}

			// Paused: hidden again; it can be changed and resumed.
			s.MustQuery(shop.Owner.AccessToken, pauseQ, map[string]any{"id": fr})
			if p, _, _, seen, raw := public("", fr); p != 0 || seen {
				t.Errorf("the public sees a paused promotion: %s", raw)
			}
			in := fullReduction()
			in["label"] = "双十一满减"
			if r := s.MustQuery(shop.Owner.AccessToken, updateQ, map[string]any{"id": fr, "i": in}); !r.Contains(`"label":"双十一满减"`) {
				t.Errorf("update: %s", r.Raw)
			}
			in["kind"] = "BUY_N_GET_M"
			if r := s.Query(shop.Owner.AccessToken, updateQ, map[string]any{"id": fr, "i": in}); r.Code() != "BAD_USER_INPUT" || r.Field() != "input.kind" {
				t.Errorf("changing the kind: %s", r.Raw)
			}
			s.MustQuery(shop.Owner.AccessToken, moveQ, map[string]any{"id": fr})
			if n, _ := count(shop.Owner.AccessToken, nil, map[string]any{"running": true}); n != 2 {
				t.Errorf("running: %d, want 2", n)
			}

			// An admin ends the flash sale; ending again is INVALID_STATE.
			if r := s.MustQuery(admin.AccessToken, endQ, map[string]any{"id": flash}); !r.Contains(`"status":"ENDED"`) {
				t.Errorf("admin ends: %s", r.Raw)
			}
			if n := func() int {
				c, ctx := s.Client()
				id, _ := strconv.Atoi(flash)
				return c.AuditLog.Query().Where(auditlog.Action("promotion.ended"), auditlog.TargetID(id)).CountX(ctx)
			}(); n != 1 {
				t.Errorf("%d audit entries of the admin ending a promotion, want 1", n)
			}
			if r := s.Query(shop.Owner.AccessToken, endQ, map[string]any{"id": flash}); r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "ENDED" {
				t.Errorf("ending twice: %s", r.Raw)
			}
			if _, _, f, _, raw := public("", fr); f != nil {
				t.Errorf("an ended flash sale shows: %s", raw)
			}

			// Past endsAt the full reduction is ENDED by time, and hidden.
			clock.Advance(25 * time.Hour)
			owner := s.Login(shop.Owner.Email)
			if n, _ := count(owner.AccessToken, nil, map[string]any{"status": []string{"ENDED"}}); n != 2 {
				t.Errorf("ended: %d, want 2", n)
			}
			if n, _ := count(owner.AccessToken, nil, map[string]any{"status": []string{"ACTIVE"}}); n != 0 {
				t.Errorf("active after the end: %d, want 0", n)
			}
			if p, m, _, seen, raw := public("", fr); p != 0 || m != 0 || seen {
				t.Errorf("the public sees an ended promotion: %s", raw)
			}
			if r := s.Query(owner.AccessToken, moveQ, map[string]any{"id": fr}); r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "ENDED" {
				t.Errorf("activating after the end: %s", r.Raw)
			}
		})
	}
}
