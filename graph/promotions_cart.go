package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/cart"
	"github.com/xiadan/xiadan/internal/money"
)

// quotedCart finds the cart a CartLine field is resolved under (cart { lines { discount } }
// or cart { merchants { lines { discount } } }) by walking up the field contexts: a cart
// line has no promotions of its own, its cart's quote has them. Nil elsewhere (a line
// reached through node(id:) or a cart mutation), which shows no discount.
func quotedCart(ctx context.Context) *cart.Cart {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if c, ok := fc.Result.(*cart.Cart); ok {
			return c
		}
	}
	return nil
}

// cartLineDiscount is what the promotions of the line's cart take off line l.
func cartLineDiscount(ctx context.Context, db *ent.Client, l *ent.CartLine) (discount, lineTotal money.Money, err error) {
	s, err := cart.State(ctx, db, l)
	if err != nil {
		return money.Money{}, money.Money{}, err
	}
	var d int64
	if c := quotedCart(ctx); c != nil {
		d = c.Promotions.LineDiscount(l.ID)
	}
	return money.Money{Minor: d, Currency: s.LineTotal.Currency}, s.LineTotal, nil
}

// nilIfEmpty is s, or nil for "".
func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
