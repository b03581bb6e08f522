// Package auth signs people in and proves who they are: password hashing, access tokens
// (EdDSA JWTs) bound to a session, rotating refresh tokens with reuse detection, sign-in
// and registration throttling, email verification, and turning a bearer token into the
// request's viewer.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/apiclient"
	"github.com/xiadan/xiadan/ent/refreshtoken"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/identity"
	"github.com/xiadan/xiadan/internal/mail"
	"github.com/xiadan/xiadan/internal/secret"
	"github.com/xiadan/xiadan/internal/sms"
	"github.com/xiadan/xiadan/internal/usertext"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Service registers and signs in users and manages their sessions.
type Service struct {
	// Client is the base client; the service runs its own transactions where a caller has
	// none, so that a detected refresh-token reuse revokes the family even though the
	// request itself fails.
	Client     *ent.Client
	Tokens     *TokenIssuer
	RefreshTTL time.Duration
	Throttle   *Throttle
	// MaxFailures is the number of failed sign-ins per account and client address before
	// that pair slows down. A client address may fail AddressFailureFactor times as often
	// over all accounts, and an account AccountFailureFactor times as often over all
	// addresses (see Login).
	MaxFailures int
	// Registrations, when set, allows RegistrationLimit registrations per client address
	// in its window.
	Registrations     *Quota
	RegistrationLimit int
	// Mailer sends verification messages, after the transaction that created them
	// commits; Logger records what could not be sent.
	Mailer mail.Mailer
	Logger *slog.Logger
	// VerifyURL is the front-end page a verification message links to, with the token in
	// the `token` query parameter; empty means messages carry only the code.
	VerifyURL string
	// VerificationTTL is how long a verification code and link work (30m when zero).
	VerificationTTL time.Duration
	// OnSessionsEnded, when set, is called with a user's id after sessions of that user
	// ended (logout, refresh-token reuse, password change, account disabled), once the
	// change is committed. Their access tokens are already refused by then; open streams
	// (websockets, SSE) can use it to re-check their access at once.
	OnSessionsEnded func(userID int)
	Now             func() time.Time
	// TOTPKeys, when set (TOTP_ENCRYPTION_KEY), seals admins' TOTP secrets at rest; nil
	// stores them in plain (docs/OPERATIONS.md, "Two-factor sign-in for admins").
	TOTPKeys *secret.Keyring

	// Identities are the sign-in platforms (mini programs, web sign-ins); SignIn their
	// configuration (redirect URIs). PlatformCalls, when set, limits platform calls per
	// client address (PlatformCallsPerMinute).
	Identities    *identity.Registry
	SignIn        identity.Config
	PlatformCalls *Quota
	// SMS sends phone sign-in codes to SMSCountries; PhoneSends, when set, limits the
	// codes requested per client address (PhoneSendsPerAddress an hour).
	SMS          sms.Sender
	SMSCountries []int
	PhoneSends   *Quota
	// AdminRequireTOTP withholds the ADMIN role from admins without TOTP two-factor
	// sign-in (see totp.go).
	AdminRequireTOTP bool

	dummyOnce sync.Once
	dummyHash string
}

// Session is the outcome of a sign-in or refresh.
type Session struct {
	AccessToken      string
	RefreshToken     string
	ExpiresAt        time.Time
	RefreshExpiresAt time.Time
	User             *ent.User
}

// RegisterInput is what a new customer gives.
type RegisterInput struct {
	Email, Password, DisplayName, Locale string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// errBadCredentials is the one answer for a wrong email, a wrong password or an account
// that may not sign in, so the API never reveals which accounts exist.
var errBadCredentials = apperror.New(apperror.Unauthenticated, "invalid email or password")

var errBadRefresh = apperror.New(apperror.Unauthenticated, "invalid or expired refresh token")

// The throttling factors of Login: how many more failures than MaxFailures a client
// address may have over all accounts, and an account over all addresses.
const (
	AddressFailureFactor = 4
	AccountFailureFactor = 10
)

var errSessionEnded = apperror.New(apperror.Unauthenticated, "this session has ended; sign in again")

// NormalizeEmail normalises an address (see usertext.Email) and checks that it is a bare
// address.
func NormalizeEmail(field, email string) (string, error) { return usertext.Email(field, email) }

// CheckDisplayName validates a display name: one line of 1 to 64 visible characters.
func CheckDisplayName(field, name string) (string, error) { return usertext.Line(field, name, 1, 64) }

// CheckLocale validates a BCP 47-ish language tag such as zh-CN or en.
func CheckLocale(field, locale string) (string, error) {
	if locale == "" {
		return "zh-CN", nil
	}
	if len(locale) > 16 || strings.Trim(locale, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") != "" {
		return "", apperror.BadInput(field, "%q is not a language tag such as zh-CN or en", locale)
	}
	return locale, nil
}

// Register creates a customer account on db (the request's transaction) and signs it in.
func (s *Service) Register(ctx context.Context, db *ent.Client, in RegisterInput) (*Session, error) {
	// Every invalid field is reported at once, one error each, so a sign-up form can mark
	// them all after one round trip.
	email, emailErr := NormalizeEmail("email", in.Email)
	var passwordErr error
	if err := CheckPasswordPolicy(in.Password); err != nil {
		passwordErr = apperror.BadInput("password", "%s", err.Error())
	}
	name, nameErr := CheckDisplayName("displayName", in.DisplayName)
	locale, localeErr := CheckLocale("locale", in.Locale)
	if err := apperror.Join(emailErr, passwordErr, nameErr, localeErr); err != nil {
		return nil, err
	}
	// Counted once the input is valid, whatever happens next: a taken address (CONFLICT)
	// counts too, so the limit also bounds probing which addresses have accounts.
	if s.Registrations != nil {
		key := "register:" + AddressKey(ClientFromContext(ctx).IP)
		if wait := s.Registrations.Take(ctx, key, s.RegistrationLimit); wait > 0 {
			return nil, apperror.Limited(wait)
		}
	}
	sys := viewer.SystemContext(ctx)
	if taken, err := db.User.Query().Where(user.Email(email)).Exist(sys); err != nil {
		return nil, err
	} else if taken {
		return nil, apperror.ConflictOn("email", "an account with this email already exists")
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	u, err := db.User.Create().
		SetEmail(email).
		SetPasswordHash(hash).
		SetDisplayName(name).
		SetLocale(locale).
		SetRoles([]string{string(viewer.RoleCustomer)}).
		Save(sys)
	if ent.IsConstraintError(err) {
		return nil, apperror.ConflictOn("email", "an account with this email already exists")
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.sendVerification(ctx, db, u); err != nil {
		return nil, err
	}
	return s.startSession(ctx, db, u, newFamilyID())
}

// Login checks email and password and starts a session. Failures are throttled so that
// nobody can use the throttle to lock someone else out:
//
//   - per account and client address: MaxFailures, then back-off for that pair only, so
//     guessing one account's password from one address slows down that address alone;
//   - per client address over all accounts: AddressFailureFactor × MaxFailures (a password
//     spray from one address stops that address, not the accounts it sprayed);
//   - per account over all addresses: AccountFailureFactor × MaxFailures (guessing from
//     many addresses); past it, only addresses the account has recently signed in from (a
//     session started there within RefreshTTL) may still try, everyone else waits.
//
// Blocked attempts are RATE_LIMITED without checking the password. A client address is
// an IPv6 /64 (AddressKey). The throttle is shared by the replicas when REDIS_URL is set (internal/ratelimit).
func (s *Service) Login(ctx context.Context, db *ent.Client, email, password string) (*Session, error) {
	ip := ClientFromContext(ctx).IP
	addr := AddressKey(ip)
	norm, normErr := NormalizeEmail("email", email)
	account := norm
	if normErr != nil {
		account = strings.ToLower(strings.TrimSpace(email))
	}
	k := loginKeys(account, addr)
	if wait := max(s.Throttle.Blocked(ctx, k.pair), s.Throttle.Blocked(ctx, k.address)); wait > 0 {
		return nil, apperror.Limited(wait)
	}
	fail := func() error {
		s.failLogin(ctx, k)
		s.Throttle.Fail(ctx, k.account, AccountFailureFactor*s.MaxFailures)
		return errBadCredentials
	}
	if normErr != nil {
		return nil, fail()
	}
	sys := viewer.SystemContext(ctx)
	u, err := db.User.Query().Where(user.Email(norm)).Only(sys)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	if wait := s.Throttle.Blocked(ctx, k.account); wait > 0 {
		known := false
		if u != nil && ip != "" {
			if known, err = s.knownAddress(sys, db, u.ID, addr); err != nil {
				return nil, err
			}
		}
		if !known {
			return nil, apperror.Limited(wait)
		}
	}
	if u == nil {
		// Spend the same time as a real check, so timing does not reveal accounts.
		_, _ = VerifyPassword(s.dummy(), password)
		return nil, fail()
	}
	if u.PasswordHash == "" {
		// An account that signs in another way has no password to guess.
		_, _ = VerifyPassword(s.dummy(), password)
		return nil, fail()
	}
	ok, err := VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return nil, err
	}
	if !ok || u.Status != user.StatusACTIVE {
		return nil, fail()
	}
	s.Throttle.Reset(ctx, k.pair)
	return s.signIn(ctx, db, u)
}

// knownAddress reports whether userID started a session from addr (an AddressKey, so any
// address of an IPv6 /64, whose last half changes by itself) within RefreshTTL. It is
// asked only of accounts past their account-wide failure limit.
func (s *Service) knownAddress(ctx context.Context, db *ent.Client, userID int, addr string) (bool, error) {
	ips, err := db.RefreshToken.Query().
		Where(refreshtoken.UserID(userID), refreshtoken.CreatedAtGT(s.now().Add(-s.RefreshTTL))).
		Unique(true).
		Limit(1000).
		Select(refreshtoken.FieldClientIP).
		Strings(ctx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ips, func(ip string) bool { return ip != "" && AddressKey(ip) == addr }), nil
}

// throttleKeys are the throttle keys of one account at one client address.
type throttleKeys struct{ pair, address, account string }

func loginKeys(account, addr string) throttleKeys {
	return throttleKeys{pair: "login:" + account + "|" + addr, address: "login-addr:" + addr, account: "login-account:" + account}
}

// failLogin counts a wrong password against the account at this address and against the
// address (not when it is unknown: all such attempts would share one key).
func (s *Service) failLogin(ctx context.Context, k throttleKeys) {
	s.Throttle.Fail(ctx, k.pair, s.MaxFailures)
	if k.address != "login-addr:" {
		s.Throttle.Fail(ctx, k.address, AddressFailureFactor*s.MaxFailures)
	}
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Service) dummy() string {
	s.dummyOnce.Do(func() { s.dummyHash, _ = HashPassword("not a real password, only spends time") })
	return s.dummyHash
}

// Refresh exchanges a refresh token for a new session in the same family. A token works
// once: presenting a used one revokes the whole family, signing out whoever holds it.
func (s *Service) Refresh(ctx context.Context, token string) (*Session, error) {
	sys := viewer.SystemContext(ctx)
	rt, err := s.Client.RefreshToken.Query().Where(refreshtoken.TokenHash(hashToken(token))).Only(sys)
	if ent.IsNotFound(err) {
		return nil, errBadRefresh
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	switch {
	case rt.RevokedAt != nil:
		return nil, errBadRefresh
	case rt.UsedAt != nil:
		if err := s.revokeFamily(sys, s.Client, rt.FamilyID); err != nil {
			return nil, err
		}
		s.sessionsEnded(rt.UserID)
		return nil, apperror.New(apperror.Unauthenticated, "refresh token already used; the session was signed out for safety")
	case !now.Before(rt.ExpiresAt):
		return nil, errBadRefresh
	}
	var sess *Session
	err = withTx(ctx, s.Client, func(tx *ent.Client) error {
		// Claim the token; a concurrent refresh with the same token claims nothing.
		n, err := tx.RefreshToken.Update().
			Where(refreshtoken.ID(rt.ID), refreshtoken.UsedAtIsNil(), refreshtoken.RevokedAtIsNil()).
			SetUsedAt(now).
			Save(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			return errReused
		}
		u, err := tx.User.Get(sys, rt.UserID)
		if err != nil {
			return err
		}
		if u.Status != user.StatusACTIVE {
			return errBadRefresh
		}
		sess, err = s.startSession(ctx, tx, u, rt.FamilyID)
		return err
	})
	if errors.Is(err, errReused) {
		if err := s.revokeFamily(sys, s.Client, rt.FamilyID); err != nil {
			return nil, err
		}
		s.sessionsEnded(rt.UserID)
		return nil, apperror.New(apperror.Unauthenticated, "refresh token already used; the session was signed out for safety")
	}
	return sess, err
}

var errReused = errors.New("refresh token reused")

// Logout revokes the session (token family) of a refresh token: the refresh token and the
// session's access tokens stop working at once. Unknown tokens are ignored, so logging out
// twice is harmless.
func (s *Service) Logout(ctx context.Context, token string) error {
	sys := viewer.SystemContext(ctx)
	rt, err := s.Client.RefreshToken.Query().Where(refreshtoken.TokenHash(hashToken(token))).Only(sys)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.revokeFamily(sys, s.Client, rt.FamilyID); err != nil {
		return err
	}
	s.sessionsEnded(rt.UserID)
	return nil
}

// RevokeAllSessions signs a user out everywhere, on db (the caller's transaction).
func (s *Service) RevokeAllSessions(ctx context.Context, db *ent.Client, userID int) error {
	return s.revokeSessions(ctx, db, userID, "")
}

// revokeSessions revokes every session of userID but keep (none when empty), on db, and
// announces it once db's transaction commits.
func (s *Service) revokeSessions(ctx context.Context, db *ent.Client, userID int, keep string) error {
	q := db.RefreshToken.Update().Where(refreshtoken.UserID(userID), refreshtoken.RevokedAtIsNil())
	if keep != "" {
		q.Where(refreshtoken.FamilyIDNEQ(keep))
	}
	if _, err := q.SetRevokedAt(s.now()).Save(viewer.SystemContext(ctx)); err != nil {
		return err
	}
	afterCommit(ctx, func(context.Context) { s.sessionsEnded(userID) })
	return nil
}

// sessionsEnded calls OnSessionsEnded, if set.
func (s *Service) sessionsEnded(userID int) {
	if s.OnSessionsEnded != nil {
		s.OnSessionsEnded(userID)
	}
}

// ChangePassword replaces the password after checking the current one, and signs out
// every other session of the user at once; session (the caller's, from its access token)
// goes on. Wrong current passwords count against the sign-in throttle of the account at
// the caller's address, so a stolen access token cannot be used to guess the password.
func (s *Service) ChangePassword(ctx context.Context, db *ent.Client, userID int, session, current, next string) error {
	sys := viewer.SystemContext(ctx)
	u, err := db.User.Get(sys, userID)
	if err != nil {
		return err
	}
	if u.PasswordHash == "" {
		return apperror.WrongState("NO_PASSWORD", "the account has no password; set one with linkEmailPassword")
	}
	k := loginKeys(accountKey(u), AddressKey(ClientFromContext(ctx).IP))
	if wait := max(s.Throttle.Blocked(ctx, k.pair), s.Throttle.Blocked(ctx, k.address)); wait > 0 {
		return apperror.Limited(wait)
	}
	ok, err := VerifyPassword(u.PasswordHash, current)
	if err != nil {
		return err
	}
	if !ok {
		s.failLogin(ctx, k)
		return apperror.BadInput("currentPassword", "the current password is wrong")
	}
	if err := CheckPasswordPolicy(next); err != nil {
		return apperror.BadInput("newPassword", "%s", err.Error())
	}
	hash, err := HashPassword(next)
	if err != nil {
		return err
	}
	if err := db.User.UpdateOneID(userID).SetPasswordHash(hash).Exec(ctx); err != nil {
		return err
	}
	if session == "" {
		// Without a session to keep (never for a signed-in user), keep none.
		return s.RevokeAllSessions(ctx, db, userID)
	}
	return s.revokeSessions(ctx, db, userID, session)
}

func (s *Service) revokeFamily(ctx context.Context, db *ent.Client, family string) error {
	_, err := db.RefreshToken.Update().
		Where(refreshtoken.FamilyID(family), refreshtoken.RevokedAtIsNil()).
		SetRevokedAt(s.now()).
		Save(ctx)
	return err
}

func (s *Service) startSession(ctx context.Context, db *ent.Client, u *ent.User, family string) (*Session, error) {
	access, exp, err := s.Tokens.IssueUser(strconv.Itoa(u.ID), family)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	refresh := base64.RawURLEncoding.EncodeToString(raw)
	refreshExp := s.now().Add(s.RefreshTTL)
	client := ClientFromContext(ctx)
	err = db.RefreshToken.Create().
		SetUserID(u.ID).
		SetTokenHash(hashToken(refresh)).
		SetFamilyID(family).
		SetExpiresAt(refreshExp).
		SetClientIP(truncate(client.IP, 64)).
		SetUserAgent(truncate(client.UserAgent, 256)).
		Exec(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	return &Session{AccessToken: access, RefreshToken: refresh, ExpiresAt: exp, RefreshExpiresAt: refreshExp, User: u}, nil
}

// Authenticate turns a bearer access token into the request's viewer. It reads the user
// together with the token's session — one query: the user, if their session (refresh-token
// family) still has an unrevoked token — so a disabled account, a changed role, a logout,
// a password change elsewhere or a detected refresh-token reuse takes effect at once
// rather than at token expiry. User tokens without a session are refused.
func (s *Service) Authenticate(ctx context.Context, token string) (*viewer.Viewer, error) {
	claims, err := s.Tokens.Verify(token)
	if err != nil {
		return nil, apperror.New(apperror.Unauthenticated, "invalid or expired access token")
	}
	switch claims.Kind {
	case "", KindUser:
	case KindPartner:
		return s.authenticatePartner(ctx, claims)
	default:
		return nil, apperror.New(apperror.Unauthenticated, "invalid or expired access token")
	}
	id, err := strconv.Atoi(claims.Subject)
	if err != nil || claims.SessionID == "" {
		return nil, apperror.New(apperror.Unauthenticated, "invalid or expired access token")
	}
	u, err := s.Client.User.Query().
		Where(user.ID(id), user.HasRefreshTokensWith(refreshtoken.FamilyID(claims.SessionID), refreshtoken.RevokedAtIsNil())).
		Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	if u.Status != user.StatusACTIVE {
		return nil, apperror.New(apperror.Unauthenticated, "this account is disabled")
	}
	v := ViewerOf(u)
	v.SessionID = claims.SessionID
	if s.AdminRequireTOTP && v.IsAdmin() {
		on, err := s.TOTPEnabled(ctx, s.Client, u.ID)
		if err != nil {
			return nil, err
		}
		if !on {
			v.Roles = slices.DeleteFunc(v.Roles, func(r viewer.Role) bool { return r == viewer.RoleAdmin })
			v.TOTPEnrolmentRequired = true
		}
	}
	return v, nil
}

// authenticatePartner builds the viewer of a partner client's token. It reads the client
// on every request, so revoking it, or rotating its secret, ends its tokens at once rather
// than at expiry; the viewer gets only those of the token's scopes and merchants the
// client still holds.
func (s *Service) authenticatePartner(ctx context.Context, claims *Claims) (*viewer.Viewer, error) {
	sys := viewer.SystemContext(ctx)
	c, err := s.Client.ApiClient.Query().Where(apiclient.ClientID(claims.Subject)).Only(sys)
	if ent.IsNotFound(err) {
		return nil, apperror.New(apperror.Unauthenticated, "invalid or expired access token")
	}
	if err != nil {
		return nil, err
	}
	if c.RevokedAt != nil {
		return nil, apperror.New(apperror.Unauthenticated, "this API client was revoked")
	}
	// Tokens carry the secret version they were issued under: a rotation ends exactly the
	// tokens of the old secret.
	if claims.SecretVersion != SecretVersion(c.SecretRotatedAt) {
		return nil, apperror.New(apperror.Unauthenticated, "the API client's secret was rotated; get a new access token")
	}
	now := s.now()
	if c.LastUsedAt == nil || now.Sub(*c.LastUsedAt) >= time.Minute {
		// Best effort, at most once a minute per client (the condition holds back concurrent
		// requests): failing to note the use must not fail the request.
		_, _ = s.Client.ApiClient.Update().
			Where(apiclient.ID(c.ID), apiclient.Or(apiclient.LastUsedAtIsNil(), apiclient.LastUsedAtLT(now.Add(-time.Minute)))).
			SetLastUsedAt(now).
			Save(sys)
	}
	v := &viewer.Viewer{Roles: []viewer.Role{viewer.RolePartner}, APIClientID: c.ID}
	for _, sc := range strings.Fields(claims.Scope) {
		if slices.Contains(c.Scopes, sc) && !slices.Contains(v.Scopes, sc) {
			v.Scopes = append(v.Scopes, sc)
		}
	}
	for _, m := range claims.MerchantIDs {
		if slices.Contains(c.MerchantIds, m) && !slices.Contains(v.PartnerMerchantIDs, m) {
			v.PartnerMerchantIDs = append(v.PartnerMerchantIDs, m)
		}
	}
	return v, nil
}

// SecretVersion is the version of a partner client's secret: when it was last rotated, in
// microseconds (the precision it is stored with), or 0 before any rotation.
func SecretVersion(rotatedAt *time.Time) int64 {
	if rotatedAt == nil {
		return 0
	}
	return rotatedAt.UTC().Truncate(time.Microsecond).UnixMicro()
}

// ViewerOf builds the viewer of a signed-in user.
func ViewerOf(u *ent.User) *viewer.Viewer {
	v := &viewer.Viewer{UserID: u.ID, Email: deref(u.Email), EmailVerified: u.EmailVerifiedAt != nil && u.Email != nil}
	for _, r := range u.Roles {
		if role := viewer.Role(r); role.Valid() && role != viewer.RoleMerchant && role != viewer.RolePartner {
			v.Roles = append(v.Roles, role)
		}
	}
	if u.MerchantID != nil && u.MerchantRole != nil {
		v.Roles = append(v.Roles, viewer.RoleMerchant)
		v.MerchantID = *u.MerchantID
		v.MerchantRole = viewer.MerchantRole(*u.MerchantRole)
	}
	return v
}

// accountKey is the sign-in throttle's name of an account: its address, as Login knows
// it, or its id when it has none.
func accountKey(u *ent.User) string {
	if u.Email != nil {
		return *u.Email
	}
	return "user:" + strconv.Itoa(u.ID)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newFamilyID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// afterCommit runs fn once the request transaction in ctx commits — never when it rolls
// back — or at once when ctx has none (the work was committed already). fn gets a context
// that the request's end does not cancel.
func afterCommit(ctx context.Context, fn func(context.Context)) {
	detached := context.WithoutCancel(ctx)
	tx := ent.TxFromContext(ctx)
	if tx == nil {
		fn(detached)
		return
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			if err := next.Commit(ctx, tx); err != nil {
				return err
			}
			fn(detached)
			return nil
		})
	})
}

// withTx runs fn in the caller's transaction if ctx has one, else in a new one.
func withTx(ctx context.Context, client *ent.Client, fn func(*ent.Client) error) error {
	if tx := ent.TxFromContext(ctx); tx != nil {
		return fn(tx.Client())
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ClientInfo describes the HTTP client of a request, for throttling and session records.
type ClientInfo struct {
	IP        string
	UserAgent string
	// DeviceID is the client's device or visitor id (the X-Device-Id header), kept by
	// the front end; "" when absent or malformed. Risk rules count orders per device.
	DeviceID string
}

type clientKey struct{}

// WithClient returns ctx carrying the request's client info.
func WithClient(ctx context.Context, c ClientInfo) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFromContext returns the request's client info, empty when unknown.
func ClientFromContext(ctx context.Context) ClientInfo {
	c, _ := ctx.Value(clientKey{}).(ClientInfo)
	return c
}
