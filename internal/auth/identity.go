package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/ent/useridentity"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/identity"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Platform sign-in limits: calls to a platform per client address per minute (each
// costs us a platform API call, and platforms cap them per app).
const PlatformCallsPerMinute = 30

// ProviderPhone is the UserIdentity provider of phone numbers.
const ProviderPhone = useridentity.ProviderPHONE

// SignInWithMiniProgram exchanges a mini program's login code for the person's platform
// account and signs in the account that holds it, creating one on first use (see
// signInIdentity for the merge rules). It calls the platform, so it runs outside any
// request transaction, in one of its own.
func (s *Service) SignInWithMiniProgram(ctx context.Context, p identity.Platform, code string) (*Session, error) {
	acct, err := s.exchangeMini(ctx, p, code)
	if err != nil {
		return nil, err
	}
	return s.signInAccount(ctx, acct, nil)
}

// LinkMiniProgram adds the platform account of a mini program's login code to userID's
// account (see linkIdentity for when that is refused).
func (s *Service) LinkMiniProgram(ctx context.Context, userID int, p identity.Platform, code string) (*ent.UserIdentity, error) {
	acct, err := s.exchangeMini(ctx, p, code)
	if err != nil {
		return nil, err
	}
	var out *ent.UserIdentity
	err = withTx(ctx, s.Client, func(tx *ent.Client) error {
		out, err = s.linkIdentity(ctx, tx, userID, providerOf(acct.Platform), acct.AppID, acct.OpenID, acct.UnionID)
		return err
	})
	return out, err
}

func (s *Service) exchangeMini(ctx context.Context, p identity.Platform, code string) (*identity.Account, error) {
	if s.Identities == nil || !p.Valid() {
		return nil, apperror.BadInput("platform", "unknown platform")
	}
	mp, err := s.Identities.MiniProgram(p)
	if err != nil {
		return nil, apperror.BadInput("platform", "mini-program sign-in with %s is not configured on this server", p)
	}
	if err := s.takePlatformCall(ctx); err != nil {
		return nil, err
	}
	acct, err := mp.Exchange(ctx, code)
	if err != nil {
		return nil, s.platformError(ctx, p, err)
	}
	return acct, nil
}

// takePlatformCall counts one platform call of the client address.
func (s *Service) takePlatformCall(ctx context.Context) error {
	if s.PlatformCalls == nil {
		return nil
	}
	if wait := s.PlatformCalls.Take(ctx, "platform:"+AddressKey(ClientFromContext(ctx).IP), PlatformCallsPerMinute); wait > 0 {
		return apperror.Limited(wait)
	}
	return nil
}

// platformError turns a platform's refusal into what the caller may see; our own and the
// platform's failures are logged and INTERNAL.
func (s *Service) platformError(ctx context.Context, p identity.Platform, err error) error {
	switch {
	case errors.Is(err, identity.ErrInvalidCode):
		return &apperror.Error{Code: apperror.BadUserInput, Field: "code", Err: err, Extensions: map[string]any{"reason": "INVALID_CODE"},
			Message: "the sign-in code is invalid, used or expired; get a new one from the platform"}
	case errors.Is(err, identity.ErrRateLimited):
		e := apperror.Limited(time.Minute)
		e.Err = err
		return e
	case errors.Is(err, identity.ErrRefused):
		return &apperror.Error{Code: apperror.Forbidden, Err: err, Extensions: map[string]any{"reason": "PLATFORM_REFUSED"},
			Message: fmt.Sprintf("%s refused to sign this account in", p)}
	}
	s.logger().ErrorContext(ctx, "sign-in platform failed", "platform", string(p), "err", err)
	return &apperror.Error{Code: apperror.Internal, Err: err,
		Message: fmt.Sprintf("sign-in with %s is unavailable at the moment; try again shortly", p)}
}

// signInAccount signs in the account holding acct, in a transaction of its own. A first
// sign-in of one platform account racing another loses on the unique index and is
// retried once, finding the winner's account.
func (s *Service) signInAccount(ctx context.Context, acct *identity.Account, claim func(*ent.Client) error) (*Session, error) {
	var sess *Session
	attempt := func() error {
		return withTx(ctx, s.Client, func(tx *ent.Client) error {
			if claim != nil {
				if err := claim(tx); err != nil {
					return err
				}
			}
			var err error
			sess, err = s.signInIdentity(ctx, tx, providerOf(acct.Platform), acct.AppID, acct.OpenID, acct.UnionID)
			return err
		})
	}
	err := attempt()
	if ent.IsConstraintError(err) {
		err = attempt()
	}
	return sess, err
}

// providerOf is the UserIdentity provider of a platform.
func providerOf(p identity.Platform) useridentity.Provider { return useridentity.Provider(p) }

// signInIdentity signs in with an identity the platform (or an SMS code) proved, on db.
// The merge rules:
//
//   - an identity we know signs in its account (a disabled account is refused, never
//     replaced by a new one);
//   - an unknown openid whose union id belongs to identities of exactly one account (the
//     same person in another app of the same platform account, as the platform
//     guarantees) joins that account;
//   - a union id held by several accounts (made before the platform gave union ids) is
//     refused with CONFLICT: we never guess which account is theirs;
//   - otherwise a new customer account is made, holding only this identity.
func (s *Service) signInIdentity(ctx context.Context, db *ent.Client, provider useridentity.Provider, appID, openID, unionID string) (*Session, error) {
	sys := viewer.SystemContext(ctx)
	now := s.now()
	known, err := db.UserIdentity.Query().
		Where(useridentity.ProviderEQ(provider), useridentity.AppID(appID), useridentity.OpenID(openID)).
		WithUser().Only(sys)
	switch {
	case err == nil:
		up := db.UserIdentity.UpdateOne(known).SetLastUsedAt(now)
		if unionID != "" && (known.UnionID == nil || *known.UnionID != unionID) {
			// The platform now gives a union id (the app joined an open platform account):
			// keep it, unless it would tie this account to another one.
			others, err := s.unionHolders(sys, db, provider, unionID)
			if err != nil {
				return nil, err
			}
			if len(others) == 0 || len(others) == 1 && others[0] == known.UserID {
				up.SetUnionID(unionID)
			}
		}
		if err := up.Exec(sys); err != nil {
			return nil, err
		}
		return s.startIdentitySession(ctx, db, known.Edges.User)
	case !ent.IsNotFound(err):
		return nil, err
	}
	var u *ent.User
	if unionID != "" {
		holders, err := s.unionHolders(sys, db, provider, unionID)
		if err != nil {
			return nil, err
		}
		switch len(holders) {
		case 0:
		case 1:
			if u, err = db.User.Get(sys, holders[0]); err != nil {
				return nil, err
			}
		default:
			return nil, &apperror.Error{Code: apperror.Conflict, Extensions: map[string]any{"reason": "AMBIGUOUS_UNION_ID"},
				Message: "this platform account belongs to several Xiadan accounts; sign in another way and unlink it from all but one"}
		}
	}
	if u == nil {
		if u, err = s.newIdentityAccount(ctx, db, provider); err != nil {
			return nil, err
		}
	} else if u.Status != user.StatusACTIVE {
		return nil, errDisabled
	}
	c := db.UserIdentity.Create().SetUserID(u.ID).SetProvider(provider).SetAppID(appID).SetOpenID(openID).SetLastUsedAt(now)
	if unionID != "" {
		c.SetUnionID(unionID)
	}
	if err := c.Exec(sys); err != nil {
		return nil, err
	}
	return s.startIdentitySession(ctx, db, u)
}

var errDisabled = apperror.New(apperror.Unauthenticated, "this account is disabled")

func (s *Service) startIdentitySession(ctx context.Context, db *ent.Client, u *ent.User) (*Session, error) {
	if u.Status != user.StatusACTIVE {
		return nil, errDisabled
	}
	return s.signIn(ctx, db, u)
}

// unionHolders lists the accounts holding an identity of provider with unionID.
func (s *Service) unionHolders(ctx context.Context, db *ent.Client, provider useridentity.Provider, unionID string) ([]int, error) {
	return db.UserIdentity.Query().
		Where(useridentity.ProviderEQ(provider), useridentity.UnionID(unionID)).
		Unique(true).Limit(10).
		Select(useridentity.FieldUserID).Ints(ctx)
}

// newIdentityAccount makes a customer account with no email and no password, named after
// the platform with a random number (never anything from the platform or the phone
// number: display names are public on reviews).
func (s *Service) newIdentityAccount(ctx context.Context, db *ent.Client, provider useridentity.Provider) (*ent.User, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return nil, err
	}
	prefix := map[useridentity.Provider]string{
		useridentity.ProviderWECHAT: "微信用户", useridentity.ProviderQQ: "QQ用户", useridentity.ProviderKUAISHOU: "快手用户",
		useridentity.ProviderALIPAY: "支付宝用户", useridentity.ProviderPHONE: "用户",
	}[provider]
	return db.User.Create().
		SetDisplayName(fmt.Sprintf("%s%06d", prefix, n.Int64())).
		SetRoles([]string{string(viewer.RoleCustomer)}).
		Save(viewer.SystemContext(ctx))
}

// linkIdentity adds an identity to userID's account, on db. It never merges accounts:
//
//   - an identity already on this account is returned as it is;
//   - one on another account is CONFLICT (reason IDENTITY_TAKEN): sign in with it there
//     and unlink it first;
//   - a second identity of one app (one WeChat account per mini program) is CONFLICT
//     (ALREADY_LINKED), except a phone number, which replaces the old one (the new
//     number was just proved, so the account keeps a way in);
//   - a union id held by another account is CONFLICT (UNION_ID_TAKEN): it is the same
//     platform account as one of theirs.
func (s *Service) linkIdentity(ctx context.Context, db *ent.Client, userID int, provider useridentity.Provider, appID, openID, unionID string) (*ent.UserIdentity, error) {
	sys := viewer.SystemContext(ctx)
	if _, err := s.lockUser(sys, db, userID); err != nil {
		return nil, err
	}
	conflict := func(reason, msg string) error {
		return &apperror.Error{Code: apperror.Conflict, Extensions: map[string]any{"reason": reason}, Message: msg}
	}
	known, err := db.UserIdentity.Query().
		Where(useridentity.ProviderEQ(provider), useridentity.AppID(appID), useridentity.OpenID(openID)).Only(sys)
	switch {
	case err == nil && known.UserID == userID:
		return known, nil
	case err == nil:
		return nil, conflict("IDENTITY_TAKEN", "this identity signs in to another account; sign in with it, unlink it there, then link it here")
	case !ent.IsNotFound(err):
		return nil, err
	}
	mine, err := db.UserIdentity.Query().
		Where(useridentity.UserID(userID), useridentity.ProviderEQ(provider), useridentity.AppID(appID)).Only(sys)
	switch {
	case err == nil && provider == ProviderPhone:
		if err := db.UserIdentity.DeleteOne(mine).Exec(sys); err != nil {
			return nil, err
		}
	case err == nil:
		return nil, conflict("ALREADY_LINKED", "the account already has an identity of this app; unlink it first")
	case !ent.IsNotFound(err):
		return nil, err
	}
	if unionID != "" {
		holders, err := s.unionHolders(sys, db, provider, unionID)
		if err != nil {
			return nil, err
		}
		for _, h := range holders {
			if h != userID {
				return nil, conflict("UNION_ID_TAKEN", "this platform account already signs in to another account (through another app)")
			}
		}
	}
	c := db.UserIdentity.Create().SetUserID(userID).SetProvider(provider).SetAppID(appID).SetOpenID(openID)
	if unionID != "" {
		c.SetUnionID(unionID)
	}
	id, err := c.Save(sys)
	if ent.IsConstraintError(err) {
		return nil, conflict("IDENTITY_TAKEN", "this identity was just linked to another account")
	}
	return id, err
}

// lockUser reads userID's row, locked until db's transaction ends on MySQL (SQLite's
// write transactions hold the database lock from their start), so that changes to one
// account's ways in queue up: two unlinks can never both remove "the other" way in.
func (s *Service) lockUser(ctx context.Context, db *ent.Client, userID int) (*ent.User, error) {
	return db.User.Query().Where(user.ID(userID)).Modify(func(sel *sql.Selector) {
		if sel.Dialect() == dialect.MySQL {
			sel.ForUpdate()
		}
	}).Only(ctx)
}

// waysIn counts how u can sign in: email and password, and each identity.
func (s *Service) waysIn(ctx context.Context, db *ent.Client, u *ent.User) (int, error) {
	n, err := db.UserIdentity.Query().Where(useridentity.UserID(u.ID)).Count(ctx)
	if u.Email != nil && u.PasswordHash != "" {
		n++
	}
	return n, err
}

// errLastWayIn refuses a change that would leave an account with no way in.
var errLastWayIn = apperror.WrongState("LAST_WAY_IN", "this is the account's only way to sign in; link another one first")

// UnlinkIdentity removes one of userID's identities, unless it is their last way in.
// Sessions already started go on (end them with logout or changePassword).
func (s *Service) UnlinkIdentity(ctx context.Context, db *ent.Client, userID, identityID int) (*ent.User, error) {
	sys := viewer.SystemContext(ctx)
	u, err := s.lockUser(sys, db, userID)
	if err != nil {
		return nil, err
	}
	id, err := db.UserIdentity.Query().Where(useridentity.ID(identityID), useridentity.UserID(userID)).Only(sys)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("identity not found")
	}
	if err != nil {
		return nil, err
	}
	n, err := s.waysIn(sys, db, u)
	if err != nil {
		return nil, err
	}
	if n <= 1 {
		return nil, errLastWayIn
	}
	if err := db.UserIdentity.DeleteOne(id).Exec(sys); err != nil {
		return nil, err
	}
	return u, nil
}

// LinkEmailPassword gives an account that has none an email address and a password (to
// sign in with login), and sends the address a verification code. An address of another
// account is CONFLICT; an account that has a password changes it with changePassword.
func (s *Service) LinkEmailPassword(ctx context.Context, db *ent.Client, userID int, email, password string) (*ent.User, error) {
	norm, err := NormalizeEmail("email", email)
	if err != nil {
		return nil, err
	}
	if err := CheckPasswordPolicy(password); err != nil {
		return nil, apperror.BadInput("password", "%s", err.Error())
	}
	sys := viewer.SystemContext(ctx)
	u, err := s.lockUser(sys, db, userID)
	if err != nil {
		return nil, err
	}
	if u.PasswordHash != "" {
		return nil, apperror.WrongState("HAS_PASSWORD", "the account already has a password; change it with changePassword")
	}
	// Counted like registrations: it too would tell whether an address has an account.
	if s.Registrations != nil {
		if wait := s.Registrations.Take(ctx, "register:"+AddressKey(ClientFromContext(ctx).IP), s.RegistrationLimit); wait > 0 {
			return nil, apperror.Limited(wait)
		}
	}
	if taken, err := db.User.Query().Where(user.Email(norm), user.IDNEQ(userID)).Exist(sys); err != nil {
		return nil, err
	} else if taken {
		return nil, &apperror.Error{Code: apperror.Conflict, Field: "email", Extensions: map[string]any{"reason": "EMAIL_TAKEN"},
			Message: "an account with this email already exists; sign in with it instead"}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	u, err = db.User.UpdateOneID(userID).SetEmail(norm).SetPasswordHash(hash).Save(sys)
	if ent.IsConstraintError(err) {
		return nil, apperror.ConflictOn("email", "an account with this email already exists")
	}
	if err != nil {
		return nil, err
	}
	if u.EmailVerifiedAt == nil {
		if _, err := s.sendVerification(ctx, db, u); err != nil && apperror.CodeOf(err) != apperror.RateLimited {
			return nil, err
		}
	}
	return u, nil
}

// UnlinkEmailPassword removes an account's email address and password, unless they are
// its last way in.
func (s *Service) UnlinkEmailPassword(ctx context.Context, db *ent.Client, userID int) (*ent.User, error) {
	sys := viewer.SystemContext(ctx)
	u, err := s.lockUser(sys, db, userID)
	if err != nil {
		return nil, err
	}
	if u.Email == nil && u.PasswordHash == "" {
		return nil, apperror.WrongState("NO_PASSWORD", "the account has no email address or password")
	}
	n, err := db.UserIdentity.Query().Where(useridentity.UserID(userID)).Count(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errLastWayIn
	}
	return db.User.UpdateOneID(userID).ClearEmail().SetPasswordHash("").ClearEmailVerifiedAt().Save(sys)
}

// PayerOpenID is the openid with which userID pays in a mini program of platform's app
// appID: the one identity the account holds there, or "" when it holds none.
func (s *Service) PayerOpenID(ctx context.Context, db *ent.Client, userID int, platform identity.Platform, appID string) (string, error) {
	id, err := db.UserIdentity.Query().
		Where(useridentity.UserID(userID), useridentity.ProviderEQ(providerOf(platform)), useridentity.AppID(appID)).
		Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return id.OpenID, nil
}
