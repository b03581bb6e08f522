// Package hooks holds the Ent hooks of accounts: rules about a user's identity that must
// hold whichever code path writes the user.
package hooks

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/hook"
)

// UserEmailVerificationHook clears a user's email verification whenever their address
// changes: a proof of reading mail at one address says nothing about another. A mutation
// that sets the verification time itself (a flow that verified the new address first)
// keeps it. Codes sent to the old address stop working too, because each is bound to the
// address it was sent to.
func UserEmailVerificationHook() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.UserFunc(func(ctx context.Context, m *ent.UserMutation) (ent.Value, error) {
			email, changing := m.Email()
			if _, verifiedNow := m.EmailVerifiedAt(); !changing || verifiedNow {
				return next.Mutate(ctx, m)
			}
			if m.Op().Is(ent.OpUpdateOne) {
				if old, err := m.OldEmail(ctx); err == nil && old != nil && *old == email {
					return next.Mutate(ctx, m)
				}
			}
			m.ClearEmailVerifiedAt()
			// The new address may be sent a code at once.
			m.ClearEmailVerificationSentAt()
			return next.Mutate(ctx, m)
		})
	}, ent.OpUpdate|ent.OpUpdateOne)
}
