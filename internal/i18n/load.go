package i18n

import (
	"context"
	"fmt"
	"strings"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/ent/translation"
	"github.com/xiadan/xiadan/internal/loader"
)

// Kind names a translatable kind of record.
type Kind = translation.EntityType

// The translatable kinds.
const (
	Product      = translation.EntityTypePRODUCT
	Category     = translation.EntityTypeCATEGORY
	Merchant     = translation.EntityTypeMERCHANT
	HelpCategory = translation.EntityTypeHELP_CATEGORY
	HelpArticle  = translation.EntityTypeHELP_ARTICLE
)

// loaderKey names one request's loader of kind's translations in the locales of chain
// ("" for every locale, as the editors' translations field reads them).
type loaderKey struct {
	kind  Kind
	chain string
}

// rowsLoader returns the request's loader of kind's translations in locales (nil: all):
// one statement per batch of records, however many fields and records ask.
func rowsLoader(ctx context.Context, kind Kind, locales []string) *dataloader.Loader[int, []*ent.Translation] {
	key := loaderKey{kind: kind, chain: strings.Join(locales, ",")}
	return loader.Ext(ctx, key, func(client *ent.Client, o loader.Options) *dataloader.Loader[int, []*ent.Translation] {
		batch := func(ctx context.Context, ids []int) []*dataloader.Result[[]*ent.Translation] {
			out := make([]*dataloader.Result[[]*ent.Translation], len(ids))
			db := ent.FromContext(ctx)
			if db == nil {
				db = client
			}
			var rows []*ent.Translation
			var err error
			if db == nil {
				err = fmt.Errorf("i18n: no database client in the request")
			} else {
				rows, err = query(ctx, db, kind, ids, locales)
			}
			byID := map[int][]*ent.Translation{}
			for _, r := range rows {
				byID[r.EntityID] = append(byID[r.EntityID], r)
			}
			for i, id := range ids {
				out[i] = &dataloader.Result[[]*ent.Translation]{Data: byID[id], Error: err}
			}
			return out
		}
		var opts []dataloader.Option[int, []*ent.Translation]
		if o.Wait > 0 {
			opts = append(opts, dataloader.WithWait[int, []*ent.Translation](o.Wait))
		}
		if !o.Cached {
			opts = append(opts, dataloader.WithCache[int, []*ent.Translation](&dataloader.NoCache[int, []*ent.Translation]{}))
		}
		return dataloader.NewBatchedLoader(batch, opts...)
	})
}

// query reads kind's translations of ids in locales (nil: all), in one statement.
func query(ctx context.Context, db *ent.Client, kind Kind, ids []int, locales []string) ([]*ent.Translation, error) {
	q := db.Translation.Query().Where(translation.EntityTypeEQ(kind), translation.EntityIDIn(ids...))
	if locales != nil {
		q.Where(translation.LocaleIn(locales...))
	}
	return q.Order(ent.Asc(translation.FieldEntityID), ent.Asc(translation.FieldLocale), ent.Asc(translation.FieldField)).All(ctx)
}

// rowsOf returns record id's translations in the request's fallback chain (nil when the
// request is served in the default locale: no statement at all).
func rowsOf(ctx context.Context, kind Kind, id int) ([]string, []*ent.Translation, error) {
	chain := fromContext(ctx).chain()
	if chain == nil {
		return nil, nil, nil
	}
	// The default locale's text is the record's own; only the others are rows.
	r := fromContext(ctx)
	others := make([]string, 0, len(chain))
	for _, c := range chain {
		if c != r.locales.Default() {
			others = append(others, c)
		}
	}
	rows, err := rowsLoader(ctx, kind, others).Load(ctx, id)()
	return chain, rows, err
}

// Text returns field of record id of kind in the request's locale: its translation in the
// first locale of the fallback chain that has one, else base (the record's own text, in
// the default locale). Records of one kind asked for in one request are read together.
func Text(ctx context.Context, kind Kind, id int, field, base string) (string, error) {
	return TextOf(ctx, kind, id, field, base, nil)
}

// Own is the text a record holds in its own columns by locale, besides the default's:
// older per-language columns such as Category.name_en, or a help article's own locale.
type Own map[string]string

// TextOf is Text for a record whose own columns hold text in other locales too (own;
// empty texts do not count): at each step of the fallback chain a translation comes
// first, then the record's own text in that locale; at the default locale's step, and
// at the end, base.
func TextOf(ctx context.Context, kind Kind, id int, field, base string, own Own) (string, error) {
	chain, rows, err := rowsOf(ctx, kind, id)
	if err != nil {
		return "", err
	}
	def := ""
	if r := fromContext(ctx); r != nil {
		def = r.locales.Default()
	}
	for _, loc := range chain {
		for _, r := range rows {
			if r.Locale == loc && r.Field == field {
				return r.Value, nil
			}
		}
		if s := own[loc]; s != "" {
			return s, nil
		}
		if loc == def && own == nil {
			return base, nil
		}
	}
	return base, nil
}

// Attributes returns a product's attributes in the request's locale: each name and value
// from its translation (fields attributes.<i>.name and attributes.<i>.value, by position),
// else as stored.
func Attributes(ctx context.Context, id int, attrs []schematype.Attribute) ([]*schematype.Attribute, error) {
	out := make([]*schematype.Attribute, len(attrs))
	chain, rows, err := rowsOf(ctx, Product, id)
	if err != nil {
		return nil, err
	}
	pick := func(field, base string) string {
		for _, loc := range chain {
			for _, r := range rows {
				if r.Locale == loc && r.Field == field {
					return r.Value
				}
			}
		}
		return base
	}
	for i, a := range attrs {
		out[i] = &schematype.Attribute{
			Name:  pick(AttributeName(i), a.Name),
			Value: pick(AttributeValue(i), a.Value),
		}
	}
	return out, nil
}

// AttributeName and AttributeValue are the translation fields of a product's i-th
// attribute.
func AttributeName(i int) string  { return fmt.Sprintf("attributes.%d.name", i) }
func AttributeValue(i int) string { return fmt.Sprintf("attributes.%d.value", i) }

// Translations returns record id's translations for its editors, every locale or one,
// read together with those of the other records of kind in the request.
func Translations(ctx context.Context, kind Kind, id int, locale *string) ([]*ent.Translation, error) {
	want := ""
	if locale != nil {
		r := fromContext(ctx)
		if r == nil {
			return nil, fmt.Errorf("i18n: no locales in the request")
		}
		code, err := r.locales.Served("locale", *locale)
		if err != nil {
			return nil, err
		}
		want = code
	}
	rows, err := rowsLoader(ctx, kind, nil).Load(ctx, id)()
	if err != nil || want == "" {
		return rows, err
	}
	var out []*ent.Translation
	for _, r := range rows {
		if r.Locale == want {
			out = append(out, r)
		}
	}
	return out, nil
}

// Texts are a record's translations by locale and field.
type Texts map[string]map[string]string

// TextsOf returns the translations of records ids of kind, by record, in locales (none:
// every locale), in one statement: what a search indexer indexes besides the records' own
// (default-locale) text.
func TextsOf(ctx context.Context, db *ent.Client, kind Kind, ids []int, locales ...string) (map[int]Texts, error) {
	out := make(map[int]Texts, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var ls []string
	if len(locales) > 0 {
		ls = locales
	}
	rows, err := query(ctx, db, kind, ids, ls)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		t := out[r.EntityID]
		if t == nil {
			t = Texts{}
			out[r.EntityID] = t
		}
		if t[r.Locale] == nil {
			t[r.Locale] = map[string]string{}
		}
		t[r.Locale][r.Field] = r.Value
	}
	return out, nil
}
