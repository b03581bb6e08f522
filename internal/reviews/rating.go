package reviews

import (
	"context"
	"fmt"

	"github.com/xiadan/xiadan/ent"
)

// rate adds (sign 1) or removes (sign -1) one review of rating stars, with or without
// photos, to the aggregates of its product and its merchant. Each is one UPDATE … SET
// x = x + ?: the database applies concurrent ones one after the other on the latest row,
// so two reviews written at once both count (a read-modify-write would lose one).
//
// The average is assigned first, from the old count and sum plus the change: MySQL
// evaluates SET assignments left to right on the updated row, SQLite on the old one, and
// putting it first gives both the same result.
func rate(ctx context.Context, db *ent.Client, productID, merchantID int, stars int, withPhotos bool, sign int) error {
	if stars < 1 || stars > 5 {
		return fmt.Errorf("reviews: rating %d out of range", stars)
	}
	photos := 0
	if withPhotos {
		photos = sign
	}
	for _, t := range []struct {
		table string
		id    int
	}{{"products", productID}, {"merchants", merchantID}} {
		q := fmt.Sprintf("UPDATE `%s` SET "+
			"`rating_average` = CASE WHEN `rating_count` + ? <= 0 THEN 0 ELSE (`rating_sum` + ?) * 1.0 / (`rating_count` + ?) END, "+
			"`rating_count` = `rating_count` + ?, `rating_sum` = `rating_sum` + ?, "+
			"`rating_%d` = `rating_%d` + ?, `rating_with_photos` = `rating_with_photos` + ? WHERE `id` = ?",
			t.table, stars, stars)
		res, err := db.ExecContext(system(ctx), q, sign, sign*stars, sign, sign, sign*stars, sign, photos, t.id)
		if err != nil {
			return fmt.Errorf("reviews: rating %s %d: %w", t.table, t.id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("reviews: rating %s %d: no such row", t.table, t.id)
		}
	}
	return nil
}

// photosRated adds (sign 1) or removes (sign -1) one review to the with-photos counts of
// its product and merchant, when a follow-up brings the first photos.
func photosRated(ctx context.Context, db *ent.Client, productID, merchantID int, sign int) error {
	for _, t := range []struct {
		table string
		id    int
	}{{"products", productID}, {"merchants", merchantID}} {
		if _, err := db.ExecContext(system(ctx),
			fmt.Sprintf("UPDATE `%s` SET `rating_with_photos` = `rating_with_photos` + ? WHERE `id` = ?", t.table),
			sign, t.id); err != nil {
			return fmt.Errorf("reviews: photo count of %s %d: %w", t.table, t.id, err)
		}
	}
	return nil
}
