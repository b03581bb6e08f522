package currency

import (
	"context"

	entgo "entgo.io/ent"

	"github.com/xiadan/xiadan/ent"
)

// ExchangeRateChangedHook calls changed once a write of exchange rates has committed (at
// once when it ran outside a transaction). The app registers it with Invalidate on the
// client (client.ExchangeRate.Use), so this replica's cache drops the old rates; a change
// outbox registers its own hook beside it to tell the other replicas, whose consumers call
// Invalidate too.
func ExchangeRateChangedHook(changed func()) entgo.Hook {
	return func(next entgo.Mutator) entgo.Mutator {
		return entgo.MutateFunc(func(ctx context.Context, mu entgo.Mutation) (entgo.Value, error) {
			v, err := next.Mutate(ctx, mu)
			if err != nil {
				return v, err
			}
			m, ok := mu.(*ent.ExchangeRateMutation)
			if !ok {
				return v, nil
			}
			if tx, err := m.Tx(); err == nil {
				tx.OnCommit(func(next ent.Committer) ent.Committer {
					return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
						if err := next.Commit(ctx, tx); err != nil {
							return err
						}
						changed()
						return nil
					})
				})
				return v, nil
			}
			changed()
			return v, nil
		})
	}
}
