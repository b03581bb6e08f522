package hooks

import (
	"context"
	"reflect"
	"sync"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/hook"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/slug"
	"github.com/xiadan/xiadan/internal/viewer"
)

// ProductSlugHook gives a product created without a slug one made from its title
// (internal/slug): the first of "<base>", "<base>-2", "<base>-3", … that no product holds,
// hidden ones included, since slugs are unique across the platform. A slug given by the
// caller is kept as it is (internal/catalog checks it first, for a clear error). Two
// transactions that pick the same free slug at once meet on the unique index, and the
// second is refused as a CONFLICT rather than given a duplicate.
//
// The products of one bulk create run this hook nested inside each other with the same
// context (see ProductSearchIndexHook), and none is inserted before the innermost, so the
// slugs picked so far in the bulk are kept by context and not picked twice.
func ProductSlugHook() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.ProductFunc(func(ctx context.Context, m *ent.ProductMutation) (ent.Value, error) {
			picked, release := pickedSlugs(ctx)
			defer release()
			if s, ok := m.Slug(); ok {
				picked[s] = true
				return next.Mutate(ctx, m)
			}
			title, _ := m.Title()
			s, err := freeSlug(ctx, m.Client(), slug.FromTitle(title), picked)
			if err != nil {
				return nil, err
			}
			m.SetSlug(s)
			picked[s] = true
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate)
}

// slugBatch is the slugs picked by the creates of one bulk so far.
type slugBatch struct {
	depth  int
	picked map[string]bool
}

// slugBatches maps the context of a create in progress to its batch; the hooks of one
// bulk run nested on one goroutine, so only the map needs the lock.
var slugBatches = struct {
	sync.Mutex
	m map[context.Context]*slugBatch
}{m: map[context.Context]*slugBatch{}}

// pickedSlugs returns the slugs picked in ctx's bulk, and the function to call when this
// create is done.
func pickedSlugs(ctx context.Context) (map[string]bool, func()) {
	if !reflect.TypeOf(ctx).Comparable() {
		return map[string]bool{}, func() {}
	}
	slugBatches.Lock()
	defer slugBatches.Unlock()
	b := slugBatches.m[ctx]
	if b == nil {
		b = &slugBatch{picked: map[string]bool{}}
		slugBatches.m[ctx] = b
	}
	b.depth++
	return b.picked, func() {
		slugBatches.Lock()
		defer slugBatches.Unlock()
		if b.depth--; b.depth == 0 {
			delete(slugBatches.m, ctx)
		}
	}
}

// freeSlug returns base or its first suffixed alternative that no product holds and the
// current bulk has not picked.
func freeSlug(ctx context.Context, c *ent.Client, base string, picked map[string]bool) (string, error) {
	held, err := c.Product.Query().
		Where(product.Or(product.Slug(base), product.SlugHasPrefix(base+"-"))).
		Select(product.FieldSlug).Strings(viewer.SystemContext(ctx))
	if err != nil {
		return "", err
	}
	taken := make(map[string]bool, len(held))
	for _, s := range held {
		taken[s] = true
	}
	s := base
	for n := 2; taken[s] || picked[s]; n++ {
		s = slug.WithSuffix(base, n)
	}
	return s, nil
}
