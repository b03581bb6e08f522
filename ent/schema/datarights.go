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

// Data rights (issue #13 §4): a person's requests to export their data or to erase their
// account (internal/datarights). docs/DATA-RIGHTS.md explains the rules.

// DataRequest is one data-rights request of a user: an EXPORT, answered at once with its
// archive, or an ERASURE, which an admin completes (or rejects) by due_at, a month after
// it was made (GDPR art. 12(3); PIPL art. 50 asks for timely handling).
type DataRequest struct{ ent.Schema }

// Mixin of the DataRequest.
func (DataRequest) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the DataRequest.
func (DataRequest) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("kind").Values("EXPORT", "ERASURE").Immutable().
			Annotations(entgql.Type("DataRequestKind")),
		// PENDING: waiting for an admin (ERASURE); COMPLETED: the export was built or the
		// account erased; CANCELLED by its user while PENDING; REJECTED by an admin.
		field.Enum("status").Values("PENDING", "COMPLETED", "CANCELLED", "REJECTED").Default("PENDING").
			Annotations(entgql.Type("DataRequestStatus")),
		// The user's words when asking (ERASURE).
		field.String("reason").MaxRuneLen(500).Optional().Nillable().Immutable(),
		// The admin's reason for a rejection.
		field.String("note").MaxRuneLen(500).Optional().Nillable(),
		field.Time("due_at").SchemaType(datetime6).Immutable().Annotations(entgql.OrderField("DUE_AT")),
		field.Time("completed_at").SchemaType(datetime6).Optional().Nillable(),
		// The admin who completed or rejected it.
		field.Int("handled_by").Optional().Nillable().Annotations(entgql.Skip()),
		// The export's JSON document; read through DataRequest.archive, by its owner only.
		field.Text("archive").Optional().Nillable().Annotations(entgql.Skip()),
	}
}

// Indexes of the DataRequest.
func (DataRequest) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "kind", "created_at"),
		// The admins' queue: by status, oldest deadline first.
		index.Fields("status", "due_at"),
	}
}

// Annotations of the DataRequest.
func (DataRequest) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.Skip(entgql.SkipWhereInput)}
}

// Policy of the DataRequest: its user and admins read it; internal/datarights writes it,
// as the system, after its own checks.
func (DataRequest) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterDataRequestsToOwner(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
