package recommend_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/recommend"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Offline evaluation (docs/RECOMMENDATIONS.md): the demo seed's catalogue with synthetic
// buyers (the demo holds only a handful of orders), each buyer's last order held out, the
// counts built by the job from the other orders, and hit rate@10 — the share of held-out
// orders of which at least one product is in the list — of boughtTogether and for-you
// against a popularity baseline (the training orders' best sellers), excluding the same
// products from both.
const (
	evalCustomers = 400
	evalSeed      = 13
	evalK         = 10
)

func TestOfflineHitRate(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds the demo")
	}
	s := apitest.New(t, testdb.SQLiteURL(t))
	client, sys := s.Client()
	if _, err := seed.Demo(sys, client, seed.Options{Password: "offline evaluation"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ps, err := client.Product.Query().Where(standing.ProductOnSale(now), standing.ProductOfListedMerchant(now), product.CategoryIDNotNil()).
		Order(ent.Asc(product.FieldID)).All(sys)
	if err != nil {
		t.Fatal(err)
	}
	products := make([]shopper, len(ps))
	merchantOf := map[int]int{}
	for i, p := range ps {
		products[i] = shopper{id: p.ID, merchant: p.MerchantID, category: *p.CategoryID}
		merchantOf[p.ID] = p.MerchantID
	}
	customers := make([]int, evalCustomers)
	for i := range customers {
		customers[i] = client.User.Create().SetDisplayName(fmt.Sprintf("Synthetic %d", i)).SetRoles([]string{"CUSTOMER"}).SaveX(sys).ID
	}
	all := synthetic(evalSeed, products, customers, now)
	var train, held []basket
	for i, b := range all {
		if i+1 == len(all) || all[i+1].customer != b.customer {
			held = append(held, b)
		} else {
			train = append(train, b)
		}
	}
	if err := insertPaid(sys, client, "EV", train, merchantOf); err != nil {
		t.Fatal(err)
	}
	svc := &recommend.Service{}
	if _, err := svc.Refresh(sys, client); err != nil {
		t.Fatal(err)
	}

	// The baseline: training units per product, best first.
	units := map[int]int{}
	owned := map[int][]int{}
	for _, b := range train {
		for _, p := range b.products {
			units[p]++
			owned[b.customer] = append(owned[b.customer], p)
		}
	}
	byUnits := make([]int, 0, len(units))
	for p := range units {
		byUnits = append(byUnits, p)
	}
	sort.Slice(byUnits, func(i, j int) bool {
		if units[byUnits[i]] != units[byUnits[j]] {
			return units[byUnits[i]] > units[byUnits[j]]
		}
		return byUnits[i] < byUnits[j]
	})
	popular := func(skip []int) []int {
		var out []int
		for _, p := range byUnits {
			if len(out) < evalK && !slices.Contains(skip, p) {
				out = append(out, p)
			}
		}
		return out
	}
	hit := func(list, want []int) bool {
		for _, p := range want {
			if slices.Contains(list, p) {
				return true
			}
		}
		return false
	}
	k := evalK
	anon := context.Background()
	var together, togetherBase, togetherN, forYou, forYouBase, forYouN int
	for _, b := range held {
		// boughtTogether: the first product of a held-out order of two or more; a hit
		// when another of its products is in the list.
		if len(b.products) > 1 {
			p, err := client.Product.Get(sys, b.products[0])
			if err != nil {
				t.Fatal(err)
			}
			list, err := svc.BoughtTogether(anon, client, p, &k)
			if err != nil {
				t.Fatal(err)
			}
			togetherN++
			if hit(productIDs(list), b.products[1:]) {
				together++
			}
			if hit(popular(b.products[:1]), b.products[1:]) {
				togetherBase++
			}
		}
		// For you: the buyer's list, products they bought before left out of both lists
		// and of the targets (they cannot be recommended).
		var fresh []int
		for _, p := range b.products {
			if !slices.Contains(owned[b.customer], p) {
				fresh = append(fresh, p)
			}
		}
		if len(fresh) == 0 {
			continue
		}
		ctx := viewer.NewContext(anon, &viewer.Viewer{UserID: b.customer, Roles: []viewer.Role{viewer.RoleCustomer}})
		list, err := svc.ForYou(ctx, client, &k)
		if err != nil {
			t.Fatal(err)
		}
		forYouN++
		if hit(productIDs(list), fresh) {
			forYou++
		}
		if hit(popular(owned[b.customer]), fresh) {
			forYouBase++
		}
	}
	rate := func(h, n int) float64 { return float64(h) / float64(max(n, 1)) }
	t.Logf("catalogue: %d visible products in categories; %d synthetic buyers, %d training orders, %d held out",
		len(products), len(customers), len(train), len(held))
	t.Logf("boughtTogether hit rate@%d: %.3f (%d/%d); popularity baseline %.3f", evalK, rate(together, togetherN), together, togetherN, rate(togetherBase, togetherN))
	t.Logf("recommendedForYou hit rate@%d: %.3f (%d/%d); popularity baseline %.3f", evalK, rate(forYou, forYouN), forYou, forYouN, rate(forYouBase, forYouN))
	if together <= togetherBase {
		t.Errorf("boughtTogether (%d hits) does not beat popularity (%d)", together, togetherBase)
	}
}

func productIDs(ps []*ent.Product) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}
