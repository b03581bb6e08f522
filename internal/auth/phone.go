package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/phonecode"
	"github.com/xiadan/xiadan/ent/useridentity"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/sms"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Phone sign-in limits. A code is 6 digits, valid PhoneCodeTTL, tried at most
// PhoneCodeMaxAttempts times, and only with the verification id handed to whoever asked
// for it, so nobody can spend another person's tries. A number gets a code at most once
// per PhoneCodeCooldown and PhoneCodesPerDay times a day — past that only from addresses
// its account has signed in from, up to PhoneCodesHardPerDay — and a client address may
// ask for PhoneSendsPerAddress codes an hour and guess wrong PhoneWrongPerAddress times
// per LOGIN_FAILURE_WINDOW.
const (
	PhoneCodeTTL          = 5 * time.Minute
	PhoneCodeMaxAttempts  = 5
	PhoneCodeCooldown     = time.Minute
	PhoneCodesPerDay      = 10
	PhoneCodesHardPerDay  = 20
	PhoneSendsPerAddress  = 10
	PhoneWrongPerAddress  = 20
	phoneVerificationSize = 32
)

// PhoneCodeSent describes a code that was sent.
type PhoneCodeSent struct {
	// Phone is the number in E.164, as it was normalised.
	Phone string
	// VerificationID goes with the code to signInWithPhone or linkPhone.
	VerificationID string
	ExpiresAt      time.Time
	ResendAfter    time.Time
}

// RequestPhoneCode sends a one-time code to a phone number. It runs in transactions of
// its own: the code is recorded (the database picks one of two concurrent requests for a
// number, which keeps the cool-down), then sent; a failed send deletes the record, so
// the person may ask again at once.
func (s *Service) RequestPhoneCode(ctx context.Context, input string) (*PhoneCodeSent, error) {
	phone, err := sms.Normalize(input, s.SMSCountries)
	if err != nil {
		return nil, apperror.BadInput("phone", "is not a mobile number we can send codes to (give +<country code> for numbers outside China)")
	}
	if s.SMS == nil {
		return nil, apperror.BadInput("phone", "phone sign-in is not configured on this server")
	}
	ip := ClientFromContext(ctx).IP
	addr := AddressKey(ip)
	if s.PhoneSends != nil && ip != "" {
		if wait := s.PhoneSends.Take(ctx, "sms-send:"+addr, PhoneSendsPerAddress); wait > 0 {
			return nil, apperror.Limited(wait)
		}
	}
	sys := viewer.SystemContext(ctx)
	now := s.now()
	code, err := newCode()
	if err != nil {
		return nil, err
	}
	raw := make([]byte, phoneVerificationSize)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	verification := base64.RawURLEncoding.EncodeToString(raw)
	var row *ent.PhoneCode
	err = withTx(ctx, s.Client, func(tx *ent.Client) error {
		last, err := tx.PhoneCode.Query().Where(phonecode.Phone(phone)).Order(ent.Desc(phonecode.FieldID)).First(sys)
		if err != nil && !ent.IsNotFound(err) {
			return err
		}
		prev := 0
		if last != nil {
			prev = last.ID
			if wait := last.CreatedAt.Add(PhoneCodeCooldown).Sub(now); wait > 0 {
				return apperror.Limited(wait)
			}
		}
		today, err := tx.PhoneCode.Query().
			Where(phonecode.Phone(phone), phonecode.CreatedAtGT(now.Add(-24*time.Hour))).
			Order(ent.Asc(phonecode.FieldCreatedAt)).Limit(PhoneCodesHardPerDay).All(sys)
		if err != nil {
			return err
		}
		if len(today) >= PhoneCodesPerDay {
			known := false
			if len(today) < PhoneCodesHardPerDay && ip != "" {
				if known, err = s.knownPhoneAddress(sys, tx, phone, addr); err != nil {
					return err
				}
			}
			if !known {
				return apperror.Limited(today[0].CreatedAt.Add(24 * time.Hour).Sub(now))
			}
		}
		row, err = tx.PhoneCode.Create().
			SetPhone(phone).SetPrevID(prev).
			SetChallengeHash(hashToken(verification)).
			SetCodeHash(phoneCodeHash(phone, code)).
			SetClientIP(truncate(ip, 64)).
			SetCreatedAt(now).SetExpiresAt(now.Add(PhoneCodeTTL)).
			Save(sys)
		if ent.IsConstraintError(err) {
			// Another request for this number was recorded first: it is in its cool-down.
			return apperror.Limited(PhoneCodeCooldown)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.SMS.Send(sendCtx, sms.Message{To: phone, Code: code, Minutes: int(PhoneCodeTTL / time.Minute)}); err != nil {
		_ = s.Client.PhoneCode.DeleteOneID(row.ID).Exec(sys)
		return nil, s.smsError(ctx, phone, err)
	}
	return &PhoneCodeSent{Phone: phone, VerificationID: verification, ExpiresAt: row.ExpiresAt, ResendAfter: now.Add(PhoneCodeCooldown)}, nil
}

// smsError turns a failed send into what the caller may see.
func (s *Service) smsError(ctx context.Context, phone string, err error) error {
	switch {
	case errors.Is(err, sms.ErrInvalidNumber):
		return &apperror.Error{Code: apperror.BadUserInput, Field: "phone", Err: err, Extensions: map[string]any{"reason": "NUMBER_REFUSED"},
			Message: "the SMS provider cannot deliver to this number"}
	case errors.Is(err, sms.ErrRateLimited):
		e := apperror.Limited(PhoneCodeCooldown)
		e.Err = err
		return e
	}
	s.logger().ErrorContext(ctx, "sending a phone sign-in code", "to", sms.Mask(phone), "err", err)
	return &apperror.Error{Code: apperror.Internal, Err: err, Message: "the code could not be sent at the moment; try again shortly"}
}

// knownPhoneAddress reports whether the account holding phone started a session from
// addr within RefreshTTL: such addresses may still get codes past the daily limit, so
// nobody can use that limit to lock the owner out from where they usually are.
func (s *Service) knownPhoneAddress(ctx context.Context, db *ent.Client, phone, addr string) (bool, error) {
	id, err := db.UserIdentity.Query().
		Where(useridentity.ProviderEQ(ProviderPhone), useridentity.AppID(""), useridentity.OpenID(phone)).Only(ctx)
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return s.knownAddress(ctx, db, id.UserID, addr)
}

// SignInWithPhone signs in with a code sent to a phone number, creating an account on the
// number's first sign-in. Wrong codes are counted in writes of their own, so it runs
// outside any request transaction.
func (s *Service) SignInWithPhone(ctx context.Context, input, verificationID, code string) (*Session, error) {
	pc, phone, err := s.checkPhoneCode(ctx, input, verificationID, code)
	if err != nil {
		return nil, err
	}
	return s.signInPhone(ctx, pc, phone)
}

func (s *Service) signInPhone(ctx context.Context, pc *ent.PhoneCode, phone string) (*Session, error) {
	var sess *Session
	attempt := func() error {
		return withTx(ctx, s.Client, func(tx *ent.Client) error {
			if err := s.usePhoneCode(ctx, tx, pc); err != nil {
				return err
			}
			var err error
			sess, err = s.signInIdentity(ctx, tx, ProviderPhone, "", phone, "")
			return err
		})
	}
	err := attempt()
	if ent.IsConstraintError(err) {
		err = attempt()
	}
	return sess, err
}

// LinkPhone adds (or replaces) the phone number of userID's account with a code sent to
// it. A number of another account is CONFLICT (reason IDENTITY_TAKEN), and the code stays
// usable.
func (s *Service) LinkPhone(ctx context.Context, userID int, input, verificationID, code string) (*ent.UserIdentity, error) {
	pc, phone, err := s.checkPhoneCode(ctx, input, verificationID, code)
	if err != nil {
		return nil, err
	}
	var out *ent.UserIdentity
	err = withTx(ctx, s.Client, func(tx *ent.Client) error {
		if err := s.usePhoneCode(ctx, tx, pc); err != nil {
			return err
		}
		out, err = s.linkIdentity(ctx, tx, userID, ProviderPhone, "", phone, "")
		return err
	})
	return out, err
}

// checkPhoneCode finds the code of verificationID for the number and checks code against
// it, counting the try first (in a committed write of its own, conditional, so parallel
// guesses cannot exceed the limit). It does not use the code up.
func (s *Service) checkPhoneCode(ctx context.Context, input, verificationID, code string) (*ent.PhoneCode, string, error) {
	if ent.TxFromContext(ctx) != nil {
		return nil, "", apperror.New(apperror.BadUserInput, "send a phone code in a mutation of its own, so that wrong codes are counted")
	}
	phone, err := sms.Normalize(input, s.SMSCountries)
	if err != nil {
		return nil, "", apperror.BadInput("phone", "is not a mobile number we can send codes to")
	}
	key := "sms-wrong:" + AddressKey(ClientFromContext(ctx).IP)
	if wait := s.Throttle.Blocked(ctx, key); wait > 0 {
		return nil, "", apperror.Limited(wait)
	}
	if len(code) != VerificationCodeDigits {
		return nil, "", apperror.BadInput("code", "is the %d-digit code from the text message", VerificationCodeDigits)
	}
	sys := viewer.SystemContext(ctx)
	now := s.now()
	pc, err := s.Client.PhoneCode.Query().Where(phonecode.ChallengeHash(hashToken(verificationID))).Only(sys)
	if ent.IsNotFound(err) || err == nil && (pc.Phone != phone || pc.UsedAt != nil || !now.Before(pc.ExpiresAt)) {
		return nil, "", errNoPhoneCode
	}
	if err != nil {
		return nil, "", err
	}
	n, err := s.Client.PhoneCode.Update().
		Where(phonecode.ID(pc.ID), phonecode.AttemptsLT(PhoneCodeMaxAttempts), phonecode.UsedAtIsNil()).
		AddAttempts(1).Save(sys)
	if err != nil {
		return nil, "", err
	}
	if n == 0 {
		return nil, "", &apperror.Error{Code: apperror.BadUserInput, Field: "code", Extensions: map[string]any{"reason": "CODE_EXHAUSTED"},
			Message: "too many wrong codes; request a new one"}
	}
	if subtle.ConstantTimeCompare([]byte(phoneCodeHash(phone, code)), []byte(pc.CodeHash)) != 1 {
		if ClientFromContext(ctx).IP != "" {
			s.Throttle.Fail(ctx, key, PhoneWrongPerAddress)
		}
		left := PhoneCodeMaxAttempts - pc.Attempts - 1
		if left <= 0 {
			return nil, "", &apperror.Error{Code: apperror.BadUserInput, Field: "code", Extensions: map[string]any{"reason": "CODE_EXHAUSTED"},
				Message: "wrong code, and no tries are left; request a new one"}
		}
		return nil, "", &apperror.Error{Code: apperror.BadUserInput, Field: "code",
			Extensions: map[string]any{"reason": "CODE_WRONG", "attemptsLeft": left}, Message: fmt.Sprintf("wrong code; %d tries left", left)}
	}
	return pc, phone, nil
}

// usePhoneCode spends pc, on db: a code works once.
func (s *Service) usePhoneCode(ctx context.Context, db *ent.Client, pc *ent.PhoneCode) error {
	now := s.now()
	n, err := db.PhoneCode.Update().
		Where(phonecode.ID(pc.ID), phonecode.UsedAtIsNil(), phonecode.ExpiresAtGT(now)).
		SetUsedAt(now).Save(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	if n == 0 {
		return errNoPhoneCode
	}
	return nil
}

// errNoPhoneCode is the one answer for a verification id that is unknown, of another
// number, used or expired.
var errNoPhoneCode = &apperror.Error{Code: apperror.BadUserInput, Field: "code", Extensions: map[string]any{"reason": "CODE_EXPIRED"},
	Message: "this code is not valid: it expired or was used, or the number or verification id differ; request a new one"}

// phoneCodeHash is what is stored of a code: bound to its number. (A 6-digit code's hash
// does not resist someone who can read the table; its short life and few tries are what
// protect it.)
func phoneCodeHash(phone, code string) string { return hashToken("phone-code:" + phone + ":" + code) }
