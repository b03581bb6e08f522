// Package auth signs people in: password hashing, access tokens (EdDSA JWTs), rotating
// refresh tokens with reuse detection, sign-in throttling, and turning a bearer token into
// the request's viewer.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/mail"
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
	// MaxFailures is the number of failed sign-ins per account before slowing down; a
	// client address may fail four times as often (many people share one address).
	MaxFailures int
	Now         func() time.Time

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

// NormalizeEmail trims and lower-cases an address and checks that it is a bare address.
func NormalizeEmail(field, email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || len(e) > 254 || !strings.Contains(e[strings.LastIndex(e, "@"):], ".") {
		return "", apperror.BadInput(field, "%q is not a valid email address", email)
	}
	return e, nil
}

// CheckDisplayName validates a display name.
func CheckDisplayName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < 1 || n > 64 {
		return "", apperror.BadInput(field, "must be 1 to 64 characters")
	}
	return name, nil
}

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
	email, err := NormalizeEmail("email", in.Email)
	if err != nil {
		return nil, err
	}
	if err := CheckPasswordPolicy(in.Password); err != nil {
		return nil, apperror.BadInput("password", "%s", err.Error())
	}
	name, err := CheckDisplayName("displayName", in.DisplayName)
	if err != nil {
		return nil, err
	}
	locale, err := CheckLocale("locale", in.Locale)
	if err != nil {
		return nil, err
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
	return s.startSession(ctx, db, u, newFamilyID())
}

// Login checks email and password and starts a session. Repeated failures for one account
// or one client address are slowed down with RATE_LIMITED.
func (s *Service) Login(ctx context.Context, db *ent.Client, email, password string) (*Session, error) {
	ip := ClientFromContext(ctx).IP
	emailKey := "email:" + strings.ToLower(strings.TrimSpace(email))
	ipKey := "ip:" + ip
	if wait := max(s.Throttle.Blocked(emailKey), s.Throttle.Blocked(ipKey)); wait > 0 {
		return nil, apperror.Limited(wait)
	}
	fail := func() error {
		s.Throttle.Fail(emailKey, s.MaxFailures)
		if ip != "" {
			s.Throttle.Fail(ipKey, 4*s.MaxFailures)
		}
		return errBadCredentials
	}
	norm, err := NormalizeEmail("email", email)
	if err != nil {
		return nil, fail()
	}
	u, err := db.User.Query().Where(user.Email(norm)).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		// Spend the same time as a real check, so timing does not reveal accounts.
		_, _ = VerifyPassword(s.dummy(), password)
		return nil, fail()
	}
	if err != nil {
		return nil, err
	}
	ok, err := VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return nil, err
	}
	if !ok || u.Status != user.StatusACTIVE {
		return nil, fail()
	}
	s.Throttle.Reset(emailKey)
	return s.startSession(ctx, db, u, newFamilyID())
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
		return nil, apperror.New(apperror.Unauthenticated, "refresh token already used; the session was signed out for safety")
	}
	return sess, err
}

var errReused = errors.New("refresh token reused")

// Logout revokes the session (token family) of a refresh token. Unknown tokens are ignored,
// so logging out twice is harmless.
func (s *Service) Logout(ctx context.Context, token string) error {
	sys := viewer.SystemContext(ctx)
	rt, err := s.Client.RefreshToken.Query().Where(refreshtoken.TokenHash(hashToken(token))).Only(sys)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.revokeFamily(sys, s.Client, rt.FamilyID)
}

// RevokeAllSessions signs a user out everywhere, on db (the caller's transaction).
func (s *Service) RevokeAllSessions(ctx context.Context, db *ent.Client, userID int) error {
	_, err := db.RefreshToken.Update().
		Where(refreshtoken.UserID(userID), refreshtoken.RevokedAtIsNil()).
		SetRevokedAt(s.now()).
		Save(viewer.SystemContext(ctx))
	return err
}

// ChangePassword replaces the password after checking the current one, and signs out every
// session of the user; the caller signs in again with the new password.
func (s *Service) ChangePassword(ctx context.Context, db *ent.Client, userID int, current, next string) error {
	sys := viewer.SystemContext(ctx)
	u, err := db.User.Get(sys, userID)
	if err != nil {
		return err
	}
	ok, err := VerifyPassword(u.PasswordHash, current)
	if err != nil {
		return err
	}
	if !ok {
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
	return s.RevokeAllSessions(ctx, db, userID)
}

func (s *Service) revokeFamily(ctx context.Context, db *ent.Client, family string) error {
	_, err := db.RefreshToken.Update().
		Where(refreshtoken.FamilyID(family), refreshtoken.RevokedAtIsNil()).
		SetRevokedAt(s.now()).
		Save(ctx)
	return err
}

func (s *Service) startSession(ctx context.Context, db *ent.Client, u *ent.User, family string) (*Session, error) {
	access, exp, err := s.Tokens.Issue(strconv.Itoa(u.ID), KindUser)
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

// Authenticate turns a bearer access token into the request's viewer, reading the user so
// a disabled account or a changed role takes effect at once rather than at token expiry.
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
	if err != nil {
		return nil, apperror.New(apperror.Unauthenticated, "invalid or expired access token")
	}
	u, err := s.Client.User.Get(viewer.SystemContext(ctx), id)
	if ent.IsNotFound(err) {
		return nil, apperror.New(apperror.Unauthenticated, "invalid or expired access token")
	}
	if err != nil {
		return nil, err
	}
	if u.Status != user.StatusACTIVE {
		return nil, apperror.New(apperror.Unauthenticated, "this account is disabled")
	}
	return ViewerOf(u), nil
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
	v := &viewer.Viewer{UserID: u.ID, Email: u.Email}
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
