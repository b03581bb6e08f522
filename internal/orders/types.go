package orders

import (
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/cart"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/pricing"
)

// PlaceInput is what placeOrder receives.
type PlaceInput struct {
	Lines           []*LineInput
	FromCart        *bool
	CartLineIDs     []int
	AddressID       *int
	ShippingAddress *cart.AddressInput
	Contact         *Contact
	Note            *string
	ExpectedTotal   *string
	IdempotencyKey  string
	// CouponIDs are the claimed coupons to use: nil picks the best ones, empty none.
	CouponIDs []int
	// UseRedPackets false spends none; nil or true the best.
	UseRedPackets *bool
	// AttributionCode is a creator's or partner's code the customer came with.
	AttributionCode *string
}

// choice is what the customer chose of the promotions.
func (in PlaceInput) choice() pricing.Choice {
	c := pricing.Choice{CouponIDs: in.CouponIDs, UseRedPackets: in.UseRedPackets}
	if in.CouponIDs != nil && len(in.CouponIDs) == 0 {
		c.CouponIDs = []int{}
	}
	if in.AttributionCode != nil {
		c.AttributionCode = *in.AttributionCode
	}
	return c
}

// LineInput is one line of a "buy now" order.
type LineInput struct {
	VariantID         int
	Quantity          int
	ExpectedUnitPrice *string
}

// Contact is who the merchant may call about the order.
type Contact struct {
	Name, Phone string
}

// Placed is the result of placeOrder: one order per merchant under one checkout.
type Placed struct {
	CheckoutID      string
	Orders          []*ent.Order
	Total           money.Money
	PaymentDeadline time.Time
}

// StatusCount is how many orders are in one status.
type StatusCount struct {
	Status order.Status
	Count  int
}

// ListFilter narrows an order list; every given filter must hold.
type ListFilter struct {
	Status        []order.Status
	Number        *string
	MerchantID    *int
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
}
