package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// UserIdentity is one way into an account other than email and password: an account at a
// platform (WeChat, QQ, Kuaishou, Alipay), known by its openid in one app of that
// platform, or a phone number proved by an SMS code (provider PHONE, the E.164 number as
// its open_id). An identity belongs to one account; an account holds at most one per
// provider and app. The merge rules are in docs/IDENTITY.md.
type UserIdentity struct{ ent.Schema }

// Fields of the UserIdentity.
func (UserIdentity) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("provider").Values("WECHAT", "QQ", "KUAISHOU", "ALIPAY", "PHONE").Immutable(),
		// The platform's app the openid belongs to (openids differ per app); "" for PHONE.
		field.String("app_id").MaxRuneLen(64).Default("").Immutable(),
		// The platform's id of the person in app_id (WeChat/QQ openid, Kuaishou open_id,
		// Alipay open_id or 2088… user_id), or the phone number in E.164.
		field.String("open_id").MaxRuneLen(128).NotEmpty().Immutable(),
		// The platform's id of the person across the apps of one platform account, when
		// the platform gives it: identities of one platform with the same union_id are
		// the same person.
		field.String("union_id").MaxRuneLen(128).Optional().Nillable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		field.Time("last_used_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Edges of the UserIdentity.
func (UserIdentity) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("identities").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Indexes of the UserIdentity.
func (UserIdentity) Indexes() []ent.Index {
	return []ent.Index{
		// One account per platform account in an app (and per phone number).
		index.Fields("provider", "app_id", "open_id").Unique(),
		// One identity per account and app: the one a mini-program payment uses.
		index.Fields("user_id", "provider", "app_id").Unique(),
		index.Fields("provider", "union_id"),
	}
}

// Annotations of the UserIdentity.
func (UserIdentity) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}

// PhoneCode is one SMS code sent to prove a phone number. Only hashes are stored. It works
// with the verification id handed to whoever asked for it (so nobody else can spend its
// tries), for its number, once, until it expires or has been guessed wrong too often.
type PhoneCode struct{ ent.Schema }

// Fields of the PhoneCode.
func (PhoneCode) Fields() []ent.Field {
	return []ent.Field{
		field.String("phone").MaxRuneLen(20).NotEmpty().Immutable(),
		// The id of the code sent to phone before this one (0 for the first): unique with
		// phone, so of two concurrent sends the database lets one through — the resend
		// cool-down cannot be raced.
		field.Int("prev_id").NonNegative().Default(0).Immutable(),
		field.String("challenge_hash").MaxRuneLen(64).NotEmpty().Unique().Immutable().Sensitive(),
		field.String("code_hash").MaxRuneLen(64).NotEmpty().Immutable().Sensitive(),
		// Wrong codes tried; each is counted by a conditional write before the comparison.
		field.Int("attempts").NonNegative().Default(0),
		field.String("client_ip").MaxRuneLen(64).Default("").Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		field.Time("expires_at").SchemaType(datetime6),
		field.Time("used_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Indexes of the PhoneCode.
func (PhoneCode) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("phone", "prev_id").Unique(),
		index.Fields("phone", "created_at"),
	}
}

// Annotations of the PhoneCode.
func (PhoneCode) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// WebSignInState is one started web OAuth sign-in (QQ Connect, WeChat website login): the
// hash of the `state` sent through the provider and of the browser secret that only the
// browser that started it holds. It works once, briefly, for that browser.
type WebSignInState struct{ ent.Schema }

// Fields of the WebSignInState.
func (WebSignInState) Fields() []ent.Field {
	return []ent.Field{
		field.String("state_hash").MaxRuneLen(64).NotEmpty().Unique().Immutable().Sensitive(),
		field.String("browser_hash").MaxRuneLen(64).NotEmpty().Immutable().Sensitive(),
		field.Enum("provider").Values("WECHAT", "QQ").Immutable(),
		field.String("app_id").MaxRuneLen(64).Immutable(),
		field.String("redirect_uri").MaxRuneLen(1024).Immutable(),
		// Whether a PKCE code_challenge was sent; the verifier is derived from the
		// browser secret, so the server stores nothing that could finish the flow.
		field.Bool("pkce").Default(false).Immutable(),
		// Set when a signed-in user started the flow to link the identity to their
		// account; only they can finish it.
		field.Int("link_user_id").Optional().Nillable().Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		field.Time("expires_at").SchemaType(datetime6).Immutable(),
		field.Time("used_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Indexes of the WebSignInState.
func (WebSignInState) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}

// Annotations of the WebSignInState.
func (WebSignInState) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
