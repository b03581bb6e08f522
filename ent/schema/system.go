package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// RefreshToken is the stored hash of one opaque refresh token. Tokens of one sign-in form a
// family; presenting a used token revokes the whole family.
type RefreshToken struct{ ent.Schema }

// Fields of the RefreshToken.
func (RefreshToken) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable(),
		field.String("token_hash").MaxRuneLen(64).NotEmpty().Unique().Immutable().Sensitive(),
		field.String("family_id").MaxRuneLen(40).NotEmpty().Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		field.Time("expires_at").SchemaType(datetime6).Immutable(),
		field.Time("used_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("revoked_at").SchemaType(datetime6).Optional().Nillable(),
		field.String("client_ip").MaxRuneLen(64).Default(""),
		field.String("user_agent").MaxRuneLen(256).Default(""),
	}
}

// Edges of the RefreshToken.
func (RefreshToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("refresh_tokens").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the RefreshToken.
func (RefreshToken) Indexes() []ent.Index {
	return []ent.Index{
		// Every authenticated request asks whether its session (family) still has an
		// unrevoked token; revoked_at in the index answers that without reading rows.
		index.Fields("family_id", "revoked_at"),
		index.Fields("user_id", "expires_at"),
	}
}

// Annotations of the RefreshToken.
func (RefreshToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// EmailVerification is one code and link sent to prove that a user reads mail at an
// address. Only hashes are stored. It verifies the address it was sent to — no other, even
// after the user changes theirs — until it expires, is used, is replaced by a newer one,
// or has been guessed wrong too often.
type EmailVerification struct{ ent.Schema }

// Fields of the EmailVerification.
func (EmailVerification) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable(),
		field.String("email").MaxRuneLen(254).NotEmpty().Immutable(),
		field.String("code_hash").MaxRuneLen(64).NotEmpty().Immutable().Sensitive(),
		field.String("token_hash").MaxRuneLen(64).NotEmpty().Unique().Immutable().Sensitive(),
		// Wrong codes tried; each is counted by a conditional write before the comparison.
		field.Int("attempts").NonNegative().Default(0),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		// Moved to the present when a newer code replaces this one.
		field.Time("expires_at").SchemaType(datetime6),
		field.Time("used_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Edges of the EmailVerification.
func (EmailVerification) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("email_verifications").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the EmailVerification.
func (EmailVerification) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "created_at"),
	}
}

// Annotations of the EmailVerification.
func (EmailVerification) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// AuditLog records one privileged action: who did what to which record, when and why.
type AuditLog struct{ ent.Schema }

// Fields of the AuditLog.
func (AuditLog) Fields() []ent.Field {
	return []ent.Field{
		field.Int("actor_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.String("action").MaxRuneLen(64).NotEmpty().Immutable(),
		field.String("target_type").MaxRuneLen(32).NotEmpty().Immutable(),
		field.Int("target_id").Immutable(),
		field.String("reason").MaxRuneLen(500).Default("").Immutable(),
		field.JSON("details", map[string]any{}).Optional().Immutable().Annotations(entgql.Type("Map")),
		field.String("request_id").MaxRuneLen(64).Default("").Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC).Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of the AuditLog.
func (AuditLog) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("actor", User.Type).Field("actor_id").Unique().Immutable().Annotations(entgql.Skip()),
	}
}

// Indexes of the AuditLog.
func (AuditLog) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("target_type", "target_id", "created_at"),
		index.Fields("created_at"),
		index.Fields("actor_id", "created_at"),
	}
}

// Annotations of the AuditLog.
func (AuditLog) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
