package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/ent/schema/schematype"
)

// Upload is one file a person sent (internal/upload): a product image, a review photo,
// after-sales evidence or a merchant's licence. It is PENDING until the server has checked
// and processed the bytes, READY until it is bound to the one use its purpose allows,
// BOUND from then on, and EXPIRED (object and row about to be removed) when nobody bound
// it in time or its use let it go. In GraphQL it is UploadedFile: Upload is the scalar
// of the GraphQL multipart request spec.
type Upload struct{ ent.Schema }

// Fields of the Upload.
func (Upload) Fields() []ent.Field {
	return []ent.Field{
		field.Int("owner_id").Immutable().Annotations(entgql.Skip()),
		// The merchant whose staff may read and use it (product images; a licence once its
		// application has made a merchant).
		field.Int("merchant_id").Optional().Nillable().Annotations(entgql.Skip()),
		field.Enum("purpose").
			Values("PRODUCT_IMAGE", "REVIEW_PHOTO", "AFTER_SALES_EVIDENCE", "MERCHANT_LICENCE", "TICKET_ATTACHMENT").
			Immutable().Annotations(entgql.Type("UploadPurpose")),
		field.Enum("state").Values("PENDING", "READY", "BOUND", "EXPIRED").Default("PENDING").
			Annotations(entgql.Type("UploadState")),
		// The name the client gave, for display only: it decides nothing.
		field.String("filename").MaxRuneLen(255).Default(""),
		// What the client said it would send; the server trusts neither.
		field.String("declared_content_type").MaxRuneLen(127).Default("").Annotations(entgql.Skip()),
		field.Int64("declared_size").NonNegative().Default(0).Annotations(entgql.Skip()),
		// What the server found in the bytes (after processing, for images the re-encoded
		// file's type), and the stored file's size.
		field.String("content_type").MaxRuneLen(127).Default(""),
		field.Int64("size").NonNegative().Default(0),
		field.Int("width").Optional().Nillable(),
		field.Int("height").Optional().Nillable(),
		field.String("sha256").MaxRuneLen(64).Default(""),
		// Where the client puts the bytes (presigned flow), and where the processed file
		// lives; they differ so that a presigned PUT replayed after processing cannot
		// replace the checked file.
		field.String("incoming_key").MaxRuneLen(255).NotEmpty().Unique().Immutable().Annotations(entgql.Skip()),
		field.String("storage_key").MaxRuneLen(255).NotEmpty().Unique().Immutable().Annotations(entgql.Skip()),
		field.JSON("thumbnails", []schematype.Thumbnail{}).Default([]schematype.Thumbnail{}).Annotations(entgql.Skip()),
		// The use it is bound to, such as PRODUCT 12 or MERCHANT 3.
		field.String("bound_entity").MaxRuneLen(32).Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("bound_id").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		field.Time("bound_at").SchemaType(datetime6).Optional().Nillable(),
		// A PENDING or READY upload not bound by then expires (UPLOAD_PENDING_TTL).
		field.Time("expires_at").SchemaType(datetime6).Annotations(entgql.Skip()),
	}
}

// Indexes of the Upload.
func (Upload) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("state", "expires_at"),
		index.Fields("bound_entity", "bound_id"),
		index.Fields("owner_id", "created_at"),
	}
}

// Annotations of the Upload.
func (Upload) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Type("UploadedFile"), entgql.Skip(entgql.SkipWhereInput)}
}
