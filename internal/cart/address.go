package cart

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/address"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/usertext"
)

// MaxAddresses is the most addresses one customer keeps.
const MaxAddresses = 50

// DefaultCountry is an address's country when none is given.
const DefaultCountry = "CN"

var (
	// A mainland mobile number, written as the 11 digits people know it by.
	mainlandMobileRE = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	// Any other number must carry its country code, so a courier abroad can dial it;
	// spaces and hyphens may group the digits.
	internationalPhoneRE = regexp.MustCompile(`^\+[1-9][0-9 -]{5,30}$`)
	countryRE            = regexp.MustCompile(`^[A-Z]{2}$`)
	postalCodeRE         = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 -]{0,15}$`)
	chinaPostalCodeRE    = regexp.MustCompile(`^[0-9]{6}$`)
)

// ValidatePhone trims a phone number and checks it is a mainland mobile number or a
// number with its country code; errors name field.
func ValidatePhone(field, phone string) (string, error) {
	phone = strings.TrimSpace(phone)
	if phone == "" {
		return "", apperror.BadInput(field, "is required")
	}
	if !mainlandMobileRE.MatchString(phone) && !internationalPhoneRE.MatchString(phone) {
		return "", apperror.BadInput(field,
			"must be a mainland mobile number (11 digits starting with 1) or a number with its country code, such as +852 2345 6789")
	}
	return phone, nil
}

// ValidateAddress checks and normalises an address (trimmed, country upper-case, CN when
// left out). Errors name the field under prefix, such as shippingAddress.phone; an empty
// prefix gives bare names (phone), as the address-book mutations report them.
func ValidateAddress(in AddressInput, prefix string) (schematype.Address, error) {
	var (
		out schematype.Address
		err error
	)
	if out.RecipientName, err = checkText(dotted(prefix, "recipientName"), in.RecipientName, true, 64); err != nil {
		return out, err
	}
	if out.Phone, err = ValidatePhone(dotted(prefix, "phone"), in.Phone); err != nil {
		return out, err
	}
	out.Country = DefaultCountry
	if in.Country != nil && strings.TrimSpace(*in.Country) != "" {
		out.Country = strings.ToUpper(strings.TrimSpace(*in.Country))
		if !countryRE.MatchString(out.Country) {
			return out, apperror.BadInput(dotted(prefix, "country"), "must be a two-letter ISO 3166-1 code such as CN")
		}
	}
	if out.Province, err = checkText(dotted(prefix, "province"), in.Province, true, 64); err != nil {
		return out, err
	}
	if out.City, err = checkText(dotted(prefix, "city"), in.City, true, 64); err != nil {
		return out, err
	}
	if out.District, err = checkText(dotted(prefix, "district"), deref(in.District), false, 64); err != nil {
		return out, err
	}
	if out.Street, err = checkText(dotted(prefix, "street"), in.Street, true, 200); err != nil {
		return out, err
	}
	out.PostalCode = strings.TrimSpace(deref(in.PostalCode))
	switch {
	case out.PostalCode == "":
	case out.Country == "CN" && !chinaPostalCodeRE.MatchString(out.PostalCode):
		return out, apperror.BadInput(dotted(prefix, "postalCode"), "must be 6 digits in China")
	case !postalCodeRE.MatchString(out.PostalCode):
		return out, apperror.BadInput(dotted(prefix, "postalCode"), "must be up to 16 letters, digits, spaces or hyphens")
	}
	return out, nil
}

// AddressSnapshot is a saved address as it is kept on an order.
func AddressSnapshot(a *ent.Address) schematype.Address {
	return schematype.Address{
		RecipientName: a.RecipientName,
		Phone:         a.Phone,
		Country:       a.Country,
		Province:      a.Province,
		City:          a.City,
		District:      a.District,
		Street:        a.Street,
		PostalCode:    a.PostalCode,
	}
}

// Addresses returns userID's saved addresses, the default first, then the newest.
func Addresses(ctx context.Context, db *ent.Client, userID int) ([]*ent.Address, error) {
	if userID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to see your addresses")
	}
	return db.Address.Query().
		Where(address.UserID(userID)).
		Order(address.ByIsDefault(sql.OrderDesc()), address.ByCreatedAt(sql.OrderDesc()), address.ByID(sql.OrderDesc())).
		All(ctx)
}

// AddAddress saves an address for userID. The first address, or one marked isDefault,
// becomes the default. Call it in a transaction.
func AddAddress(ctx context.Context, db *ent.Client, userID int, in AddressInput) (*ent.Address, error) {
	a, err := ValidateAddress(in, "")
	if err != nil {
		return nil, err
	}
	if err := lockUser(ctx, db, userID); err != nil {
		return nil, err
	}
	n, err := db.Address.Query().Where(address.UserID(userID)).Count(ctx)
	if err != nil {
		return nil, err
	}
	if n >= MaxAddresses {
		return nil, apperror.BadInput("", "you can keep at most %d addresses; delete one first", MaxAddresses)
	}
	isDefault := n == 0 || deref(in.IsDefault)
	if isDefault {
		if err := clearDefault(ctx, db, userID); err != nil {
			return nil, err
		}
	}
	return db.Address.Create().
		SetUserID(userID).
		SetRecipientName(a.RecipientName).
		SetPhone(a.Phone).
		SetCountry(a.Country).
		SetProvince(a.Province).
		SetCity(a.City).
		SetDistrict(a.District).
		SetStreet(a.Street).
		SetPostalCode(a.PostalCode).
		SetIsDefault(isDefault).
		Save(ctx)
}

// UpdateAddress changes the given fields of one of userID's addresses. isDefault true makes
// it the default; false is refused on the default address, which is replaced by making
// another one the default. Call it in a transaction.
func UpdateAddress(ctx context.Context, db *ent.Client, userID, id int, in AddressUpdate) (*ent.Address, error) {
	if err := lockUser(ctx, db, userID); err != nil {
		return nil, err
	}
	old, err := ownAddress(ctx, db, userID, id)
	if err != nil {
		return nil, err
	}
	merged := AddressInput{
		RecipientName: pick(in.RecipientName, old.RecipientName),
		Phone:         pick(in.Phone, old.Phone),
		Country:       ptr(pick(in.Country, old.Country)),
		Province:      pick(in.Province, old.Province),
		City:          pick(in.City, old.City),
		District:      ptr(pick(in.District, old.District)),
		Street:        pick(in.Street, old.Street),
		PostalCode:    ptr(pick(in.PostalCode, old.PostalCode)),
	}
	a, err := ValidateAddress(merged, "")
	if err != nil {
		return nil, err
	}
	if in.IsDefault != nil && !*in.IsDefault && old.IsDefault {
		return nil, apperror.BadInput("isDefault", "make another address the default instead")
	}
	makeDefault := in.IsDefault != nil && *in.IsDefault && !old.IsDefault
	if makeDefault {
		if err := clearDefault(ctx, db, userID); err != nil {
			return nil, err
		}
	}
	return db.Address.UpdateOne(old).
		SetRecipientName(a.RecipientName).
		SetPhone(a.Phone).
		SetCountry(a.Country).
		SetProvince(a.Province).
		SetCity(a.City).
		SetDistrict(a.District).
		SetStreet(a.Street).
		SetPostalCode(a.PostalCode).
		SetIsDefault(old.IsDefault || makeDefault).
		Save(ctx)
}

// DeleteAddress deletes one of userID's addresses and returns its id. When it was the
// default, the newest remaining address becomes the default. Call it in a transaction.
func DeleteAddress(ctx context.Context, db *ent.Client, userID, id int) (int, error) {
	if err := lockUser(ctx, db, userID); err != nil {
		return 0, err
	}
	old, err := ownAddress(ctx, db, userID, id)
	if err != nil {
		return 0, err
	}
	if err := db.Address.DeleteOne(old).Exec(ctx); err != nil {
		return 0, err
	}
	if !old.IsDefault {
		return id, nil
	}
	next, err := db.Address.Query().
		Where(address.UserID(userID)).
		Order(address.ByCreatedAt(sql.OrderDesc()), address.ByID(sql.OrderDesc())).
		First(ctx)
	if ent.IsNotFound(err) {
		return id, nil
	}
	if err != nil {
		return 0, err
	}
	return id, db.Address.UpdateOne(next).SetIsDefault(true).Exec(ctx)
}

// SetDefaultAddress makes one of userID's addresses the default. Call it in a transaction.
func SetDefaultAddress(ctx context.Context, db *ent.Client, userID, id int) (*ent.Address, error) {
	if err := lockUser(ctx, db, userID); err != nil {
		return nil, err
	}
	a, err := ownAddress(ctx, db, userID, id)
	if err != nil {
		return nil, err
	}
	if a.IsDefault {
		return a, nil
	}
	if err := clearDefault(ctx, db, userID); err != nil {
		return nil, err
	}
	return db.Address.UpdateOne(a).SetIsDefault(true).Save(ctx)
}

// ownAddress reads one of userID's addresses; anyone else's is NOT_FOUND.
func ownAddress(ctx context.Context, db *ent.Client, userID, id int) (*ent.Address, error) {
	a, err := db.Address.Query().Where(address.ID(id), address.UserID(userID)).Only(ctx)
	if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) {
		return nil, &apperror.Error{Code: apperror.NotFound, Field: "id", Message: "no such address"}
	}
	return a, err
}

// clearDefault makes none of userID's addresses the default.
func clearDefault(ctx context.Context, db *ent.Client, userID int) error {
	return db.Address.Update().
		Where(address.UserID(userID), address.IsDefault(true)).
		SetIsDefault(false).
		Exec(ctx)
}

// checkText checks one line of an address (usertext.Line: trimmed, at most max characters
// as the columns and the Ent validators, MaxRuneLen, count them, and no control, invisible
// or text-direction characters: merchants print these on parcels).
func checkText(field, v string, required bool, max int) (string, error) {
	min := 0
	if required {
		min = 1
	}
	return usertext.Line(field, v, min, max)
}

// dotted joins a field path prefix and a field name; an empty prefix gives the bare name.
func dotted(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// pick is *p when given, else def.
func pick(p *string, def string) string {
	if p != nil {
		return *p
	}
	return def
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
