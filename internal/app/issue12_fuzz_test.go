package app_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// issue12Operations are the operations FuzzIssue12Inputs sends, each taking its input
// through variables (or, for @inContext, literals built from them).
var issue12Operations = []string{
	setTranslationsOp,
	deleteTranslationsOp,
	createSynonym,
	updateSynonym,
	deleteSynonymOp,
	setRateOp,
	productSearchOp,
	suggestOp,
}

// knownCodes is the closed set of extensions.code values (internal/apperror) plus those
// gqlgen's validation and parsing give, which the presenter keeps.
var knownCodes = map[string]bool{
	"UNAUTHENTICATED": true, "FORBIDDEN": true, "NOT_FOUND": true, "BAD_USER_INPUT": true, "CONFLICT": true,
	"INVALID_STATE": true, "RATE_LIMITED": true, "TIMEOUT": true,
	"GRAPHQL_VALIDATION_FAILED": true, "GRAPHQL_PARSE_FAILED": true,
}

// FuzzIssue12Inputs sends what strangers could send to the issue-12 operations —
// translations, synonym groups, exchange rates, @inContext, productSearch and
// searchSuggestions — as an admin, as a merchant owner or anonymously: variables built
// from the fuzzer's strings and numbers, or its bytes taken whole as the variables object.
// Every answer is either data or errors with a code of the closed set; never INTERNAL
// (which is also what a recovered panic gives), never a request the server drops.
func FuzzIssue12Inputs(f *testing.F) {
	s := apitest.New(f, testdb.SQLiteURL(f))
	world := newIssue12World(f, s)
	f.Add(uint8(0), "en", "title", "Longjing", int64(0), "")
	f.Add(uint8(0), "fr", "price", "\x00", int64(1), "")
	f.Add(uint8(1), "en", "attributes.99.value", "", int64(-1), "")
	f.Add(uint8(2), "T恤,tshirt", "!!!", "", int64(0), "")
	f.Add(uint8(3), "a,b", "", "", int64(2), `{"id":"x","t":[1,2]}`)
	f.Add(uint8(5), "CNY", "USD", "-0.1", int64(0), "")
	f.Add(uint8(6), "茶", "-1.00", "1e9", int64(-5), "")
	f.Add(uint8(7), "x", "", "", int64(1<<40), "")
	f.Add(uint8(8), "en GB!", "ZZZ", "", int64(0), "")
	f.Add(uint8(6), "", "", "", int64(0), `{"q":{"a":1},"f":{"minPrice":1},"n":"1","a":[]}`)
	f.Fuzz(func(t *testing.T, op uint8, a, b, c string, n int64, raw string) {
		tokens := []string{world.admin.AccessToken, world.shop.Owner.AccessToken, ""}
		token := tokens[int(n&3)%3]
		ids := []int64{int64(world.productID), int64(world.synonymID), int64(world.rivalDraft), n}
		id := ids[int(uint64(n)>>2)%len(ids)]
		var query string
		var vars map[string]any
		switch int(op) % (len(issue12Operations) + 1) {
		case 0:
			query, vars = setTranslationsOp, map[string]any{"id": id, "l": a, "t": []map[string]any{{"field": b, "value": c}}}
		case 1:
			query, vars = deleteTranslationsOp, map[string]any{"id": id, "l": a, "f": strings.Split(b, ",")}
		case 2:
			query, vars = createSynonym, map[string]any{"t": strings.Split(a, ",")}
		case 3:
			query, vars = updateSynonym, map[string]any{"id": id, "t": strings.Split(a, ",")}
		case 4:
			query, vars = deleteSynonymOp, map[string]any{"id": fmt.Sprint(n)}
		case 5:
			query, vars = setRateOp, map[string]any{"b": a, "q": b, "r": c}
		case 6:
			query, vars = productSearchOp, map[string]any{"q": a, "f": map[string]any{"minPrice": b, "maxPrice": c}, "n": n}
		case 7:
			query, vars = suggestOp, map[string]any{"p": a, "n": n}
		case 8:
			lang, _ := json.Marshal(a)
			cur, _ := json.Marshal(b)
			query = fmt.Sprintf(`query @inContext(language: %s, currency: %s) { products(first: 1) { totalCount } }`, lang, cur)
		}
		if raw != "" { // the bytes, whole, as the variables of the operation
			var m map[string]any
			if json.Unmarshal([]byte(raw), &m) != nil {
				return
			}
			vars = m
		}
		r, err := s.Try(apitest.Request{Query: query, Token: token, Variables: vars})
		if err != nil {
			t.Fatalf("%s %v: %v", query, vars, err)
		}
		for _, e := range r.Errors {
			code, _ := e.Extensions["code"].(string)
			if !knownCodes[code] {
				t.Fatalf("%s %v: code %q: %s", query, vars, code, r.Raw)
			}
		}
	})
}
