package orders

import (
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/cart"
	"github.com/xiadan/xiadan/internal/money"
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
