// Package creators credits creators (KOL/达人) for the orders they bring: a user applies to
// be a creator and an admin approves; a creator has codes (a general one, and links for a
// merchant or a product); a buyer arriving through a code (recordAttribution, or the code
// given at checkout) is attributed to the latest creator whose code applies, within the
// merchant's attribution window (last click); merchants opt in with a commission rule, and
// a pricing.Provider at StageRecord turns each attributed order into a commission, which
// refunds reverse in proportion and cancellation reverses in full; a job makes commissions
// SETTLABLE once their order completed and the holding period passed. A creator never
// learns who bought; a merchant sees only its own orders' commissions.
package creators

import (
	"context"
	"crypto/rand"
	"regexp"
	"strings"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/creator"
	"github.com/xiadan/xiadan/ent/creatorlink"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Config is the creator programme's settings.
type Config struct {
	// Window is the default attribution window, for merchants whose rule sets none
	// (CREATOR_ATTRIBUTION_WINDOW, default 7 days).
	Window time.Duration
	// Hold is how long after its order completes a commission stays PENDING, so that
	// after-sales refunds can still reverse it (CREATOR_COMMISSION_HOLD, default 7 days).
	Hold time.Duration
}

// DefaultConfig is the configuration without environment overrides.
func DefaultConfig() Config { return Config{Window: 7 * 24 * time.Hour, Hold: 7 * 24 * time.Hour} }

// MaxWindow bounds every attribution window: rules allow 1 to 90 days.
const MaxWindow = 90 * 24 * time.Hour

// Service runs the creator programme.
type Service struct {
	Config Config
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// New returns a service with configuration c on the wall clock.
func New(c Config) *Service {
	if c.Window <= 0 {
		c.Window = DefaultConfig().Window
	}
	if c.Hold < 0 {
		c.Hold = 0
	}
	return &Service{Config: c}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

var codePattern = regexp.MustCompile(`^[A-Z0-9]{4,32}$`)

// NormaliseCode returns code in upper case without surrounding spaces; codes are 4 to 32
// letters and digits, matched case-insensitively.
func NormaliseCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// CreatorView is a creator profile as the API shows it.
type CreatorView struct {
	ID          int
	DisplayName string
	Status      creator.Status
	CreatedAt   time.Time
	ApprovedAt  *time.Time
	Links       []*LinkView
}

// LinkView is one of a creator's codes.
type LinkView struct {
	Code       string
	MerchantID *int
	ProductID  *int
}

func viewOf(c *ent.Creator) *CreatorView {
	v := &CreatorView{ID: c.ID, DisplayName: c.DisplayName, Status: c.Status, CreatedAt: c.CreatedAt, ApprovedAt: c.ApprovedAt}
	for _, l := range c.Edges.Links {
		v.Links = append(v.Links, &LinkView{Code: l.Code, MerchantID: l.MerchantID, ProductID: l.ProductID})
	}
	return v
}

func signedIn(ctx context.Context) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to do this")
	}
	return v, nil
}

func requireAdmin(ctx context.Context) error {
	v, err := signedIn(ctx)
	if err != nil {
		return err
	}
	if !v.IsAdmin() {
		return apperror.New(apperror.Forbidden, "this is for admins")
	}
	return nil
}

func (s *Service) loadCreator(ctx context.Context, db *ent.Client, userID int) (*ent.Creator, error) {
	return db.Creator.Query().Where(creator.UserID(userID)).
		WithLinks(func(q *ent.CreatorLinkQuery) { q.Order(creatorlink.ByID()) }).Only(ctx)
}

// Apply makes the viewer a PENDING creator with a general code (upper-cased), in db's
// transaction. Applying twice is CONFLICT (reason ALREADY_APPLIED); a code in use is
// CONFLICT on field code.
func (s *Service) Apply(ctx context.Context, db *ent.Client, displayName, code string) (*CreatorView, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	displayName = strings.TrimSpace(displayName)
	if displayName == "" || len([]rune(displayName)) > 64 {
		return nil, apperror.BadInput("displayName", "must be 1 to 64 characters")
	}
	code = NormaliseCode(code)
	if !codePattern.MatchString(code) {
		return nil, apperror.BadInput("code", "must be 4 to 32 letters and digits")
	}
	sys := viewer.SystemContext(ctx)
	if ok, err := db.Creator.Query().Where(creator.UserID(v.UserID)).Exist(sys); err != nil {
		return nil, err
	} else if ok {
		return nil, &apperror.Error{Code: apperror.Conflict, Message: "you have applied already",
			Extensions: map[string]any{"reason": "ALREADY_APPLIED"}}
	}
	if err := codeFree(sys, db, code); err != nil {
		return nil, err
	}
	c, err := db.Creator.Create().SetUserID(v.UserID).SetDisplayName(displayName).Save(sys)
	if ent.IsConstraintError(err) {
		return nil, &apperror.Error{Code: apperror.Conflict, Message: "you have applied already",
			Extensions: map[string]any{"reason": "ALREADY_APPLIED"}}
	}
	if err != nil {
		return nil, err
	}
	l, err := db.CreatorLink.Create().SetCreatorID(c.ID).SetCreatorUserID(v.UserID).SetCode(code).SetCreatedAt(s.now()).Save(sys)
	if ent.IsConstraintError(err) {
		return nil, apperror.ConflictOn("code", "this code is taken")
	}
	if err != nil {
		return nil, err
	}
	c.Edges.Links = []*ent.CreatorLink{l}
	return viewOf(c), nil
}

func codeFree(ctx context.Context, db *ent.Client, code string) error {
	taken, err := db.CreatorLink.Query().Where(creatorlink.Code(code)).Exist(ctx)
	if err != nil {
		return err
	}
	if taken {
		return apperror.ConflictOn("code", "this code is taken")
	}
	return nil
}

// Mine returns the viewer's creator profile, nil when they have none.
func (s *Service) Mine(ctx context.Context, db *ent.Client) (*CreatorView, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.loadCreator(viewer.SystemContext(ctx), db, v.UserID)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return viewOf(c), nil
}

// SetStatus is an admin's decision on creator id: APPROVED (from PENDING or SUSPENDED) or
// SUSPENDED (from APPROVED). A conditional update on the status read decides between two
// admins; the loser gets INVALID_STATE.
func (s *Service) SetStatus(ctx context.Context, db *ent.Client, id int, to creator.Status) (*CreatorView, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	c, err := db.Creator.Get(sys, id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("no creator %d", id)
	}
	if err != nil {
		return nil, err
	}
	var from []creator.Status
	switch to {
	case creator.StatusAPPROVED:
		from = []creator.Status{creator.StatusPENDING, creator.StatusSUSPENDED}
	case creator.StatusSUSPENDED:
		from = []creator.Status{creator.StatusAPPROVED}
	default:
		return nil, apperror.BadInput("status", "must be APPROVED or SUSPENDED")
	}
	up := db.Creator.Update().Where(creator.ID(id), creator.StatusIn(from...), creator.StatusEQ(c.Status)).SetStatus(to)
	if to == creator.StatusAPPROVED && c.ApprovedAt == nil {
		up.SetApprovedAt(s.now())
	}
	n, err := up.Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		cur, err := db.Creator.Get(sys, id)
		if err != nil {
			return nil, err
		}
		return nil, apperror.WrongState(string(cur.Status), "creator %d cannot become %s", id, to)
	}
	c, err = s.loadCreator(sys, db, c.UserID)
	if err != nil {
		return nil, err
	}
	return viewOf(c), nil
}

// List returns creators for admins, newest first, optionally of one status.
func (s *Service) List(ctx context.Context, db *ent.Client, status *creator.Status) ([]*CreatorView, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	q := db.Creator.Query().WithLinks(func(q *ent.CreatorLinkQuery) { q.Order(creatorlink.ByID()) }).
		Order(creator.ByID()).Limit(500)
	if status != nil {
		q.Where(creator.StatusEQ(*status))
	}
	cs, err := q.All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]*CreatorView, len(cs))
	for i, c := range cs {
		out[i] = viewOf(c)
	}
	return out, nil
}

// LinkInput is a new code of the viewer's: for a merchant, for a product (whose merchant
// it then credits only), or general. Without a code one is made up.
type LinkInput struct {
	Code       *string
	MerchantID *int
	ProductID  *int
}

// CreateLink adds a code to the viewer's APPROVED creator profile.
func (s *Service) CreateLink(ctx context.Context, db *ent.Client, in LinkInput) (*LinkView, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	c, err := db.Creator.Query().Where(creator.UserID(v.UserID)).Only(sys)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("you are not a creator")
	}
	if err != nil {
		return nil, err
	}
	if c.Status != creator.StatusAPPROVED {
		return nil, apperror.WrongState(string(c.Status), "only approved creators add codes")
	}
	merchantID := in.MerchantID
	if in.ProductID != nil {
		// Only a product anyone may see can be linked: hidden ones look missing.
		p, err := db.Product.Query().Where(product.ID(*in.ProductID)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil, apperror.BadInput("productId", "no such product")
		}
		if err != nil {
			return nil, err
		}
		if merchantID != nil && *merchantID != p.MerchantID {
			return nil, apperror.BadInput("merchantId", "is not the product's merchant")
		}
		merchantID = &p.MerchantID
	} else if merchantID != nil {
		if ok, err := db.Merchant.Query().Where(merchant.ID(*merchantID)).Exist(ctx); err != nil {
			return nil, err
		} else if !ok {
			return nil, apperror.BadInput("merchantId", "no such merchant")
		}
	}
	var code string
	if in.Code != nil {
		code = NormaliseCode(*in.Code)
		if !codePattern.MatchString(code) {
			return nil, apperror.BadInput("code", "must be 4 to 32 letters and digits")
		}
		if err := codeFree(sys, db, code); err != nil {
			return nil, err
		}
	} else {
		code = randomCode()
	}
	l, err := db.CreatorLink.Create().SetCreatorID(c.ID).SetCreatorUserID(v.UserID).SetCode(code).
		SetNillableMerchantID(merchantID).SetNillableProductID(in.ProductID).SetCreatedAt(s.now()).Save(sys)
	if ent.IsConstraintError(err) {
		return nil, apperror.ConflictOn("code", "this code is taken")
	}
	if err != nil {
		return nil, err
	}
	return &LinkView{Code: l.Code, MerchantID: l.MerchantID, ProductID: l.ProductID}, nil
}

// randomCode is 10 characters of an alphabet without look-alikes (0/O, 1/I).
func randomCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
