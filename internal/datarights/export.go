package datarights

import (
	"context"
	"encoding/json"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/address"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/ent/review"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/ent/ticket"
	"github.com/xiadan/xiadan/ent/ticketmessage"
	"github.com/xiadan/xiadan/ent/useridentity"
)

// ExportFormat names the archive's layout; it changes when fields are removed or renamed.
const ExportFormat = "xiadan-data-export/1"

// Export is the archive of a data export: everything the platform holds about one
// person, in a form they can read and take elsewhere. Money is in minor units (fen) with
// its currency. Secrets are left out: password hashes, tokens, TOTP secrets, payment
// providers' parameters, and the openids of linked platforms (only the platform's name).
type Export struct {
	Format     string           `json:"format"`
	ExportedAt time.Time        `json:"exportedAt"`
	Profile    ExportProfile    `json:"profile"`
	Identities []ExportIdentity `json:"identities"`
	Addresses  []ExportAddress  `json:"addresses"`
	Orders     []ExportOrder    `json:"orders"`
	Payments   []ExportPayment  `json:"payments"`
	Reviews    []ExportReview   `json:"reviews"`
	Tickets    []ExportTicket   `json:"tickets"`
}

// ExportProfile is the account.
type ExportProfile struct {
	ID          int       `json:"id"`
	Email       *string   `json:"email"`
	Phone       *string   `json:"phone"`
	DisplayName string    `json:"displayName"`
	Locale      string    `json:"locale"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"createdAt"`
}

// ExportIdentity is a linked way of signing in: the platform only.
type ExportIdentity struct {
	Provider  string    `json:"provider"`
	CreatedAt time.Time `json:"createdAt"`
}

// ExportAddress is a saved address.
type ExportAddress struct {
	ID            int    `json:"id"`
	RecipientName string `json:"recipientName"`
	Phone         string `json:"phone"`
	Country       string `json:"country"`
	Province      string `json:"province"`
	City          string `json:"city"`
	District      string `json:"district"`
	Street        string `json:"street"`
	PostalCode    string `json:"postalCode"`
	IsDefault     bool   `json:"isDefault"`
}

// ExportOrder is an order with its lines.
type ExportOrder struct {
	ID              int                 `json:"id"`
	Number          string              `json:"number"`
	Status          string              `json:"status"`
	Currency        string              `json:"currency"`
	Subtotal        int64               `json:"subtotal"`
	ShippingFee     int64               `json:"shippingFee"`
	Discount        int64               `json:"discount"`
	Total           int64               `json:"total"`
	RefundedAmount  int64               `json:"refundedAmount"`
	ContactName     string              `json:"contactName"`
	ContactPhone    string              `json:"contactPhone"`
	ShippingAddress *schematype.Address `json:"shippingAddress"`
	Note            string              `json:"note"`
	CreatedAt       time.Time           `json:"createdAt"`
	PaidAt          *time.Time          `json:"paidAt"`
	Items           []ExportOrderItem   `json:"items"`
	PaymentIDs      []int               `json:"paymentIDs"`
}

// ExportOrderItem is one line of an order.
type ExportOrderItem struct {
	Title     string `json:"title"`
	SKU       string `json:"sku"`
	Quantity  int    `json:"quantity"`
	UnitPrice int64  `json:"unitPrice"`
	LineTotal int64  `json:"lineTotal"`
}

// ExportPayment is a payment: method, amount and status, not the provider's parameters.
type ExportPayment struct {
	ID             int        `json:"id"`
	Method         string     `json:"method"`
	Provider       string     `json:"provider"`
	Amount         int64      `json:"amount"`
	RefundedAmount int64      `json:"refundedAmount"`
	Currency       string     `json:"currency"`
	Status         string     `json:"status"`
	CreatedAt      time.Time  `json:"createdAt"`
	SucceededAt    *time.Time `json:"succeededAt"`
}

// ExportReview is a review the person wrote.
type ExportReview struct {
	ID        int       `json:"id"`
	ProductID int       `json:"productID"`
	Rating    int       `json:"rating"`
	Body      string    `json:"body"`
	FollowUp  *string   `json:"followUp"`
	Anonymous bool      `json:"anonymous"`
	CreatedAt time.Time `json:"createdAt"`
}

// ExportTicket is a support ticket with its messages.
type ExportTicket struct {
	ID        int             `json:"id"`
	Subject   string          `json:"subject"`
	Status    string          `json:"status"`
	CreatedAt time.Time       `json:"createdAt"`
	Messages  []ExportMessage `json:"messages"`
}

// ExportMessage is one message of a ticket.
type ExportMessage struct {
	AuthorRole string    `json:"authorRole"`
	Body       string    `json:"body"`
	CreatedAt  time.Time `json:"createdAt"`
}

// buildExport reads everything of u, as the system (ctx), and returns it as JSON text.
func buildExport(ctx context.Context, db *ent.Client, u *ent.User, now time.Time) (string, error) {
	x := Export{Format: ExportFormat, ExportedAt: now, Identities: []ExportIdentity{}, Addresses: []ExportAddress{},
		Orders: []ExportOrder{}, Payments: []ExportPayment{}, Reviews: []ExportReview{}, Tickets: []ExportTicket{},
		Profile: ExportProfile{ID: u.ID, Email: u.Email, Phone: u.Phone, DisplayName: u.DisplayName, Locale: u.Locale,
			Status: string(u.Status), CreatedAt: u.CreatedAt}}
	ids, err := db.UserIdentity.Query().Where(useridentity.UserID(u.ID)).Order(ent.Asc(useridentity.FieldID)).All(ctx)
	if err != nil {
		return "", err
	}
	for _, i := range ids {
		x.Identities = append(x.Identities, ExportIdentity{Provider: string(i.Provider), CreatedAt: i.CreatedAt})
	}
	as, err := db.Address.Query().Where(address.UserID(u.ID)).Order(ent.Asc(address.FieldID)).All(ctx)
	if err != nil {
		return "", err
	}
	for _, a := range as {
		x.Addresses = append(x.Addresses, ExportAddress{ID: a.ID, RecipientName: a.RecipientName, Phone: a.Phone,
			Country: a.Country, Province: a.Province, City: a.City, District: a.District, Street: a.Street,
			PostalCode: a.PostalCode, IsDefault: a.IsDefault})
	}
	os, err := db.Order.Query().Where(order.CustomerID(u.ID)).Order(ent.Asc(order.FieldID)).
		WithItems(func(q *ent.OrderItemQuery) { q.Order(ent.Asc(orderitem.FieldID)) }).
		WithPayments(func(q *ent.PaymentQuery) { q.Select(payment.FieldID) }).All(ctx)
	if err != nil {
		return "", err
	}
	for _, o := range os {
		eo := ExportOrder{ID: o.ID, Number: o.Number, Status: string(o.Status), Currency: o.Currency, Subtotal: o.Subtotal,
			ShippingFee: o.ShippingFee, Discount: o.Discount + o.ShippingDiscount, Total: o.Total,
			RefundedAmount: o.RefundedAmount, ContactName: o.ContactName, ContactPhone: o.ContactPhone,
			ShippingAddress: o.ShippingAddress, Note: o.Note, CreatedAt: o.CreatedAt, PaidAt: o.PaidAt,
			Items: []ExportOrderItem{}, PaymentIDs: []int{}}
		for _, it := range o.Edges.Items {
			eo.Items = append(eo.Items, ExportOrderItem{Title: it.Title, SKU: it.Sku, Quantity: it.Quantity,
				UnitPrice: it.UnitPrice, LineTotal: it.LineTotal})
		}
		for _, p := range o.Edges.Payments {
			eo.PaymentIDs = append(eo.PaymentIDs, p.ID)
		}
		x.Orders = append(x.Orders, eo)
	}
	ps, err := db.Payment.Query().Where(payment.CustomerID(u.ID)).Order(ent.Asc(payment.FieldID)).All(ctx)
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		x.Payments = append(x.Payments, ExportPayment{ID: p.ID, Method: string(p.Method), Provider: p.Provider,
			Amount: p.Amount, RefundedAmount: p.RefundedAmount, Currency: p.Currency, Status: string(p.Status),
			CreatedAt: p.CreatedAt, SucceededAt: p.SucceededAt})
	}
	rs, err := db.Review.Query().Where(review.AuthorID(u.ID)).Order(ent.Asc(review.FieldID)).All(ctx)
	if err != nil {
		return "", err
	}
	for _, r := range rs {
		x.Reviews = append(x.Reviews, ExportReview{ID: r.ID, ProductID: r.ProductID, Rating: r.Rating, Body: r.Body,
			FollowUp: r.FollowUp, Anonymous: r.Anonymous, CreatedAt: r.CreatedAt})
	}
	ts, err := db.Ticket.Query().Where(ticket.CustomerID(u.ID)).Order(ent.Asc(ticket.FieldID)).
		WithMessages(func(q *ent.TicketMessageQuery) { q.Order(ent.Asc(ticketmessage.FieldID)) }).All(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range ts {
		et := ExportTicket{ID: t.ID, Subject: t.Subject, Status: string(t.Status), CreatedAt: t.CreatedAt, Messages: []ExportMessage{}}
		for _, m := range t.Edges.Messages {
			et.Messages = append(et.Messages, ExportMessage{AuthorRole: string(m.AuthorRole), Body: m.Body, CreatedAt: m.CreatedAt})
		}
		x.Tickets = append(x.Tickets, et)
	}
	b, err := json.Marshal(x)
	return string(b), err
}
