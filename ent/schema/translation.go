package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/rule"
)

// Translation is one field of one translatable record in one locale (product title,
// category name, merchant description, help article body, …). The record's own columns
// hold the default locale (zh-CN); internal/i18n reads these rows for other locales, with
// fallback, and writes them for the record's editors. One generic table rather than one
// per entity: one loader, one pair of mutations and one index serve every kind, and adding
// a translatable field needs no migration. Rows name their record by kind and id without a
// foreign key; internal/i18n removes them with the record.
type Translation struct{ ent.Schema }

// Fields of the Translation.
func (Translation) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("entity_type").
			Values("PRODUCT", "CATEGORY", "MERCHANT", "HELP_CATEGORY", "HELP_ARTICLE").
			Immutable().Annotations(entgql.Skip()),
		field.Int("entity_id").Immutable().Annotations(entgql.Skip()),
		// A canonical BCP 47 tag of a configured locale (internal/i18n), such as en or zh-TW.
		field.String("locale").MaxLen(35).NotEmpty().Immutable(),
		// The field translated: title, description, name, body, or attributes.<i>.name /
		// attributes.<i>.value for a product attribute.
		field.String("field").MaxLen(64).NotEmpty().Immutable(),
		// Capped per field by internal/i18n (a length validator would make it a VARCHAR).
		field.Text("value"),
		field.Time("updated_at").SchemaType(datetime6).Default(nowUTC).UpdateDefault(nowUTC),
	}
}

// Indexes of the Translation: a record's translations in the locales of a fallback chain
// are one range scan of the unique key.
func (Translation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("entity_type", "entity_id", "locale", "field").Unique(),
	}
}

// Annotations of the Translation: shown through the translatable records
// (schema/i18n.graphqls), not as a node of its own.
func (Translation) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the Translation: everyone reads (translations are as public as the records
// they belong to, which privacy already filters); writes come through internal/i18n, which
// checks that the caller edits that record (its merchant's members, or admins).
func (Translation) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysAllowRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.AllowIfMerchantStaff(), privacy.AlwaysDenyRule()},
	}
}
