package credit

import (
	"context"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/merchantsanction"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/usertext"
	"github.com/xiadan/xiadan/internal/viewer"
)

// ImposeInput is an admin's sanction on a merchant. A WARNING, RESTRICTION or SUSPENSION
// lasts DurationHours or until EndsAt (one of them); a REMOVAL takes neither and lasts
// until lifted.
type ImposeInput struct {
	MerchantID    int
	Kind          merchantsanction.Kind
	Reason        string
	DurationHours *int
	EndsAt        *time.Time
}

// inForce keeps the sanctions that apply at now: not lifted, and not ended.
func inForce(now time.Time) predicate.MerchantSanction {
	return merchantsanction.And(
		merchantsanction.LiftedAtIsNil(),
		merchantsanction.Or(merchantsanction.EndsAtIsNil(), merchantsanction.EndsAtGT(now)),
	)
}

// InForce reports whether sanction sn applies at now.
func InForce(sn *ent.MerchantSanction, now time.Time) bool {
	return sn.LiftedAt == nil && (sn.EndsAt == nil || sn.EndsAt.After(now))
}

// reasonText checks a sanction's or a lifting's reason: one line, 1 to 500 characters.
func reasonText(field, s string) (string, error) { return usertext.Line(field, s, 1, 500) }

// Impose records a sanction and applies its effects at once, in db's transaction. One
// sanction of a kind is in force at a time: imposing a second is CONFLICT (lift the first,
// or wait for it to end). The merchant row is locked first, so an imposition and a lifting
// on the same merchant take turns.
func (s *Service) Impose(ctx context.Context, db *ent.Client, in ImposeInput) (*ent.MerchantSanction, error) {
	now := standing.Now(ctx)
	reason, err := reasonText("reason", in.Reason)
	if err != nil {
		return nil, err
	}
	if merchantsanction.KindValidator(in.Kind) != nil {
		return nil, apperror.BadInput("kind", "must be WARNING, RESTRICTION, SUSPENSION or REMOVAL")
	}
	var ends *time.Time
	switch {
	case in.Kind == merchantsanction.KindREMOVAL:
		if in.DurationHours != nil || in.EndsAt != nil {
			return nil, apperror.BadInput("endsAt", "a removal lasts until it is lifted; give no duration")
		}
	case (in.DurationHours == nil) == (in.EndsAt == nil):
		return nil, apperror.BadInput("durationHours", "give durationHours or endsAt (one of them)")
	case in.DurationHours != nil:
		// Compared in hours first: a huge count of hours would overflow the Duration.
		max := int(s.Config.MaxSanctionDuration / time.Hour)
		if *in.DurationHours < 1 || *in.DurationHours > max {
			return nil, apperror.BadInput("durationHours", "must be between 1 and %d", max)
		}
		t := now.Add(time.Duration(*in.DurationHours) * time.Hour)
		ends = &t
	default:
		t := in.EndsAt.UTC().Truncate(time.Microsecond)
		if !t.After(now) || t.Sub(now) > s.Config.MaxSanctionDuration {
			return nil, apperror.BadInput("endsAt", "must be in the future, at most %s ahead", s.Config.MaxSanctionDuration)
		}
		ends = &t
	}
	sys := viewer.SystemContext(ctx)
	m, err := lockMerchant(sys, db, in.MerchantID)
	if err != nil {
		return nil, err
	}
	switch m.Status {
	case merchant.StatusPENDING_REVIEW, merchant.StatusREJECTED:
		return nil, apperror.WrongState(string(m.Status), "the merchant has not been approved; reject its application instead")
	}
	dup, err := db.MerchantSanction.Query().
		Where(merchantsanction.MerchantID(m.ID), merchantsanction.KindEQ(in.Kind), inForce(now)).
		Only(sys)
	if err == nil {
		e := apperror.ConflictOn("kind", "a %s is already in force on %s; lift it first", in.Kind, m.Name)
		e.Extensions = map[string]any{"sanctionId": dup.ID}
		return nil, e
	}
	if !ent.IsNotFound(err) {
		return nil, err
	}
	c := db.MerchantSanction.Create().SetMerchantID(m.ID).SetKind(in.Kind).SetReason(reason).
		SetNillableEndsAt(ends).SetCreatedAt(now).SetUpdatedAt(now)
	if uid := viewer.FromContext(ctx).UserID; uid != 0 {
		c.SetImposedByID(uid)
	}
	sn, err := c.Save(sys)
	if err != nil {
		return nil, err
	}
	if err := s.settle(ctx, db, m.ID, now); err != nil {
		return nil, err
	}
	details := map[string]any{"sanctionId": sn.ID, "kind": string(sn.Kind)}
	if ends != nil {
		details["endsAt"] = ends.Format(time.RFC3339)
	}
	return sn, audit.Record(ctx, db, audit.Entry{Action: "merchant.impose_sanction", TargetType: "Merchant",
		TargetID: m.ID, Reason: reason, Details: details})
}

// Lift ends a sanction in force before its time, with a reason, in db's transaction. Of
// two liftings at once one wins; the other is INVALID_STATE (LIFTED).
func (s *Service) Lift(ctx context.Context, db *ent.Client, id int, reason string) (*ent.MerchantSanction, error) {
	now := standing.Now(ctx)
	reason, err := reasonText("reason", reason)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	sn, err := db.MerchantSanction.Get(sys, id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("sanction not found")
	}
	if err != nil {
		return nil, err
	}
	if _, err := lockMerchant(sys, db, sn.MerchantID); err != nil {
		return nil, err
	}
	if sn.LiftedAt == nil && !InForce(sn, now) {
		return nil, apperror.WrongState("ENDED", "the sanction has already ended")
	}
	up := db.MerchantSanction.Update().
		Where(merchantsanction.ID(id), merchantsanction.LiftedAtIsNil()).
		SetLiftedAt(now).SetLiftReason(reason)
	if uid := viewer.FromContext(ctx).UserID; uid != 0 {
		up.SetLiftedByID(uid)
	}
	n, err := up.Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperror.WrongState("LIFTED", "the sanction has already been lifted")
	}
	if err := s.settle(ctx, db, sn.MerchantID, now); err != nil {
		return nil, err
	}
	if err := audit.Record(ctx, db, audit.Entry{Action: "merchant.lift_sanction", TargetType: "Merchant",
		TargetID: sn.MerchantID, Reason: reason, Details: map[string]any{"sanctionId": id, "kind": string(sn.Kind)}}); err != nil {
		return nil, err
	}
	return db.MerchantSanction.Get(sys, id)
}

// Appeal records the merchant's one answer to a sanction (its owner or staff). A second
// appeal, or two at once, is CONFLICT: the first note stands.
func (s *Service) Appeal(ctx context.Context, db *ent.Client, id int, note string) (*ent.MerchantSanction, error) {
	now := standing.Now(ctx)
	v := viewer.FromContext(ctx)
	sn, err := db.MerchantSanction.Get(ctx, id) // under privacy: others' sanctions are not found
	if ent.IsNotFound(err) || (err == nil && !v.IsMerchantMember(sn.MerchantID)) {
		return nil, apperror.NotFoundf("sanction not found")
	}
	if err != nil {
		return nil, err
	}
	note, err = usertext.Text("note", note, 1, 2000)
	if err != nil {
		return nil, err
	}
	if sn.LiftedAt != nil {
		return nil, apperror.WrongState("LIFTED", "the sanction has been lifted; there is nothing to appeal")
	}
	sys := viewer.SystemContext(ctx)
	n, err := db.MerchantSanction.Update().
		Where(merchantsanction.ID(id), merchantsanction.AppealedAtIsNil()).
		SetAppealNote(note).SetAppealedAt(now).SetAppealedByID(v.UserID).
		Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperror.ConflictOn("id", "this sanction has already been appealed; one appeal per sanction")
	}
	if err := audit.Record(ctx, db, audit.Entry{Action: "merchant.appeal_sanction", TargetType: "Merchant",
		TargetID: sn.MerchantID, Details: map[string]any{"sanctionId": id}}); err != nil {
		return nil, err
	}
	return db.MerchantSanction.Get(sys, id)
}

// settle records on merchant id's row the effects of its sanctions not lifted, and
// recomputes its credit so the penalty shows at once. The caller holds the merchant lock.
func (s *Service) settle(ctx context.Context, db *ent.Client, id int, now time.Time) error {
	sys := viewer.SystemContext(ctx)
	// A locking read: the caller holds the merchant's row, so every sanction committed by
	// whoever held it before is seen, even one committed after this transaction's snapshot
	// (under REPEATABLE READ a plain read would miss it and unsettle the merchant).
	open, err := db.MerchantSanction.Query().
		Where(merchantsanction.MerchantID(id), inForce(now), hooks.ShareRows).All(sys)
	if err != nil {
		return err
	}
	var restricted, suspended, removed *time.Time
	later := func(cur *time.Time, t time.Time) *time.Time {
		if cur == nil || t.After(*cur) {
			return &t
		}
		return cur
	}
	for _, sn := range open {
		switch sn.Kind {
		case merchantsanction.KindRESTRICTION:
			restricted = later(restricted, *sn.EndsAt)
		case merchantsanction.KindSUSPENSION:
			suspended = later(suspended, *sn.EndsAt)
		case merchantsanction.KindREMOVAL:
			removed = &sn.CreatedAt
		}
	}
	up := db.Merchant.UpdateOneID(id).ClearRestrictedUntil().ClearSuspendedUntil().ClearRemovedAt().
		SetNillableRestrictedUntil(restricted).SetNillableSuspendedUntil(suspended).SetNillableRemovedAt(removed)
	if err := up.Exec(sys); err != nil {
		return err
	}
	_, err = s.Recompute(ctx, db, id)
	return err
}

// lockMerchant reads merchant id with a locking read (MySQL), or NOT_FOUND.
func lockMerchant(ctx context.Context, db *ent.Client, id int) (*ent.Merchant, error) {
	m, err := db.Merchant.Query().Where(merchant.ID(id), hooks.LockRows).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("merchant not found")
	}
	return m, err
}
