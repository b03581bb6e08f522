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

// Experiment is an A/B test (internal/experiments): users are assigned deterministically
// to one of its arms by a hash of the experiment's key and their id, over the arms'
// weights; exposures and conversions are recorded while it is RUNNING. Admins run it; the
// API reads and writes it through internal/experiments as the system.
type Experiment struct{ ent.Schema }

// Mixin of the Experiment.
func (Experiment) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Experiment.
func (Experiment) Fields() []ent.Field {
	return []ent.Field{
		// The stable name clients ask for and the hash salt: never changes.
		field.String("key").MaxRuneLen(64).NotEmpty().Unique().Immutable(),
		field.String("name").MaxRuneLen(200).NotEmpty(),
		field.Enum("status").Values("DRAFT", "RUNNING", "STOPPED").Default("DRAFT"),
		field.Time("starts_at").SchemaType(datetime6),
		field.Time("ends_at").SchemaType(datetime6).Optional().Nillable(),
		// The arm the others are compared with.
		field.String("control_arm").MaxRuneLen(32).NotEmpty(),
	}
}

// Edges of the Experiment.
func (Experiment) Edges() []ent.Edge {
	return []ent.Edge{edge.To("arms", ExperimentArm.Type)}
}

// Indexes of the Experiment.
func (Experiment) Indexes() []ent.Index {
	return []ent.Index{index.Fields("status")}
}

// Annotations of the Experiment.
func (Experiment) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Experiment: admins and the system only.
func (Experiment) Policy() ent.Policy { return adminOnlyPolicy() }

// ExperimentArm is one variant of an experiment, with its weight and an opaque payload
// (such as {"couponTemplateID": "12"}) the client or a promotion acts on.
type ExperimentArm struct{ ent.Schema }

// Fields of the ExperimentArm.
func (ExperimentArm) Fields() []ent.Field {
	return []ent.Field{
		field.Int("experiment_id").Immutable(),
		field.String("key").MaxRuneLen(32).NotEmpty().Immutable(),
		// Position orders the arms for the assignment walk (see internal/experiments.Assign).
		field.Int("position").NonNegative().Immutable(),
		field.Int("weight").Range(1, 10000).Immutable(),
		field.JSON("payload", map[string]any{}).Default(map[string]any{}).Immutable(),
	}
}

// Edges of the ExperimentArm.
func (ExperimentArm) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("experiment", Experiment.Type).Ref("arms").Field("experiment_id").Unique().Required().Immutable(),
	}
}

// Indexes of the ExperimentArm.
func (ExperimentArm) Indexes() []ent.Index {
	return []ent.Index{index.Fields("experiment_id", "key").Unique()}
}

// Annotations of the ExperimentArm.
func (ExperimentArm) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the ExperimentArm: admins and the system only.
func (ExperimentArm) Policy() ent.Policy { return adminOnlyPolicy() }

// ExperimentExposure is a user's first sight of an experiment: one row per (experiment,
// user), with the user's running sums for the result (orders and net revenue).
type ExperimentExposure struct{ ent.Schema }

// Fields of the ExperimentExposure.
func (ExperimentExposure) Fields() []ent.Field {
	return []ent.Field{
		field.Int("experiment_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.String("arm").MaxRuneLen(32).NotEmpty().Immutable(),
		field.Time("exposed_at").SchemaType(datetime6).Immutable(),
		// Orders converted (not cancelled) and their revenue net of refunds, in minor units.
		field.Int("orders").NonNegative().Default(0),
		field.Int64("revenue").Default(0),
	}
}

// Indexes of the ExperimentExposure.
func (ExperimentExposure) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("experiment_id", "user_id").Unique(),
		index.Fields("user_id"),
		index.Fields("experiment_id", "arm"),
	}
}

// Annotations of the ExperimentExposure.
func (ExperimentExposure) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the ExperimentExposure: admins and the system only.
func (ExperimentExposure) Policy() ent.Policy { return adminOnlyPolicy() }

// ExperimentConversion is one order an exposed user placed while the experiment ran:
// exactly one per (experiment, order).
type ExperimentConversion struct{ ent.Schema }

// Fields of the ExperimentConversion.
func (ExperimentConversion) Fields() []ent.Field {
	return []ent.Field{
		field.Int("experiment_id").Immutable(),
		field.Int("exposure_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.String("arm").MaxRuneLen(32).NotEmpty().Immutable(),
		field.Int("order_id").Immutable(),
		field.String("currency").MaxRuneLen(3).Immutable(),
		// The order's total after discounts; reversed is what refunds took back of it.
		field.Int64("revenue").NonNegative().Immutable(),
		field.Int64("reversed").NonNegative().Default(0),
		// Set when the order was cancelled in full: the conversion no longer counts.
		field.Time("voided_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("created_at").SchemaType(datetime6).Immutable(),
	}
}

// Indexes of the ExperimentConversion.
func (ExperimentConversion) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("experiment_id", "order_id").Unique(),
		index.Fields("order_id"),
	}
}

// Annotations of the ExperimentConversion.
func (ExperimentConversion) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the ExperimentConversion: admins and the system only.
func (ExperimentConversion) Policy() ent.Policy { return adminOnlyPolicy() }

// adminOnlyPolicy lets admins and the system read and write, and no one else.
func adminOnlyPolicy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}
