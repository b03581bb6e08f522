package streams

import (
	"context"
	"slices"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/apiclient"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/events"
)

// The changes of rights are noticed below the API, as Ent hooks on the rows the viewer is
// built from, so every path that changes them — a GraphQL mutation, the partner API, an
// admin tool writing through Ent — closes the connections opened on the old rights. A
// change is announced once its transaction has committed (never for one rolled back).

// userAccess are the User columns a viewer is made of (or that end its sessions).
var userAccess = []string{user.FieldStatus, user.FieldRoles, user.FieldMerchantID, user.FieldMerchantRole, user.FieldPasswordHash}

// clientAccess are the ApiClient columns a partner's viewer is made of.
var clientAccess = []string{apiclient.FieldRevokedAt, apiclient.FieldSecretHash, apiclient.FieldSecretRotatedAt,
	apiclient.FieldScopes, apiclient.FieldMerchantIds}

// Register installs on client the hooks that call changed with the access changes of
// every committed write to users, API clients and merchants' statuses and staff.
func Register(client *ent.Client, changed func(context.Context, events.AccessChange)) {
	client.User.Use(accessHook(changed,
		func(m *ent.UserMutation) bool { return touches(m, userAccess, user.EdgeMerchant) },
		func(_ *ent.UserMutation, ids []int) events.AccessChange { return events.AccessChange{UserIDs: ids} }))
	client.ApiClient.Use(accessHook(changed,
		func(m *ent.ApiClientMutation) bool { return touches(m, clientAccess) },
		func(_ *ent.ApiClientMutation, ids []int) events.AccessChange {
			return events.AccessChange{APIClientIDs: ids}
		}))
	client.Merchant.Use(accessHook(changed,
		func(m *ent.MerchantMutation) bool {
			return touches(m, []string{merchant.FieldStatus}, merchant.EdgeMembers)
		},
		func(m *ent.MerchantMutation, ids []int) events.AccessChange {
			return events.AccessChange{MerchantIDs: ids, UserIDs: m.RemovedMembersIDs()}
		}))
}

// touches reports whether m deletes rows, or sets or clears one of fields or edges.
func touches(m ent.Mutation, fields []string, edges ...string) bool {
	if m.Op().Is(ent.OpDelete | ent.OpDeleteOne) {
		return true
	}
	in := func(list []string) func(string) bool {
		return func(s string) bool { return slices.Contains(list, s) }
	}
	return slices.ContainsFunc(m.Fields(), in(fields)) || slices.ContainsFunc(m.ClearedFields(), in(fields)) ||
		slices.ContainsFunc(m.ClearedEdges(), in(edges)) || slices.ContainsFunc(m.RemovedEdges(), in(edges))
}

// accessMutation is what the hooks need of a generated mutation.
type accessMutation interface {
	ent.Mutation
	ID() (int, bool)
	IDs(context.Context) ([]int, error)
	Tx() (*ent.Tx, error)
}

// accessHook announces, once committed, the change build makes of a mutation of type M
// that relevant says touches someone's rights.
func accessHook[M accessMutation](changed func(context.Context, events.AccessChange),
	relevant func(M) bool, build func(M, []int) events.AccessChange) ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, mu ent.Mutation) (ent.Value, error) {
			m, ok := mu.(M)
			if !ok || m.Op().Is(ent.OpCreate) || !relevant(m) {
				return next.Mutate(ctx, mu)
			}
			// The rows, read before the write changes them: a bulk update names them by
			// predicates only.
			ids := []int{}
			if id, ok := m.ID(); ok {
				ids = append(ids, id)
			} else {
				var err error
				if ids, err = m.IDs(privacy.DecisionContext(ctx, privacy.Allow)); err != nil {
					return nil, err
				}
			}
			c := build(m, ids)
			v, err := next.Mutate(ctx, mu)
			if err != nil || c.Empty() {
				return v, err
			}
			if tx, err := m.Tx(); err == nil {
				tx.OnCommit(func(next ent.Committer) ent.Committer {
					return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
						if err := next.Commit(ctx, tx); err != nil {
							return err
						}
						changed(ctx, c)
						return nil
					})
				})
				return v, nil
			}
			changed(ctx, c)
			return v, nil
		})
	}
}
