package i18n_test

import (
	"fmt"
	"testing"

	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/translation"
	"github.com/xiadan/xiadan/internal/apitest"
)

// word is a made-up word, distinct for each (round < 676, i < 8), that the keyword index
// keeps as one token: four letters, under the length where typo tolerance would let one
// word find another (search.MinTypoLen1).
func word(round, i int) string {
	return string([]byte{'z', byte('a' + round/26%26), byte('a' + round%26), "bcdfghjk"[i%8]})
}

// TestConcurrentTranslationsOfOneRecord: editors setting translations of one product in
// one locale at the same moment. On one field, every writer succeeds (or gets CONFLICT,
// never INTERNAL), one row remains and holds a value some writer sent, and the keyword
// index holds that value and no other. On different fields, every value is stored and
// the index holds them all: the index is rewritten from the translations as committed, not
// from a snapshot that misses a concurrent writer's.
func TestConcurrentTranslationsOfOneRecord(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t), served)
			f := newFixture(t, s)
			client, ctx := s.Client()
			staff := s.AddStaff(t, f.shop, "race-staff@example.com")
			tokens := []string{f.shop.Owner.AccessToken, staff.AccessToken, f.admin.AccessToken}
			found := func(keyword string) bool {
				t.Helper()
				var got struct {
					Products struct {
						Edges []struct{ Node struct{ ID string } }
					}
				}
				s.MustQuery("", `query($k: String) { products(first: 5, where: {keyword: $k}) { edges { node { id } } } }`,
					map[string]any{"k": keyword}).Decode(t, &got)
				return len(got.Products.Edges) == 1
			}
			rounds := apitest.RaceRounds(d, 15)
			for round := range rounds {
				// A new product each round, so the first writers race to insert the rows.
				id, _ := s.NewProduct(t, f.shop, fmt.Sprintf("竞速茶 %d", round), product.KindPHYSICAL, fmt.Sprintf("RACE-%d", round), 100, 1)

				// One field.
				var racers []apitest.Racer
				for i, tok := range tokens {
					racers = append(racers, s.Request(tok, setMutation, map[string]any{"id": id, "l": "en",
						"t": []map[string]any{{"field": "title", "value": "Tea " + word(round, i)}}}))
				}
				outs := apitest.Race(racers...)
				if n := apitest.Successes(t, "setTranslations of one field", outs, "CONFLICT"); n == 0 {
					t.Fatalf("round %d: no writer succeeded", round)
				}
				rows := client.Translation.Query().Where(translation.EntityIDEQ(id), translation.LocaleEQ("en"),
					translation.FieldEQ("title")).AllX(ctx)
				if len(rows) != 1 {
					t.Fatalf("round %d: %d title rows", round, len(rows))
				}
				stored := -1
				for i := range tokens {
					if rows[0].Value == "Tea "+word(round, i) && outs[i].Code() == "" {
						stored = i
					}
				}
				if stored < 0 {
					t.Fatalf("round %d: stored %q, which no successful writer sent", round, rows[0].Value)
				}
				for i := range tokens {
					if got := found(word(round, i)); got != (i == stored) {
						t.Fatalf("round %d: stored %q but the index finds %s: %v", round, rows[0].Value, word(round, i), got)
					}
				}

				// Different fields (and locales) of the same record.
				keys := []struct{ locale, field string }{{"en-GB", "title"}, {"en-GB", "description"}, {"zh-Hant", "title"}}
				racers = racers[:0]
				for i, tok := range tokens {
					racers = append(racers, s.Request(tok, setMutation, map[string]any{"id": id, "l": keys[i].locale,
						"t": []map[string]any{{"field": keys[i].field, "value": "Tea " + word(round, 5+i)}}}))
				}
				outs = apitest.Race(racers...)
				apitest.Successes(t, "setTranslations of different fields", outs, "CONFLICT")
				for i, k := range keys {
					if outs[i].Code() != "" {
						continue
					}
					n := client.Translation.Query().Where(translation.EntityIDEQ(id), translation.LocaleEQ(k.locale),
						translation.FieldEQ(k.field), translation.ValueEQ("Tea "+word(round, 5+i))).CountX(ctx)
					if n != 1 || !found(word(round, 5+i)) {
						t.Fatalf("round %d: %s %s stored %d times, found by the index: %v", round, k.locale, k.field, n, found(word(round, 5+i)))
					}
				}
			}
		})
	}
}
