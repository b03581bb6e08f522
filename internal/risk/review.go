package risk

import (
	"context"
	"strings"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/riskassessment"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/viewer"
)

// MaxNote is the longest review note, in characters.
const MaxNote = 500

// What the order's timeline says of a decision: the customer and the merchant read it,
// so the admin's note stays in the assessment and the audit log.
const (
	ApprovedReason = "released after review"
	RejectedReason = "rejected after review; the payment is refunded"
)

// Approve releases order orderID from its risk review, in db's transaction: the order
// goes back to PAID (event RISK_APPROVED) and its merchant may accept it. Admins only.
func (s *Service) Approve(ctx context.Context, db *ent.Client, orderID int, note *string) (*ent.RiskAssessment, error) {
	n := ""
	if note != nil {
		n = *note
	}
	return s.decide(ctx, db, orderID, true, n)
}

// Reject ends order orderID's risk review by cancelling it (event RISK_REJECTED): its
// stock is released and its payment refunded in full, through the refund path of every
// cancellation. The reason is required; it stays with the assessment and the audit log.
// Admins only.
func (s *Service) Reject(ctx context.Context, db *ent.Client, orderID int, reason string) (*ent.RiskAssessment, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, apperror.BadInput("reason", "is required")
	}
	return s.decide(ctx, db, orderID, false, reason)
}

// decide records an admin's decision on a held order. Of two decisions (or a decision
// and a cancellation) at once exactly one wins: the order's row lock makes them take
// turns (orders.EndRiskReview) and the second finds the order no longer in RISK_REVIEW
// (INVALID_STATE); the assessment's own write is conditional on HELD as well.
func (s *Service) decide(ctx context.Context, db *ent.Client, orderID int, approve bool, note string) (*ent.RiskAssessment, error) {
	v := viewer.FromContext(ctx)
	if !v.IsAdmin() {
		return nil, apperror.New(apperror.Forbidden, "only admins decide risk reviews")
	}
	note = strings.TrimSpace(note)
	if len([]rune(note)) > MaxNote {
		field := "reason"
		if approve {
			field = "note"
		}
		return nil, apperror.BadInput(field, "must be at most %d characters", MaxNote)
	}
	status, action, reason := riskassessment.StatusREJECTED, "risk.reject", RejectedReason
	if approve {
		status, action, reason = riskassessment.StatusAPPROVED, "risk.approve", ApprovedReason
	}
	sctx := system(ctx)
	actor := orders.Actor{UserID: v.UserID, Role: orderevent.ActorRoleADMIN}
	var decided *ent.RiskAssessment
	_, err := s.Orders.EndRiskReview(ctx, db, orderID, approve, actor, reason, func(o *ent.Order) error {
		a, err := db.RiskAssessment.Query().Where(riskassessment.OrderID(o.ID)).Only(sctx)
		if ent.IsNotFound(err) {
			return apperror.WrongState(string(o.Status), "order %s has no risk assessment", o.Number)
		}
		if err != nil {
			return err
		}
		now := s.now()
		n, err := db.RiskAssessment.Update().
			Where(riskassessment.ID(a.ID), riskassessment.StatusEQ(riskassessment.StatusHELD)).
			SetStatus(status).SetDecidedBy(v.UserID).SetDecidedAt(now).SetDecisionNote(note).SetUpdatedAt(now).
			Save(sctx)
		if err != nil {
			return err
		}
		if n != 1 {
			return apperror.WrongState(string(a.Status), "the risk review of order %s is already %s", o.Number, a.Status)
		}
		codes := make([]string, len(a.Rules))
		for i, h := range a.Rules {
			codes[i] = h.Code
		}
		if err := audit.Record(ctx, db, audit.Entry{Action: action, TargetType: "Order", TargetID: o.ID, Reason: note,
			Details: map[string]any{"order": o.Number, "assessment": a.ID, "score": a.Score, "rules": codes}}); err != nil {
			return err
		}
		decided = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.RiskAssessment.Get(sctx, decided.ID)
}
