package recommend

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/analyticsevent"
	"github.com/xiadan/xiadan/ent/cartline"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/productvariant"
)

// Behaviour says what a viewer has shown interest in lately, for "for you". ctx is a
// system context. The default is EventsThenPurchases.
type Behaviour interface {
	// RecentProducts lists at most limit product ids of userID's recent interest, most
	// recent first.
	RecentProducts(ctx context.Context, db *ent.Client, userID, limit int) ([]int, error)
}

// EventsThenPurchases is the default Behaviour: the products the viewer viewed, added to
// a cart or checked out most recently as their front end reported them (trackEvents of
// internal/analytics while signed in; newest first), then OrdersAndCart's. Events are
// kept ANALYTICS_EVENT_RETENTION (90 days), so an older interest is known only from the
// viewer's cart and orders.
type EventsThenPurchases struct{}

// RecentProducts implements Behaviour.
func (EventsThenPurchases) RecentProducts(ctx context.Context, db *ent.Client, userID, limit int) ([]int, error) {
	// Several events name the same product: read a few times limit to find limit distinct.
	seen, err := db.AnalyticsEvent.Query().
		Where(analyticsevent.UserID(userID), analyticsevent.ProductIDNotNil(),
			analyticsevent.KindIn(analyticsevent.KindVIEW_PRODUCT, analyticsevent.KindADD_TO_CART, analyticsevent.KindBEGIN_CHECKOUT)).
		Order(ent.Desc(analyticsevent.FieldOccurredAt), ent.Desc(analyticsevent.FieldID)).Limit(limit * 4).
		Select(analyticsevent.FieldProductID).Ints(ctx)
	if err != nil {
		return nil, err
	}
	own, err := OrdersAndCart{}.RecentProducts(ctx, db, userID, limit)
	if err != nil {
		return nil, err
	}
	return firstDistinct(append(seen, own...), limit), nil
}

// OrdersAndCart is the Behaviour of the viewer's own purchases: the products in their cart
// (newest line first), then those of their paid orders, newest first.
type OrdersAndCart struct{}

// RecentProducts implements Behaviour.
func (OrdersAndCart) RecentProducts(ctx context.Context, db *ent.Client, userID, limit int) ([]int, error) {
	variants, err := db.CartLine.Query().Where(cartline.UserID(userID)).
		Order(ent.Desc(cartline.FieldUpdatedAt), ent.Desc(cartline.FieldID)).Limit(limit).
		Select(cartline.FieldVariantID).Ints(ctx)
	if err != nil {
		return nil, err
	}
	var ids []int
	if len(variants) > 0 {
		vs, err := db.ProductVariant.Query().Where(productvariant.IDIn(variants...)).
			Select(productvariant.FieldID, productvariant.FieldProductID).All(ctx)
		if err != nil {
			return nil, err
		}
		productOf := make(map[int]int, len(vs))
		for _, v := range vs {
			productOf[v.ID] = v.ProductID
		}
		for _, v := range variants {
			if p, ok := productOf[v]; ok {
				ids = append(ids, p)
			}
		}
	}
	bought, err := Purchased(ctx, db, userID, limit)
	if err != nil {
		return nil, err
	}
	return firstDistinct(append(ids, bought...), limit), nil
}

// Purchased lists the products of userID's paid orders, newest first, at most limit.
func Purchased(ctx context.Context, db *ent.Client, userID, limit int) ([]int, error) {
	ids, err := db.OrderItem.Query().
		Where(orderitem.ProductIDNotNil(), orderitem.HasOrderWith(order.CustomerID(userID), order.PaidAtNotNil())).
		Order(ent.Desc(orderitem.FieldOrderID), ent.Asc(orderitem.FieldID)).Limit(limit * 2).
		Select(orderitem.FieldProductID).Ints(ctx)
	if err != nil {
		return nil, err
	}
	return firstDistinct(ids, limit), nil
}

// firstDistinct keeps the first occurrence of each id, at most limit of them.
func firstDistinct(ids []int, limit int) []int {
	seen := make(map[int]bool, len(ids))
	out := make([]int, 0, min(len(ids), limit))
	for _, id := range ids {
		if !seen[id] && len(out) < limit {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
