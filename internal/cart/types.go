// Package cart keeps a signed-in customer's persistent cart and saved addresses, prices
// the cart as it is now (grouped by merchant, with each merchant's shipping rule), and
// says which lines cannot be bought as they are.
package cart

import (
	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/money"
)

// Cart is a customer's cart, priced when it was read.
type Cart struct {
	// Merchants groups the lines by merchant, in the order their first line was added.
	Merchants []*Group
	// Lines are every line, newest first. Each has Edges.Variant loaded (with its
	// product and the product's merchant) when the variant still exists.
	Lines []*ent.CartLine
	// Quantity is the units across all lines.
	Quantity int
	// Subtotal, ShippingFee and Total sum the groups; lines with a problem are left out.
	Subtotal, ShippingFee, Total money.Money
	// Ready is true when there is at least one line and no line has a problem.
	Ready bool
	// Discount and ShippingDiscount are what the promotions take off (Quote); Total is
	// net of them. Zero, and Promotions nil, for a cart not quoted.
	Discount, ShippingDiscount money.Money
	Promotions                 *Promotions
}

// Group is the lines of one merchant, which become one order.
type Group struct {
	Merchant                     *ent.Merchant
	Lines                        []*ent.CartLine
	Subtotal, ShippingFee, Total money.Money
	// Discount and ShippingDiscount are the group's share of the promotions (Quote).
	Discount, ShippingDiscount money.Money
	quote                      *Promotions
}

// AddressInput is a new address, for the address book or an order.
type AddressInput struct {
	RecipientName string
	Phone         string
	Country       *string
	Province      string
	City          string
	District      *string
	Street        string
	PostalCode    *string
	IsDefault     *bool
}

// AddressUpdate changes the given fields of a saved address.
type AddressUpdate struct {
	RecipientName, Phone, Country, Province, City, District, Street, PostalCode *string
	IsDefault                                                                   *bool
}
