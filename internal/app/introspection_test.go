package app_test

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/app"
	"github.com/xiadan/xiadan/internal/config"
)

// Queries whose validation errors suggest names of the schema when allowed to.
var typos = []string{
	`{ produts(first: 1) { totalCount } }`,                                       // a field
	`{ products(frist: 1) { totalCount } }`,                                      // an argument
	`{ products(first: 1, orderBy: {field: PRIC}) { totalCount } }`,              // an enum value
	`{ products(first: 1, where: {merchantId: "1"}) { totalCount } }`,            // an input field
	`{ node(id: "1") { ...F } } fragment F on Prodcut { id }`,                    // a type
	`{ node(id: "1") { ... on Product { titel } } }`,                             // a field in a fragment
	`{ products(first: 1) { edges { node { merchant { nam } } } } }`,             // a nested field
	`{ products(first: 1) { totalCount edges { node { variants { skuu } } } } }`, // another
}

// TestIntrospectionOffIsAClearError: with INTROSPECTION off, __schema and __type — at the
// root, in a fragment, in GraphiQL's query, over GET — are refused at validation with
// BAD_USER_INPUT and reason INTROSPECTION_DISABLED (status 200 for application/json, as
// other validation errors), not run into INTERNAL; validation errors no longer suggest the schema's names;
// __typename still works. With introspection on, the same queries work and typos get
// their suggestions.
func TestIntrospectionOffIsAClearError(t *testing.T) {
	t.Parallel()
	graphiql, err := os.ReadFile("../guard/testdata/graphiql-introspection.graphql")
	if err != nil {
		t.Fatal(err)
	}
	introspections := []map[string]any{
		{"query": `{ __schema { queryType { name } } }`},
		{"query": `{ __type(name: "Product") { name fields { name } } }`},
		{"query": `query { ...F } fragment F on Query { __schema { types { name } } }`},
		{"query": `{ ... on Query { __type(name: "Order") { name } } }`},
		{"query": string(graphiql), "operationName": "IntrospectionQuery"},
	}

	t.Run("off", func(t *testing.T) {
		s := apitest.New(t, testdbSQLite(t), func(c *config.Config) { c.Introspection = false })
		for _, q := range introspections {
			r := post(t, s, q)
			if r.Status != http.StatusOK || r.Code() != "BAD_USER_INPUT" ||
				r.Errors[0].Extensions["reason"] != app.ReasonIntrospectionDisabled ||
				r.Errors[0].Extensions["graphqlCode"] != "GRAPHQL_VALIDATION_FAILED" || r.Contains(`"data":{`) {
				t.Errorf("%.60s: %d %.600s", q["query"], r.Status, r.Raw)
			}
		}
		status, r, _ := sendRaw(t, s, rawCall{method: http.MethodGet, query: "query=" + url.QueryEscape(`{ __schema { types { name } } }`)})
		if status != http.StatusOK || r.Errors[0].Extensions["reason"] != app.ReasonIntrospectionDisabled {
			t.Errorf("GET: %d %s", status, r.Raw)
		}
		if r := s.MustQuery("", `{ __typename products(first: 1) { __typename } }`, nil); !r.Contains(`"__typename":"Query"`) {
			t.Errorf("__typename: %s", r.Raw)
		}
		for _, q := range typos {
			r := s.Query("", q, nil)
			if r.Code() != "BAD_USER_INPUT" || r.Contains("Did you mean") || r.Contains("INTERNAL") {
				t.Errorf("%s: %s", q, r.Raw)
			}
		}
	})

	t.Run("on", func(t *testing.T) {
		s := apitest.New(t, testdbSQLite(t), func(c *config.Config) { c.Introspection = true })
		for _, q := range introspections {
			if r := post(t, s, q); r.Status != http.StatusOK || len(r.Errors) > 0 {
				t.Errorf("%.60s: %d %.300s", q["query"], r.Status, r.Raw)
			}
		}
		for _, q := range typos {
			if r := s.Query("", q, nil); !strings.Contains(string(r.Raw), "Did you mean") {
				t.Errorf("no suggestion with introspection on, so the test proves nothing: %s: %s", q, r.Raw)
			}
		}
	})
}
