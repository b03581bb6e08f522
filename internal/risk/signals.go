package risk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/risklistentry"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/pricing"
)

// ReasonBlocked is the extensions.reason of an order refused because a block list names
// its device, phone, address or email. Which one is not said.
const ReasonBlocked = "RISK_BLOCKED"

// NormalizePhone keeps the digits of a phone number, without a leading 86 country code
// on a mainland mobile number, so +86 138-0013-8000 and 13800138000 match.
func NormalizePhone(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	d := b.String()
	if len(d) == 13 && strings.HasPrefix(d, "861") {
		d = d[2:]
	}
	return d
}

// NormalizeEmail lower-cases and trims an email.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// AddressKey is the match key of a postal address written as one line: a hash of its
// letters and digits, lower-cased, so spacing and punctuation do not matter. "" for an
// address with neither.
func AddressKey(line string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(line) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

// AddressLine writes the place of an address — province, city, district, street, not
// the recipient — as one line, the form AddressKey hashes.
func AddressLine(a *schematype.Address) string {
	if a == nil {
		return ""
	}
	return strings.Join([]string{a.Province, a.City, a.District, a.Street}, " ")
}

// signals are what the block lists are checked against.
type signals struct {
	device, phone, addressKey, email string
}

func (g signals) entries() map[risklistentry.Kind]string {
	m := map[risklistentry.Kind]string{}
	if g.device != "" {
		m[risklistentry.KindBLOCKED_DEVICE] = g.device
	}
	if g.phone != "" {
		m[risklistentry.KindBLOCKED_PHONE] = g.phone
	}
	if g.addressKey != "" {
		m[risklistentry.KindBLOCKED_ADDRESS] = g.addressKey
	}
	if g.email != "" {
		m[risklistentry.KindBLOCKED_EMAIL] = g.email
	}
	return m
}

// blocked returns the block-list kinds that name one of g's signals (one query).
func blocked(ctx context.Context, db *ent.Client, g signals) ([]risklistentry.Kind, error) {
	var ps []predicate.RiskListEntry
	for k, v := range g.entries() {
		ps = append(ps, risklistentry.And(risklistentry.KindEQ(k), risklistentry.Value(v)))
	}
	if len(ps) == 0 {
		return nil, nil
	}
	hits, err := db.RiskListEntry.Query().Where(risklistentry.Or(ps...)).All(system(ctx))
	if err != nil {
		return nil, err
	}
	kinds := make([]risklistentry.Kind, len(hits))
	for i, h := range hits {
		kinds[i] = h.Kind
	}
	return kinds, nil
}

// emailOf reads the customer's email.
func emailOf(ctx context.Context, db *ent.Client, userID int) (string, error) {
	u, err := db.User.Get(system(ctx), userID)
	if err != nil {
		return "", err
	}
	if u.Email == nil {
		return "", nil
	}
	return NormalizeEmail(*u.Email), nil
}

// CheckPlace refuses an order (FORBIDDEN, reason RISK_BLOCKED) whose device, contact
// phone, shipping address or customer email a block list names; nothing is written. It
// runs in every mode: the lists are an admin's explicit decision. One statement: the
// email is matched by a subquery on the customer's row.
func (s *Service) CheckPlace(ctx context.Context, db *ent.Client, customerID int, phone string, address *schematype.Address) error {
	g := signals{device: auth.ClientFromContext(ctx).DeviceID, phone: NormalizePhone(phone),
		addressKey: AddressKey(AddressLine(address))}
	var ps []predicate.RiskListEntry
	for k, v := range g.entries() {
		ps = append(ps, risklistentry.And(risklistentry.KindEQ(k), risklistentry.Value(v)))
	}
	ps = append(ps, func(sel *sql.Selector) {
		users := sql.Table(user.Table)
		sel.Where(sql.And(sql.EQ(sel.C(risklistentry.FieldKind), string(risklistentry.KindBLOCKED_EMAIL)),
			sql.In(sel.C(risklistentry.FieldValue),
				sql.Select(users.C(user.FieldEmail)).From(users).Where(sql.EQ(users.C(user.FieldID), customerID)))))
	})
	hit, err := db.RiskListEntry.Query().Where(risklistentry.Or(ps...)).Exist(system(ctx))
	if err != nil || !hit {
		return err
	}
	return &apperror.Error{Code: apperror.Forbidden,
		Message:    "this order cannot be placed; please contact customer service",
		Extensions: map[string]any{"reason": ReasonBlocked}}
}

// couponKinds are the adjustments that spend a coupon.
var couponKinds = []string{string(pricing.KindShopCoupon), string(pricing.KindPlatformCoupon)}

// Placed records the signals of newly placed orders that only the request knows: the
// device and client address. The rest (phone, address, email, coupons) is read from the
// order when it is paid and scored (Paid). One statement.
func (s *Service) Placed(ctx context.Context, db *ent.Client, placed []*ent.Order) error {
	if s.Config.Mode == ModeOff || len(placed) == 0 {
		return nil
	}
	client := auth.ClientFromContext(ctx)
	now := s.now()
	rows := make([]*ent.RiskAssessmentCreate, len(placed))
	for i, o := range placed {
		rows[i] = newAssessment(db, o, "", false, now).
			SetDeviceID(client.DeviceID).SetIP(truncate(client.IP, 64))
	}
	return db.RiskAssessment.CreateBulk(rows...).Exec(system(ctx))
}

// newAssessment is the PENDING assessment of order o with the signals the order itself
// carries.
func newAssessment(db *ent.Client, o *ent.Order, email string, couponUsed bool, now time.Time) *ent.RiskAssessmentCreate {
	return db.RiskAssessment.Create().
		SetOrderID(o.ID).
		SetCustomerID(o.CustomerID).
		SetMerchantID(o.MerchantID).
		SetPhone(truncate(NormalizePhone(o.ContactPhone), 32)).
		SetAddressKey(AddressKey(AddressLine(o.ShippingAddress))).
		SetEmail(truncate(email, 254)).
		SetCouponUsed(couponUsed).
		SetTotal(o.Total).
		SetCurrency(o.Currency).
		SetCreatedAt(now).
		SetUpdatedAt(now)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
