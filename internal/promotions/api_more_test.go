package promotions_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/flashsaleitem"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/pricing"
)

// members is an audience checker answering tier:GOLD for the users it holds.
type members struct{ ids *sync.Map }

func (members) Prefix() string { return "tier" }
func (m members) InAudience(_ context.Context, _ *ent.Client, userID int, rest string) (bool, error) {
	_, ok := m.ids.Load(userID)
	return rest == "GOLD" && ok, nil
}

// TestFlashItemsChangeAndAudiences, over GraphQL on SQLite and MySQL: a paused flash
// sale's items change by variant, never below what has sold and never dropping a variant
// that has sold; a targeted promotion shows only to its audience, and its audiences only
// to the merchant.
func TestFlashItemsChangeAndAudiences(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		// Set before any request, so the server's goroutines see it.
		gm := members{ids: &sync.Map{}}
		s.App.Promotions.Audiences = []pricing.AudienceChecker{gm}
		shop := s.NewMerchant(t, "flash-shop", merchant.StatusACTIVE)
		gold := s.Register("gold@example.com", "Gold")
		plain := s.Register("plain@example.com", "Plain")
		goldID, _ := strconv.Atoi(gold.UserID)
		gm.ids.Store(goldID, true)
		pid, v1 := s.NewProduct(t, shop, "茶一", product.KindPHYSICAL, "F-1", 10000, 100)
		_, v2 := s.NewProduct(t, shop, "茶二", product.KindPHYSICAL, "F-2", 10000, 100)
		now := time.Now().UTC()
		in := func(items ...map[string]any) map[string]any {
			return map[string]any{"kind": "FLASH_SALE", "label": "秒杀", "perUserLimit": 1,
				"startsAt": now.Add(-time.Minute).Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339),
				"flashItems": items}
		}
		var created struct{ CreatePromotion struct{ ID string } }
		s.MustQuery(shop.Owner.AccessToken, createQ, map[string]any{"i": in(map[string]any{"variantID": v1, "price": "80", "cap": 5})}).Decode(t, &created)
		id := created.CreatePromotion.ID
		s.MustQuery(shop.Owner.AccessToken, moveQ, map[string]any{"id": id})
		client, ctx := s.Client()
		client.FlashSaleItem.Update().Where(flashsaleitem.VariantID(v1)).SetSold(3).ExecX(ctx)
		s.MustQuery(shop.Owner.AccessToken, pauseQ, map[string]any{"id": id})

		for _, c := range []struct {
			name, field string
			in          map[string]any
		}{
			{"a cap below what sold", "input.flashItems[0].cap", in(map[string]any{"variantID": v1, "price": "80", "cap": 2})},
			{"dropping a variant that sold", "input.flashItems", in(map[string]any{"variantID": v2, "price": "80", "cap": 2})},
		} {
			if r := s.Query(shop.Owner.AccessToken, updateQ, map[string]any{"id": id, "i": c.in}); r.Code() != "BAD_USER_INPUT" || r.Field() != c.field {
				t.Errorf("%s: %s", c.name, r.Raw)
			}
		}
		s.MustQuery(shop.Owner.AccessToken, updateQ, map[string]any{"id": id, "i": in(
			map[string]any{"variantID": v1, "price": "75", "cap": 3}, map[string]any{"variantID": v2, "price": "60", "cap": 10})})
		items := client.FlashSaleItem.Query().Order(ent.Asc(flashsaleitem.FieldVariantID)).AllX(ctx)
		if len(items) != 2 || items[0].Price != 7500 || items[0].Cap != 3 || items[0].Sold != 3 || items[1].Price != 6000 {
			t.Fatalf("items after the change: %+v", items)
		}

		// A full reduction for gold members only.
		fr := map[string]any{"kind": "FULL_REDUCTION", "label": "金卡满减", "audiences": []string{"tier:GOLD"},
			"startsAt": now.Add(-time.Minute).Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339),
			"tiers": []map[string]any{{"threshold": "100", "off": "10"}}}
		s.MustQuery(shop.Owner.AccessToken, createQ, map[string]any{"i": fr}).Decode(t, &created)
		s.MustQuery(shop.Owner.AccessToken, moveQ, map[string]any{"id": created.CreatePromotion.ID})
		q := `query($p: ID!) { product(id: $p) { promotions { label audiences } } }`
		for _, c := range []struct {
			who, token string
			shows      bool
		}{{"anonymous", "", false}, {"not a member", plain.AccessToken, false}, {"a member", gold.AccessToken, true}} {
			r := s.MustQuery(c.token, q, map[string]any{"p": pid})
			if r.Contains("金卡满减") != c.shows {
				t.Errorf("%s: %s", c.who, r.Raw)
			}
			if r.Contains("tier:GOLD") {
				t.Errorf("%s sees the audiences: %s", c.who, r.Raw)
			}
		}
		if r := s.MustQuery(shop.Owner.AccessToken, listQ+` `, map[string]any{}); !r.Contains(`"totalCount":2`) {
			t.Errorf("the merchant's list: %s", r.Raw)
		}
		r := s.MustQuery(shop.Owner.AccessToken, `{ merchantPromotions(first: 5) { nodes { label audiences } } }`, nil)
		if !r.Contains(`"audiences":["tier:GOLD"]`) {
			t.Errorf("the merchant does not see the audiences: %s", r.Raw)
		}
	})
}
