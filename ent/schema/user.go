package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/internal/auth/hooks"
)

// User is a person who signs in: a customer, merchant staff or a platform admin.
type User struct{ ent.Schema }

// Mixin of the User.
func (User) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		// The sign-in address; null for accounts made by a mini program, a web provider or
		// a phone number until they link one (linkEmailPassword).
		field.String("email").
			MaxRuneLen(254).
			NotEmpty().
			Optional().
			Nillable().
			Unique().
			Annotations(entgql.OrderField("EMAIL")),
		field.String("phone").
			Optional().
			Nillable().
			MaxRuneLen(32),
		// "" when the account has no password (it signs in another way).
		field.String("password_hash").
			Sensitive().
			Default("").
			Annotations(entgql.Skip()),
		field.String("display_name").
			MaxRuneLen(64).
			NotEmpty(),
		field.String("locale").
			MaxRuneLen(16).
			Default("zh-CN"),
		field.Enum("status").
			Values("ACTIVE", "DISABLED", "DELETED").
			Default("ACTIVE"),
		// Platform roles granted to the user (CUSTOMER, ADMIN). Merchant roles come from
		// membership of a merchant and are not stored here.
		field.Strings("roles").
			Annotations(entgql.Skip()),
		field.Int("merchant_id").
			Optional().
			Nillable().
			Annotations(entgql.Skip()),
		field.Enum("merchant_role").
			Values("OWNER", "STAFF").
			Optional().
			Nillable(),
		// When the user proved they read mail at email (a code or link from
		// EmailVerification); cleared whenever email changes. Only a verified address may
		// take a staff seat.
		field.Time("email_verified_at").
			SchemaType(datetime6).
			Optional().
			Nillable().
			Annotations(entgql.Skip()),
		// When the last verification message was sent: the resend cool-down is a write
		// conditional on it, so the database decides between concurrent requests.
		field.Time("email_verification_sent_at").
			SchemaType(datetime6).
			Optional().
			Nillable().
			Annotations(entgql.Skip()),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("merchant", Merchant.Type).
			Ref("members").
			Field("merchant_id").
			Unique(),
		edge.To("orders", Order.Type).
			Annotations(entgql.Skip()),
		edge.To("refresh_tokens", RefreshToken.Type).
			Annotations(entgql.Skip()),
		edge.To("email_verifications", EmailVerification.Type).
			Annotations(entgql.Skip()),
		// The TOTP second factor and its recovery codes (internal/auth/totp.go).
		edge.To("totp", TotpCredential.Type).Unique().
			Annotations(entgql.Skip()),
		edge.To("totp_recovery_codes", TotpRecoveryCode.Type).
			Annotations(entgql.Skip()),
		edge.To("reviews", Review.Type).
			Annotations(entgql.Skip()),
		// The other ways into the account; only its own user sees them.
		edge.To("identities", UserIdentity.Type).
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
	}
}

// Indexes of the User.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "merchant_role"),
	}
}

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
	}
}

// Hooks of the User.
func (User) Hooks() []ent.Hook {
	return []ent.Hook{
		hooks.UserEmailVerificationHook(),
	}
}
