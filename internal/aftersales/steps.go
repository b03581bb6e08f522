package aftersales

import (
	"context"
	"strings"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/aftersalesevent"
	"github.com/xiadan/xiadan/ent/aftersalesrequest"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/money"
)

// text trims s and checks it against MaxMessage (and, when required, that it is there).
func text(field string, s *string, required bool) (string, error) {
	t := ""
	if s != nil {
		t = strings.TrimSpace(*s)
	}
	switch {
	case required && t == "":
		return "", apperror.BadInput(field, "is required")
	case len([]rune(t)) > MaxMessage:
		return "", apperror.BadInput(field, "must be at most %d characters", MaxMessage)
	}
	return t, nil
}

// Approve is the merchant's yes (and the deadline job's, as the system): a refund only is
// refunded now; a return or an exchange waits for the goods. The merchant may also give
// in to a proposal or an escalation.
func (s *Service) Approve(ctx context.Context, db *ent.Client, id int, message *string) (*ent.AfterSalesRequest, error) {
	msg, err := text("message", message, false)
	if err != nil {
		return nil, err
	}
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := may(ctx, r, merchantSide); err != nil {
		return nil, err
	}
	switch r.Status {
	case aftersalesrequest.StatusREQUESTED, aftersalesrequest.StatusPROPOSED, aftersalesrequest.StatusREJECTED,
		aftersalesrequest.StatusESCALATED:
	default:
		return nil, wrongState(r, "approved")
	}
	if r.Type == aftersalesrequest.TypeREFUND_ONLY {
		return s.execute(ctx, db, r, o, r.Amount, msg, aftersalesevent.TypeAPPROVED)
	}
	r2, err := s.move(ctx, db, r, aftersalesrequest.StatusAWAITING_RETURN, func(u *ent.AfterSalesRequestUpdate) {
		u.SetDueAt(s.now().Add(s.Config.ReturnWindow))
	})
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, db, r2, o, entry{typ: aftersalesevent.TypeAPPROVED, orderType: orderevent.TypeAFTER_SALES_APPROVED, message: msg}); err != nil {
		return nil, err
	}
	return r2, nil
}

// Reject is the merchant's no, with a reason; the customer may escalate before
// EscalationWindow ends, or the request closes.
func (s *Service) Reject(ctx context.Context, db *ent.Client, id int, reason string, evidence []int) (*ent.AfterSalesRequest, error) {
	why, err := text("reason", &reason, true)
	if err != nil {
		return nil, err
	}
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := may(ctx, r, merchantSide); err != nil {
		return nil, err
	}
	if r.Status != aftersalesrequest.StatusREQUESTED && r.Status != aftersalesrequest.StatusRETURN_SHIPPED {
		return nil, wrongState(r, "rejected")
	}
	ev, err := s.bind(ctx, db, r, evidence)
	if err != nil {
		return nil, err
	}
	r2, err := s.move(ctx, db, r, aftersalesrequest.StatusREJECTED, func(u *ent.AfterSalesRequestUpdate) {
		u.SetMerchantReason(truncate(why, 500)).SetDueAt(s.now().Add(s.Config.EscalationWindow))
	})
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, db, r2, o, entry{typ: aftersalesevent.TypeREJECTED, orderType: orderevent.TypeAFTER_SALES_REJECTED,
		message: why, evidence: ev}); err != nil {
		return nil, err
	}
	return r2, nil
}

// Propose is the merchant's offer of a smaller refund; the customer accepts it (or the
// ProposalWindow passes) or escalates.
func (s *Service) Propose(ctx context.Context, db *ent.Client, id int, amount, reason string) (*ent.AfterSalesRequest, error) {
	why, err := text("reason", &reason, true)
	if err != nil {
		return nil, err
	}
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := may(ctx, r, merchantSide); err != nil {
		return nil, err
	}
	if r.Status != aftersalesrequest.StatusREQUESTED || r.Type == aftersalesrequest.TypeEXCHANGE {
		return nil, wrongState(r, "answered with a partial amount")
	}
	minor, err := money.ParseAmount(amount, r.Currency)
	switch {
	case err != nil:
		return nil, apperror.BadInput("amount", "must be a decimal amount such as 12.50")
	case minor <= 0:
		return nil, apperror.BadInput("amount", "must be positive")
	case minor >= r.Amount:
		return nil, apperror.BadInput("amount", "must be less than the %s asked (approve instead)", money.Money{Minor: r.Amount, Currency: r.Currency}.Formatted())
	}
	r2, err := s.move(ctx, db, r, aftersalesrequest.StatusPROPOSED, func(u *ent.AfterSalesRequestUpdate) {
		u.SetProposedAmount(minor).SetMerchantReason(truncate(why, 500)).SetDueAt(s.now().Add(s.Config.ProposalWindow))
	})
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, db, r2, o, entry{typ: aftersalesevent.TypePROPOSED, orderType: orderevent.TypeAFTER_SALES_PROPOSED,
		message: why, amount: &minor}); err != nil {
		return nil, err
	}
	return r2, nil
}

// AcceptProposal is the customer's yes to the merchant's amount (and the deadline job's):
// a refund only is refunded now; a return waits for the goods, for that amount.
func (s *Service) AcceptProposal(ctx context.Context, db *ent.Client, id int) (*ent.AfterSalesRequest, error) {
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := may(ctx, r, customerSide); err != nil {
		return nil, err
	}
	if r.Status != aftersalesrequest.StatusPROPOSED || r.ProposedAmount == nil {
		return nil, wrongState(r, "accepted")
	}
	amount := *r.ProposedAmount
	if r.Type == aftersalesrequest.TypeREFUND_ONLY {
		return s.execute(ctx, db, r, o, amount, "proposal accepted", aftersalesevent.TypePROPOSAL_ACCEPTED)
	}
	r2, err := s.move(ctx, db, r, aftersalesrequest.StatusAWAITING_RETURN, func(u *ent.AfterSalesRequestUpdate) {
		u.SetAmount(amount).SetDueAt(s.now().Add(s.Config.ReturnWindow))
	})
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, db, r2, o, entry{typ: aftersalesevent.TypePROPOSAL_ACCEPTED, orderType: orderevent.TypeAFTER_SALES_APPROVED,
		amount: &amount}); err != nil {
		return nil, err
	}
	return r2, nil
}

// Escalate is the customer's call for the platform (平台介入) after a rejection or
// instead of accepting a proposal. The request waits for an admin; no deadline runs.
func (s *Service) Escalate(ctx context.Context, db *ent.Client, id int, reason string, evidence []int) (*ent.AfterSalesRequest, error) {
	why, err := text("reason", &reason, true)
	if err != nil {
		return nil, err
	}
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := may(ctx, r, customerSide); err != nil {
		return nil, err
	}
	if r.Status != aftersalesrequest.StatusREJECTED && r.Status != aftersalesrequest.StatusPROPOSED {
		return nil, wrongState(r, "escalated")
	}
	ev, err := s.bind(ctx, db, r, evidence)
	if err != nil {
		return nil, err
	}
	r2, err := s.move(ctx, db, r, aftersalesrequest.StatusESCALATED, func(u *ent.AfterSalesRequestUpdate) {
		u.ClearDueAt().SetEscalatedAt(s.now())
	})
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, db, r2, o, entry{typ: aftersalesevent.TypeESCALATED, orderType: orderevent.TypeAFTER_SALES_ESCALATED,
		message: why, evidence: ev}); err != nil {
		return nil, err
	}
	return r2, nil
}

// ShipReturn is the customer sending the goods back; the merchant has ReceiptWindow to
// confirm receipt before it is confirmed for them.
func (s *Service) ShipReturn(ctx context.Context, db *ent.Client, id int, carrier, tracking string) (*ent.AfterSalesRequest, error) {
	c, t, err := parcel(carrier, tracking)
	if err != nil {
		return nil, err
	}
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := may(ctx, r, customerSide); err != nil {
		return nil, err
	}
	if r.Status != aftersalesrequest.StatusAWAITING_RETURN {
		return nil, wrongState(r, "shipped back")
	}
	r2, err := s.move(ctx, db, r, aftersalesrequest.StatusRETURN_SHIPPED, func(u *ent.AfterSalesRequestUpdate) {
		u.SetReturnCarrier(c).SetReturnTrackingNumber(t).SetDueAt(s.now().Add(s.Config.ReceiptWindow))
	})
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, db, r2, o, entry{typ: aftersalesevent.TypeRETURN_SHIPPED, orderType: orderevent.TypeAFTER_SALES_RETURN_SHIPPED,
		message: c + " " + t}); err != nil {
		return nil, err
	}
	return r2, nil
}

// ConfirmReturn is the merchant (or the deadline job) confirming the returned goods
// arrived: a return is refunded; an exchange waits for the replacement.
func (s *Service) ConfirmReturn(ctx context.Context, db *ent.Client, id int) (*ent.AfterSalesRequest, error) {
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := may(ctx, r, merchantSide); err != nil {
		return nil, err
	}
	if r.Status != aftersalesrequest.StatusRETURN_SHIPPED {
		return nil, wrongState(r, "confirmed as received")
	}
	if r.Type == aftersalesrequest.TypeRETURN_REFUND {
		return s.execute(ctx, db, r, o, r.Amount, "returned goods received", aftersalesevent.TypeRETURN_RECEIVED)
	}
	r2, err := s.move(ctx, db, r, aftersalesrequest.StatusAWAITING_REPLACEMENT, func(u *ent.AfterSalesRequestUpdate) {
		u.SetDueAt(s.now().Add(s.Config.ReplacementWindow))
	})
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, db, r2, o, entry{typ: aftersalesevent.TypeRETURN_RECEIVED, orderType: orderevent.TypeAFTER_SALES_RETURN_RECEIVED}); err != nil {
		return nil, err
	}
	return r2, nil
}

// ShipReplacement is the merchant sending an exchange's replacement, which ends it.
func (s *Service) ShipReplacement(ctx context.Context, db *ent.Client, id int, carrier, tracking string) (*ent.AfterSalesRequest, error) {
	c, t, err := parcel(carrier, tracking)
	if err != nil {
		return nil, err
	}
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := may(ctx, r, merchantSide); err != nil {
		return nil, err
	}
	if r.Status != aftersalesrequest.StatusAWAITING_REPLACEMENT {
		return nil, wrongState(r, "sent a replacement")
	}
	r2, err := s.move(ctx, db, r, aftersalesrequest.StatusEXCHANGED, func(u *ent.AfterSalesRequestUpdate) {
		u.SetReplacementCarrier(c).SetReplacementTrackingNumber(t).SetResolution("replacement shipped: " + c + " " + t)
	})
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, db, r2, o, entry{typ: aftersalesevent.TypeREPLACEMENT_SHIPPED, orderType: orderevent.TypeAFTER_SALES_REPLACEMENT_SHIPPED,
		message: c + " " + t}); err != nil {
		return nil, err
	}
	if err := s.record(ctx, db, r2, o, entry{typ: aftersalesevent.TypeEXCHANGED, orderType: orderevent.TypeAFTER_SALES_RESOLVED}); err != nil {
		return nil, err
	}
	return r2, s.sync(ctx, db, o.ID)
}

// Withdraw is the customer giving up an open request, before the platform is involved
// and before any refund.
func (s *Service) Withdraw(ctx context.Context, db *ent.Client, id int, reason *string) (*ent.AfterSalesRequest, error) {
	why, err := text("reason", reason, false)
	if err != nil {
		return nil, err
	}
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := may(ctx, r, customerSide); err != nil {
		return nil, err
	}
	if !IsOpen(r.Status) || r.Status == aftersalesrequest.StatusESCALATED || r.Status == aftersalesrequest.StatusAWAITING_REPLACEMENT {
		return nil, wrongState(r, "withdrawn")
	}
	note := "withdrawn by the customer"
	if why != "" {
		note += ": " + why
	}
	return s.finish(ctx, db, r, o, aftersalesrequest.StatusCLOSED, note, aftersalesevent.TypeWITHDRAWN)
}

// AddMessage adds words and evidence of either side (or an admin) to an open request.
func (s *Service) AddMessage(ctx context.Context, db *ent.Client, id int, message string, evidence []int) (*ent.AfterSalesRequest, error) {
	msg, err := text("message", &message, true)
	if err != nil {
		return nil, err
	}
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := may(ctx, r, customerSide|merchantSide|adminSide); err != nil {
		return nil, err
	}
	if !IsOpen(r.Status) {
		return nil, wrongState(r, "added to")
	}
	ev, err := s.bind(ctx, db, r, evidence)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, db, r, o, entry{typ: aftersalesevent.TypeMESSAGE, orderType: orderevent.TypeAFTER_SALES_MESSAGE,
		message: msg, evidence: ev}); err != nil {
		return nil, err
	}
	return r, nil
}

// Decision is an admin's arbitration outcome.
type Decision string

// Arbitration outcomes.
const (
	DecisionRefund Decision = "REFUND"
	DecisionReject Decision = "REJECT"
)

// Arbitrate is an admin's final decision on an escalated request, with a reason, executed
// at once and audited: REFUND (amount, default what was asked; at most what the lines are
// worth) or REJECT.
func (s *Service) Arbitrate(ctx context.Context, db *ent.Client, id int, decision Decision, amount *string, reason string) (*ent.AfterSalesRequest, error) {
	why, err := text("reason", &reason, true)
	if err != nil {
		return nil, err
	}
	r, o, err := locked(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := may(ctx, r, adminSide); err != nil {
		return nil, err
	}
	if r.Status != aftersalesrequest.StatusESCALATED {
		return nil, wrongState(r, "arbitrated")
	}
	details := map[string]any{"decision": string(decision), "order": o.Number, "request": r.Number}
	var out *ent.AfterSalesRequest
	switch decision {
	case DecisionReject:
		if amount != nil {
			return nil, apperror.BadInput("amount", "a rejection refunds nothing")
		}
		out, err = s.finish(ctx, db, r, o, aftersalesrequest.StatusCLOSED, "platform decision: rejected: "+why, aftersalesevent.TypeARBITRATED)
	case DecisionRefund:
		items, ierr := db.OrderItem.Query().Where(orderitem.OrderID(o.ID)).All(system(ctx))
		if ierr != nil {
			return nil, ierr
		}
		// The same limit as a new request's: what the lines are worth, less what earlier
		// requests about them refunded, and at most what remains of the order.
		earlier, ierr := db.AfterSalesRequest.Query().
			Where(aftersalesrequest.OrderID(o.ID), aftersalesrequest.IDNEQ(r.ID), hooks.LockRows).All(system(ctx))
		if ierr != nil {
			return nil, ierr
		}
		limit := refundLimit(o, items, earlier, r.OrderItemIds)
		minor := r.Amount
		if amount != nil {
			minor, err = money.ParseAmount(*amount, r.Currency)
			if err != nil {
				return nil, apperror.BadInput("amount", "must be a decimal amount such as 12.50")
			}
		}
		switch {
		case minor <= 0:
			return nil, apperror.BadInput("amount", "must be positive")
		case minor > limit:
			return nil, apperror.BadInput("amount", "exceeds what may still be refunded for these lines (%s)", money.Money{Minor: max(limit, 0), Currency: r.Currency}.Formatted())
		}
		details["amount"] = money.Money{Minor: minor, Currency: r.Currency}.Formatted()
		out, err = s.execute(ctx, db, r, o, minor, "platform decision: refund: "+why, aftersalesevent.TypeARBITRATED)
	default:
		return nil, apperror.BadInput("decision", "must be REFUND or REJECT")
	}
	if err != nil {
		return nil, err
	}
	if err := audit.Record(ctx, db, audit.Entry{Action: "after_sales.arbitrate", TargetType: "AfterSalesRequest",
		TargetID: r.ID, Reason: why, Details: details}); err != nil {
		return nil, err
	}
	return out, nil
}

// parcel checks a carrier and tracking number.
func parcel(carrier, tracking string) (string, string, error) {
	c, t := strings.TrimSpace(carrier), strings.TrimSpace(tracking)
	switch {
	case c == "":
		return "", "", apperror.BadInput("carrier", "is required")
	case len([]rune(c)) > 64:
		return "", "", apperror.BadInput("carrier", "must be at most 64 characters")
	case t == "":
		return "", "", apperror.BadInput("trackingNumber", "is required")
	case len([]rune(t)) > 64:
		return "", "", apperror.BadInput("trackingNumber", "must be at most 64 characters")
	}
	return c, t, nil
}
