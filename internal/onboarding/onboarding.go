// Package onboarding takes a merchant from application through admin review to operation,
// and manages who works for it (owner, staff invitations, removal). Every admin action is
// written to the audit log in the same transaction.
package onboarding

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/merchantinvitation"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/usertext"
	"github.com/xiadan/xiadan/internal/viewer"
)

// InvitationTTL is how long a staff invitation stays valid.
const InvitationTTL = 7 * 24 * time.Hour

// ApplyInput is a merchant application.
type ApplyInput struct {
	Name, Slug, Description, LogoURL        string
	ContactName, ContactPhone, ContactEmail string
	LicenceNumber, LegalName                string
	// LicenceUploadIDs are the applicant's MERCHANT_LICENCE uploads (scans of the
	// licence), bound to the new merchant through Uploads.
	LicenceUploadIDs []int
	Uploads          LicenceUploads
}

// LicenceUploads binds licence uploads to a merchant (internal/upload implements it).
type LicenceUploads interface {
	BindLicence(ctx context.Context, db *ent.Client, merchantID int, ids []int) error
}

// Bounds of the shipping settings, in minor units.
const (
	maxShippingFee = 100_000_00
	maxAmount      = 1_000_000_000_00
)

// amount reads a decimal money input (such as "8.00") in currency into minor units,
// refusing negative amounts, amounts over max and more decimals than the currency has.
func amount(field, s, currency string, max int64) (int64, error) {
	v, err := money.ParseAmount(s, currency)
	if err != nil {
		return 0, apperror.BadInput(field, "must be an amount such as \"8.00\" with at most %d decimal places", money.Exponent(currency))
	}
	if v < 0 || v > max {
		return 0, apperror.BadInput(field, "must be between 0 and %s", money.New(max, currency).Amount())
	}
	return v, nil
}

// UpdateInput edits a merchant's profile; nil fields stay as they are.
type UpdateInput struct {
	Name, Description, LogoURL              *string
	ContactName, ContactPhone, ContactEmail *string
	// ShippingFlatFee and FreeShippingThreshold are decimal amounts in the merchant's
	// currency, such as "8.00", as every money input of the API.
	ShippingFlatFee, FreeShippingThreshold *string
	// ShowExactStock shows shoppers the exact stock of the merchant's variants.
	ShowExactStock *bool
	// PromisedShipHours is the shipping promise (承诺发货时间) the merchant's credit
	// measures it against (internal/credit), 1 to 720 hours.
	PromisedShipHours *int
}

var (
	slugRE    = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	phoneRE   = regexp.MustCompile(`^\+?[0-9][0-9 \-]{4,30}$`)
	licenceRE = regexp.MustCompile(`^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$`)
)

// text checks a one-line name (min > 0) or, for descriptions and other long texts, a
// multi-line text (see usertext).
func text(field, v string, min, max int) (string, error) {
	if min > 0 {
		return usertext.Line(field, v, min, max)
	}
	return usertext.Text(field, v, min, max)
}

// CheckHTTPSURL validates an https URL such as a logo or image address.
func CheckHTTPSURL(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || len(v) > 512 {
		return "", apperror.BadInput(field, "must be an https URL")
	}
	return v, nil
}

func phone(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if !phoneRE.MatchString(v) {
		return "", apperror.BadInput(field, "is not a phone number")
	}
	return v, nil
}

func (in ApplyInput) validate() (ApplyInput, error) {
	var err error
	if in.Name, err = text("name", in.Name, 1, 100); err != nil {
		return in, err
	}
	in.Slug = strings.TrimSpace(in.Slug)
	if len(in.Slug) < 3 || len(in.Slug) > 64 || !slugRE.MatchString(in.Slug) {
		return in, apperror.BadInput("slug", "must be 3 to 64 lower-case letters, digits and single hyphens")
	}
	if in.Description, err = text("description", in.Description, 0, 5000); err != nil {
		return in, err
	}
	if in.LogoURL != "" {
		if in.LogoURL, err = CheckHTTPSURL("logoURL", in.LogoURL); err != nil {
			return in, err
		}
	}
	if in.ContactName, err = text("contactName", in.ContactName, 1, 64); err != nil {
		return in, err
	}
	if in.ContactPhone, err = phone("contactPhone", in.ContactPhone); err != nil {
		return in, err
	}
	if in.ContactEmail, err = auth.NormalizeEmail("contactEmail", in.ContactEmail); err != nil {
		return in, err
	}
	in.LicenceNumber = strings.ToUpper(strings.TrimSpace(in.LicenceNumber))
	if !ValidLicenceNumber(in.LicenceNumber) {
		return in, apperror.BadInput("licenceNumber", "must be an 18-character unified social credit code")
	}
	if in.LegalName, err = text("legalName", in.LegalName, 1, 200); err != nil {
		return in, err
	}
	return in, nil
}

// Apply creates a merchant owned by the signed-in user, waiting for review.
func Apply(ctx context.Context, db *ent.Client, in ApplyInput) (*ent.Merchant, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to apply")
	}
	in, err := in.validate()
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	// The user's row is locked first: the merchant row inserted below takes a shared lock
	// on it for its foreign key, and two applications upgrading those to the exclusive lock
	// of joinMerchant would deadlock. Locked, the second waits and then sees the first.
	u, err := lockUser(sys, db, v.UserID)
	if err != nil {
		return nil, err
	}
	if u.MerchantID != nil {
		return nil, apperror.New(apperror.Conflict, "you already own or work for a merchant")
	}
	if taken, err := db.Merchant.Query().Where(merchant.Slug(in.Slug)).Exist(sys); err != nil {
		return nil, err
	} else if taken {
		return nil, apperror.ConflictOn("slug", "the slug %q is taken", in.Slug)
	}
	m, err := db.Merchant.Create().
		SetName(in.Name).
		SetSlug(in.Slug).
		SetDescription(in.Description).
		SetLogoURL(in.LogoURL).
		SetContactName(in.ContactName).
		SetContactPhone(in.ContactPhone).
		SetContactEmail(in.ContactEmail).
		SetLicenceNumber(in.LicenceNumber).
		SetLegalName(in.LegalName).
		SetOwnerID(v.UserID).
		Save(ctx)
	if err != nil {
		return nil, err
	}
	// Membership is not something users may set on themselves; the application grants it,
	// with a conditional write: of two applications racing, one gets the user and the
	// other is refused (its merchant rolls back with it).
	if err := joinMerchant(ctx, db, v.UserID, m.ID, user.MerchantRoleOWNER); err != nil {
		return nil, err
	}
	if len(in.LicenceUploadIDs) > 0 {
		if in.Uploads == nil {
			return nil, apperror.BadInput("licenceUploadIDs", "uploads are not available here")
		}
		if err := in.Uploads.BindLicence(ctx, db, m.ID, in.LicenceUploadIDs); err != nil {
			return nil, err
		}
	}
	return m, audit.Record(ctx, db, audit.Entry{Action: "merchant.apply", TargetType: "Merchant", TargetID: m.ID})
}

// load reads a merchant the viewer may see, or NOT_FOUND.
func load(ctx context.Context, db *ent.Client, id int) (*ent.Merchant, error) {
	m, err := db.Merchant.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("merchant not found")
	}
	return m, err
}

// mustManage checks that the viewer owns merchant m or is an admin. Staff may read their
// merchant, so for them it is FORBIDDEN rather than NOT_FOUND.
func mustManage(ctx context.Context, m *ent.Merchant) error {
	v := viewer.FromContext(ctx)
	if v.IsAdmin() || v.IsMerchantOwner(m.ID) {
		return nil
	}
	return apperror.New(apperror.Forbidden, "only the merchant's owner may do this")
}

// Update edits a merchant's profile and shipping rule (owner or admin).
func Update(ctx context.Context, db *ent.Client, id int, in UpdateInput) (*ent.Merchant, error) {
	m, err := load(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := mustManage(ctx, m); err != nil {
		return nil, err
	}
	up := db.Merchant.UpdateOneID(id)
	changed := map[string]any{}
	set := func(name string, v *string, min, max int, apply func(string)) error {
		if v == nil {
			return nil
		}
		s, err := text(name, *v, min, max)
		if err != nil {
			return err
		}
		apply(s)
		changed[name] = s
		return nil
	}
	if err := set("name", in.Name, 1, 100, func(s string) { up.SetName(s) }); err != nil {
		return nil, err
	}
	if err := set("description", in.Description, 0, 5000, func(s string) { up.SetDescription(s) }); err != nil {
		return nil, err
	}
	if err := set("contactName", in.ContactName, 1, 64, func(s string) { up.SetContactName(s) }); err != nil {
		return nil, err
	}
	if in.LogoURL != nil {
		logo := ""
		if strings.TrimSpace(*in.LogoURL) != "" {
			if logo, err = CheckHTTPSURL("logoURL", *in.LogoURL); err != nil {
				return nil, err
			}
		}
		up.SetLogoURL(logo)
		changed["logoURL"] = logo
	}
	if in.ContactPhone != nil {
		p, err := phone("contactPhone", *in.ContactPhone)
		if err != nil {
			return nil, err
		}
		up.SetContactPhone(p)
		changed["contactPhone"] = p
	}
	if in.ContactEmail != nil {
		e, err := auth.NormalizeEmail("contactEmail", *in.ContactEmail)
		if err != nil {
			return nil, err
		}
		up.SetContactEmail(e)
		changed["contactEmail"] = e
	}
	if in.ShippingFlatFee != nil {
		fee, err := amount("shippingFlatFee", *in.ShippingFlatFee, m.Currency, maxShippingFee)
		if err != nil {
			return nil, err
		}
		up.SetShippingFlatFee(fee)
		changed["shippingFlatFee"] = money.New(fee, m.Currency).Amount()
	}
	if in.FreeShippingThreshold != nil {
		from, err := amount("freeShippingThreshold", *in.FreeShippingThreshold, m.Currency, maxAmount)
		if err != nil {
			return nil, err
		}
		up.SetFreeShippingThreshold(from)
		changed["freeShippingThreshold"] = money.New(from, m.Currency).Amount()
	}
	if in.ShowExactStock != nil {
		up.SetShowExactStock(*in.ShowExactStock)
		changed["showExactStock"] = *in.ShowExactStock
	}
	if in.PromisedShipHours != nil {
		if h := *in.PromisedShipHours; h < 1 || h > 720 {
			return nil, apperror.BadInput("promisedShipHours", "must be between 1 and 720 hours")
		}
		up.SetPromisedShipHours(*in.PromisedShipHours)
		changed["promisedShipHours"] = *in.PromisedShipHours
	}
	m, err = up.Save(ctx)
	if err != nil {
		return nil, err
	}
	if viewer.FromContext(ctx).IsAdmin() && !viewer.FromContext(ctx).IsMerchantOwner(id) {
		err = audit.Record(ctx, db, audit.Entry{Action: "merchant.update", TargetType: "Merchant", TargetID: id, Details: changed})
	}
	return m, err
}

// Review approves (ACTIVE) or rejects (REJECTED, with a reason) a pending merchant.
func Review(ctx context.Context, db *ent.Client, id int, approve bool, reason string) (*ent.Merchant, error) {
	reason = strings.TrimSpace(reason)
	if !approve && reason == "" {
		return nil, apperror.BadInput("reason", "a rejection needs a reason the applicant can act on")
	}
	if len(reason) > 500 {
		return nil, apperror.BadInput("reason", "must be at most 500 characters")
	}
	m, err := load(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if m.Status != merchant.StatusPENDING_REVIEW {
		return nil, apperror.WrongState(string(m.Status), "only merchants in PENDING_REVIEW can be reviewed")
	}
	status, action := merchant.StatusACTIVE, "merchant.approve"
	if !approve {
		status, action = merchant.StatusREJECTED, "merchant.reject"
	}
	if m, err = moveMerchant(ctx, db, m, status, reason); err != nil {
		return nil, err
	}
	return m, audit.Record(ctx, db, audit.Entry{Action: action, TargetType: "Merchant", TargetID: id, Reason: reason})
}

// SetStatus restricts, suspends or reinstates an approved merchant. Setting the status it
// already has changes nothing, so retries are harmless.
func SetStatus(ctx context.Context, db *ent.Client, id int, status merchant.Status, reason string) (*ent.Merchant, error) {
	reason = strings.TrimSpace(reason)
	switch status {
	case merchant.StatusACTIVE, merchant.StatusRESTRICTED, merchant.StatusSUSPENDED:
	default:
		return nil, apperror.BadInput("status", "must be ACTIVE, RESTRICTED or SUSPENDED; use reviewMerchant for applications")
	}
	if reason == "" || len(reason) > 500 {
		return nil, apperror.BadInput("reason", "is required (at most 500 characters)")
	}
	m, err := load(ctx, db, id)
	if err != nil {
		return nil, err
	}
	switch m.Status {
	case merchant.StatusPENDING_REVIEW, merchant.StatusREJECTED:
		return nil, apperror.WrongState(string(m.Status), "the merchant has not been approved")
	}
	if m.Status == status {
		return m, nil
	}
	from := m.Status
	if m, err = moveMerchant(ctx, db, m, status, reason); err != nil {
		return nil, err
	}
	return m, audit.Record(ctx, db, audit.Entry{
		Action: "merchant.set_status", TargetType: "Merchant", TargetID: id, Reason: reason,
		Details: map[string]any{"from": string(from), "to": string(status)},
	})
}

// Invite invites a person, by email, to join the merchant's staff. Inviting the same email
// again while an invitation is pending returns that invitation.
func Invite(ctx context.Context, db *ent.Client, merchantID int, email string) (*ent.MerchantInvitation, error) {
	m, err := load(ctx, db, merchantID)
	if err != nil {
		return nil, err
	}
	if err := mustManage(ctx, m); err != nil {
		return nil, err
	}
	email, err = auth.NormalizeEmail("email", email)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	if member, err := db.User.Query().Where(user.Email(email), user.MerchantIDNotNil()).Exist(sys); err != nil {
		return nil, err
	} else if member {
		return nil, apperror.ConflictOn("email", "this person already owns or works for a merchant")
	}
	now := time.Now().UTC()
	existing, err := db.MerchantInvitation.Query().
		Where(merchantinvitation.MerchantID(merchantID), merchantinvitation.Email(email),
			merchantinvitation.StatusEQ(merchantinvitation.StatusPENDING), merchantinvitation.ExpiresAtGT(now)).
		First(ctx)
	if err == nil {
		return existing, nil
	}
	if !ent.IsNotFound(err) {
		return nil, err
	}
	inv, err := db.MerchantInvitation.Create().
		SetMerchantID(merchantID).
		SetEmail(email).
		SetInvitedByID(viewer.FromContext(ctx).UserID).
		SetExpiresAt(now.Add(InvitationTTL)).
		Save(ctx)
	if err != nil {
		return nil, err
	}
	return inv, audit.Record(ctx, db, audit.Entry{
		Action: "merchant.invite_staff", TargetType: "Merchant", TargetID: merchantID,
		Details: map[string]any{"email": email, "invitationId": inv.ID},
	})
}

// RevokeInvitation withdraws a pending invitation.
func RevokeInvitation(ctx context.Context, db *ent.Client, id int) (*ent.MerchantInvitation, error) {
	inv, err := db.MerchantInvitation.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("invitation not found")
	}
	if err != nil {
		return nil, err
	}
	m, err := load(ctx, db, inv.MerchantID)
	if err != nil {
		return nil, err
	}
	if err := mustManage(ctx, m); err != nil {
		// The invitee can see the invitation but not manage it.
		return nil, apperror.NotFoundf("invitation not found")
	}
	if inv.Status != merchantinvitation.StatusPENDING {
		return nil, apperror.WrongState(string(inv.Status), "only pending invitations can be revoked")
	}
	if err := closeInvitation(ctx, db, id, merchantinvitation.StatusREVOKED, "revoked"); err != nil {
		return nil, err
	}
	if inv, err = db.MerchantInvitation.Get(ctx, id); err != nil {
		return nil, err
	}
	return inv, audit.Record(ctx, db, audit.Entry{Action: "merchant.revoke_invitation", TargetType: "Merchant", TargetID: m.ID,
		Details: map[string]any{"invitationId": id}})
}

// AcceptInvitation joins the signed-in user to the inviting merchant's staff. The
// invitation is bound to the address it was sent to: only a user who has verified that
// very address may accept it. Anyone can register any address, so an unverified one is
// refused before the invitation is even looked up, and says nothing about it.
func AcceptInvitation(ctx context.Context, db *ent.Client, id int) (*ent.Merchant, error) {
	v := viewer.FromContext(ctx)
	if !v.EmailVerified {
		return nil, &apperror.Error{Code: apperror.Forbidden, Extensions: map[string]any{"reason": "EMAIL_NOT_VERIFIED"},
			Message: "verify your email address first (requestEmailVerification, then verifyEmail)"}
	}
	inv, err := db.MerchantInvitation.Get(ctx, id)
	if ent.IsNotFound(err) || (err == nil && !usertext.SameEmail(inv.Email, v.Email)) {
		return nil, apperror.NotFoundf("invitation not found")
	}
	if err != nil {
		return nil, err
	}
	if inv.Status != merchantinvitation.StatusPENDING {
		return nil, apperror.WrongState(string(inv.Status), "this invitation can no longer be accepted")
	}
	if !time.Now().Before(inv.ExpiresAt) {
		return nil, apperror.WrongState("EXPIRED", "this invitation has expired; ask for a new one")
	}
	sys := viewer.SystemContext(ctx)
	u, err := lockUser(sys, db, v.UserID)
	if err != nil {
		return nil, err
	}
	// The viewer was read at the start of the request; the user row is what counts.
	if u.EmailVerifiedAt == nil || u.Email == nil || !usertext.SameEmail(*u.Email, inv.Email) {
		return nil, apperror.NotFoundf("invitation not found")
	}
	if u.MerchantID != nil {
		return nil, apperror.New(apperror.Conflict, "you already own or work for a merchant")
	}
	// Both writes are conditional: an invitation revoked or accepted meanwhile, or a seat
	// taken elsewhere meanwhile, refuses the acceptance.
	if err := closeInvitation(ctx, db, id, merchantinvitation.StatusACCEPTED, "accepted"); err != nil {
		return nil, err
	}
	if err := joinMerchant(ctx, db, u.ID, inv.MerchantID, user.MerchantRoleSTAFF); err != nil {
		return nil, err
	}
	if err := audit.Record(ctx, db, audit.Entry{Action: "merchant.join_staff", TargetType: "Merchant", TargetID: inv.MerchantID,
		Details: map[string]any{"invitationId": id}}); err != nil {
		return nil, err
	}
	return db.Merchant.Get(sys, inv.MerchantID)
}

// RemoveStaff removes a staff member from a merchant. The owner cannot be removed.
func RemoveStaff(ctx context.Context, db *ent.Client, merchantID, userID int) (*ent.Merchant, error) {
	m, err := load(ctx, db, merchantID)
	if err != nil {
		return nil, err
	}
	if err := mustManage(ctx, m); err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	u, err := db.User.Get(sys, userID)
	if ent.IsNotFound(err) || (err == nil && (u.MerchantID == nil || *u.MerchantID != merchantID)) {
		return nil, apperror.BadInput("userID", "is not a member of this merchant")
	}
	if err != nil {
		return nil, err
	}
	if u.ID == m.OwnerID {
		return nil, apperror.BadInput("userID", "the owner cannot be removed")
	}
	// Conditional: removed twice at once, the staff member is removed once.
	n, err := db.User.Update().
		Where(user.ID(userID), user.MerchantID(merchantID), user.MerchantRoleEQ(user.MerchantRoleSTAFF)).
		ClearMerchantID().ClearMerchantRole().
		Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperror.BadInput("userID", "is not a member of this merchant")
	}
	return m, audit.Record(ctx, db, audit.Entry{Action: "merchant.remove_staff", TargetType: "Merchant", TargetID: merchantID,
		Details: map[string]any{"userId": userID}})
}

// moveMerchant sets merchant m's status, conditional on the status m was read with: of two
// admins deciding at once (approve and reject, restrict and reinstate), one wins and the
// other gets INVALID_STATE naming what the winner left. Returns the merchant as updated.
func moveMerchant(ctx context.Context, db *ent.Client, m *ent.Merchant, to merchant.Status, reason string) (*ent.Merchant, error) {
	sys := viewer.SystemContext(ctx)
	n, err := db.Merchant.Update().
		Where(merchant.ID(m.ID), merchant.StatusEQ(m.Status)).
		SetStatus(to).SetStatusReason(reason).
		Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		cur, err := db.Merchant.Query().Where(merchant.ID(m.ID), hooks.LockRows).Only(sys)
		if err != nil {
			return nil, err
		}
		return nil, apperror.WrongState(string(cur.Status), "merchant %s changed meanwhile: it is %s now", m.Name, cur.Status)
	}
	return db.Merchant.Get(sys, m.ID)
}

// closeInvitation moves a PENDING invitation to status, conditionally: an invitation that
// was accepted or revoked meanwhile is INVALID_STATE.
func closeInvitation(ctx context.Context, db *ent.Client, id int, status merchantinvitation.Status, what string) error {
	sys := viewer.SystemContext(ctx)
	n, err := db.MerchantInvitation.Update().
		Where(merchantinvitation.ID(id), merchantinvitation.StatusEQ(merchantinvitation.StatusPENDING)).
		SetStatus(status).
		Save(sys)
	if err != nil {
		return err
	}
	if n == 0 {
		cur, err := db.MerchantInvitation.Query().Where(merchantinvitation.ID(id), hooks.LockRows).Only(sys)
		if err != nil {
			return err
		}
		return apperror.WrongState(string(cur.Status), "this invitation can no longer be %s", what)
	}
	return nil
}

// lockUser reads a user with a locking read (MySQL): the latest row, held until the
// transaction ends.
func lockUser(ctx context.Context, db *ent.Client, id int) (*ent.User, error) {
	return db.User.Query().Where(user.ID(id), hooks.LockRows).Only(ctx)
}

// joinMerchant makes userID a member of merchant id, conditional on the user belonging to
// no merchant: of two joins racing (two applications, two invitations accepted at once),
// one wins and the other is CONFLICT.
func joinMerchant(ctx context.Context, db *ent.Client, userID, id int, role user.MerchantRole) error {
	n, err := db.User.Update().
		Where(user.ID(userID), user.MerchantIDIsNil()).
		SetMerchantID(id).SetMerchantRole(role).
		Save(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	if n == 0 {
		return apperror.New(apperror.Conflict, "you already own or work for a merchant")
	}
	return nil
}

const licenceChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var licenceWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// ValidLicenceNumber checks an 18-character unified social credit code (统一社会信用代码),
// including its GB 32100-2015 check character, so typos are caught at application time.
func ValidLicenceNumber(s string) bool {
	if !licenceRE.MatchString(s) {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(licenceChars, s[i]) * licenceWeights[i]
	}
	check := (31 - sum%31) % 31
	return s[17] == licenceChars[check]
}
