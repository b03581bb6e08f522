package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// TotpCredential is a user's TOTP (RFC 6238) second factor: the shared secret, whether
// enrolment was confirmed, and the last time step a code was accepted for, which a
// conditional UPDATE advances so that a code works once. internal/auth/totp.go uses it.
type TotpCredential struct{ ent.Schema }

// Fields of the TotpCredential.
func (TotpCredential) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Unique().Immutable(),
		// The base32 secret, sealed with AES-256-GCM under TOTP_ENCRYPTION_KEY when it is
		// set ("enc1:<key id>:…", internal/secret.Keyring), as it is otherwise (see
		// docs/OPERATIONS.md, "Two-factor sign-in for admins"). Rewritten only to seal it
		// again under a new key.
		field.String("secret").MaxRuneLen(128).NotEmpty().Sensitive(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		// Set when the user confirmed enrolment with a code; until then sign-in ignores it.
		field.Time("enabled_at").SchemaType(datetime6).Optional().Nillable(),
		// The last time step (Unix time / 30 s) a code was accepted for; only later steps
		// are accepted after it.
		field.Int64("last_step").Default(0),
	}
}

// Edges of the TotpCredential.
func (TotpCredential) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("totp").Field("user_id").Unique().Required().Immutable(),
	}
}

// Annotations of the TotpCredential.
func (TotpCredential) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// TotpRecoveryCode is the hash of one single-use recovery code, given out when TOTP is
// turned on, for signing in without the authenticator.
type TotpRecoveryCode struct{ ent.Schema }

// Fields of the TotpRecoveryCode.
func (TotpRecoveryCode) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable(),
		field.String("code_hash").MaxRuneLen(64).NotEmpty().Immutable().Sensitive(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		// Set by a conditional UPDATE (used_at IS NULL) when the code is spent.
		field.Time("used_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Edges of the TotpRecoveryCode.
func (TotpRecoveryCode) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("totp_recovery_codes").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the TotpRecoveryCode.
func (TotpRecoveryCode) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "code_hash").Unique()}
}

// Annotations of the TotpRecoveryCode.
func (TotpRecoveryCode) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
