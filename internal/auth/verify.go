package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/emailverification"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/mail"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Email verification limits. A code is 6 digits, so it is only as safe as the tries it
// allows: VerificationMaxAttempts per code, and codes are sent at most once per
// VerificationCooldown and VerificationMaxPerDay times a day, which bounds an attacker who
// registered someone else's address to 50 guesses a day at one in a million each. The
// link's token is 256 random bits and needs no such limit.
const (
	VerificationCodeDigits  = 6
	VerificationMaxAttempts = 5
	VerificationCooldown    = time.Minute
	VerificationMaxPerDay   = 10
	// DefaultVerificationTTL is how long a code and link work unless configured.
	DefaultVerificationTTL = 30 * time.Minute
)

// VerificationSent describes a verification message that was sent.
type VerificationSent struct {
	Email       string
	ExpiresAt   time.Time
	ResendAfter time.Time
}

// EmailVerified is the outcome of a successful verification.
type EmailVerified struct {
	Email string
	// User is the verified user when the caller is signed in as them, nil otherwise.
	User *ent.User
}

// RequestEmailVerification sends userID a new verification code (and link) for their
// current address, replacing earlier ones, on db (the request's transaction): the message
// leaves only once that transaction commits.
func (s *Service) RequestEmailVerification(ctx context.Context, db *ent.Client, userID int) (*VerificationSent, error) {
	u, err := db.User.Get(viewer.SystemContext(ctx), userID)
	if err != nil {
		return nil, err
	}
	if u.Email == nil {
		return nil, apperror.WrongState("NO_EMAIL", "the account has no email address; link one with linkEmailPassword")
	}
	if u.EmailVerifiedAt != nil {
		return nil, apperror.WrongState("VERIFIED", "%s is already verified", *u.Email)
	}
	return s.sendVerification(ctx, db, u)
}

// sendVerification creates a code and a link for u's address (u has one) and sends them
// after commit.
func (s *Service) sendVerification(ctx context.Context, db *ent.Client, u *ent.User) (*VerificationSent, error) {
	sys := viewer.SystemContext(ctx)
	email := deref(u.Email)
	now := s.now()
	// The cool-down is a write conditional on the last send, so of two concurrent requests
	// the database lets one through (the other waits for the row, then matches nothing).
	n, err := db.User.Update().
		Where(user.ID(u.ID), user.Or(user.EmailVerificationSentAtIsNil(), user.EmailVerificationSentAtLTE(now.Add(-VerificationCooldown)))).
		SetEmailVerificationSentAt(now).
		Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		wait := VerificationCooldown
		if cur, err := db.User.Get(sys, u.ID); err == nil && cur.EmailVerificationSentAt != nil {
			wait = cur.EmailVerificationSentAt.Add(VerificationCooldown).Sub(now)
		}
		return nil, apperror.Limited(wait)
	}
	recent, err := db.EmailVerification.Query().
		Where(emailverification.UserID(u.ID), emailverification.CreatedAtGT(now.Add(-24*time.Hour))).
		Order(ent.Desc(emailverification.FieldCreatedAt)).
		Limit(VerificationMaxPerDay).
		All(sys)
	if err != nil {
		return nil, err
	}
	if len(recent) >= VerificationMaxPerDay {
		return nil, apperror.Limited(recent[len(recent)-1].CreatedAt.Add(24 * time.Hour).Sub(now))
	}
	// Only the newest code works.
	if _, err := db.EmailVerification.Update().
		Where(emailverification.UserID(u.ID), emailverification.UsedAtIsNil(), emailverification.ExpiresAtGT(now)).
		SetExpiresAt(now).
		Save(sys); err != nil {
		return nil, err
	}
	code, err := newCode()
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	ttl := s.VerificationTTL
	if ttl <= 0 {
		ttl = DefaultVerificationTTL
	}
	expires := now.Add(ttl)
	err = db.EmailVerification.Create().
		SetUserID(u.ID).
		SetEmail(email).
		SetCodeHash(codeHash(u.ID, code)).
		SetTokenHash(hashToken(token)).
		SetExpiresAt(expires).
		SetCreatedAt(now).
		Exec(sys)
	if err != nil {
		return nil, err
	}
	msg := verificationMessage(email, u.Locale, code, s.verifyLink(token), ttl)
	afterCommit(ctx, func(ctx context.Context) { s.send(ctx, u.ID, msg) })
	return &VerificationSent{Email: email, ExpiresAt: expires, ResendAfter: now.Add(VerificationCooldown)}, nil
}

// VerifyEmail proves that the caller reads mail at an address, with either the code of
// the newest message (signed in as its user) or the token of its link (by anyone who has
// it: the link is opened from the mailbox, often where nobody is signed in).
//
// It must run outside any request transaction: a wrong code is counted in a write of its
// own that has to survive the failed request. Within a larger mutation it is refused.
func (s *Service) VerifyEmail(ctx context.Context, code, token string) (*EmailVerified, error) {
	if ent.TxFromContext(ctx) != nil {
		return nil, apperror.New(apperror.BadUserInput, "send verifyEmail in a mutation of its own, so that wrong codes are counted")
	}
	code, token = strings.TrimSpace(code), strings.TrimSpace(token)
	switch {
	case code != "" && token != "":
		return nil, apperror.BadInput("token", "give the code or the token, not both")
	case token != "":
		return s.verifyToken(ctx, token)
	case code != "":
		return s.verifyCode(ctx, code)
	}
	return nil, apperror.BadInput("code", "give the code from the message, or the token from its link")
}

// errNoCode is the answer for a code or link that does not (or no longer) work; it does
// not say which, as there is nothing the caller could do differently.
func errNoCode(field string) *apperror.Error {
	what := "code"
	if field == "token" {
		what = "link"
	}
	return &apperror.Error{Code: apperror.BadUserInput, Field: field, Extensions: map[string]any{"reason": "CODE_EXPIRED"},
		Message: fmt.Sprintf("this %s is not valid: it expired, was used or replaced, or the address changed; request a new one", what)}
}

func (s *Service) verifyCode(ctx context.Context, code string) (*EmailVerified, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to verify with a code, or use the token of the message's link")
	}
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != VerificationCodeDigits || strings.Trim(code, "0123456789") != "" {
		return nil, apperror.BadInput("code", "is the %d-digit code from the message", VerificationCodeDigits)
	}
	sys := viewer.SystemContext(ctx)
	now := s.now()
	u, err := s.Client.User.Get(sys, v.UserID)
	if err != nil {
		return nil, err
	}
	if u.Email == nil {
		return nil, errNoCode("code")
	}
	if u.EmailVerifiedAt != nil {
		return nil, apperror.WrongState("VERIFIED", "%s is already verified", *u.Email)
	}
	ev, err := s.Client.EmailVerification.Query().
		Where(emailverification.UserID(u.ID), emailverification.Email(*u.Email),
			emailverification.UsedAtIsNil(), emailverification.ExpiresAtGT(now)).
		Order(ent.Desc(emailverification.FieldCreatedAt), ent.Desc(emailverification.FieldID)).
		First(sys)
	if ent.IsNotFound(err) {
		return nil, errNoCode("code")
	}
	if err != nil {
		return nil, err
	}
	// Count the try before comparing, in a write of its own: committed whatever the
	// outcome, and conditional, so parallel guesses cannot exceed the limit.
	n, err := s.Client.EmailVerification.Update().
		Where(emailverification.ID(ev.ID), emailverification.AttemptsLT(VerificationMaxAttempts), emailverification.UsedAtIsNil()).
		AddAttempts(1).
		Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, &apperror.Error{Code: apperror.BadUserInput, Field: "code", Extensions: map[string]any{"reason": "CODE_EXHAUSTED"},
			Message: "too many wrong codes; request a new one"}
	}
	if subtle.ConstantTimeCompare([]byte(codeHash(u.ID, code)), []byte(ev.CodeHash)) != 1 {
		left := VerificationMaxAttempts - ev.Attempts - 1
		if left <= 0 {
			return nil, &apperror.Error{Code: apperror.BadUserInput, Field: "code", Extensions: map[string]any{"reason": "CODE_EXHAUSTED"},
				Message: "wrong code, and no tries are left; request a new one"}
		}
		return nil, &apperror.Error{Code: apperror.BadUserInput, Field: "code",
			Extensions: map[string]any{"reason": "CODE_WRONG", "attemptsLeft": left},
			Message:    fmt.Sprintf("wrong code; %d tries left", left)}
	}
	return s.markVerified(ctx, ev, "code")
}

func (s *Service) verifyToken(ctx context.Context, token string) (*EmailVerified, error) {
	sys := viewer.SystemContext(ctx)
	ev, err := s.Client.EmailVerification.Query().Where(emailverification.TokenHash(hashToken(token))).Only(sys)
	if ent.IsNotFound(err) {
		return nil, errNoCode("token")
	}
	if err != nil {
		return nil, err
	}
	if ev.UsedAt != nil || !s.now().Before(ev.ExpiresAt) {
		return nil, errNoCode("token")
	}
	return s.markVerified(ctx, ev, "token")
}

// markVerified uses ev and verifies its user's address, if it is still the one ev was sent
// to, in one transaction.
func (s *Service) markVerified(ctx context.Context, ev *ent.EmailVerification, field string) (*EmailVerified, error) {
	sys := viewer.SystemContext(ctx)
	now := s.now()
	var u *ent.User
	err := withTx(ctx, s.Client, func(tx *ent.Client) error {
		n, err := tx.EmailVerification.Update().
			Where(emailverification.ID(ev.ID), emailverification.UsedAtIsNil(), emailverification.ExpiresAtGT(now)).
			SetUsedAt(now).
			Save(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			return errNoCode(field)
		}
		n, err = tx.User.Update().
			Where(user.ID(ev.UserID), user.Email(ev.Email), user.StatusEQ(user.StatusACTIVE)).
			SetEmailVerifiedAt(now).
			Save(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			return errNoCode(field)
		}
		u, err = tx.User.Get(sys, ev.UserID)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &EmailVerified{Email: ev.Email}
	if viewer.FromContext(ctx).UserID == u.ID {
		out.User = u
	}
	return out, nil
}

// newCode returns a uniformly random numeric code of VerificationCodeDigits digits.
func newCode() (string, error) {
	limit := big.NewInt(1)
	for range VerificationCodeDigits {
		limit.Mul(limit, big.NewInt(10))
	}
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", VerificationCodeDigits, n), nil
}

// codeHash is what is stored of a code: bound to its user, so equal codes of two users
// hash differently. (A 6-digit code's hash does not resist someone who can read the
// table; its short life and few tries are what protect it.)
func codeHash(userID int, code string) string {
	return hashToken("email-code:" + strconv.Itoa(userID) + ":" + code)
}

// verifyLink is the link to the front end's verification page with token, or "".
func (s *Service) verifyLink(token string) string {
	if s.VerifyURL == "" {
		return ""
	}
	u, err := url.Parse(s.VerifyURL)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String()
}

// verificationMessage is the verification email, in Chinese or English by locale. It
// carries nothing the registrant chose (not even their display name), since anyone can
// register someone else's address and would otherwise write to them in our name.
func verificationMessage(to, locale, code, link string, ttl time.Duration) mail.Message {
	minutes := int(ttl / time.Minute)
	if strings.HasPrefix(strings.ToLower(locale), "zh") {
		text := fmt.Sprintf("你好，\n\n你的 Xiadan 邮箱验证码是：%s\n验证码 %d 分钟内有效，只能使用一次。\n", code, minutes)
		if link != "" {
			text += "\n也可以打开这个链接完成验证：\n" + link + "\n"
		}
		text += "\n如果你没有注册 Xiadan 账号，请忽略这封邮件。\n"
		return mail.Message{To: to, Subject: "Xiadan 邮箱验证码：" + code, Text: text}
	}
	text := fmt.Sprintf("Hello,\n\nyour Xiadan email verification code is: %s\nIt works once, for %d minutes.\n", code, minutes)
	if link != "" {
		text += "\nOr open this link to verify your address:\n" + link + "\n"
	}
	text += "\nIf you did not sign up for Xiadan, ignore this message.\n"
	return mail.Message{To: to, Subject: "Your Xiadan verification code: " + code, Text: text}
}

// send hands m to the mailer; a failure is logged (the user can ask again after the
// cool-down) and never undoes the committed work.
func (s *Service) send(ctx context.Context, userID int, m mail.Message) {
	if s.Mailer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, mail.SendTimeout)
	defer cancel()
	if err := s.Mailer.Send(ctx, m); err != nil {
		logger := s.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.ErrorContext(ctx, "sending the email verification message", "user_id", userID, "err", err)
	}
}
