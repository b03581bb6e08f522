package loader

import (
	"strings"
	"testing"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
)

// TestUnionPagesStatement pins the shape of the batched page statement: one branch per
// parent, each with the query's whole condition in parentheses (a member's privacy rule is
// an OR), the parent, the cursor, the order and its own LIMIT (on MySQL, without the
// primary key for the order); the union in page order.
// internal/app's TestNestedProductPages checks the pages themselves on both databases.
func TestUnionPagesStatement(t *testing.T) {
	for _, d := range []string{dialect.SQLite, dialect.MySQL} {
		s := sql.Dialect(d).Select("*").From(sql.Table("products"))
		s.Where(sql.Or(sql.EQ(s.C("status"), "ACTIVE"), sql.In(s.C("merchant_id"), 7)))
		unionPages("merchant_id", []string{"id", "merchant_id", "min_price"}, []int{7, 8}, nil, "min_price",
			entgql.OrderDirectionDesc, &entgql.Cursor[int]{ID: 5, Value: 300}, nil, 4)(s)
		query, args := s.Query()
		from := "`products`"
		if d == dialect.MySQL {
			from += " IGNORE INDEX FOR ORDER BY (PRIMARY)"
		}
		branch := "SELECT * FROM (SELECT `products`.`id`, `products`.`merchant_id`, `products`.`min_price` FROM " + from + " " +
			"WHERE ((`products`.`status` = ? OR `products`.`merchant_id` IN (?)) AND `products`.`merchant_id` = ?) " +
			"AND (`products`.`min_price`, `products`.`id`) < (?, ?) " +
			"ORDER BY `products`.`min_price` DESC, `products`.`id` DESC LIMIT 4) AS `page_%d`"
		want := strings.ReplaceAll(branch, "%d", "0") + " UNION ALL " + strings.ReplaceAll(branch, "%d", "1") +
			" ORDER BY `min_price` DESC, `id` DESC"
		if query != want {
			t.Fatalf("%s:\n got %s\nwant %s", d, query, want)
		}
		if len(args) != 10 || args[2] != 7 || args[7] != 8 || args[3] != 300 || args[4] != 5 {
			t.Fatalf("%s: args %v", d, args)
		}
	}
}
