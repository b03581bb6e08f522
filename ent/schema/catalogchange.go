package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// CatalogChange is one row of the catalog change outbox: a product, variant, merchant,
// category (or a translation, exchange rate …) was created, changed or deleted. It is
// written in the same transaction as the change (internal/catalogfeed's hooks), and
// every replica reads the rows in id order to invalidate its storefront cache and to
// keep search indexes in step.
type CatalogChange struct{ ent.Schema }

// Fields of the CatalogChange.
func (CatalogChange) Fields() []ent.Field {
	return []ent.Field{
		// A string rather than an enum, so a new kind of catalog data needs no migration.
		field.String("entity").MaxLen(32).NotEmpty().Immutable().
			Comment("PRODUCT, VARIANT, MERCHANT, CATEGORY, TRANSLATION, RATE, …"),
		field.Int("entity_id").Immutable().Comment("0 when the change is not about one row."),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Indexes of the CatalogChange.
func (CatalogChange) Indexes() []ent.Index {
	return []ent.Index{index.Fields("created_at")}
}

// Annotations of the CatalogChange.
func (CatalogChange) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
