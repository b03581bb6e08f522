package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/xiadan/xiadan/ent/privacy"

	"github.com/xiadan/xiadan/internal/rule"
)

// SearchSynonym is a group of equivalent search terms kept by platform admins (T恤 =
// tshirt = t-shirt): a keyword holding one of them also finds products with any other.
// internal/search applies the groups when a keyword is analysed (docs/SEARCH.md).
type SearchSynonym struct{ ent.Schema }

// Fields of the SearchSynonym.
func (SearchSynonym) Fields() []ent.Field {
	return []ent.Field{
		field.JSON("terms", []string{}).Comment("The equivalent terms, as the admin wrote them."),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC).
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").SchemaType(datetime6).Default(nowUTC).UpdateDefault(nowUTC),
	}
}

// Edges of the SearchSynonym.
func (SearchSynonym) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("term_keys", SearchSynonymTerm.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of the SearchSynonym.
func (SearchSynonym) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of the SearchSynonym: platform admins read and change the groups; searches read
// them as the system.
func (SearchSynonym) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}

// SearchSynonymTerm is one term of a synonym group in its normalised form (internal/search
// NormalizeTerm: "T-Shirts" → "t shirt"). Its unique index is what keeps a term in one
// group only: of two admins adding the same term to two groups at the same moment, the
// database lets one insert it and refuses the other (internal/catalog maps that to
// CONFLICT). The group's own terms field keeps the terms as written.
type SearchSynonymTerm struct{ ent.Schema }

// Fields of the SearchSynonymTerm.
func (SearchSynonymTerm) Fields() []ent.Field {
	return []ent.Field{
		// At most 64 characters as written, so a few hundred bytes normalised.
		field.String("term").MaxLen(512).NotEmpty().Immutable(),
		field.Int("synonym_id").Immutable(),
	}
}

// Edges of the SearchSynonymTerm.
func (SearchSynonymTerm) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("synonym", SearchSynonym.Type).Ref("term_keys").Field("synonym_id").Unique().Required().Immutable(),
	}
}

// Indexes of the SearchSynonymTerm.
func (SearchSynonymTerm) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("term").Unique(),
		index.Fields("synonym_id"),
	}
}

// Annotations of the SearchSynonymTerm.
func (SearchSynonymTerm) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the SearchSynonymTerm: that of its group.
func (SearchSynonymTerm) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}
