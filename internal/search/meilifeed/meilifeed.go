// Package meilifeed is the catalog the Meilisearch syncer (internal/search/meili) reads:
// the catalog change outbox (internal/catalogfeed) as its change feed, and the product
// tables as documents, built as the public storefront sees each product now, in each
// index's locale with its translations (internal/i18n).
package meilifeed

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/catalogchange"
	"github.com/xiadan/xiadan/ent/category"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/searchsynonym"
	"github.com/xiadan/xiadan/internal/catalogfeed"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/i18n"
	"github.com/xiadan/xiadan/internal/search/meili"
)

// Catalog implements meili.Catalog on the database.
//
// Change ids: the outbox's ids come from Ent's global id range of its table (70<<32 or
// so), and the syncer expects consecutive ids after its cursor, starting at 1 above an
// empty feed's head of 0. The ids given to the syncer are therefore the row ids relative
// to the table's first id: id - first + 1. The first id depends on the dialect: MySQL's
// AUTO_INCREMENT starts at the range's start, SQLite's sqlite_sequence holds the start so
// that its first id is start+1. A cursor saved on the search server keeps working because
// the range of a table never moves.
type Catalog struct {
	DB *ent.Client
	// Dialect is the database's (dialect.MySQL or dialect.SQLite; empty: MySQL's ids).
	Dialect string
	// Locales gives the fallback chain of each index's locale (nil: the locale, then
	// DefaultLocale).
	Locales *i18n.Locales
	// DefaultLocale is the locale of the records' own text (Locales.Default() when
	// Locales is set).
	DefaultLocale string
	// OnSynonyms runs when a batch of changes holds a change of the synonym groups, before
	// the batch is applied: the application pushes the groups to the search server again
	// (a failure fails the step, which is repeated).
	OnSynonyms func(ctx context.Context) error
	// Now is the clock of visibility (suspensions, restrictions); nil: time.Now.
	Now func() time.Time

	off atomic.Int64 // first-1 once known (0: not yet; first is never 1)
}

var _ meili.Catalog = (*Catalog)(nil)

func (c *Catalog) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Catalog) defaultLocale() string {
	if c.Locales != nil {
		return c.Locales.Default()
	}
	return c.DefaultLocale
}

// system reads everything: the syncer decides visibility itself, as the public sees it.
func system(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

// rangeOf returns the start of the global id range that id is in.
func rangeOf(id int) int { return id >> 32 << 32 }

// offset returns what to add to a relative id to get the row id (the table's first id
// minus 1), read from any row of the outbox; ok is false while the outbox is empty.
func (c *Catalog) offset(ctx context.Context) (int, bool, error) {
	if off := c.off.Load(); off != 0 {
		return int(off), true, nil
	}
	ids, err := c.DB.CatalogChange.Query().Order(ent.Asc(catalogchange.FieldID)).Limit(1).IDs(system(ctx))
	if err != nil || len(ids) == 0 {
		return 0, false, err
	}
	first := rangeOf(ids[0])
	if c.Dialect == dialect.SQLite {
		first++
	}
	c.off.Store(int64(first - 1))
	return first - 1, true, nil
}

// Entities of the outbox as the syncer names them; other kinds keep their outbox name.
var entities = map[string]string{
	catalogfeed.Product:  meili.EntityProduct,
	catalogfeed.Variant:  meili.EntityVariant,
	catalogfeed.Merchant: meili.EntityMerchant,
	catalogfeed.Category: meili.EntityCategory,
}

// Changes returns up to limit changes after the relative id after. It is ErrFeedExpired
// when the oldest change kept is newer than after+1: the outbox was pruned past the
// cursor (or the changes right after it were rolled back while the older ones were
// pruned, which costs a needless rebuild).
func (c *Catalog) Changes(ctx context.Context, after int64, limit int) ([]meili.Change, error) {
	ctx = system(ctx)
	off, ok, err := c.offset(ctx)
	if err != nil || !ok {
		return nil, err
	}
	oldest, err := c.DB.CatalogChange.Query().Order(ent.Asc(catalogchange.FieldID)).Limit(1).IDs(ctx)
	if err != nil {
		return nil, err
	}
	if len(oldest) > 0 && int64(oldest[0]-off) > after+1 {
		return nil, fmt.Errorf("outbox starts at %d, cursor at %d: %w", oldest[0]-off, after, meili.ErrFeedExpired)
	}
	rows, err := c.DB.CatalogChange.Query().Where(catalogchange.IDGT(int(after) + off)).
		Order(ent.Asc(catalogchange.FieldID)).Limit(limit).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]meili.Change, len(rows))
	for i, r := range rows {
		e, ok := entities[r.Entity]
		if !ok {
			e = r.Entity
		}
		out[i] = meili.Change{ID: int64(r.ID - off), Entity: e, EntityID: r.EntityID}
	}
	return out, nil
}

// Head returns the relative id of the newest change (0 when there is none).
func (c *Catalog) Head(ctx context.Context) (int64, error) {
	ctx = system(ctx)
	off, ok, err := c.offset(ctx)
	if err != nil || !ok {
		return 0, err
	}
	ids, err := c.DB.CatalogChange.Query().Order(ent.Desc(catalogchange.FieldID)).Limit(1).IDs(ctx)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return int64(ids[0] - off), nil
}

// Products maps changes to the products they may have changed: a product itself, a
// variant's product (a deleted variant's product is not known any more: it is
// refreshed by its next change or a rebuild), every product of a merchant, every
// product of a category's subtree. A synonym change calls OnSynonyms. Other kinds
// (promotions, reviews, exchange rates, help-centre texts) change no document.
func (c *Catalog) Products(ctx context.Context, changes []meili.Change) ([]int, error) {
	ctx = system(ctx)
	var products, variants, merchants, categories []int
	synonyms := false
	for _, ch := range changes {
		switch ch.Entity {
		case meili.EntityProduct:
			products = append(products, ch.EntityID)
		case meili.EntityVariant:
			variants = append(variants, ch.EntityID)
		case meili.EntityMerchant:
			merchants = append(merchants, ch.EntityID)
		case meili.EntityCategory:
			categories = append(categories, ch.EntityID)
		case catalogfeed.Synonym:
			synonyms = true
		}
	}
	if synonyms && c.OnSynonyms != nil {
		if err := c.OnSynonyms(ctx); err != nil {
			return nil, fmt.Errorf("pushing synonyms: %w", err)
		}
	}
	for chunk := range slices.Chunk(unique(variants), 500) {
		var ids []int
		if err := c.DB.ProductVariant.Query().Where(productvariant.IDIn(chunk...)).
			Select(productvariant.FieldProductID).Scan(ctx, &ids); err != nil {
			return nil, err
		}
		products = append(products, ids...)
	}
	if ms := unique(merchants); len(ms) > 0 {
		ids, err := c.DB.Product.Query().Where(product.MerchantIDIn(ms...)).IDs(ctx)
		if err != nil {
			return nil, err
		}
		products = append(products, ids...)
	}
	if cs := unique(categories); len(cs) > 0 {
		tree, err := c.subtree(ctx, cs)
		if err != nil {
			return nil, err
		}
		ids, err := c.DB.Product.Query().Where(product.CategoryIDIn(tree...)).IDs(ctx)
		if err != nil {
			return nil, err
		}
		products = append(products, ids...)
	}
	return unique(products), nil
}

// subtree returns roots and every category below them (a cycle ends the walk).
func (c *Catalog) subtree(ctx context.Context, roots []int) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	level := roots
	for len(level) > 0 {
		var next []int
		for _, id := range level {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
				next = append(next, id)
			}
		}
		if len(next) == 0 {
			break
		}
		children, err := c.DB.Category.Query().Where(category.ParentIDIn(next...)).IDs(ctx)
		if err != nil {
			return nil, err
		}
		level = children
	}
	return out, nil
}

// ProductIDs pages every product id, visible or not.
func (c *Catalog) ProductIDs(ctx context.Context, after, limit int) ([]int, error) {
	return c.DB.Product.Query().Where(product.IDGT(after)).Order(ent.Asc(product.FieldID)).
		Limit(limit).IDs(system(ctx))
}

// Synonyms returns the admins' synonym groups in Meilisearch's form.
func (c *Catalog) Synonyms(ctx context.Context) (map[string][]string, error) {
	rows, err := c.DB.SearchSynonym.Query().Order(ent.Asc(searchsynonym.FieldID)).All(system(ctx))
	if err != nil {
		return nil, err
	}
	groups := make([][]string, len(rows))
	for i, r := range rows {
		groups[i] = r.Terms
	}
	return meili.MutualSynonyms(groups), nil
}

// chain is the order in which translations are looked for in locale; the records' own
// text ends every chain.
func (c *Catalog) chain(locale string) []string {
	if c.Locales != nil {
		if ch := c.Locales.Chain(locale); ch != nil {
			return ch
		}
	}
	if locale == c.defaultLocale() {
		return []string{locale}
	}
	return []string{locale, c.defaultLocale()}
}

// Load builds the documents of the products among ids that the public may see now
// (ACTIVE, of an ACTIVE merchant neither removed, suspended nor restricted: the
// storefront's list and search) and returns the others as hidden.
func (c *Catalog) Load(ctx context.Context, locale string, ids []int) ([]meili.Document, []int, error) {
	ctx = system(ctx)
	now := c.now()
	ps, err := c.DB.Product.Query().
		Where(product.IDIn(ids...), standing.ProductOnSale(now), standing.ProductOfListedMerchant(now)).
		WithMerchant(func(q *ent.MerchantQuery) { q.Select(merchant.FieldName) }).
		Order(ent.Asc(product.FieldID)).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	visible := make(map[int]bool, len(ps))
	var productIDs, merchantIDs, categoryIDs []int
	for _, p := range ps {
		visible[p.ID] = true
		productIDs = append(productIDs, p.ID)
		merchantIDs = append(merchantIDs, p.MerchantID)
		if p.CategoryID != nil {
			categoryIDs = append(categoryIDs, *p.CategoryID)
		}
	}
	var hidden []int
	for _, id := range unique(ids) {
		if !visible[id] {
			hidden = append(hidden, id)
		}
	}
	if len(ps) == 0 {
		return nil, hidden, nil
	}
	cats, err := c.categories(ctx, categoryIDs)
	if err != nil {
		return nil, nil, err
	}
	tr := translator{chain: c.chain(locale), def: c.defaultLocale()}
	translated := tr.chain[0] != tr.def
	var ptexts, mtexts, ctexts map[int]i18n.Texts
	if translated {
		if ptexts, err = i18n.TextsOf(ctx, c.DB, i18n.Product, productIDs, tr.chain...); err != nil {
			return nil, nil, err
		}
		if mtexts, err = i18n.TextsOf(ctx, c.DB, i18n.Merchant, unique(merchantIDs), tr.chain...); err != nil {
			return nil, nil, err
		}
		catIDs := make([]int, 0, len(cats))
		for id := range cats {
			catIDs = append(catIDs, id)
		}
		if ctexts, err = i18n.TextsOf(ctx, c.DB, i18n.Category, catIDs, tr.chain...); err != nil {
			return nil, nil, err
		}
	}
	docs := make([]meili.Document, 0, len(ps))
	for _, p := range ps {
		d := meili.Document{
			ID:          p.ID,
			Title:       tr.text(ptexts[p.ID], "title", p.Title, nil),
			Description: tr.text(ptexts[p.ID], "description", p.Description, nil),
			MerchantID:  p.MerchantID,
			MinPrice:    p.MinPrice,
			MaxPrice:    p.MaxPrice,
			Currency:    p.Currency,
			InStock:     p.TotalStock > 0,
			Sales:       int64(p.SalesCount),
			Rating:      p.RatingAverage,
			CreatedAt:   p.CreatedAt.Unix(),
			CategoryIDs: []int{},
		}
		if m := p.Edges.Merchant; m != nil {
			d.MerchantName = tr.text(mtexts[p.MerchantID], "name", m.Name, nil)
		}
		if len(p.Attributes) > 0 {
			d.Attributes = make(map[string]string, len(p.Attributes))
			for i, a := range p.Attributes {
				name := tr.text(ptexts[p.ID], i18n.AttributeName(i), a.Name, nil)
				d.Attributes[name] = tr.text(ptexts[p.ID], i18n.AttributeValue(i), a.Value, nil)
			}
		}
		// The category path, root first (a cycle or a missing parent ends it).
		var path []*ent.Category
		seen := map[int]bool{}
		for id := p.CategoryID; id != nil && !seen[*id]; {
			cat := cats[*id]
			if cat == nil {
				break
			}
			seen[*id] = true
			path = append(path, cat)
			id = cat.ParentID
		}
		slices.Reverse(path)
		for _, cat := range path {
			d.CategoryIDs = append(d.CategoryIDs, cat.ID)
			d.CategoryNames = append(d.CategoryNames,
				tr.text(ctexts[cat.ID], "name", cat.Name, map[string]string{tr.def: cat.Name, "en": cat.NameEn}))
		}
		docs = append(docs, d)
	}
	return docs, hidden, nil
}

// categories loads the categories ids and all their ancestors, by id.
func (c *Catalog) categories(ctx context.Context, ids []int) (map[int]*ent.Category, error) {
	out := map[int]*ent.Category{}
	for want := unique(ids); len(want) > 0; {
		cats, err := c.DB.Category.Query().Where(category.IDIn(want...)).All(ctx)
		if err != nil {
			return nil, err
		}
		want = want[:0]
		for _, cat := range cats {
			out[cat.ID] = cat
		}
		for _, cat := range cats {
			if cat.ParentID != nil && out[*cat.ParentID] == nil && !slices.Contains(want, *cat.ParentID) {
				want = append(want, *cat.ParentID)
			}
		}
	}
	return out, nil
}

// translator picks a field's text in a locale's fallback chain, as the storefront shows
// it (i18n.TextOf): the first translation along the chain, or the record's own text in a
// locale of the chain (own), and the record's text when the chain reaches the default.
type translator struct {
	chain []string
	def   string
}

func (t translator) text(texts i18n.Texts, field, base string, own map[string]string) string {
	for _, loc := range t.chain {
		if s := texts[loc][field]; s != "" {
			return s
		}
		if s := own[loc]; s != "" {
			return s
		}
		if loc == t.def {
			return base
		}
	}
	return base
}

func unique(ids []int) []int {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// NewSyncer returns the syncer of the application: it reads db's catalog (of dialect), keeps its
// cursor on the search server (meili.IndexCursor), pushes the admins' synonym groups at
// start and again after every change of them, and logs to logger.
func NewSyncer(sc *meili.Client, db *ent.Client, dialect string, locales *i18n.Locales, logger *slog.Logger) *meili.Syncer {
	c := &Catalog{DB: db, Dialect: dialect, Locales: locales}
	c.OnSynonyms = func(ctx context.Context) error {
		syn, err := c.Synonyms(ctx)
		if err != nil {
			return err
		}
		return sc.EnsureIndexes(ctx, syn)
	}
	return &meili.Syncer{Client: sc, Catalog: c, Cursor: meili.IndexCursor{Client: sc}, Synonyms: c.Synonyms, Log: logger}
}
