package auth

// TOTP two-factor sign-in (RFC 6238, HMAC-SHA1, 6 digits, 30-second steps) for admin
// accounts:
//
//   - BeginTOTPEnrollment makes a new secret and returns it once, with its otpauth:// URI;
//     ConfirmTOTPEnrollment(code) turns it on and returns ten single-use recovery codes,
//     stored as hashes; DisableTOTP(code) turns it off.
//   - Signing in to an account with TOTP on (password, phone or platform) stops after the
//     first factor with UNAUTHENTICATED, reason TOTP_REQUIRED, and a short-lived signed
//     challenge; CompleteTOTPSignIn(challenge, code or recovery code) starts the session.
//   - A code works once: the last accepted time step is kept, and a conditional UPDATE
//     (last_step < step) decides between two uses of one code, so at most one wins.
//     Recovery codes are spent by a conditional UPDATE (used_at IS NULL) the same way.
//   - Wrong codes are throttled per account (Throttle, MaxFailures, then doubling waits).
//   - With AdminRequireTOTP, Authenticate withholds the ADMIN role from admins without
//     TOTP (viewer.TOTPEnrolmentRequired); they can still enrol.
//
// Everything is audited: enrolment, turning on and off, sign-ins and wrong codes (those in
// writes of their own, which the failing request does not roll back).

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/totpcredential"
	"github.com/xiadan/xiadan/ent/totprecoverycode"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/secret"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The TOTP parameters: the defaults of RFC 6238 and of every authenticator app.
const (
	TOTPPeriod = 30 * time.Second
	TOTPDigits = 6
	// totpSkew is how many steps before and after the current one a code may be for,
	// for clocks that disagree a little.
	totpSkew = 1
	// TOTPChallengeTTL is how long the challenge of a sign-in's first factor works.
	TOTPChallengeTTL = 5 * time.Minute
	// RecoveryCodeCount is how many recovery codes enabling TOTP gives out.
	RecoveryCodeCount = 10
	// kindTOTPChallenge is the token kind (and audience suffix) of a challenge, which is
	// never an access token: Authenticate refuses its kind and Verify its audience.
	kindTOTPChallenge = "totp-challenge"
)

// TOTPEnrollment is a new, not yet confirmed TOTP secret. It is shown once.
type TOTPEnrollment struct {
	// Secret is the base32 secret, for typing into an authenticator.
	Secret string
	// URI is the otpauth:// URI, for a QR code.
	URI    string
	Digits int
	Period int
}

// TOTPCode returns the code of secret (base32) at time t. Tests use it as the
// authenticator app.
func TOTPCode(secret string, t time.Time) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return hotp(key, totpStep(t), TOTPDigits), nil
}

// hotp is RFC 4226's HOTP of key at counter, with digits digits.
func hotp(key []byte, counter int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

func totpStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func decodeSecret(s string) ([]byte, error) {
	return secretEncoding.DecodeString(strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "=")))
}

// matchStep returns the time step within the skew of now whose code is code, preferring
// the current one, or false.
func matchStep(key []byte, code string, now time.Time) (int64, bool) {
	cur := totpStep(now)
	for _, d := range []int64{0, -1, 1} {
		if d < -totpSkew || d > totpSkew {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(hotp(key, cur+d, TOTPDigits)), []byte(code)) == 1 {
			return cur + d, true
		}
	}
	return 0, false
}

// isTOTPCode reports whether code looks like an authenticator code rather than a
// recovery code.
func isTOTPCode(code string) bool {
	return len(code) == TOTPDigits && strings.Trim(code, "0123456789") == ""
}

// normalizeRecoveryCode lower-cases a recovery code and drops the dashes and spaces
// people copy along.
func normalizeRecoveryCode(code string) string {
	return strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
}

func newRecoveryCode() (string, error) {
	b := make([]byte, 7)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	s := strings.ToLower(secretEncoding.EncodeToString(b))[:10]
	return s[:5] + "-" + s[5:], nil
}

// TOTPIssuerName names the service in authenticator apps.
const TOTPIssuerName = "Xiadan"

// BeginTOTPEnrollment makes a new TOTP secret for userID (an admin), replacing one not
// yet confirmed, and returns it; it works once ConfirmTOTPEnrollment confirms a code.
// INVALID_STATE (TOTP_ENABLED) when TOTP is on already; FORBIDDEN for non-admins.
func (s *Service) BeginTOTPEnrollment(ctx context.Context, db *ent.Client, userID int) (*TOTPEnrollment, error) {
	sys := viewer.SystemContext(ctx)
	u, err := db.User.Get(sys, userID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(u.Roles, string(viewer.RoleAdmin)) {
		return nil, apperror.New(apperror.Forbidden, "two-factor sign-in is for admin accounts")
	}
	cur, err := db.TotpCredential.Query().Where(totpcredential.UserID(userID)).Only(sys)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	if cur != nil && cur.EnabledAt != nil {
		return nil, apperror.WrongState("TOTP_ENABLED", "two-factor sign-in is on already; turn it off first")
	}
	if cur != nil {
		if err := db.TotpCredential.DeleteOneID(cur.ID).Exec(sys); err != nil {
			return nil, err
		}
	}
	key := make([]byte, 20) // 160 bits, RFC 4226's recommendation
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	secret := secretEncoding.EncodeToString(key)
	stored, err := s.sealTOTPSecret(userID, secret)
	if err != nil {
		return nil, err
	}
	err = db.TotpCredential.Create().SetUserID(userID).SetSecret(stored).SetCreatedAt(s.now()).Exec(sys)
	if ent.IsConstraintError(err) {
		return nil, apperror.New(apperror.Conflict, "another enrolment started at the same time; try again")
	}
	if err != nil {
		return nil, err
	}
	account := accountKey(u)
	q := url.Values{"secret": {secret}, "issuer": {TOTPIssuerName}, "algorithm": {"SHA1"},
		"digits": {strconv.Itoa(TOTPDigits)}, "period": {strconv.Itoa(int(TOTPPeriod / time.Second))}}
	uri := "otpauth://totp/" + url.PathEscape(TOTPIssuerName+":"+account) + "?" + q.Encode()
	if err := audit.Record(ctx, db, audit.Entry{Action: "user.totp_enrollment_begin", TargetType: "User", TargetID: userID}); err != nil {
		return nil, err
	}
	return &TOTPEnrollment{Secret: secret, URI: uri, Digits: TOTPDigits, Period: int(TOTPPeriod / time.Second)}, nil
}

// ConfirmTOTPEnrollment turns TOTP on for userID with a code of the secret from
// BeginTOTPEnrollment, signs out every other session of the user (session, the caller's,
// goes on: it just proved the second factor), and returns new recovery codes, which are
// shown this once. INVALID_STATE (NOT_STARTED, TOTP_ENABLED) out of order; BAD_USER_INPUT
// (reason CODE_WRONG) for a wrong code.
func (s *Service) ConfirmTOTPEnrollment(ctx context.Context, db *ent.Client, userID int, session, code string) ([]string, error) {
	sys := viewer.SystemContext(ctx)
	cred, err := db.TotpCredential.Query().Where(totpcredential.UserID(userID)).Only(sys)
	if ent.IsNotFound(err) {
		return nil, apperror.WrongState("NOT_STARTED", "start with beginTotpEnrollment")
	}
	if err != nil {
		return nil, err
	}
	if cred.EnabledAt != nil {
		return nil, apperror.WrongState("TOTP_ENABLED", "two-factor sign-in is on already")
	}
	k := totpKey(userID)
	if wait := s.Throttle.Blocked(ctx, k); wait > 0 {
		return nil, apperror.Limited(wait)
	}
	key, err := s.credentialKey(cred)
	if err != nil {
		return nil, err
	}
	now := s.now()
	step, ok := matchStep(key, strings.TrimSpace(code), now)
	if !ok {
		s.Throttle.Fail(ctx, k, s.MaxFailures)
		return nil, errCodeWrong
	}
	n, err := db.TotpCredential.Update().
		Where(totpcredential.ID(cred.ID), totpcredential.EnabledAtIsNil()).
		SetEnabledAt(now).SetLastStep(step).
		Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperror.New(apperror.Conflict, "the enrolment changed meanwhile; start again")
	}
	s.Throttle.Reset(ctx, k)
	codes, err := s.replaceRecoveryCodes(sys, db, userID)
	if err != nil {
		return nil, err
	}
	if session == "" {
		err = s.RevokeAllSessions(ctx, db, userID)
	} else {
		err = s.revokeSessions(ctx, db, userID, session)
	}
	if err != nil {
		return nil, err
	}
	return codes, audit.Record(ctx, db, audit.Entry{Action: "user.totp_enable", TargetType: "User", TargetID: userID,
		Details: map[string]any{"recoveryCodes": len(codes)}})
}

func (s *Service) replaceRecoveryCodes(sys context.Context, db *ent.Client, userID int) ([]string, error) {
	if _, err := db.TotpRecoveryCode.Delete().Where(totprecoverycode.UserID(userID)).Exec(sys); err != nil {
		return nil, err
	}
	codes := make([]string, RecoveryCodeCount)
	rows := make([]*ent.TotpRecoveryCodeCreate, RecoveryCodeCount)
	for i := range codes {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, err
		}
		codes[i] = c
		rows[i] = db.TotpRecoveryCode.Create().SetUserID(userID).SetCodeHash(hashToken(normalizeRecoveryCode(c))).SetCreatedAt(s.now())
	}
	return codes, db.TotpRecoveryCode.CreateBulk(rows...).Exec(sys)
}

// DisableTOTP turns TOTP off for userID, given a current code or an unused recovery code,
// and deletes the secret and the recovery codes. It runs its own transaction, so that a
// wrong code is audited although the request fails. INVALID_STATE (TOTP_OFF) when it is
// off; BAD_USER_INPUT (CODE_WRONG, CODE_USED) for a wrong or spent code.
func (s *Service) DisableTOTP(ctx context.Context, userID int, code string) error {
	sys := viewer.SystemContext(ctx)
	cred, err := s.Client.TotpCredential.Query().Where(totpcredential.UserID(userID), totpcredential.EnabledAtNotNil()).Only(sys)
	if ent.IsNotFound(err) {
		return apperror.WrongState("TOTP_OFF", "two-factor sign-in is off")
	}
	if err != nil {
		return err
	}
	return s.withSecondFactor(ctx, cred, code, "disable", func(tx *ent.Client, method string) error {
		if _, err := tx.TotpRecoveryCode.Delete().Where(totprecoverycode.UserID(userID)).Exec(sys); err != nil {
			return err
		}
		if err := tx.TotpCredential.DeleteOneID(cred.ID).Exec(sys); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "user.totp_disable", TargetType: "User", TargetID: userID,
			Details: map[string]any{"method": method}})
	})
}

// TOTPEnabled reports whether userID has TOTP on.
func (s *Service) TOTPEnabled(ctx context.Context, db *ent.Client, userID int) (bool, error) {
	return db.TotpCredential.Query().
		Where(totpcredential.UserID(userID), totpcredential.EnabledAtNotNil()).
		Exist(viewer.SystemContext(ctx))
}

var (
	errCodeWrong = &apperror.Error{Code: apperror.BadUserInput, Field: "code", Extensions: map[string]any{"reason": "CODE_WRONG"},
		Message: "the code is wrong or expired"}
	errCodeUsed = &apperror.Error{Code: apperror.BadUserInput, Field: "code", Extensions: map[string]any{"reason": "CODE_USED"},
		Message: "this code was used already; wait for the next one"}
	errChallenge = &apperror.Error{Code: apperror.Unauthenticated, Extensions: map[string]any{"reason": "CHALLENGE_INVALID"},
		Message: "the sign-in challenge is invalid or expired; sign in again"}
	errCodeReplayed = errors.New("totp code replayed")
)

func totpKey(userID int) string { return "totp:" + strconv.Itoa(userID) }

// withSecondFactor checks code (an authenticator code or a recovery code) against cred
// and, when it is right, spends it and runs fn in one transaction. A wrong code counts
// against the account's throttle and is audited in a write of its own.
func (s *Service) withSecondFactor(ctx context.Context, cred *ent.TotpCredential, code, purpose string, fn func(tx *ent.Client, method string) error) error {
	sys := viewer.SystemContext(ctx)
	k := totpKey(cred.UserID)
	if wait := s.Throttle.Blocked(ctx, k); wait > 0 {
		return apperror.Limited(wait)
	}
	code = strings.TrimSpace(code)
	method := "recovery_code"
	var step int64
	if isTOTPCode(code) {
		method = "totp"
		key, err := s.credentialKey(cred)
		if err != nil {
			return err
		}
		var ok bool
		if step, ok = matchStep(key, code, s.now()); !ok {
			return s.wrongCode(ctx, cred.UserID, purpose, method)
		}
	}
	err := withTx(ctx, s.Client, func(tx *ent.Client) error {
		if method == "totp" {
			// The database decides between two uses of one code: only one moves last_step.
			n, err := tx.TotpCredential.Update().
				Where(totpcredential.ID(cred.ID), totpcredential.EnabledAtNotNil(), totpcredential.LastStepLT(step)).
				SetLastStep(step).
				Save(sys)
			if err != nil {
				return err
			}
			if n == 0 {
				return errCodeReplayed
			}
		} else {
			n, err := tx.TotpRecoveryCode.Update().
				Where(totprecoverycode.UserID(cred.UserID), totprecoverycode.CodeHash(hashToken(normalizeRecoveryCode(code))),
					totprecoverycode.UsedAtIsNil()).
				SetUsedAt(s.now()).
				Save(sys)
			if err != nil {
				return err
			}
			if n == 0 {
				return errCodeWrong
			}
		}
		return fn(tx, method)
	})
	switch {
	case errors.Is(err, errCodeReplayed):
		// The code was right: not a guess, so it does not count against the throttle.
		return errCodeUsed
	case errors.Is(err, errCodeWrong):
		return s.wrongCode(ctx, cred.UserID, purpose, method)
	case err != nil:
		return err
	}
	s.Throttle.Reset(ctx, k)
	return nil
}

// wrongCode counts a wrong code against userID's throttle, audits it on the base client
// (committed although the request fails) and returns CODE_WRONG.
func (s *Service) wrongCode(ctx context.Context, userID int, purpose, method string) error {
	s.Throttle.Fail(ctx, totpKey(userID), s.MaxFailures)
	actx := viewer.NewContext(ctx, &viewer.Viewer{UserID: userID})
	if err := audit.Record(actx, s.Client, audit.Entry{Action: "user.totp_code_wrong", TargetType: "User", TargetID: userID,
		Details: map[string]any{"purpose": purpose, "method": method}}); err != nil {
		return err
	}
	return errCodeWrong
}

// signIn starts a session for u after its first factor, or, when u has TOTP on, returns
// UNAUTHENTICATED (reason TOTP_REQUIRED) with a challenge for CompleteTOTPSignIn.
func (s *Service) signIn(ctx context.Context, db *ent.Client, u *ent.User) (*Session, error) {
	on, err := s.TOTPEnabled(ctx, db, u.ID)
	if err != nil {
		return nil, err
	}
	if !on {
		return s.startSession(ctx, db, u, newFamilyID())
	}
	challenge, exp, err := s.issueChallenge(u)
	if err != nil {
		return nil, err
	}
	return nil, &apperror.Error{Code: apperror.Unauthenticated,
		Message: "two-factor sign-in: send the challenge with a code from the authenticator (or a recovery code) to completeTotpSignIn",
		Extensions: map[string]any{"reason": "TOTP_REQUIRED", "totpChallenge": challenge,
			"challengeExpiresAt": exp.UTC().Format(time.RFC3339)}}
}

// CompleteTOTPSignIn finishes a sign-in that returned TOTP_REQUIRED: with the challenge
// and a current code (or an unused recovery code) it starts the session. It runs its own
// transaction. UNAUTHENTICATED (CHALLENGE_INVALID) for a bad or expired challenge;
// BAD_USER_INPUT (CODE_WRONG, CODE_USED); RATE_LIMITED after MaxFailures wrong codes.
func (s *Service) CompleteTOTPSignIn(ctx context.Context, challenge, code string) (*Session, error) {
	userID, credentials, err := s.verifyChallenge(challenge)
	if err != nil {
		return nil, errChallenge
	}
	sys := viewer.SystemContext(ctx)
	u, err := s.Client.User.Get(sys, userID)
	if ent.IsNotFound(err) {
		return nil, errChallenge
	}
	if err != nil {
		return nil, err
	}
	if u.Status != user.StatusACTIVE {
		return nil, errDisabled
	}
	if credentials != credentialsVersion(u) {
		// The password changed since the first factor.
		return nil, errChallenge
	}
	cred, err := s.Client.TotpCredential.Query().Where(totpcredential.UserID(userID), totpcredential.EnabledAtNotNil()).Only(sys)
	if ent.IsNotFound(err) {
		// Turned off since the first factor: sign in again, without a second one.
		return nil, errChallenge
	}
	if err != nil {
		return nil, err
	}
	var sess *Session
	actx := viewer.NewContext(ctx, &viewer.Viewer{UserID: userID})
	err = s.withSecondFactor(actx, cred, code, "sign_in", func(tx *ent.Client, method string) error {
		var err error
		if sess, err = s.startSession(ctx, tx, u, newFamilyID()); err != nil {
			return err
		}
		details := map[string]any{"method": method}
		if method == "recovery_code" {
			left, err := tx.TotpRecoveryCode.Query().Where(totprecoverycode.UserID(userID), totprecoverycode.UsedAtIsNil()).Count(sys)
			if err != nil {
				return err
			}
			details["recoveryCodesLeft"] = left
		}
		return audit.Record(actx, tx, audit.Entry{Action: "user.totp_sign_in", TargetType: "User", TargetID: userID, Details: details})
	})
	return sess, err
}

// challengeClaims are the claims of a sign-in challenge.
type challengeClaims struct {
	jwt.RegisteredClaims
	Kind string `json:"knd"`
	// Credentials is the account's credentialsVersion at the first factor: changing the
	// password voids the challenges issued before.
	Credentials string `json:"cv"`
}

// credentialsVersion is a short digest of u's password hash (itself salted), which
// changes whenever the password does.
func credentialsVersion(u *ent.User) string {
	return hashToken("totp-challenge|" + u.PasswordHash)[:16]
}

func (s *Service) challengeAudience() string { return s.Tokens.Audience + "#" + kindTOTPChallenge }

// issueChallenge signs a challenge for userID: proof, for TOTPChallengeTTL, that its
// first factor was right. Its audience and kind keep it from ever passing as an access
// token.
func (s *Service) issueChallenge(u *ent.User) (string, time.Time, error) {
	now := s.now().Truncate(time.Second)
	exp := now.Add(TOTPChallengeTTL)
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return "", time.Time{}, err
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, challengeClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.Tokens.Issuer, Subject: strconv.Itoa(u.ID), Audience: jwt.ClaimStrings{s.challengeAudience()},
			ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ID: fmt.Sprintf("%x", id),
		},
		Kind:        kindTOTPChallenge,
		Credentials: credentialsVersion(u),
	})
	signed, err := s.Tokens.Keys.Sign(tok)
	return signed, exp, err
}

func (s *Service) verifyChallenge(token string) (userID int, credentials string, err error) {
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(s.Tokens.Issuer),
		jwt.WithAudience(s.challengeAudience()),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.now),
	)
	claims := &challengeClaims{}
	_, err = parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, ok := s.Tokens.Keys.verify[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return key, nil
	})
	if err != nil {
		return 0, "", err
	}
	if claims.Kind != kindTOTPChallenge {
		return 0, "", errors.New("not a challenge")
	}
	userID, err = strconv.Atoi(claims.Subject)
	return userID, claims.Credentials, err
}

// totpAAD binds a sealed secret to its user: a value copied to another account's row
// does not open there.
func totpAAD(userID int) string { return "totp_credentials.secret:" + strconv.Itoa(userID) }

// sealTOTPSecret returns the secret as stored: sealed under TOTPKeys when set (TOTP_ENCRYPTION_KEY),
// as it is otherwise.
func (s *Service) sealTOTPSecret(userID int, secret string) (string, error) {
	if s.TOTPKeys == nil {
		return secret, nil
	}
	return s.TOTPKeys.Seal([]byte(secret), totpAAD(userID))
}

// credentialKey returns the HMAC key of cred, opening its sealed secret.
func (s *Service) credentialKey(cred *ent.TotpCredential) ([]byte, error) {
	secret, _, err := s.openTOTPSecret(cred)
	if err != nil {
		return nil, err
	}
	return decodeSecret(secret)
}

// openTOTPSecret returns cred's base32 secret and whether it is stored as it should be
// (sealed under the current key when there is one, in plain when there is none).
func (s *Service) openTOTPSecret(cred *ent.TotpCredential) (string, bool, error) {
	if !secret.IsSealed(cred.Secret) {
		return cred.Secret, s.TOTPKeys == nil, nil
	}
	if s.TOTPKeys == nil {
		return "", false, fmt.Errorf("the TOTP secret of user %d is sealed under key %s, and TOTP_ENCRYPTION_KEY is not set",
			cred.UserID, secret.KeyOf(cred.Secret))
	}
	plain, current, err := s.TOTPKeys.Open(cred.Secret, totpAAD(cred.UserID))
	if err != nil {
		return "", false, fmt.Errorf("the TOTP secret of user %d: %w (TOTP_ENCRYPTION_KEY, TOTP_DECRYPTION_KEYS)", cred.UserID, err)
	}
	return string(plain), current, nil
}

// SealTOTPSecrets brings every stored TOTP secret to the current key (TOTPKeys): secrets
// stored in plain, or sealed under an old key (TOTP_DECRYPTION_KEYS), are sealed again
// under TOTP_ENCRYPTION_KEY. It returns how many it rewrote, and fails, rewriting
// nothing, when a secret cannot be opened: a key that is missing from the configuration
// (or no key at all for sealed secrets), which the server reports at start rather than
// at an admin's sign-in. Each rewrite is conditional on the stored value, so replicas
// starting together rewrite each secret once and a secret replaced meanwhile is left alone.
// Without TOTPKeys, it only checks that no secret is sealed.
func (s *Service) SealTOTPSecrets(ctx context.Context, db *ent.Client) (int, error) {
	sys := viewer.SystemContext(ctx)
	creds, err := db.TotpCredential.Query().All(sys)
	if err != nil {
		return 0, err
	}
	type rewrite struct {
		id        int
		old, next string
	}
	var todo []rewrite
	for _, c := range creds {
		plain, ok, err := s.openTOTPSecret(c)
		if err != nil {
			return 0, err
		}
		if ok {
			continue
		}
		next, err := s.sealTOTPSecret(c.UserID, plain)
		if err != nil {
			return 0, err
		}
		todo = append(todo, rewrite{c.ID, c.Secret, next})
	}
	n := 0
	for _, r := range todo {
		k, err := db.TotpCredential.Update().
			Where(totpcredential.ID(r.id), totpcredential.Secret(r.old)).
			SetSecret(r.next).Save(sys)
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}
