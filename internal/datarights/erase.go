package datarights

import (
	"context"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/address"
	"github.com/xiadan/xiadan/ent/cartline"
	"github.com/xiadan/xiadan/ent/datarequest"
	"github.com/xiadan/xiadan/ent/emailverification"
	"github.com/xiadan/xiadan/ent/merchantinvitation"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/ent/phonecode"
	"github.com/xiadan/xiadan/ent/refreshtoken"
	"github.com/xiadan/xiadan/ent/review"
	"github.com/xiadan/xiadan/ent/riskassessment"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/ent/totpcredential"
	"github.com/xiadan/xiadan/ent/totprecoverycode"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/ent/useridentity"
)

// ErasedName is the name an erased account, its orders and its reviews show.
const ErasedName = "已注销用户"

// ErasedEmail is the placeholder address of an erased account: unique, and in the
// reserved .invalid domain, so no mail can ever reach it.
func ErasedEmail(userID int) string { return fmt.Sprintf("erased-%d@invalid", userID) }

// Erase erases or pseudonymises every personal field of user userID, as the system (ctx),
// on db — the request's transaction — and returns how many rows of each kind it touched:
//
//   - the user: email → ErasedEmail, name → ErasedName, phone, password and verification
//     cleared, status DELETED (sign-in and every issued token refused);
//   - deleted: identities (openids, phone), phone codes of their numbers, refresh tokens
//     (with their IP addresses and user agents), email verifications, TOTP secrets and
//     recovery codes, addresses, cart lines, invitations to their address;
//   - kept without personal fields: orders (contact and recipient name → ErasedName,
//     phones, street, postal code and the buyer's note cleared; country, province and city
//     kept for tax and logistics records), payments (the client's pay instructions cleared;
//     amounts and references kept), risk assessments (phone, email, address hash, IP and
//     device cleared), reviews (author name → ErasedName);
//   - the archives of their exports are dropped.
func Erase(ctx context.Context, db *ent.Client, userID int, now time.Time) (map[string]int, error) {
	u, err := db.User.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	phones := []string{}
	if u.Phone != nil && *u.Phone != "" {
		phones = append(phones, *u.Phone)
	}
	ids, err := db.UserIdentity.Query().Where(useridentity.UserID(userID)).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if id.Provider == useridentity.ProviderPHONE {
			phones = append(phones, id.OpenID)
		}
	}
	if err := db.User.UpdateOneID(userID).SetEmail(ErasedEmail(userID)).SetDisplayName(ErasedName).ClearPhone().
		SetPasswordHash("").SetStatus(user.StatusDELETED).ClearEmailVerifiedAt().ClearEmailVerificationSentAt().
		SetUpdatedAt(now).Exec(ctx); err != nil {
		return nil, err
	}
	del := []struct {
		name string
		run  func() (int, error)
	}{
		{"identities", func() (int, error) { return db.UserIdentity.Delete().Where(useridentity.UserID(userID)).Exec(ctx) }},
		{"phone_codes", func() (int, error) { return db.PhoneCode.Delete().Where(phonecode.PhoneIn(phones...)).Exec(ctx) }},
		{"refresh_tokens", func() (int, error) { return db.RefreshToken.Delete().Where(refreshtoken.UserID(userID)).Exec(ctx) }},
		{"email_verifications", func() (int, error) {
			return db.EmailVerification.Delete().Where(emailverification.UserID(userID)).Exec(ctx)
		}},
		{"totp_recovery_codes", func() (int, error) {
			return db.TotpRecoveryCode.Delete().Where(totprecoverycode.UserID(userID)).Exec(ctx)
		}},
		{"totp_credentials", func() (int, error) {
			return db.TotpCredential.Delete().Where(totpcredential.UserID(userID)).Exec(ctx)
		}},
		{"addresses", func() (int, error) { return db.Address.Delete().Where(address.UserID(userID)).Exec(ctx) }},
		{"cart_lines", func() (int, error) { return db.CartLine.Delete().Where(cartline.UserID(userID)).Exec(ctx) }},
		{"invitations", func() (int, error) {
			if u.Email == nil {
				return 0, nil
			}
			return db.MerchantInvitation.Delete().Where(merchantinvitation.Email(*u.Email)).Exec(ctx)
		}},
		{"reviews", func() (int, error) {
			return db.Review.Update().Where(review.AuthorID(userID)).SetAuthorName(ErasedName).Save(ctx)
		}},
		{"payments", func() (int, error) {
			return db.Payment.Update().Where(payment.CustomerID(userID)).ClearInstructions().Save(ctx)
		}},
		{"risk_assessments", func() (int, error) {
			return db.RiskAssessment.Update().Where(riskassessment.CustomerID(userID)).
				SetPhone("").SetEmail("").SetAddressKey("").Save(ctx)
		}},
		{"export_archives", func() (int, error) {
			return db.DataRequest.Update().Where(datarequest.UserID(userID), datarequest.ArchiveNotNil()).ClearArchive().Save(ctx)
		}},
	}
	for _, d := range del {
		n, err := d.run()
		if err != nil {
			return nil, fmt.Errorf("erasing %s: %w", d.name, err)
		}
		counts[d.name] = n
	}
	// The IP address and device id of a risk assessment are immutable to the Ent model
	// (nothing else may change them); erasure is the one exception.
	if _, err := db.ExecContext(ctx, "UPDATE "+riskassessment.Table+" SET "+riskassessment.FieldIP+" = '', "+
		riskassessment.FieldDeviceID+" = '' WHERE "+riskassessment.FieldCustomerID+" = ?", userID); err != nil {
		return nil, fmt.Errorf("erasing risk-assessment addresses: %w", err)
	}
	n, err := eraseOrders(ctx, db, userID, now)
	if err != nil {
		return nil, err
	}
	counts["orders"] = n
	return counts, nil
}

// eraseOrders pseudonymises the contact and recipient of each of the user's orders.
func eraseOrders(ctx context.Context, db *ent.Client, userID int, now time.Time) (int, error) {
	os, err := db.Order.Query().Where(order.CustomerID(userID)).Select(order.FieldID, order.FieldShippingAddress).All(ctx)
	if err != nil {
		return 0, err
	}
	for _, o := range os {
		up := db.Order.UpdateOneID(o.ID).SetContactName(ErasedName).SetContactPhone("").SetNote("").SetUpdatedAt(now)
		if a := o.ShippingAddress; a != nil {
			up.SetShippingAddress(&schematype.Address{RecipientName: ErasedName, Country: a.Country,
				Province: a.Province, City: a.City})
		}
		if err := up.Exec(ctx); err != nil {
			return 0, fmt.Errorf("erasing order %d: %w", o.ID, err)
		}
	}
	return len(os), nil
}
