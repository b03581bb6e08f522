package promotions_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/pricing"
)

// A running promotion aimed at an audience is visible by id (node, nodes) only to its
// audience, its merchant's members and admins: the privacy rule lets everyone read running
// promotions for checkout, and before this check anyone with the id read its terms.
func TestTargetedPromotionIsHiddenFromNode(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		gm := members{ids: &sync.Map{}}
		s.App.Promotions.Audiences = []pricing.AudienceChecker{gm}
		shop := s.NewMerchant(t, "node-shop", merchant.StatusACTIVE)
		gold := s.Register("gold@example.com", "Gold")
		plain := s.Register("plain@example.com", "Plain")
		goldID, _ := strconv.Atoi(gold.UserID)
		gm.ids.Store(goldID, true)
		s.NewProduct(t, shop, "茶一", product.KindPHYSICAL, "N-1", 10000, 100)
		now := time.Now().UTC()
		var created struct{ CreatePromotion struct{ ID string } }
		s.MustQuery(shop.Owner.AccessToken, createQ, map[string]any{"i": map[string]any{"kind": "FULL_REDUCTION", "label": "金卡专享满减",
			"audiences": []string{"tier:GOLD"}, "startsAt": now.Add(-time.Minute).Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339),
			"tiers": []map[string]any{{"threshold": "100", "off": "40"}}}}).Decode(t, &created)
		s.MustQuery(shop.Owner.AccessToken, moveQ, map[string]any{"id": created.CreatePromotion.ID})
		id := created.CreatePromotion.ID
		const node = `query($n: ID!) { node(id: $n) { id ... on Promotion { label } } nodes(ids: [$n]) { id } }`
		for _, who := range []struct {
			name, token string
			sees        bool
		}{{"anonymous", "", false}, {"a customer outside the audience", plain.AccessToken, false},
			{"a GOLD customer", gold.AccessToken, true}, {"the shop's owner", shop.Owner.AccessToken, true}} {
			r := s.MustQuery(who.token, node, map[string]any{"n": id})
			if got := r.Contains("金卡专享满减"); got != who.sees {
				t.Errorf("%s sees the promotion by id: %v, want %v: %s", who.name, got, who.sees, r.Raw)
			}
			if !who.sees && !r.Contains(`"node":null,"nodes":[null]`) {
				t.Errorf("%s: want null node and nodes: %s", who.name, r.Raw)
			}
		}
	})
}
