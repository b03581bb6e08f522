// Package viewer carries who is calling — a user with roles and merchant scope, a partner
// client, the system itself, or nobody — through the request context.
package viewer

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// Role is a coarse permission group.
type Role string

// The roles of the platform.
const (
	RoleCustomer Role = "CUSTOMER"
	RoleMerchant Role = "MERCHANT"
	RoleAdmin    Role = "ADMIN"
	RolePartner  Role = "PARTNER"
)

// Valid reports whether r is one of the platform's roles.
func (r Role) Valid() bool {
	switch r {
	case RoleCustomer, RoleMerchant, RoleAdmin, RolePartner:
		return true
	}
	return false
}

// MarshalGQL writes the role as a GraphQL enum value.
func (r Role) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(r))) }

// UnmarshalGQL reads a GraphQL enum value into a role.
func (r *Role) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("role must be a string, got %T", v)
	}
	*r = Role(s)
	if !r.Valid() {
		return fmt.Errorf("%q is not a valid Role", s)
	}
	return nil
}

// MerchantRole is a user's place within the merchant they belong to.
type MerchantRole string

// The merchant roles.
const (
	MerchantOwner MerchantRole = "OWNER"
	MerchantStaff MerchantRole = "STAFF"
)

// Viewer is the caller of one request.
type Viewer struct {
	// UserID is the signed-in user's id, 0 for anonymous callers and partner clients.
	UserID int
	// Email of the signed-in user, used to match invitations.
	Email string
	// EmailVerified reports whether the user proved they read mail at Email; only then do
	// invitations sent to it show and work.
	EmailVerified bool
	// SessionID is the signed-in user's session (refresh-token family), from the access
	// token; changing the password keeps this one session.
	SessionID string
	// Roles granted to the caller for this request.
	Roles []Role
	// MerchantID scopes a MERCHANT user to their merchant; 0 when none.
	MerchantID int
	// MerchantRole is OWNER or STAFF when MerchantID is set.
	MerchantRole MerchantRole
	// PartnerMerchantIDs scopes a PARTNER client to the merchants it was granted.
	PartnerMerchantIDs []int
	// APIClientID is the partner client (ApiClient id) behind the request; 0 otherwise.
	APIClientID int
	// Scopes are a partner client's permissions, such as orders:read; empty for people.
	Scopes []string
	// TOTPEnrolmentRequired marks an admin whose ADMIN role is withheld until they turn on
	// TOTP two-factor sign-in (ADMIN_REQUIRE_TOTP); admin-only fields then say so.
	TOTPEnrolmentRequired bool
	// System marks internal work (migrations, jobs, sign-in look-ups) that bypasses privacy.
	System bool
}

// Has reports whether the viewer holds role r.
func (v *Viewer) Has(r Role) bool { return v != nil && slices.Contains(v.Roles, r) }

// Authenticated reports whether anyone signed in.
func (v *Viewer) Authenticated() bool { return v != nil && (v.UserID != 0 || v.Has(RolePartner)) }

// HasScope reports whether a partner client holds scope s. People (no client) hold none.
func (v *Viewer) HasScope(s string) bool { return v != nil && slices.Contains(v.Scopes, s) }

// ActsForMerchant reports whether the viewer works for merchant id: its staff, or a partner
// client granted that merchant.
func (v *Viewer) ActsForMerchant(id int) bool {
	return v.IsMerchantMember(id) || (v.Has(RolePartner) && slices.Contains(v.PartnerMerchantIDs, id))
}

// IsAdmin reports whether the viewer is a platform operator.
func (v *Viewer) IsAdmin() bool { return v.Has(RoleAdmin) }

// IsMerchantOwner reports whether the viewer owns merchant id.
func (v *Viewer) IsMerchantOwner(id int) bool {
	return v != nil && v.MerchantID == id && id != 0 && v.MerchantRole == MerchantOwner && v.Has(RoleMerchant)
}

// IsMerchantMember reports whether the viewer is owner or staff of merchant id.
func (v *Viewer) IsMerchantMember(id int) bool {
	return v != nil && v.MerchantID == id && id != 0 && v.Has(RoleMerchant)
}

type ctxKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer in ctx, or an anonymous viewer when there is none.
func FromContext(ctx context.Context) *Viewer {
	if v, ok := ctx.Value(ctxKey{}).(*Viewer); ok && v != nil {
		return v
	}
	return &Viewer{}
}

// SystemContext marks ctx as internal work that bypasses privacy rules. Use it only for
// work no caller controls directly: migrations, seeding, background jobs, credential checks.
func SystemContext(ctx context.Context) context.Context {
	return NewContext(ctx, &Viewer{System: true})
}
