package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/rule"
)

// Reports (issue #13 §1): CSV and XLSX exports of orders, sales and settlements for a
// period, built by a job into the upload store (internal/reports, docs/REPORTS.md).

// Report is one export: asked for by a merchant's member (its merchant's data) or an admin
// (a merchant's, or the platform's when merchant_id is empty), or made by a schedule.
// QUEUED until a replica claims it (RUNNING, with a lease), then READY with its file or
// FAILED with the reason.
type Report struct{ ent.Schema }

// Mixin of the Report.
func (Report) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Report.
func (Report) Fields() []ent.Field {
	return []ent.Field{
		// Empty for a platform-wide report (admins only).
		field.Int("merchant_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		// Who asked (the schedule's owner for a scheduled report).
		field.Int("requested_by").Immutable().Annotations(entgql.Skip()),
		field.Int("schedule_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.Enum("kind").GoType(schematype.ReportKind("")).Immutable().
			Annotations(entgql.Type("ReportKind")),
		field.Enum("format").GoType(schematype.ReportFormat("")).Immutable().
			Annotations(entgql.Type("ReportFormat")),
		// The period: from the start of period_start's day to the end of period_end's day
		// (inclusive), in Asia/Shanghai; stored as the instants [start, end).
		field.Time("period_start").SchemaType(datetime6).Immutable(),
		field.Time("period_end").SchemaType(datetime6).Immutable(),
		field.Enum("status").Values("QUEUED", "RUNNING", "READY", "FAILED").Default("QUEUED").
			Annotations(entgql.Type("ReportStatus")),
		// The caller's key: the same key of the same person returns the same report.
		field.String("idempotency_key").MaxRuneLen(128).Immutable().Annotations(entgql.Skip()),
		// How many times a replica claimed it, and until when the current claim holds.
		field.Int("attempts").NonNegative().Default(0).Annotations(entgql.Skip()),
		field.Time("lease_until").SchemaType(datetime6).Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("row_count").Optional().Nillable(),
		field.Int64("file_size").Optional().Nillable(),
		field.String("storage_key").MaxRuneLen(200).Optional().Nillable().Annotations(entgql.Skip()),
		field.String("error").MaxRuneLen(500).Optional().Nillable(),
		field.Time("completed_at").SchemaType(datetime6).Optional().Nillable(),
		// When the schedule's owner was told it is READY.
		field.Time("notified_at").SchemaType(datetime6).Optional().Nillable().Annotations(entgql.Skip()),
	}
}

// Indexes of the Report.
func (Report) Indexes() []ent.Index {
	return []ent.Index{
		// Retry safety: one report per person and key.
		index.Fields("requested_by", "idempotency_key").Unique(),
		// One report per schedule and period, however many replicas run the job.
		index.Fields("schedule_id", "period_start").Unique(),
		// The job's queue.
		index.Fields("status", "lease_until"),
		index.Fields("merchant_id", "created_at"),
	}
}

// Annotations of the Report.
func (Report) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// Policy of the Report: its merchant's members and admins read it (platform reports:
// admins only); internal/reports writes it, as the system, after its own checks.
func (Report) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterReportsToMembers()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// ReportSchedule makes a report of its kind and format for every past week (Monday to
// Sunday) or month, Asia/Shanghai, and mails its owner when it is READY.
type ReportSchedule struct{ ent.Schema }

// Mixin of the ReportSchedule.
func (ReportSchedule) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the ReportSchedule.
func (ReportSchedule) Fields() []ent.Field {
	return []ent.Field{
		// Empty for a platform-wide schedule (admins only).
		field.Int("merchant_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		// Who made it: its reports are theirs and they are mailed.
		field.Int("owner_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("kind").GoType(schematype.ReportKind("")).Immutable().
			Annotations(entgql.Type("ReportKind")),
		field.Enum("format").GoType(schematype.ReportFormat("")).Immutable().
			Annotations(entgql.Type("ReportFormat")),
		field.Enum("cadence").Values("WEEKLY", "MONTHLY").Immutable().
			Annotations(entgql.Type("ReportCadence")),
		// The start of the first period it makes: the one running when it was made (its
		// report is made once it is over); the ones before it were never asked for.
		field.Time("first_period_start").SchemaType(datetime6).Immutable().Annotations(entgql.Skip()),
	}
}

// Indexes of the ReportSchedule.
func (ReportSchedule) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "created_at")}
}

// Annotations of the ReportSchedule.
func (ReportSchedule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// Policy of the ReportSchedule: as the Report.
func (ReportSchedule) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterReportsToMembers()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
