package fulfilment

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/orders"
)

// Limits of delivered virtual content and service notes.
const (
	MaxCodes   = 100
	MaxCodeLen = 256
	MaxLinks   = 20
	MaxLinkLen = 2048
	MaxMessage = 2000
	MaxNote    = orders.MaxReason
)

// ConfirmReceipt is the customer confirming an order (确认收货, one tap): a SHIPPED order
// becomes DELIVERED and then COMPLETED, both steps on its timeline; a DELIVERED or
// FULFILLED order becomes COMPLETED. Only the order's customer may confirm; its merchant's
// staff and admins get FORBIDDEN, anyone else NOT_FOUND.
//
// Everything happens in db's transaction, on the order's row locked first
// (orders.ForCustomer), and the decision is taken on the status the lock reads: a
// carrier's DELIVERED scan or the auto-complete job racing the confirmation waits for it
// and then finds the order COMPLETED (or has completed it, and the confirmation gets
// INVALID_STATE naming COMPLETED). Each step is the usual conditional transition.
func (s *Service) ConfirmReceipt(ctx context.Context, db *ent.Client, orderID int) (*ent.Order, error) {
	o, err := orders.ForCustomer(ctx, db, orderID) // read with the row lock
	if err != nil {
		return nil, err
	}
	actor := orders.ActorOf(ctx, o)
	switch o.Status {
	case order.StatusSHIPPED:
		delivered, err := s.Orders.Transition(ctx, db, o, order.StatusDELIVERED, actor, "receipt confirmed by the customer", nil)
		if err != nil {
			return nil, err
		}
		return s.Orders.Transition(ctx, db, delivered, order.StatusCOMPLETED, actor, "confirmed by the customer", nil)
	case order.StatusDELIVERED, order.StatusFULFILLED:
		return s.Orders.Transition(ctx, db, o, order.StatusCOMPLETED, actor, "confirmed by the customer", nil)
	}
	return nil, apperror.WrongState(string(o.Status),
		"order %s cannot be confirmed: only a SHIPPED, DELIVERED or FULFILLED order can", o.Number)
}

// DeliverVirtualGoods delivers the codes, links and message of an order's VIRTUAL lines,
// kept on the order for its customer and merchant. The order's merchant staff and admins
// may deliver, once per order, after payment (a PAID order is accepted first).
//
// Each line is delivered by its kind (fulfilLines): an order of virtual lines only becomes
// FULFILLED; a mixed order keeps its status — a PHYSICAL one still ships, and one with
// SERVICE lines becomes FULFILLED when they are rendered too.
func (s *Service) DeliverVirtualGoods(ctx context.Context, db *ent.Client, orderID int, content schematype.VirtualContent) (*ent.Order, error) {
	content, err := cleanContent(content)
	if err != nil {
		return nil, err
	}
	// The timeline is no place for the codes themselves: it says what was delivered.
	reason := fmt.Sprintf("virtual goods delivered: %d codes, %d links", len(content.Codes), len(content.Links))
	if content.Message != "" {
		reason += ", a message"
	}
	return s.fulfilLines(ctx, db, orderID, orderitem.KindVIRTUAL, "deliver", reason, func(u *ent.OrderUpdate) {
		u.SetVirtualContent(&content)
	})
}

// MarkServiceRendered records that the SERVICE lines of an order were rendered, with note
// as the reason on its timeline. The order's merchant staff and admins may mark them, once
// per order, after payment; lines of other kinds are delivered by theirs (fulfilLines).
func (s *Service) MarkServiceRendered(ctx context.Context, db *ent.Client, orderID int, note string) (*ent.Order, error) {
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > MaxNote {
		return nil, apperror.BadInput("note", "must be at most %d characters", MaxNote)
	}
	if note == "" {
		note = "service rendered"
	}
	return s.fulfilLines(ctx, db, orderID, orderitem.KindSERVICE, "mark rendered", note, nil)
}

// fulfilLines delivers the lines of one kind (VIRTUAL or SERVICE) of an order, in db's
// transaction: a mixed order delivers each line by its kind. The lines are stamped
// fulfilled; an order without physical lines becomes FULFILLED once every line is, and
// otherwise the order keeps its status and its timeline records LINES_FULFILLED. set adds
// fields to the order's update.
//
// The order row is locked first, so fulfilments, shipping and cancellation of one order
// take turns and each decides on the status the previous one left; the lines are claimed
// with a conditional write (fulfilled_at IS NULL), so a repeated call gets INVALID_STATE.
func (s *Service) fulfilLines(ctx context.Context, db *ent.Client, orderID int, kind orderitem.Kind, what, reason string,
	set func(*ent.OrderUpdate)) (*ent.Order, error) {
	o, err := orders.ForMerchant(ctx, db, orderID)
	if err != nil {
		return nil, err
	}
	sctx := system(ctx)
	has, err := db.OrderItem.Query().Where(orderitem.OrderID(o.ID), orderitem.KindEQ(kind)).Exist(sctx)
	if err != nil {
		return nil, err
	}
	if !has {
		return nil, apperror.BadInput("orderID", "order %s has no %s lines: %s", o.Number, kind, insteadOf(o.Fulfilment))
	}
	actor := orders.ActorOf(ctx, o)
	if o, err = s.startFulfilment(ctx, db, o, actor, what); err != nil {
		return nil, err
	}
	now := s.now()
	n, err := db.OrderItem.Update().
		Where(orderitem.OrderID(o.ID), orderitem.KindEQ(kind), orderitem.FulfilledAtIsNil()).
		SetFulfilledAt(stamp(now)).
		Save(sctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperror.WrongState(string(o.Status), "the %s lines of order %s were already fulfilled", kind, o.Number)
	}
	if o.Fulfilment != order.FulfilmentPHYSICAL {
		// Read with a lock: a plain read could show this transaction's older snapshot.
		waiting, err := db.OrderItem.Query().
			Where(orderitem.OrderID(o.ID), orderitem.FulfilledAtIsNil(), predicate.OrderItem(hooks.LockRows)).
			Exist(sctx)
		if err != nil {
			return nil, err
		}
		if !waiting {
			return s.Orders.Transition(ctx, db, o, order.StatusFULFILLED, actor, reason, set)
		}
	}
	if set != nil {
		up := db.Order.Update().Where(order.ID(o.ID))
		set(up)
		if err := up.Exec(sctx); err != nil {
			return nil, err
		}
	}
	if err := s.Orders.Record(ctx, db, o, orderevent.TypeLINES_FULFILLED, "", "", actor, reason); err != nil {
		return nil, err
	}
	return db.Order.Get(sctx, o.ID)
}

// cleanContent trims and checks delivered content: at least one of codes, links and
// message; at most MaxCodes codes of MaxCodeLen characters; at most MaxLinks https links;
// a message of at most MaxMessage characters.
func cleanContent(in schematype.VirtualContent) (schematype.VirtualContent, error) {
	out := schematype.VirtualContent{Codes: []string{}, Links: []string{}, Message: strings.TrimSpace(in.Message)}
	if len(in.Codes) > MaxCodes {
		return out, apperror.BadInput("content.codes", "at most %d codes", MaxCodes)
	}
	for i, c := range in.Codes {
		c = strings.TrimSpace(c)
		if c == "" || utf8.RuneCountInString(c) > MaxCodeLen {
			return out, apperror.BadInput(fmt.Sprintf("content.codes[%d]", i), "must be 1 to %d characters", MaxCodeLen)
		}
		out.Codes = append(out.Codes, c)
	}
	if len(in.Links) > MaxLinks {
		return out, apperror.BadInput("content.links", "at most %d links", MaxLinks)
	}
	for i, l := range in.Links {
		l = strings.TrimSpace(l)
		u, err := url.Parse(l)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(l) > MaxLinkLen {
			return out, apperror.BadInput(fmt.Sprintf("content.links[%d]", i),
				"must be an https:// address of at most %d characters", MaxLinkLen)
		}
		out.Links = append(out.Links, l)
	}
	if utf8.RuneCountInString(out.Message) > MaxMessage {
		return out, apperror.BadInput("content.message", "must be at most %d characters", MaxMessage)
	}
	if len(out.Codes) == 0 && len(out.Links) == 0 && out.Message == "" {
		return out, apperror.BadInput("content", "give at least one of codes, links and message")
	}
	return out, nil
}
