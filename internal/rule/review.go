package rule

import (
	"context"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/viewer"
)

// FilterReviewsToVisible shows everyone the reviews that are not hidden, and their authors
// their own hidden ones too (admins and the system are allowed before this rule).
func FilterReviewsToVisible() privacy.ReviewQueryRuleFunc {
	return func(ctx context.Context, q *ent.ReviewQuery) error {
		uid := viewer.FromContext(ctx).UserID
		q.Where(predicate.Review(func(s *sql.Selector) {
			visible := sql.EQ(s.C("hidden"), false)
			if uid != 0 {
				visible = sql.Or(visible, sql.EQ(s.C("author_id"), uid))
			}
			s.Where(visible)
		}))
		return privacy.Allow
	}
}
