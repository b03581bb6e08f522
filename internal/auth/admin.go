package auth

import (
	"context"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/viewer"
)

// SetUserStatus disables or re-enables an account (admins only, enforced by the caller's
// role gate and the User privacy policy). Disabling revokes every session at once; the
// access tokens already issued stop working because each request re-reads the user.
func (s *Service) SetUserStatus(ctx context.Context, db *ent.Client, id int, status user.Status, reason string) (*ent.User, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 500 {
		return nil, apperror.BadInput("reason", "is required (at most 500 characters)")
	}
	if status == user.StatusDELETED {
		return nil, apperror.BadInput("status", "accounts are deleted through the data-rights process, not here")
	}
	if id == viewer.FromContext(ctx).UserID {
		return nil, apperror.BadInput("id", "you cannot change the status of your own account")
	}
	u, err := db.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("user not found")
	}
	if err != nil {
		return nil, err
	}
	if u.Status == status {
		return u, nil
	}
	if u.Status == user.StatusDELETED {
		return nil, apperror.WrongState(string(u.Status), "deleted accounts cannot be changed")
	}
	from := u.Status
	if u, err = db.User.UpdateOneID(id).SetStatus(status).Save(ctx); err != nil {
		return nil, err
	}
	if status != user.StatusACTIVE {
		if err := s.RevokeAllSessions(ctx, db, id); err != nil {
			return nil, err
		}
	}
	return u, audit.Record(ctx, db, audit.Entry{
		Action: "user.set_status", TargetType: "User", TargetID: id, Reason: reason,
		Details: map[string]any{"from": string(from), "to": string(status)},
	})
}

// CreateAdmin creates a platform admin, or returns CONFLICT when the email is taken. The
// operator who runs it chose the address, so it counts as verified.
func CreateAdmin(ctx context.Context, db *ent.Client, email, password, displayName string) (*ent.User, error) {
	email, err := NormalizeEmail("email", email)
	if err != nil {
		return nil, err
	}
	if err := CheckPasswordPolicy(password); err != nil {
		return nil, apperror.BadInput("password", "%s", err.Error())
	}
	sys := viewer.SystemContext(ctx)
	if taken, err := db.User.Query().Where(user.Email(email)).Exist(sys); err != nil {
		return nil, err
	} else if taken {
		return nil, apperror.ConflictOn("email", "an account with this email already exists")
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	if displayName == "" {
		displayName = "Administrator"
	}
	u, err := db.User.Create().
		SetEmail(email).
		SetPasswordHash(hash).
		SetDisplayName(displayName).
		SetRoles([]string{string(viewer.RoleCustomer), string(viewer.RoleAdmin)}).
		SetEmailVerifiedAt(time.Now().UTC()).
		Save(sys)
	if err != nil {
		return nil, err
	}
	return u, audit.Record(sys, db, audit.Entry{Action: "user.create_admin", TargetType: "User", TargetID: u.ID})
}

// HasAdmin reports whether any admin account exists.
func HasAdmin(ctx context.Context, db *ent.Client) (bool, error) {
	return db.User.Query().
		Where(func(s *sql.Selector) { s.Where(sqljson.ValueContains(user.FieldRoles, string(viewer.RoleAdmin))) }).
		Exist(viewer.SystemContext(ctx))
}
