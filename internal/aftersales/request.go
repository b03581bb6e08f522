package aftersales

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/aftersalesevent"
	"github.com/xiadan/xiadan/ent/aftersalesrequest"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/upload"
)

// MaxEvidence is how many uploads one step may attach.
const MaxEvidence = 9

// MaxMessage is the longest description, reason or message, in characters.
const MaxMessage = 1000

// RequestInput is what requestAfterSales receives.
type RequestInput struct {
	OrderID           int
	OrderItemIDs      []int
	Type              aftersalesrequest.Type
	Reason            aftersalesrequest.Reason
	Description       *string
	Amount            *string
	EvidenceUploadIDs []int
}

// requestable are the order statuses a request may be made in; returns and exchanges
// need goods that left the merchant.
var (
	requestable = []order.Status{order.StatusPAID, order.StatusACCEPTED, order.StatusSHIPPED,
		order.StatusDELIVERED, order.StatusFULFILLED, order.StatusCOMPLETED}
	returnable = []order.Status{order.StatusSHIPPED, order.StatusDELIVERED, order.StatusCOMPLETED}
)

// Request opens a request as the order's customer, in db's transaction. The order is
// locked first, so two requests for one order are decided one after the other: an order
// has at most one open request. The amount may not exceed what the lines are worth, less
// what earlier requests about them refunded, nor what remains of the order.
func (s *Service) Request(ctx context.Context, db *ent.Client, in RequestInput) (*ent.AfterSalesRequest, error) {
	desc := ""
	if in.Description != nil {
		desc = strings.TrimSpace(*in.Description)
	}
	switch {
	case len([]rune(desc)) > MaxMessage:
		return nil, apperror.BadInput("description", "must be at most %d characters", MaxMessage)
	case len(in.EvidenceUploadIDs) > MaxEvidence:
		return nil, apperror.BadInput("evidenceUploadIDs", "at most %d files", MaxEvidence)
	case aftersalesrequest.TypeValidator(in.Type) != nil:
		return nil, apperror.BadInput("type", "unknown type")
	case aftersalesrequest.ReasonValidator(in.Reason) != nil:
		return nil, apperror.BadInput("reason", "unknown reason")
	}
	o, err := orders.ForCustomer(ctx, db, in.OrderID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	switch {
	case !slices.Contains(requestable, o.Status):
		return nil, apperror.WrongState(string(o.Status), "order %s is %s: after-sales requests are for paid orders", o.Number, o.Status)
	case in.Type != aftersalesrequest.TypeREFUND_ONLY && !slices.Contains(returnable, o.Status):
		return nil, apperror.WrongState(string(o.Status), "order %s is %s: goods can be returned or exchanged once shipped; ask for a refund only", o.Number, o.Status)
	case o.Status == order.StatusCOMPLETED && o.CompletedAt != nil && now.After(o.CompletedAt.Add(s.Config.RequestWindow)):
		return nil, apperror.WrongState(string(o.Status), "order %s completed more than %s ago: its after-sales window has closed", o.Number, s.Config.RequestWindow)
	}
	sctx := system(ctx)
	items, err := db.OrderItem.Query().Where(orderitem.OrderID(o.ID)).All(sctx)
	if err != nil {
		return nil, err
	}
	for i, id := range in.OrderItemIDs {
		field := fmt.Sprintf("orderItemIDs[%d]", i)
		if slices.Index(in.OrderItemIDs, id) != i {
			return nil, apperror.BadInput(field, "line %d is given twice", id)
		}
		j := slices.IndexFunc(items, func(it *ent.OrderItem) bool { return it.ID == id })
		if j < 0 {
			e := apperror.NotFoundf("order %s has no line %d", o.Number, id)
			e.Field = field
			return nil, e
		}
		if in.Type != aftersalesrequest.TypeREFUND_ONLY && items[j].Kind != orderitem.KindPHYSICAL {
			return nil, apperror.BadInput(field, "line %d is not physical goods: it can only be refunded", id)
		}
	}
	if in.Type != aftersalesrequest.TypeREFUND_ONLY && len(in.OrderItemIDs) == 0 &&
		slices.ContainsFunc(items, func(it *ent.OrderItem) bool { return it.Kind != orderitem.KindPHYSICAL }) {
		return nil, apperror.BadInput("orderItemIDs", "name the physical lines to return or exchange")
	}
	// A locking read (MySQL): the latest committed requests, not the snapshot the order's
	// first plain read fixed, so a request opened by a transaction that held the order's
	// lock before this one is seen here.
	earlier, err := db.AfterSalesRequest.Query().Where(aftersalesrequest.OrderID(o.ID), hooks.LockRows).All(sctx)
	if err != nil {
		return nil, err
	}
	for _, r := range earlier {
		if IsOpen(r.Status) {
			return nil, apperror.New(apperror.Conflict, "order %s already has an open after-sales request (%s)", o.Number, r.Number)
		}
	}
	limit := refundLimit(o, items, earlier, in.OrderItemIDs)
	var amount int64
	if in.Type != aftersalesrequest.TypeEXCHANGE {
		if limit <= 0 {
			return nil, apperror.WrongState(string(o.Status), "order %s has been refunded in full for these lines", o.Number)
		}
		amount = limit
		if in.Amount != nil {
			amount, err = money.ParseAmount(*in.Amount, o.Currency)
			switch {
			case err != nil:
				return nil, apperror.BadInput("amount", "must be a decimal amount such as 12.50")
			case amount <= 0:
				return nil, apperror.BadInput("amount", "must be positive")
			case amount > limit:
				return nil, apperror.BadInput("amount", "exceeds what may be asked for these lines (%s)", money.Money{Minor: limit, Currency: o.Currency}.Formatted())
			}
		}
	}
	ids := in.OrderItemIDs
	if ids == nil {
		ids = []int{}
	}
	r, err := db.AfterSalesRequest.Create().
		SetNumber(newNumber()).
		SetOrderID(o.ID).SetMerchantID(o.MerchantID).SetCustomerID(o.CustomerID).
		SetType(in.Type).SetReason(in.Reason).SetDescription(desc).
		SetOrderItemIds(ids).SetCurrency(o.Currency).SetAmount(amount).
		SetDueAt(now.Add(s.Config.ResponseWindow)).
		SetCreatedAt(now).SetUpdatedAt(now).
		Save(sctx)
	if err != nil {
		return nil, err
	}
	evidence, err := s.bind(ctx, db, r, in.EvidenceUploadIDs)
	if err != nil {
		return nil, err
	}
	msg := string(in.Reason)
	if desc != "" {
		msg += ": " + desc
	}
	if err := s.record(ctx, db, r, o, entry{typ: aftersalesevent.TypeREQUESTED, orderType: orderevent.TypeAFTER_SALES_REQUESTED,
		message: msg, amount: &amount, evidence: evidence}); err != nil {
		return nil, err
	}
	return r, s.sync(ctx, db, o.ID)
}

// bind binds evidence uploads to request r, readable by its customer (their owner, or
// through the request), its merchant's staff (shared) and admins; errors name
// evidenceUploadIDs[i].
func (s *Service) bind(ctx context.Context, db *ent.Client, r *ent.AfterSalesRequest, ids []int) ([]int, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxEvidence {
		return nil, apperror.BadInput("evidenceUploadIDs", "at most %d files", MaxEvidence)
	}
	if s.Uploads == nil {
		return nil, apperror.BadInput("evidenceUploadIDs", "this server takes no uploads")
	}
	if _, err := s.Uploads.Bind(ctx, db, upload.BindRequest{IDs: ids, Field: "evidenceUploadIDs",
		Entity: upload.EntityAfterSales, EntityID: r.ID, ShareWith: r.MerchantID}); err != nil {
		return nil, err
	}
	return ids, nil
}

// refundLimit is the most a request about lines ids of order o may refund: what the lines
// are worth less what the earlier requests about them refunded, and at most what remains
// of the order. Requests opening and arbitration use it alike.
func refundLimit(o *ent.Order, items []*ent.OrderItem, earlier []*ent.AfterSalesRequest, ids []int) int64 {
	var refunded int64
	for _, r := range earlier {
		if overlaps(r.OrderItemIds, ids) {
			refunded += r.RefundedAmount
		}
	}
	return min(linesWorth(o, items, ids)-refunded, o.Total-o.RefundedAmount)
}
