package orders

import (
	"context"
	"errors"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/partners"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Refunder returns money of a paid order through its payment's provider. The payment
// service implements it; the order service calls it when a paid order is cancelled.
type Refunder interface {
	// RefundOrder refunds amount (minor units) of the order's successful payment and
	// records it, in db's transaction.
	RefundOrder(ctx context.Context, db *ent.Client, o *ent.Order, amount int64, reason string) (*ent.Refund, error)
}

// Screener screens orders for fraud at checkout (internal/risk implements it).
type Screener interface {
	// CheckPlace refuses, before anything is written, an order of customerID whose
	// device, contact phone, shipping address (nil when nothing ships) or email is on a
	// block list.
	CheckPlace(ctx context.Context, db *ent.Client, customerID int, phone string, address *schematype.Address) error
	// Placed records the signals of newly placed orders (device, client address,
	// coupons used), in db's transaction, for scoring when they are paid.
	Placed(ctx context.Context, db *ent.Client, placed []*ent.Order) error
}

// Service runs orders. Its zero value is not usable; build it with New.
type Service struct {
	// PaymentTimeout is how long a new order waits for payment before it is cancelled.
	PaymentTimeout time.Duration
	// AutoCompleteAfter is how long after delivery (or fulfilment) an order completes
	// by itself when the customer does not confirm.
	AutoCompleteAfter time.Duration
	// Refunder refunds paid orders that are cancelled; nil refuses such cancellations.
	Refunder Refunder
	// Now is the clock (time.Now in production).
	Now func() time.Time
	// Promotions are the providers quoted at checkout (internal/pricing), in the order
	// they run within a stage; the cart quotes the same ones (Service.Cart).
	Promotions []pricing.Provider
	// Risk screens orders at checkout; nil screens nothing.
	Risk Screener
}

// New returns a service with the given timeouts.
func New(paymentTimeout, autoCompleteAfter time.Duration) *Service {
	return &Service{PaymentTimeout: paymentTimeout, AutoCompleteAfter: autoCompleteAfter, Now: time.Now}
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

// Actor is who changes an order, as recorded on its timeline.
type Actor struct {
	// UserID is the signed-in person; 0 for the system and partner clients.
	UserID int
	Role   orderevent.ActorRole
}

// System is the actor of background jobs and provider notifications.
var System = Actor{Role: orderevent.ActorRoleSYSTEM}

// ActorOf returns the viewer of ctx as an actor on order o: the order's merchant staff act
// as MERCHANT, its customer as CUSTOMER, admins as ADMIN, partners as PARTNER.
func ActorOf(ctx context.Context, o *ent.Order) Actor {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil || v.System:
		return System
	case v.IsMerchantMember(o.MerchantID):
		return Actor{UserID: v.UserID, Role: orderevent.ActorRoleMERCHANT}
	case v.UserID != 0 && v.UserID == o.CustomerID:
		return Actor{UserID: v.UserID, Role: orderevent.ActorRoleCUSTOMER}
	case v.IsAdmin():
		return Actor{UserID: v.UserID, Role: orderevent.ActorRoleADMIN}
	case v.Has(viewer.RolePartner):
		return Actor{Role: orderevent.ActorRolePARTNER}
	}
	return Actor{UserID: v.UserID, Role: orderevent.ActorRoleCUSTOMER}
}

// system returns ctx with privacy bypassed: the order services check access themselves
// (by reading the order as the caller) and then write as the system.
func system(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

// Visible reads an order as the caller sees it: NOT_FOUND when it does not exist or the
// caller may not see it (customers their own, merchant staff their merchant's, admins all).
func Visible(ctx context.Context, db *ent.Client, id int) (*ent.Order, error) {
	o, err := db.Order.Get(ctx, id)
	if ent.IsNotFound(err) || privacyDenied(err) {
		return nil, apperror.NotFoundf("order %d not found", id)
	}
	return o, err
}

// ForMerchant reads an order the caller may manage as its merchant: the merchant's staff,
// a partner client of the merchant with orders:write, or an admin. The customer of the
// order gets FORBIDDEN; others NOT_FOUND. The order is returned locked (Lock), so the
// caller decides on its current status, which stays so until the transaction ends.
func ForMerchant(ctx context.Context, db *ent.Client, id int) (*ent.Order, error) {
	o, err := Visible(ctx, db, id)
	if err != nil {
		return nil, err
	}
	v := viewer.FromContext(ctx)
	switch {
	case v.System || v.IsAdmin() || v.IsMerchantMember(o.MerchantID):
	case v.Has(viewer.RolePartner) && v.ActsForMerchant(o.MerchantID):
		if !v.HasScope(partners.ScopeOrdersWrite) {
			return nil, apperror.New(apperror.Forbidden, "this needs the %s scope", partners.ScopeOrdersWrite)
		}
	default:
		return nil, apperror.New(apperror.Forbidden, "only the merchant's staff may do this")
	}
	return Lock(ctx, db, id)
}

// ForCustomer reads an order the caller bought, locked as ForMerchant does.
func ForCustomer(ctx context.Context, db *ent.Client, id int) (*ent.Order, error) {
	o, err := Visible(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if v := viewer.FromContext(ctx); !v.System && v.UserID != o.CustomerID {
		return nil, apperror.New(apperror.Forbidden, "only the customer may do this")
	}
	return Lock(ctx, db, id)
}

func privacyDenied(err error) bool { return errors.Is(err, privacy.Deny) }

// Timestamps are stored with microseconds; truncating keeps what a test reads back equal to
// what was written.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

var _ = order.Label
