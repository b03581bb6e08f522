package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestUploadBindRaceBindsOnce: four products created at once with the same uploaded image,
// over HTTP, on SQLite and MySQL at both isolation levels, six rounds: exactly one product
// gets it; the others are refused with a code (the upload is no longer READY), never
// INTERNAL, and no second product carries it.
func TestUploadBindRaceBindsOnce(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.NewForUploads(t, d.URL(t), apitest.NewClock(time.Now()))
			m := s.NewMerchant(t, "race-uploads", merchant.StatusACTIVE)
			const q = `mutation($file: Upload!, $purpose: UploadPurpose!) { uploadFile(file: $file, purpose: $purpose) { id } }`
			for round := range 6 {
				r := multipartUpload(t, s, m.Owner.AccessToken, q, map[string]any{"purpose": "PRODUCT_IMAGE"}, "p.png", "image/png", testPNG(t, 20, 20))
				var out struct{ UploadFile struct{ ID string } }
				if len(r.Errors) > 0 {
					t.Fatalf("upload: %s", r.Raw)
				}
				r.Decode(t, &out)
				var racers []apitest.Racer
				for i := range 4 {
					racers = append(racers, s.Request(m.Owner.AccessToken, `mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }`,
						map[string]any{"i": map[string]any{"title": "Raced", "images": []any{map[string]any{"uploadID": out.UploadFile.ID}},
							"variants": []any{map[string]any{"sku": fmt.Sprintf("R-%d-%d", round, i), "price": "1.00"}}}}))
				}
				outs := apitest.Race(racers...)
				if won := apitest.Successes(t, "bind", outs, "INVALID_STATE", "BAD_USER_INPUT", "CONFLICT"); won != 1 {
					t.Errorf("round %d: %d products got one upload: %v", round, won, outs)
				}
			}
		})
	}
}
