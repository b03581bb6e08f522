package reviews

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/review"
)

// Recount sets the rating aggregates of the given products and merchants from their
// shown reviews, for data written without the service (the demo seed) or a repair. It
// reads and then writes, so run it when no review of them is being written.
func Recount(ctx context.Context, db *ent.Client, productIDs, merchantIDs []int) error {
	sctx := system(ctx)
	for _, t := range []struct {
		table, column string
		ids           []int
	}{{"products", review.FieldProductID, productIDs}, {"merchants", review.FieldMerchantID, merchantIDs}} {
		for _, id := range t.ids {
			var rows []struct {
				Rating     int  `json:"rating"`
				WithPhotos bool `json:"with_photos"`
				Count      int  `json:"count"`
			}
			err := db.Review.Query().
				Where(predicate.Review(sql.FieldEQ(t.column, id)), review.Hidden(false)).
				GroupBy(review.FieldRating, review.FieldWithPhotos).
				Aggregate(ent.Count()).
				Scan(sctx, &rows)
			if err != nil {
				return fmt.Errorf("reviews: counting the reviews of %s %d: %w", t.table, id, err)
			}
			var count, sum, photos int
			stars := [6]int{}
			for _, r := range rows {
				count += r.Count
				sum += r.Rating * r.Count
				stars[r.Rating] += r.Count
				if r.WithPhotos {
					photos += r.Count
				}
			}
			avg := 0.0
			if count > 0 {
				avg = float64(sum) / float64(count)
			}
			_, err = db.ExecContext(sctx, fmt.Sprintf("UPDATE `%s` SET `rating_average` = ?, `rating_count` = ?, `rating_sum` = ?, "+
				"`rating_1` = ?, `rating_2` = ?, `rating_3` = ?, `rating_4` = ?, `rating_5` = ?, `rating_with_photos` = ? WHERE `id` = ?", t.table),
				avg, count, sum, stars[1], stars[2], stars[3], stars[4], stars[5], photos, id)
			if err != nil {
				return fmt.Errorf("reviews: rating %s %d: %w", t.table, id, err)
			}
		}
	}
	return nil
}
