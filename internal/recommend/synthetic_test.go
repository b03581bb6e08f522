package recommend_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
)

// basket is one synthetic paid order: who bought which products when.
type basket struct {
	customer int
	products []int
	paidAt   time.Time
}

// shopper is the generator's product: its id, merchant, category and price.
type shopper struct{ id, merchant, category int }

// synthetic draws orders for customers over products, with a fixed random seed: every
// customer likes two categories; an order picks one of them (80%) or any category, then a
// product of it by popularity (the k-th product of a category is drawn with weight
// 1/(k+1)); with probability 0.6 it adds the product's companion (the next one of the
// category: the pattern "bought together" should learn), and with 0.3 another product of
// the category by popularity. Each customer places 2 to 6 orders, spread over the 6 days
// before now, in time order.
func synthetic(seed uint64, products []shopper, customers []int, now time.Time) []basket {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	byCat := map[int][]int{}
	var cats []int
	for _, p := range products {
		if _, ok := byCat[p.category]; !ok {
			cats = append(cats, p.category)
		}
		byCat[p.category] = append(byCat[p.category], p.id)
	}
	slices.Sort(cats)
	popular := func(ids []int) int {
		total := 0.0
		for k := range ids {
			total += 1 / float64(k+1)
		}
		x := rng.Float64() * total
		for k, id := range ids {
			x -= 1 / float64(k+1)
			if x <= 0 {
				return id
			}
		}
		return ids[len(ids)-1]
	}
	var out []basket
	for _, c := range customers {
		likes := []int{cats[rng.IntN(len(cats))], cats[rng.IntN(len(cats))]}
		n := 2 + rng.IntN(5)
		start := now.Add(-6 * 24 * time.Hour)
		for i := range n {
			cat := likes[rng.IntN(2)]
			if rng.Float64() < 0.2 {
				cat = cats[rng.IntN(len(cats))]
			}
			ids := byCat[cat]
			first := popular(ids)
			b := basket{customer: c, products: []int{first}}
			if rng.Float64() < 0.6 && len(ids) > 1 {
				k := slices.Index(ids, first)
				b.products = append(b.products, ids[(k+1)%len(ids)])
			}
			if rng.Float64() < 0.3 {
				if p := popular(ids); !slices.Contains(b.products, p) {
					b.products = append(b.products, p)
				}
			}
			b.paidAt = start.Add(time.Duration(i*20+rng.IntN(20)) * time.Hour)
			out = append(out, b)
		}
	}
	return out
}

// insertPaid writes the baskets as PAID orders with their items, directly (the job reads
// orders; the order flow is not under test here). merchantOf gives each product's shop.
func insertPaid(ctx context.Context, client *ent.Client, tag string, bs []basket, merchantOf map[int]int) error {
	for i, b := range bs {
		o, err := client.Order.Create().SetNumber(fmt.Sprintf("%s%06d", tag, i)).SetCheckoutID(fmt.Sprintf("%s-co-%06d", tag, i)).
			SetCustomerID(b.customer).SetMerchantID(merchantOf[b.products[0]]).SetStatus(order.StatusPAID).
			SetSubtotal(int64(100 * len(b.products))).SetTotal(int64(100 * len(b.products))).SetPaidAt(b.paidAt.UTC()).Save(ctx)
		if err != nil {
			return err
		}
		items := make([]*ent.OrderItemCreate, len(b.products))
		for k, p := range b.products {
			items[k] = client.OrderItem.Create().SetOrderID(o.ID).SetProductID(p).SetTitle("item").SetSku(fmt.Sprintf("sku-%d", p)).
				SetUnitPrice(100).SetQuantity(1).SetLineTotal(100)
		}
		if err := client.OrderItem.CreateBulk(items...).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}
