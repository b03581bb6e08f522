package risk

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/riskassessment"
	"github.com/xiadan/xiadan/ent/risklistentry"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/viewer"
)

// ListInput is a new entry of the risk lists. A BLOCKED_* entry takes value or orderID
// (the order's own device, phone, address or customer email); TRUSTED_USER takes userID
// and TRUSTED_MERCHANT merchantID.
type ListInput struct {
	Kind       risklistentry.Kind
	Value      *string
	OrderID    *int
	UserID     *int
	MerchantID *int
	Note       *string
}

var devicePattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

// AddListEntry adds an entry to the block or trust lists, in db's transaction, and
// audits it. An entry already listed is CONFLICT. Admins only.
func (s *Service) AddListEntry(ctx context.Context, db *ent.Client, in ListInput) (*ent.RiskListEntry, error) {
	v := viewer.FromContext(ctx)
	if !v.IsAdmin() {
		return nil, apperror.New(apperror.Forbidden, "only admins manage the risk lists")
	}
	if err := risklistentry.KindValidator(in.Kind); err != nil {
		return nil, apperror.BadInput("kind", "is not a list kind")
	}
	note := ""
	if in.Note != nil {
		note = strings.TrimSpace(*in.Note)
		if len([]rune(note)) > MaxNote {
			return nil, apperror.BadInput("note", "must be at most %d characters", MaxNote)
		}
	}
	value, label, err := s.listValue(ctx, db, in)
	if err != nil {
		return nil, err
	}
	sctx := system(ctx)
	exists, err := db.RiskListEntry.Query().Where(risklistentry.KindEQ(in.Kind), risklistentry.Value(value)).Exist(sctx)
	if err != nil {
		return nil, err
	}
	if exists {
		return nil, apperror.ConflictOn("value", "this %s is already listed", strings.ToLower(string(in.Kind)))
	}
	c := db.RiskListEntry.Create().SetKind(in.Kind).SetValue(value).SetLabel(truncate(label, 500)).SetNote(note)
	if v.UserID != 0 {
		c.SetCreatedBy(v.UserID)
	}
	e, err := c.Save(sctx)
	if ent.IsConstraintError(err) {
		return nil, apperror.ConflictOn("value", "this %s is already listed", strings.ToLower(string(in.Kind)))
	}
	if err != nil {
		return nil, err
	}
	if err := audit.Record(ctx, db, audit.Entry{Action: "risk.list.add", TargetType: "RiskListEntry", TargetID: e.ID,
		Reason: note, Details: map[string]any{"kind": string(e.Kind), "label": e.Label}}); err != nil {
		return nil, err
	}
	return e, nil
}

// listValue normalises the value of an entry and says what to show for it.
func (s *Service) listValue(ctx context.Context, db *ent.Client, in ListInput) (value, label string, err error) {
	sctx := system(ctx)
	switch in.Kind {
	case risklistentry.KindTRUSTED_USER:
		if in.UserID == nil {
			return "", "", apperror.BadInput("userID", "is required for TRUSTED_USER")
		}
		u, err := db.User.Get(sctx, *in.UserID)
		if ent.IsNotFound(err) {
			return "", "", apperror.BadInput("userID", "no such user")
		}
		if err != nil {
			return "", "", err
		}
		label := "user " + strconv.Itoa(u.ID)
		if u.Email != nil {
			label = *u.Email
		}
		return strconv.Itoa(u.ID), label, nil
	case risklistentry.KindTRUSTED_MERCHANT:
		if in.MerchantID == nil {
			return "", "", apperror.BadInput("merchantID", "is required for TRUSTED_MERCHANT")
		}
		m, err := db.Merchant.Get(sctx, *in.MerchantID)
		if ent.IsNotFound(err) {
			return "", "", apperror.BadInput("merchantID", "no such merchant")
		}
		if err != nil {
			return "", "", err
		}
		return strconv.Itoa(m.ID), m.Name, nil
	}
	switch {
	case (in.Value == nil) == (in.OrderID == nil):
		return "", "", apperror.BadInput("value", "give value or orderID, not both")
	case in.OrderID != nil:
		a, err := db.RiskAssessment.Query().Where(riskassessment.OrderID(*in.OrderID)).Only(sctx)
		if ent.IsNotFound(err) {
			return "", "", apperror.BadInput("orderID", "the order has no risk assessment")
		}
		if err != nil {
			return "", "", err
		}
		var v string
		switch in.Kind {
		case risklistentry.KindBLOCKED_DEVICE:
			v = a.DeviceID
		case risklistentry.KindBLOCKED_PHONE:
			v = a.Phone
		case risklistentry.KindBLOCKED_ADDRESS:
			v = a.AddressKey
		case risklistentry.KindBLOCKED_EMAIL:
			v = a.Email
		}
		if v == "" {
			return "", "", apperror.BadInput("orderID", "the order has no %s", strings.ToLower(strings.TrimPrefix(string(in.Kind), "BLOCKED_")))
		}
		label := v
		if in.Kind == risklistentry.KindBLOCKED_ADDRESS {
			o, err := db.Order.Get(sctx, *in.OrderID)
			if err != nil {
				return "", "", err
			}
			label = AddressLine(o.ShippingAddress)
		}
		return v, label, nil
	}
	raw := strings.TrimSpace(*in.Value)
	switch in.Kind {
	case risklistentry.KindBLOCKED_PHONE:
		if p := NormalizePhone(raw); len(p) >= 5 && len(p) <= 20 {
			return p, raw, nil
		}
		return "", "", apperror.BadInput("value", "must be a phone number (5 to 20 digits)")
	case risklistentry.KindBLOCKED_EMAIL:
		if e := NormalizeEmail(raw); strings.Count(e, "@") == 1 && len(e) <= 254 && !strings.HasPrefix(e, "@") && !strings.HasSuffix(e, "@") {
			return e, raw, nil
		}
		return "", "", apperror.BadInput("value", "must be an email address")
	case risklistentry.KindBLOCKED_DEVICE:
		if devicePattern.MatchString(raw) {
			return raw, raw, nil
		}
		return "", "", apperror.BadInput("value", "must be a device id (8 to 128 letters, digits, . _ : -)")
	case risklistentry.KindBLOCKED_ADDRESS:
		if k := AddressKey(raw); k != "" && len([]rune(raw)) <= 500 {
			return k, raw, nil
		}
		return "", "", apperror.BadInput("value", "must be an address: province, city, district and street")
	}
	return "", "", apperror.BadInput("kind", "is not a list kind")
}

// RemoveListEntry deletes an entry of the risk lists and audits it; NOT_FOUND when there
// is none. Admins only.
func (s *Service) RemoveListEntry(ctx context.Context, db *ent.Client, id int) (int, error) {
	v := viewer.FromContext(ctx)
	if !v.IsAdmin() {
		return 0, apperror.New(apperror.Forbidden, "only admins manage the risk lists")
	}
	sctx := system(ctx)
	e, err := db.RiskListEntry.Get(sctx, id)
	if ent.IsNotFound(err) {
		return 0, apperror.NotFoundf("risk list entry %d not found", id)
	}
	if err != nil {
		return 0, err
	}
	n, err := db.RiskListEntry.Delete().Where(risklistentry.ID(id)).Exec(sctx)
	if err != nil {
		return 0, err
	}
	if n != 1 {
		return 0, apperror.NotFoundf("risk list entry %d not found", id)
	}
	if err := audit.Record(ctx, db, audit.Entry{Action: "risk.list.remove", TargetType: "RiskListEntry", TargetID: id,
		Details: map[string]any{"kind": string(e.Kind), "label": e.Label}}); err != nil {
		return 0, err
	}
	return id, nil
}
