package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/app"
)

// rawCall is one HTTP request to /graphql, written byte for byte.
type rawCall struct {
	method, contentType, accept, query, body string
	// chunked sends the body without a Content-Length.
	chunked bool
}

// sendRaw sends c and returns the status, the response and its request id.
func sendRaw(t *testing.T, s *apitest.Server, c rawCall) (int, *apitest.Response, string) {
	t.Helper()
	target := s.HTTP.URL + "/graphql"
	if c.query != "" {
		target += "?" + c.query
	}
	var body io.Reader
	if c.body != "" || c.method == http.MethodPost {
		body = strings.NewReader(c.body)
		if c.chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
	}
	req, err := http.NewRequest(c.method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.accept != "" {
		req.Header.Set("Accept", c.accept)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &apitest.Response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("response is not JSON (%d %s): %s", res.StatusCode, res.Header.Get("Content-Type"), raw)
	}
	return res.StatusCode, out, res.Header.Get("X-Request-ID")
}

// TestMalformedRequestsAreRefused: whatever arrives at /graphql that is not a GraphQL
// request — broken or empty JSON, a batch, members of the wrong type, a body over the cap
// sent with or without its length, another media type or method, a bad query string —
// is answered with its HTTP status and BAD_USER_INPUT with a reason, is logged in one short
// info line, and never panics or reads as INTERNAL.
func TestMalformedRequestsAreRefused(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	const post, jsonCT = http.MethodPost, "application/json"
	big := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", app.MaxBodyBytes) + `"}}`
	cases := []struct {
		name   string
		call   rawCall
		status int
		reason string
		field  string
	}{
		{"broken JSON", rawCall{method: post, contentType: jsonCT, body: `{"query":`}, 400, app.ReasonMalformedRequest, ""},
		{"not JSON", rawCall{method: post, contentType: jsonCT, body: `{query: "{ __typename }"}`}, 400, app.ReasonMalformedRequest, ""},
		{"empty body", rawCall{method: post, contentType: jsonCT}, 400, app.ReasonMalformedRequest, ""},
		{"blank body", rawCall{method: post, contentType: jsonCT, body: " \n\t "}, 400, app.ReasonMalformedRequest, ""},
		{"null body", rawCall{method: post, contentType: jsonCT, body: `null`}, 400, app.ReasonMalformedRequest, ""},
		{"a string body", rawCall{method: post, contentType: jsonCT, body: `"{ __typename }"`}, 400, app.ReasonMalformedRequest, ""},
		{"a batch", rawCall{method: post, contentType: jsonCT, body: `[{"query":"{ __typename }"},{"query":"{ __typename }"}]`}, 400, app.ReasonBatchNotSupported, ""},
		{"an empty batch", rawCall{method: post, contentType: jsonCT, body: ` []`}, 400, app.ReasonBatchNotSupported, ""},
		{"variables as a string", rawCall{method: post, contentType: jsonCT, body: `{"query":"{ __typename }","variables":"{}"}`}, 400, app.ReasonMalformedRequest, "variables"},
		{"variables as a list", rawCall{method: post, contentType: jsonCT, body: `{"query":"{ __typename }","variables":[1]}`}, 400, app.ReasonMalformedRequest, "variables"},
		{"query as a number", rawCall{method: post, contentType: jsonCT, body: `{"query":42}`}, 400, app.ReasonMalformedRequest, "query"},
		{"query as an object", rawCall{method: post, contentType: jsonCT, body: `{"query":{"a":1}}`}, 400, app.ReasonMalformedRequest, "query"},
		{"operationName as a list", rawCall{method: post, contentType: jsonCT, body: `{"query":"{ __typename }","operationName":["A"]}`}, 400, app.ReasonMalformedRequest, "operationName"},
		{"extensions as a string", rawCall{method: post, contentType: jsonCT, body: `{"query":"{ __typename }","extensions":"x"}`}, 400, app.ReasonMalformedRequest, "extensions"},
		{"trailing garbage", rawCall{method: post, contentType: jsonCT, body: `{"query":"{ __typename }"} x`}, 400, app.ReasonMalformedRequest, ""},
		{"two objects", rawCall{method: post, contentType: jsonCT, body: `{"query":"{ __typename }"}{"query":"{ __typename }"}`}, 400, app.ReasonMalformedRequest, ""},
		{"over the cap, with its length", rawCall{method: post, contentType: jsonCT, body: big}, 413, app.ReasonBodyTooLarge, ""},
		{"over the cap, chunked", rawCall{method: post, contentType: jsonCT, body: big, chunked: true}, 413, app.ReasonBodyTooLarge, ""},
		{"broken JSON, chunked", rawCall{method: post, contentType: jsonCT, body: `{"query":"{`, chunked: true}, 400, app.ReasonMalformedRequest, ""},
		{"event stream, broken JSON", rawCall{method: post, contentType: jsonCT, accept: "text/event-stream", body: `{"query":`}, 400, app.ReasonMalformedRequest, ""},
		{"event stream, a batch", rawCall{method: post, contentType: jsonCT, accept: "text/event-stream", body: `[]`}, 400, app.ReasonBatchNotSupported, ""},
		{"text/plain", rawCall{method: post, contentType: "text/plain", body: `{"query":"{ __typename }"}`}, 415, app.ReasonUnsupportedMediaType, ""},
		{"no content type", rawCall{method: post, body: `{"query":"{ __typename }"}`}, 415, app.ReasonUnsupportedMediaType, ""},
		{"malformed content type", rawCall{method: post, contentType: "application/json; =", body: `{"query":"{ __typename }"}`}, 415, app.ReasonUnsupportedMediaType, ""},
		{"application/graphql", rawCall{method: post, contentType: "application/graphql", body: `{ __typename }`}, 415, app.ReasonUnsupportedMediaType, ""},
		{"a form", rawCall{method: post, contentType: "application/x-www-form-urlencoded", body: `query=%7B__typename%7D`}, 415, app.ReasonUnsupportedMediaType, ""},
		// multipart/form-data is the GraphQL multipart request spec (uploads_test.go).
		{"multipart, not form-data", rawCall{method: post, contentType: "multipart/mixed; boundary=x", body: "--x--"}, 415, app.ReasonUnsupportedMediaType, ""},
		{"PATCH", rawCall{method: http.MethodPatch, contentType: jsonCT, body: `{"query":"{ __typename }"}`}, 405, app.ReasonMethodNotAllowed, ""},
		// PUT and DELETE are graphql-sse's single connection mode (protocols_test.go).
		{"DELETE without a reservation", rawCall{method: http.MethodDelete}, 404, app.ReasonStreamNotFound, ""},
		{"GET, a bad escape", rawCall{method: http.MethodGet, query: "query=%zz"}, 400, app.ReasonMalformedRequest, ""},
		{"GET, variables not JSON", rawCall{method: http.MethodGet, query: "query=%7B__typename%7D&variables=nope"}, 400, app.ReasonMalformedRequest, "variables"},
		{"GET, variables as a list", rawCall{method: http.MethodGet, query: "query=%7B__typename%7D&variables=%5B1%5D"}, 400, app.ReasonMalformedRequest, "variables"},
		{"GET, extensions as a number", rawCall{method: http.MethodGet, query: "query=%7B__typename%7D&extensions=1"}, 400, app.ReasonMalformedRequest, "extensions"},
		{"GET, a mutation", rawCall{method: http.MethodGet, query: "query=" + url.QueryEscape(`mutation { logout(refreshToken: "x") }`)}, 405, app.ReasonMethodNotAllowed, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, r, id := sendRaw(t, s, c.call)
			if status != c.status || r.Code() != "BAD_USER_INPUT" || len(r.Errors) != 1 ||
				r.Errors[0].Extensions["reason"] != c.reason || r.Field() != c.field {
				t.Errorf("want %d BAD_USER_INPUT %s field %q, got %d: %s", c.status, c.reason, c.field, status, r.Raw)
			}
			if len(r.Raw) > 1024 || r.Contains(strings.Repeat("x", 100)) {
				t.Errorf("the answer echoes the request back: %d bytes", len(r.Raw))
			}
			if status == 405 && r.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			logs := s.Logs(id)
			if len(logs) != 1 || logs[0]["level"] != "INFO" || logs[0]["msg"] != "refused GraphQL request" || logs[0]["_bytes"].(int) > 400 {
				t.Errorf("want one short info line for request %s, got %v", id, logs)
			}
		})
	}

	// Well-formed requests still run, with the variations a client may send.
	for _, c := range []rawCall{
		{method: post, contentType: "application/json; charset=utf-8", body: `{"query":"{ __typename }","variables":null,"operationName":null,"extensions":null}`},
		{method: post, contentType: jsonCT, body: "\n {\"query\":\"query Q { __typename }\",\"operationName\":\"Q\",\"variables\":{},\"unknown\":1} \n"},
		{method: post, contentType: jsonCT, accept: "application/graphql-response+json", body: `{"query":"{ __typename }"}`},
		{method: http.MethodGet, query: "query=" + url.QueryEscape("query($s: Boolean!) { __typename @include(if: $s) }") + "&variables=" + url.QueryEscape(`{"s":true}`)},
	} {
		status, r, _ := sendRaw(t, s, c)
		if status != http.StatusOK || len(r.Errors) > 0 || !r.Contains(`"__typename":"Query"`) {
			t.Errorf("%s %s %s: %d %s", c.method, c.query, c.body, status, r.Raw)
		}
	}
}
