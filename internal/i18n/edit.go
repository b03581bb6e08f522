package i18n

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/translation"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/usertext"
	"github.com/xiadan/xiadan/internal/viewer"
)

// MaxPerCall caps the fields one setTranslations call writes.
const MaxPerCall = 120

// Service writes translations for the records' editors: a merchant's members for its
// products, its owner for its profile, admins for everything (categories and the help
// centre included).
type Service struct {
	Locales *Locales
	// OnChange, when set, is called in the writing transaction after translations of a
	// record change (the hook point for the catalog outbox and caches).
	OnChange func(ctx context.Context, db *ent.Client, c Change) error
}

// Change says which record's translations changed, in which locale.
type Change struct {
	Kind   Kind
	ID     int
	Locale string
}

// Input is one field's translation.
type Input struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// fieldSpec is how long a translatable field may be and whether it may span lines.
type fieldSpec struct {
	max       int
	multiline bool
}

// fields are the translatable fields of each kind, capped as the records' own columns are.
var fields = map[Kind]map[string]fieldSpec{
	Product:      {"title": {200, false}, "description": {20000, true}},
	Category:     {"name": {64, false}},
	Merchant:     {"name": {100, false}, "description": {5000, true}},
	HelpCategory: {"name": {64, false}},
	HelpArticle:  {"title": {200, false}, "body": {50000, true}},
}

// Product attribute fields: attributes.<i>.name (64 characters) and .value (200).
var attributeField = regexp.MustCompile(`^attributes\.(\d{1,2})\.(name|value)$`)

// target is the translatable record id names, checked for the caller's right to edit it.
type target struct {
	kind       Kind
	id         int
	attributes int    // a product's attribute count
	ownLocale  string // the locale of the record's own text
}

// resolve loads record id as the caller may see it (a hidden one is NOT_FOUND) and checks
// that the caller edits it (FORBIDDEN otherwise: the record is visible, so the refusal
// tells nothing new). A product's row is locked until the transaction ends (MySQL): its
// keyword index is rewritten from all its translations after a change, so writers of one
// product's translations queue, and each rewrites the index from what the previous
// committed (hooks.ReindexProducts reads with locking reads), never from a snapshot that
// misses it.
func (s *Service) resolve(ctx context.Context, db *ent.Client, id int) (target, error) {
	n, err := db.Noder(ctx, id)
	if err != nil {
		if ent.IsNotFound(err) || strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "cannot resolve table") {
			return target{}, apperror.NotFoundf("no translatable record %d", id)
		}
		return target{}, err
	}
	v := viewer.FromContext(ctx)
	t := target{id: id, ownLocale: s.Locales.Default()}
	allowed := v.IsAdmin()
	switch r := n.(type) {
	case *ent.Product:
		// Noder reads only the fields the GraphQL selection collects: read the product whole.
		if r, err = db.Product.Query().Where(product.ID(r.ID), hooks.LockRows).Only(ctx); err != nil {
			if ent.IsNotFound(err) { // deleted since
				return target{}, apperror.NotFoundf("no translatable record %d", id)
			}
			return target{}, err
		}
		t.kind, t.attributes = Product, len(r.Attributes)
		allowed = allowed || v.IsMerchantMember(r.MerchantID)
	case *ent.Merchant:
		t.kind = Merchant
		allowed = allowed || v.IsMerchantOwner(r.ID)
	case *ent.Category:
		t.kind = Category
	case *ent.HelpCategory:
		t.kind = HelpCategory
	case *ent.HelpArticle:
		if r, err = db.HelpArticle.Get(ctx, r.ID); err != nil {
			return target{}, err
		}
		t.kind = HelpArticle
		t.ownLocale = HelpLocale(string(r.Locale))
	default:
		return target{}, apperror.BadInput("id", "a %T has no translations", n)
	}
	if !allowed {
		return target{}, apperror.New(apperror.Forbidden, "only this record's editors may translate it")
	}
	return t, nil
}

// HelpLocale maps a help article's locale (zh_CN, en) to its BCP 47 code.
func HelpLocale(l string) string { return strings.ReplaceAll(l, "_", "-") }

// check validates one input of t.
func (t target) check(i int, in Input) (Input, error) {
	path := func(f string) string { return fmt.Sprintf("translations[%d].%s", i, f) }
	spec, ok := fields[t.kind][in.Field]
	if m := attributeField.FindStringSubmatch(in.Field); m != nil && t.kind == Product {
		n, _ := strconv.Atoi(m[1])
		if n >= t.attributes {
			return in, apperror.BadInput(path("field"), "the product has %d attributes", t.attributes)
		}
		spec, ok = fieldSpec{64, false}, true
		if m[2] == "value" {
			spec.max = 200
		}
	}
	if !ok {
		return in, apperror.BadInput(path("field"), "%q is not a translatable field of a %s", in.Field, strings.ToLower(string(t.kind)))
	}
	var err error
	if spec.multiline {
		in.Value, err = usertext.Text(path("value"), in.Value, 1, spec.max)
	} else {
		in.Value, err = usertext.Line(path("value"), in.Value, 1, spec.max)
	}
	return in, err
}

// Set writes translations of record id in locale (a served locale other than the one
// of the record's own text), replacing those of the same fields, and returns the record's
// translations in locale. Every invalid input is reported at once.
func (s *Service) Set(ctx context.Context, db *ent.Client, id int, locale string, in []*Input) ([]*ent.Translation, error) {
	code, err := s.Locales.Served("locale", locale)
	if err != nil {
		return nil, err
	}
	if len(in) == 0 || len(in) > MaxPerCall {
		return nil, apperror.BadInput("translations", "give 1 to %d translations", MaxPerCall)
	}
	t, err := s.resolve(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if code == t.ownLocale {
		return nil, apperror.BadInput("locale", "the record's own text is in %s: edit the record itself", code)
	}
	var errs []error
	seen := map[string]bool{}
	builders := make([]*ent.TranslationCreate, 0, len(in))
	for i, x := range in {
		x, err := t.check(i, *x)
		if err == nil && seen[x.Field] {
			err = apperror.BadInput(fmt.Sprintf("translations[%d].field", i), "%s is given twice", x.Field)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		seen[x.Field] = true
		builders = append(builders, db.Translation.Create().SetEntityType(t.kind).SetEntityID(id).
			SetLocale(code).SetField(x.Field).SetValue(x.Value))
	}
	if err := apperror.Join(errs...); err != nil {
		return nil, err
	}
	err = db.Translation.CreateBulk(builders...).
		OnConflictColumns(translation.FieldEntityType, translation.FieldEntityID, translation.FieldLocale, translation.FieldField).
		Update(func(u *ent.TranslationUpsert) { u.UpdateValue().UpdateUpdatedAt() }).
		Exec(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.changed(ctx, db, Change{Kind: t.kind, ID: id, Locale: code}); err != nil {
		return nil, err
	}
	return query(ctx, db, t.kind, []int{id}, []string{code})
}

// Delete removes translations of record id in locale: the fields named, or all of them
// when fields is nil. It returns how many were removed.
func (s *Service) Delete(ctx context.Context, db *ent.Client, id int, locale string, fieldNames []string) (int, error) {
	code, err := s.Locales.Served("locale", locale)
	if err != nil {
		return 0, err
	}
	t, err := s.resolve(ctx, db, id)
	if err != nil {
		return 0, err
	}
	q := db.Translation.Delete().Where(translation.EntityTypeEQ(t.kind), translation.EntityIDEQ(id), translation.LocaleEQ(code))
	if fieldNames != nil {
		if len(fieldNames) > MaxPerCall {
			return 0, apperror.BadInput("fields", "at most %d fields", MaxPerCall)
		}
		var errs []error
		for i, f := range fieldNames {
			// Any attribute index: the product may have fewer attributes than when it was translated.
			if _, ok := fields[t.kind][f]; !ok && (t.kind != Product || !attributeField.MatchString(f)) {
				errs = append(errs, apperror.BadInput(fmt.Sprintf("fields[%d]", i), "is not a translatable field of a %s",
					strings.ToLower(string(t.kind))))
			}
		}
		if err := apperror.Join(errs...); err != nil {
			return 0, err
		}
		q.Where(translation.FieldIn(fieldNames...))
	}
	n, err := q.Exec(ctx)
	if err != nil || n == 0 {
		return n, err
	}
	return n, s.changed(ctx, db, Change{Kind: t.kind, ID: id, Locale: code})
}

func (s *Service) changed(ctx context.Context, db *ent.Client, c Change) error {
	if s.OnChange == nil {
		return nil
	}
	return s.OnChange(ctx, db, c)
}
