package hooks

import (
	"context"
	"reflect"
	"slices"
	"sync"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	gen "github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/hook"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
)

// Locking. On MySQL every change to a product's variants first locks the product's row
// (SELECT … FOR UPDATE) and only then touches variant rows. One order for everyone means
// concurrent changes to variants of the same product queue on the product instead of
// deadlocking on each other's variants, and the aggregate is recomputed by one transaction
// at a time from current rows. SQLite needs none of it: its write transactions take the
// database lock when they begin (_txlock=immediate), so they never interleave.

// LockRows is a query predicate that makes the query a locking read (SELECT … FOR UPDATE)
// on MySQL and does nothing on SQLite. A locking read sees the latest committed rows, not
// the transaction's snapshot, and holds them until the transaction ends.
func LockRows(s *sql.Selector) {
	if s.Dialect() == dialect.MySQL {
		s.ForUpdate()
	}
}

// ShareRows is a query predicate that makes the query a shared locking read on MySQL
// (LOCK IN SHARE MODE, which MariaDB understands too, unlike FOR SHARE) and does nothing
// on SQLite. Like LockRows it reads the latest committed rows.
func ShareRows(s *sql.Selector) {
	if s.Dialect() == dialect.MySQL {
		s.ForShare(sql.WithLockClause("LOCK IN SHARE MODE"))
	}
}

// LockProducts locks the rows of the given products until the transaction ends (MySQL), in
// id order. Callers that read a variant before changing it lock its product first, in the
// order the aggregate hook uses. Privacy is bypassed: locking reveals nothing.
func LockProducts(ctx context.Context, client *gen.Client, ids ...int) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := client.Product.Query().
		Where(product.IDIn(ids...), LockRows).
		Order(product.ByID()).
		IDs(privacy.DecisionContext(ctx, privacy.Allow))
	return err
}

// ProductVariantAggregateHook keeps a product's price range, currency, total stock and
// variant count in step with its variants. After every variant create, update or delete
// (bulk operations included) it recomputes the affected products in the same transaction,
// from the variant rows as they are then. The product write is derived data, so it runs
// with privacy bypassed.
func ProductVariantAggregateHook() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.ProductVariantFunc(func(ctx context.Context, m *gen.ProductVariantMutation) (ent.Value, error) {
			if m.Op().Is(ent.OpCreate) {
				return aggregateCreate(ctx, m, next)
			}
			if !changesAggregates(m) {
				return next.Mutate(ctx, m)
			}
			sys := privacy.DecisionContext(ctx, privacy.Allow)
			client := m.Client()
			// Collected before the change: after a delete the rows that name the products are gone.
			ids, err := affectedProducts(sys, m)
			if err != nil {
				return nil, err
			}
			if len(ids) == 0 {
				return next.Mutate(ctx, m)
			}
			if err := LockProducts(ctx, client, ids...); err != nil {
				return nil, err
			}
			v, err := next.Mutate(ctx, m)
			if err != nil {
				return v, err
			}
			return v, recomputeAggregates(sys, client, ids)
		})
	}, ent.OpCreate|ent.OpUpdate|ent.OpUpdateOne|ent.OpDelete|ent.OpDeleteOne)
}

// changesAggregates reports whether a mutation can change an aggregate: deletes always,
// updates only when they touch price, currency or stock (not SKU, options or thresholds).
func changesAggregates(m *gen.ProductVariantMutation) bool {
	if m.Op().Is(ent.OpDelete | ent.OpDeleteOne) {
		return true
	}
	_, price := m.Price()
	_, addPrice := m.AddedPrice()
	_, currency := m.Currency()
	_, stock := m.Stock()
	_, addStock := m.AddedStock()
	return price || addPrice || currency || stock || addStock
}

// affectedProducts returns the products of the variants an update or delete will touch.
func affectedProducts(ctx context.Context, m *gen.ProductVariantMutation) ([]int, error) {
	vids, err := m.IDs(ctx)
	if err != nil || len(vids) == 0 {
		return nil, err
	}
	ids, err := m.Client().ProductVariant.Query().
		Where(productvariant.IDIn(vids...)).
		Unique(true).
		Select(productvariant.FieldProductID).
		Ints(ctx)
	slices.Sort(ids)
	return slices.Compact(ids), err
}

// Creates are handled apart because of bulk inserts. Ent runs the hooks of a CreateBulk
// nested — builder i+1's inside builder i's, all with the caller's context — and inserts
// every row in one statement at the innermost level. So a create whose enclosing create
// (same context, same product) is still in flight leaves the product to it: the enclosing
// hook recomputes after the insert, and a bulk costs one lock and one recompute per product
// rather than per variant. Only creates in a transaction defer: there, an in-flight create
// of the same product under the same context is the enclosing one (another transaction
// would be waiting for the product lock, or for SQLite's write lock), or at worst shares
// the transaction and so sees the same rows.

// createFrame is one ProductVariant create whose hook is in flight.
type createFrame struct{ product int }

// inflightCreates holds, per context, the stack of creates in flight.
var inflightCreates = struct {
	sync.Mutex
	stacks map[context.Context][]*createFrame
}{stacks: map[context.Context][]*createFrame{}}

// pushCreate puts f on ctx's stack and returns the frame it went on top of, if any.
func pushCreate(ctx context.Context, f *createFrame) *createFrame {
	inflightCreates.Lock()
	defer inflightCreates.Unlock()
	stack := inflightCreates.stacks[ctx]
	inflightCreates.stacks[ctx] = append(stack, f)
	if len(stack) == 0 {
		return nil
	}
	return stack[len(stack)-1]
}

// popCreate takes f off ctx's stack and reports whether parent is still in flight, and
// so still to recompute its product after this.
func popCreate(ctx context.Context, f, parent *createFrame) bool {
	inflightCreates.Lock()
	defer inflightCreates.Unlock()
	stack := slices.DeleteFunc(inflightCreates.stacks[ctx], func(e *createFrame) bool { return e == f })
	if len(stack) == 0 {
		delete(inflightCreates.stacks, ctx)
	} else {
		inflightCreates.stacks[ctx] = stack
	}
	return parent != nil && slices.Contains(stack, parent)
}

// aggregateCreate is the hook for a create: see above.
func aggregateCreate(ctx context.Context, m *gen.ProductVariantMutation, next ent.Mutator) (ent.Value, error) {
	pid, ok := m.ProductID()
	if !ok {
		return next.Mutate(ctx, m) // the builder's own check reports the missing product
	}
	sys := privacy.DecisionContext(ctx, privacy.Allow)
	client := m.Client()
	if _, err := m.Tx(); err != nil || !reflect.TypeOf(ctx).Comparable() {
		// Nothing to defer to: lock, create, recompute.
		if err := LockProducts(ctx, client, pid); err != nil {
			return nil, err
		}
		v, err := next.Mutate(ctx, m)
		if err != nil {
			return v, err
		}
		return v, recomputeAggregates(sys, client, []int{pid})
	}
	f := &createFrame{product: pid}
	parent := pushCreate(ctx, f)
	deferred := parent != nil && parent.product == pid
	parentPending := false
	popped := false
	pop := func() {
		if !popped {
			popped, parentPending = true, popCreate(ctx, f, parent)
		}
	}
	defer pop() // also when next panics, so no context keeps a stack
	if !deferred {
		if err := LockProducts(ctx, client, pid); err != nil {
			return nil, err
		}
	}
	v, err := next.Mutate(ctx, m)
	pop()
	if err != nil || (deferred && parentPending) {
		return v, err
	}
	if deferred {
		// The frame below finished first, so it did not enclose this create after all:
		// lock and recompute as a lone create would.
		if err := LockProducts(ctx, client, pid); err != nil {
			return v, err
		}
	}
	return v, recomputeAggregates(sys, client, []int{pid})
}

// keepUpdatedAt leaves a product's updated_at as it was: aggregates are derived data, not
// an edit of the product, and a stock movement should not make a product "recently
// updated" (nor undo the times the seeder gives its products).
func keepUpdatedAt(u *sql.UpdateBuilder) {
	u.Set(product.FieldUpdatedAt, sql.ExprFunc(func(b *sql.Builder) { b.Ident(product.FieldUpdatedAt) }))
}

// aggregate is one product's aggregates as computed from its variant rows.
type aggregate struct {
	ProductID    int    `sql:"product_id"`
	MinPrice     int64  `sql:"min_price"`
	MaxPrice     int64  `sql:"max_price"`
	Currency     string `sql:"currency"`
	TotalStock   int64  `sql:"total_stock"`
	VariantCount int    `sql:"variant_count"`
}

// recomputeAggregates reads the aggregates of products ids from their variants (a locking
// read on MySQL, so it sees rows committed after the transaction's snapshot) and writes
// them to the products, one UPDATE per product.
func recomputeAggregates(ctx context.Context, client *gen.Client, ids []int) error {
	var rows []aggregate
	err := client.ProductVariant.Query().
		Where(productvariant.ProductIDIn(ids...), LockRows).
		Modify(func(s *sql.Selector) {
			s.Select(
				s.C(productvariant.FieldProductID),
				sql.As(sql.Min(s.C(productvariant.FieldPrice)), "min_price"),
				sql.As(sql.Max(s.C(productvariant.FieldPrice)), "max_price"),
				sql.As(sql.Min(s.C(productvariant.FieldCurrency)), "currency"),
				sql.As(sql.Sum(s.C(productvariant.FieldStock)), "total_stock"),
				sql.As(sql.Count("*"), "variant_count"),
			).GroupBy(s.C(productvariant.FieldProductID))
		}).
		Scan(ctx, &rows)
	if err != nil {
		return err
	}
	byProduct := make(map[int]aggregate, len(rows))
	for _, r := range rows {
		byProduct[r.ProductID] = r
	}
	for _, id := range ids {
		a := byProduct[id] // zero when the product has no variants left
		up := client.Product.Update().Where(product.ID(id)).
			SetMinPrice(a.MinPrice).
			SetMaxPrice(a.MaxPrice).
			SetTotalStock(int(a.TotalStock)).
			SetVariantCount(a.VariantCount).
			Modify(keepUpdatedAt)
		if a.VariantCount > 0 {
			up.SetCurrency(a.Currency)
		}
		if err := up.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}
