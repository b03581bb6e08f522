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

// MerchantCredit is a merchant's current credit (商家信用): the score, level and badges the
// recompute job (internal/credit) derived from the inputs it keeps alongside. One row per
// merchant; the public sees score, level and badges, the merchant's members and admins the
// inputs too. In GraphQL it is declared by hand (schema/credit.graphqls).
type MerchantCredit struct{ ent.Schema }

// Fields of the MerchantCredit.
func (MerchantCredit) Fields() []ent.Field {
	return []ent.Field{
		field.Int("merchant_id").Unique().Immutable(),
		field.Int("score").Range(0, 100),
		field.Int("level").Range(1, 5),
		field.JSON("badges", []string{}).Default([]string{}),
		// The inputs and component scores the score came from (credit.Breakdown).
		field.JSON("breakdown", map[string]any{}).Default(map[string]any{}),
		field.Time("computed_at").SchemaType(datetime6),
		// Bumped by every recompute: a write conditional on the version read keeps two
		// replicas from both recording the same round.
		field.Int("version").Default(0),
	}
}

// Edges of the MerchantCredit.
func (MerchantCredit) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("merchant", Merchant.Type).Field("merchant_id").Unique().Required().Immutable(),
	}
}

// Indexes of the MerchantCredit.
func (MerchantCredit) Indexes() []ent.Index {
	return []ent.Index{
		// One row per merchant: Ent makes no unique index of an edge's field by itself.
		index.Fields("merchant_id").Unique(),
		index.Fields("computed_at"),
	}
}

// Annotations of the MerchantCredit.
func (MerchantCredit) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the MerchantCredit: its public part is read through internal/credit, which
// hands out the details only to the merchant's members and admins; only the credit
// service, as the system, writes it.
func (MerchantCredit) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterCreditToMembers(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// MerchantCreditSnapshot is a merchant's credit on one day, so the merchant sees its trend.
// The recompute keeps the day's last result.
type MerchantCreditSnapshot struct{ ent.Schema }

// Fields of the MerchantCreditSnapshot.
func (MerchantCreditSnapshot) Fields() []ent.Field {
	return []ent.Field{
		field.Int("merchant_id").Immutable(),
		// The UTC day, as 2006-01-02.
		field.String("day").MaxRuneLen(10).NotEmpty().Immutable(),
		field.Int("score").Range(0, 100),
		field.Int("level").Range(1, 5),
		field.Time("computed_at").SchemaType(datetime6),
	}
}

// Edges of the MerchantCreditSnapshot.
func (MerchantCreditSnapshot) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("merchant", Merchant.Type).Field("merchant_id").Unique().Required().Immutable(),
	}
}

// Indexes of the MerchantCreditSnapshot.
func (MerchantCreditSnapshot) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "day").Unique()}
}

// Annotations of the MerchantCreditSnapshot.
func (MerchantCreditSnapshot) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the MerchantCreditSnapshot: the merchant's members and admins read its history.
func (MerchantCreditSnapshot) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterCreditSnapshotsToMembers(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// MerchantSanction is a platform penalty on a merchant (internal/credit): a WARNING (no
// effect but on its credit), a RESTRICTION (no new listings, left out of product search), a
// SUSPENSION (shop hidden, no new orders) or a REMOVAL (清退: closed for good). It applies
// from its creation until ends_at (by query: no job needs to end it) or until an admin
// lifts it; the merchant may answer it with one appeal note.
type MerchantSanction struct{ ent.Schema }

// Mixin of the MerchantSanction.
func (MerchantSanction) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the MerchantSanction.
func (MerchantSanction) Fields() []ent.Field {
	return []ent.Field{
		field.Int("merchant_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("kind").Values("WARNING", "RESTRICTION", "SUSPENSION", "REMOVAL").Immutable().
			Annotations(entgql.Type("SanctionKind")),
		field.String("reason").MaxRuneLen(500).NotEmpty().Immutable(),
		// Null for a REMOVAL, which lasts until lifted.
		field.Time("ends_at").SchemaType(datetime6).Optional().Nillable().Immutable().
			Annotations(entgql.OrderField("ENDS_AT")),
		field.Int("imposed_by_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.Time("lifted_at").SchemaType(datetime6).Optional().Nillable(),
		field.Int("lifted_by_id").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("lift_reason").MaxRuneLen(500).Optional().Nillable(),
		// The merchant's one answer to the sanction.
		field.Text("appeal_note").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Time("appealed_at").SchemaType(datetime6).Optional().Nillable(),
		field.Int("appealed_by_id").Optional().Nillable().Annotations(entgql.Skip()),
	}
}

// Edges of the MerchantSanction.
func (MerchantSanction) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("merchant", Merchant.Type).Field("merchant_id").Unique().Required().Immutable(),
	}
}

// Indexes of the MerchantSanction.
func (MerchantSanction) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "kind", "lifted_at"),
		index.Fields("appealed_at"),
	}
}

// Annotations of the MerchantSanction.
func (MerchantSanction) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of the MerchantSanction: the sanctioned merchant's members and admins see it; the
// credit service, as the system, writes it after its own checks.
func (MerchantSanction) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterSanctionsToMembers(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
