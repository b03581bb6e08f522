package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// TimeMixin adds UTC creation and update timestamps to an entity.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").SchemaType(datetime6).
			Immutable().
			Default(nowUTC).
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").SchemaType(datetime6).
			Default(nowUTC).
			UpdateDefault(nowUTC).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}

func nowUTC() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// datetime6 stores times as microsecond DATETIME on MySQL: TIMESTAMP stops at 2038 and
// keeps whole seconds, while SQLite keeps microseconds, so both stores agree.
var datetime6 = map[string]string{dialect.MySQL: "datetime(6)"}
