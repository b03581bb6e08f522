package creators

import (
	"context"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/creator"
	"github.com/xiadan/xiadan/ent/creatorlink"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Attributed is what a buyer is told after arriving through a code: whose code it was
// and until when (by the default window) their orders credit it.
type Attributed struct {
	Code        string
	CreatorName string
	// MerchantID is the merchant the code is for; nil for a general code.
	MerchantID *int
	ExpiresAt  time.Time
}

// activeLink returns the link of code when its creator is APPROVED; NOT_FOUND otherwise
// (a suspended creator's codes look unknown).
func activeLink(ctx context.Context, db *ent.Client, code string) (*ent.CreatorLink, *ent.Creator, error) {
	l, err := db.CreatorLink.Query().Where(creatorlink.Code(NormaliseCode(code)),
		creatorlink.HasCreatorWith(creator.StatusEQ(creator.StatusAPPROVED))).WithCreator().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil, apperror.NotFoundf("no such creator code")
	}
	if err != nil {
		return nil, nil, err
	}
	return l, l.Edges.Creator, nil
}

// RecordAttribution records that the viewer arrived through code now: their orders at
// the code's merchant (any merchant for a general code) within the window credit its
// creator, unless they arrive through another creator's code later (last click wins).
// Creators arriving through their own code are not attributed (CONFLICT, reason
// SELF_REFERRAL).
func (s *Service) RecordAttribution(ctx context.Context, db *ent.Client, code string) (*Attributed, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	l, c, err := activeLink(sys, db, code)
	if err != nil {
		return nil, err
	}
	if c.UserID == v.UserID {
		return nil, &apperror.Error{Code: apperror.Conflict, Message: "your own code does not credit you",
			Extensions: map[string]any{"reason": "SELF_REFERRAL"}}
	}
	now := s.now()
	if err := db.CreatorClick.Create().SetUserID(v.UserID).SetCreatorID(c.ID).SetLinkID(l.ID).
		SetNillableMerchantID(l.MerchantID).SetClickedAt(now).Exec(sys); err != nil {
		return nil, err
	}
	return &Attributed{Code: l.Code, CreatorName: c.DisplayName, MerchantID: l.MerchantID, ExpiresAt: now.Add(s.Config.Window)}, nil
}
