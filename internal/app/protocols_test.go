package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/app"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/testdb"
)

// sseEvent is one Server-Sent Event as read off the wire; a comment line (":") is
// reported as event ":".
type sseEvent struct{ event, data string }

// readSSE reads body's events onto a channel, closed when the stream ends.
func readSSE(body io.Reader) <-chan sseEvent {
	got := make(chan sseEvent, 64)
	go func() {
		defer close(got)
		sc := bufio.NewScanner(body)
		var cur sseEvent
		var hasData bool
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, ":"):
				got <- sseEvent{event: ":"}
			case strings.HasPrefix(line, "event:"):
				cur.event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				hasData = true
				cur.data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			case line == "" && cur.event != "":
				if !hasData {
					cur.data = "<no data line>"
				}
				got <- cur
				cur, hasData = sseEvent{}, false
			}
		}
	}()
	return got
}

// nextEvent returns the next event of got that is not a comment.
func nextEvent(t *testing.T, ctx context.Context, got <-chan sseEvent) sseEvent {
	t.Helper()
	for {
		select {
		case e, ok := <-got:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if e.event != ":" {
				return e
			}
		case <-ctx.Done():
			t.Fatal("no event in time")
		}
	}
}

// httpCall sends one request to /graphql.
type httpCall struct {
	method, accept, token, streamToken, query string
	body                                      any
}

func (c httpCall) do(t *testing.T, ctx context.Context, s *apitest.Server) *http.Response {
	t.Helper()
	var body io.Reader
	if c.body != nil {
		b, _ := json.Marshal(c.body)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, s.HTTP.URL+"/graphql"+c.query, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.accept != "" {
		req.Header.Set("Accept", c.accept)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.streamToken != "" {
		req.Header.Set("X-GraphQL-Event-Stream-Token", c.streamToken)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAcceptNegotiation: a query is answered in the first media type of the Accept
// header (by q-value, then order) that can carry it — urql's list gets
// application/graphql-response+json, not an event stream — and a request error has no
// data entry, with 200 for application/json and 400 for graphql-response+json.
func TestAcceptNegotiation(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	ctx := context.Background()
	query := map[string]any{"query": "{ __typename }"}
	for _, tc := range []struct{ accept, want string }{
		{"", "application/json"},
		{"*/*", "application/json"},
		{"application/json", "application/json"},
		{"application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed", "application/graphql-response+json"},
		{"application/graphql-response+json,application/json;q=0.9", "application/graphql-response+json"},
		{"application/graphql-response+json;q=0.5, application/json", "application/json"},
		{"text/event-stream", "text/event-stream"},
		{"text/event-stream;q=0.1, multipart/mixed;deferSpec=20220824", "multipart/mixed"},
		{"application/json;q=0, text/html", "application/graphql-response+json"},
	} {
		res := httpCall{method: http.MethodPost, accept: tc.accept, body: query}.do(t, ctx, s)
		body := readAll(t, res.Body)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.want) || res.StatusCode != http.StatusOK ||
			!strings.Contains(body, `"__typename":"Query"`) {
			t.Errorf("Accept %q: %d %s, want %s: %s", tc.accept, res.StatusCode, ct, tc.want, body)
		}
	}

	for _, tc := range []struct {
		accept string
		status int
	}{{"application/json", http.StatusOK}, {"application/graphql-response+json", http.StatusBadRequest}} {
		res := httpCall{method: http.MethodPost, accept: tc.accept, body: map[string]any{"query": "{ nope }"}}.do(t, ctx, s)
		body := readAll(t, res.Body)
		var r struct {
			Data   *json.RawMessage `json:"data"`
			Errors []apitest.Error
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil || res.StatusCode != tc.status || strings.Contains(body, `"data"`) ||
			len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
			t.Errorf("a request error for %s: %d %s", tc.accept, res.StatusCode, body)
		}
	}

	res := httpCall{method: http.MethodPost, body: map[string]any{"qeury": "{ __typename }"}}.do(t, ctx, s)
	if body := readAll(t, res.Body); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"MALFORMED_REQUEST"`) ||
		!strings.Contains(body, `"field":"query"`) {
		t.Errorf("no query: %d %s", res.StatusCode, body)
	}
}

// TestSubscriptionWithoutStreamIsRefused: a subscription POSTed for a JSON answer is
// refused at once with 406 and reason SUBSCRIPTION_NEEDS_STREAM, rather than hanging until
// its first event.
func TestSubscriptionWithoutStreamIsRefused(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t))
	buyer := s.Register("buyer@example.com", "Buyer")
	ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
	defer cancel()
	for _, accept := range []string{"application/json", "application/graphql-response+json", ""} {
		res := httpCall{method: http.MethodPost, accept: accept, token: buyer.AccessToken,
			body: map[string]any{"query": "subscription { myOrderEvents { id } }"}}.do(t, ctx, s)
		body := readAll(t, res.Body)
		if res.StatusCode != http.StatusNotAcceptable || !strings.Contains(body, `"BAD_USER_INPUT"`) ||
			!strings.Contains(body, `"`+app.ReasonSubscriptionNeedsStream+`"`) || !strings.Contains(body, "text/event-stream") {
			t.Errorf("Accept %q: %d %s", accept, res.StatusCode, body)
		}
	}
}

// keepAliveFast makes quiet streams send their keep-alive every 20 ms, so a test sees one
// by reading rather than by waiting 15 s.
func keepAliveFast(c *config.Config) { c.StreamKeepAlive = 20 * time.Millisecond }

// TestSSEKeepAliveAndComplete: a quiet event stream sends ":" comments every
// STREAM_KEEPALIVE_INTERVAL; an operation's stream ends with "event: complete" and a data
// line (EventSource ignores a complete without one); a validation error is a "next" of an
// accepted stream, as graphql-sse asks.
func TestSSEKeepAliveAndComplete(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t), keepAliveFast)
	buyer := s.Register("buyer@example.com", "Buyer")
	ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
	defer cancel()

	res := httpCall{method: http.MethodPost, accept: "text/event-stream", token: buyer.AccessToken,
		body: map[string]any{"query": "subscription { myOrderEvents { id } }"}}.do(t, ctx, s)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("subscription: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	got := readSSE(res.Body)
	for comments := 0; comments < 3; { // the opening comment, then keep-alives
		select {
		case e, ok := <-got:
			if !ok || e.event != ":" {
				t.Fatalf("a quiet stream sent %+v (open: %v)", e, ok)
			}
			comments++
		case <-ctx.Done():
			t.Fatal("no keep-alive comment")
		}
	}

	for _, tc := range []struct{ name, method, query, want string }{
		{"a query by POST", http.MethodPost, "{ __typename }", `"data":{"__typename":"Query"}`},
		{"a validation error", http.MethodPost, "{ nope }", `GRAPHQL_VALIDATION_FAILED`},
		{"a query by GET", http.MethodGet, "{ __typename }", `"data":{"__typename":"Query"}`},
	} {
		c := httpCall{method: tc.method, accept: "text/event-stream"}
		if tc.method == http.MethodGet {
			c.query = "?query=" + url.QueryEscape(tc.query)
		} else {
			c.body = map[string]any{"query": tc.query}
		}
		res := c.do(t, ctx, s)
		got := readSSE(res.Body)
		if e := nextEvent(t, ctx, got); e.event != "next" || !strings.Contains(e.data, tc.want) {
			t.Errorf("%s: first event %+v", tc.name, e)
		}
		if e := nextEvent(t, ctx, got); e.event != "complete" || e.data != "" {
			t.Errorf("%s: then %+v, want complete with an empty data line", tc.name, e)
		}
	}
}

// reserveStream makes a graphql-sse reservation as the holder of token.
func reserveStream(t *testing.T, ctx context.Context, s *apitest.Server, token string) (*http.Response, string) {
	t.Helper()
	res := httpCall{method: http.MethodPut, token: token}.do(t, ctx, s)
	return res, readAll(t, res.Body)
}

// TestSSESingleConnection: graphql-sse's single connection mode. PUT reserves a stream
// (201, its token as text/plain); a GET with the token opens it; operations POSTed with
// the token and an operationId are accepted with 202 and streamed as {id, payload}, each
// ending with complete {id}; DELETE stops a subscription. The token is its maker's only
// (404 for anyone else), one stream per reservation and one operation per id (409), and
// reservations count against the account's stream cap (429).
func TestSSESingleConnection(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newEvShop(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
		defer cancel()
		res, token := reserveStream(t, ctx, s, w.buyer.AccessToken)
		if res.StatusCode != http.StatusCreated || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") || len(token) < 32 {
			t.Fatalf("PUT: %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), token)
		}
		stream := httpCall{method: http.MethodGet, accept: "text/event-stream", token: w.buyer.AccessToken, streamToken: token}.do(t, ctx, s)
		if stream.StatusCode != http.StatusOK {
			t.Fatalf("opening the stream: %d %s", stream.StatusCode, readAll(t, stream.Body))
		}
		got := readSSE(stream.Body)

		op := func(token, streamToken, id, query string) *http.Response {
			return httpCall{method: http.MethodPost, token: token, streamToken: streamToken,
				body: map[string]any{"query": query, "extensions": map[string]any{"operationId": id}}}.do(t, ctx, s)
		}
		sub := `subscription { myOrderEvents { type order { id } } }`
		if r := op(w.buyer.AccessToken, token, "sub-1", sub); r.StatusCode != http.StatusAccepted {
			t.Fatalf("subscribing: %d %s", r.StatusCode, readAll(t, r.Body))
		}
		for _, tc := range []struct {
			name         string
			call         httpCall
			status       int
			reason, code string
		}{
			{"another account's use of the token", httpCall{method: http.MethodPost, token: w.other.AccessToken, streamToken: token,
				body: map[string]any{"query": sub, "extensions": map[string]any{"operationId": "x"}}}, http.StatusNotFound, app.ReasonStreamNotFound, "BAD_USER_INPUT"},
			{"anonymous use of the token", httpCall{method: http.MethodGet, accept: "text/event-stream", streamToken: token},
				http.StatusNotFound, app.ReasonStreamNotFound, "BAD_USER_INPUT"},
			{"a second stream", httpCall{method: http.MethodGet, accept: "text/event-stream", token: w.buyer.AccessToken, streamToken: token},
				http.StatusConflict, app.ReasonStreamConflict, "BAD_USER_INPUT"},
			{"a running operation id", httpCall{method: http.MethodPost, token: w.buyer.AccessToken, streamToken: token,
				body: map[string]any{"query": sub, "extensions": map[string]any{"operationId": "sub-1"}}}, http.StatusConflict, app.ReasonStreamConflict, "BAD_USER_INPUT"},
			{"no operation id", httpCall{method: http.MethodPost, token: w.buyer.AccessToken, streamToken: token,
				body: map[string]any{"query": sub}}, http.StatusBadRequest, app.ReasonMalformedRequest, "BAD_USER_INPUT"},
			{"an unknown token", httpCall{method: http.MethodGet, accept: "text/event-stream", token: w.buyer.AccessToken, streamToken: "nope"},
				http.StatusNotFound, app.ReasonStreamNotFound, "BAD_USER_INPUT"},
		} {
			r := tc.call.do(t, ctx, s)
			body := readAll(t, r.Body)
			if r.StatusCode != tc.status || !strings.Contains(body, `"`+tc.reason+`"`) || !strings.Contains(body, `"`+tc.code+`"`) {
				t.Errorf("%s: %d %s", tc.name, r.StatusCode, body)
			}
		}
		// A validation error is answered directly, as for any GraphQL-over-HTTP request.
		if r := op(w.buyer.AccessToken, token, "bad", "{ nope }"); r.StatusCode != http.StatusOK ||
			!strings.Contains(readAll(t, r.Body), "GRAPHQL_VALIDATION_FAILED") {
			t.Errorf("a validation error: %d", r.StatusCode)
		}

		waitSubscribers(t, s, 1)
		order, _, _ := w.place(t, w.buyer.AccessToken, w.tea, "single-1")
		var next struct {
			ID      string
			Payload struct {
				Data struct {
					MyOrderEvents struct {
						Type  string
						Order struct{ ID string }
					}
				}
			}
		}
		e := nextEvent(t, ctx, got)
		if e.event != "next" || json.Unmarshal([]byte(e.data), &next) != nil || next.ID != "sub-1" ||
			next.Payload.Data.MyOrderEvents.Type != "CREATED" || next.Payload.Data.MyOrderEvents.Order.ID != order {
			t.Fatalf("the subscription's event: %+v", e)
		}
		if r := (httpCall{method: http.MethodDelete, query: "?operationId=sub-1", token: w.buyer.AccessToken, streamToken: token}).do(t, ctx, s); r.StatusCode != http.StatusOK {
			t.Fatalf("DELETE: %d", r.StatusCode)
		}
		waitSubscribers(t, s, 0)
		if r := op(w.buyer.AccessToken, token, "q-1", "{ me { email } }"); r.StatusCode != http.StatusAccepted {
			t.Fatalf("a query: %d %s", r.StatusCode, readAll(t, r.Body))
		}
		if e := nextEvent(t, ctx, got); e.event != "next" || !strings.Contains(e.data, `"id":"q-1"`) || !strings.Contains(e.data, `"email":"buyer@example.com"`) {
			t.Errorf("the query's result: %+v", e)
		}
		if e := nextEvent(t, ctx, got); e.event != "complete" || e.data != `{"id":"q-1"}` {
			t.Errorf("then %+v, want complete {id}", e)
		}
	})
}

// TestSSEReservationsObeyStreamRules: a reservation counts against WS_MAX_PER_USER from
// its PUT (429 past it), and ends — its event stream closed — when the account's access
// changes.
func TestSSEReservationsObeyStreamRules(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdb.SQLiteURL(t), func(c *config.Config) { c.WSMaxPerUser = 1 })
	buyer := s.Register("buyer@example.com", "Buyer")
	ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
	defer cancel()
	res, token := reserveStream(t, ctx, s, buyer.AccessToken)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d %s", res.StatusCode, token)
	}
	if res, body := reserveStream(t, ctx, s, buyer.AccessToken); res.StatusCode != http.StatusTooManyRequests ||
		!strings.Contains(body, `"RATE_LIMITED"`) || !strings.Contains(body, `"limit":1`) {
		t.Fatalf("a second reservation over the cap: %d %s", res.StatusCode, body)
	}
	stream := httpCall{method: http.MethodGet, accept: "text/event-stream", token: buyer.AccessToken, streamToken: token}.do(t, ctx, s)
	if stream.StatusCode != http.StatusOK {
		t.Fatalf("opening: %d", stream.StatusCode)
	}
	got := readSSE(stream.Body)
	<-got // the opening comment: the stream is open

	// The password changes (every session of the account ends): the stream closes.
	s.MustQuery(buyer.AccessToken, `mutation($i: ChangePasswordInput!) { changePassword(input: $i) }`,
		map[string]any{"i": map[string]any{"currentPassword": apitest.Password, "newPassword": "another horse battery staple"}})
	for {
		select {
		case _, ok := <-got:
			if !ok {
				// Closed, and its slot freed.
				r := s.MustQuery("", `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`,
					map[string]any{"i": map[string]any{"email": buyer.Email, "password": "another horse battery staple"}})
				var fresh struct{ Login struct{ AccessToken string } }
				r.Decode(t, &fresh)
				eventually(t, "a reservation after the stream closed", func() error {
					if res, body := reserveStream(t, ctx, s, fresh.Login.AccessToken); res.StatusCode != http.StatusCreated {
						return fmt.Errorf("%d %s", res.StatusCode, body)
					}
					return nil
				})
				return
			}
		case <-ctx.Done():
			t.Fatal("the reserved stream outlived an access change")
		}
	}
}

// TestMultipartSubscription: Apollo's multipart subscriptions — a subscription POSTed with
// Accept: multipart/mixed;subscriptionSpec="1.0" gets {} heartbeats while quiet and each
// event as {"payload": …}.
func TestMultipartSubscription(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newEvShop(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
		defer cancel()
		res := httpCall{method: http.MethodPost, accept: `multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json`,
			token: w.buyer.AccessToken, body: map[string]any{"query": `subscription { myOrderEvents { type order { id } } }`}}.do(t, ctx, s)
		mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
		if res.StatusCode != http.StatusOK || err != nil || mt != "multipart/mixed" || params["subscriptionspec"] != "1.0" {
			t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		parts := make(chan string, 64)
		go func() {
			defer close(parts)
			mr := multipart.NewReader(res.Body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					return
				}
				b, _ := io.ReadAll(p)
				parts <- string(b)
			}
		}()
		next := func() string {
			select {
			case p, ok := <-parts:
				if !ok {
					t.Fatal("the response ended")
				}
				return p
			case <-ctx.Done():
				t.Fatal("no part in time")
			}
			return ""
		}
		if p := next(); p != "{}" {
			t.Fatalf("a quiet subscription's part: %s, want a {} heartbeat", p)
		}
		waitSubscribers(t, s, 1)
		order, _, _ := w.place(t, w.buyer.AccessToken, w.tea, "multipart-1")
		for {
			p := next()
			if p == "{}" {
				continue
			}
			var r struct {
				Payload struct {
					Data struct {
						MyOrderEvents struct {
							Type  string
							Order struct{ ID string }
						}
					}
				}
			}
			if json.Unmarshal([]byte(p), &r) != nil || r.Payload.Data.MyOrderEvents.Type != "CREATED" || r.Payload.Data.MyOrderEvents.Order.ID != order {
				t.Fatalf("the event's part: %s", p)
			}
			return
		}
	}, keepAliveFast)
}

// TestDefer: a query with @defer is delivered incrementally to a multipart/mixed client
// (the initial result with hasNext, then the deferred fragment under "incremental" at its
// path), and in one merged result to a JSON client.
func TestDefer(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		m := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
		pid, _ := s.NewProduct(t, m, "Longjing tea", product.KindPHYSICAL, "TEA-1", 3800, 10)
		ctx, cancel := context.WithTimeout(context.Background(), signalGuard)
		defer cancel()
		query := `query($id: ID!) { product(id: $id) { id ... @defer(label: "more") { variants { sku } } } }`
		id := strconv.Itoa(pid)
		vars := map[string]any{"id": id}

		res := httpCall{method: http.MethodPost, accept: "multipart/mixed;deferSpec=20220824,application/json", body: map[string]any{"query": query, "variables": vars}}.do(t, ctx, s)
		mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
		if res.StatusCode != http.StatusOK || err != nil || mt != "multipart/mixed" || params["deferspec"] != "20220824" {
			t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		mr := multipart.NewReader(res.Body, params["boundary"])
		var parts []string
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			parts = append(parts, string(b))
		}
		// gqlgen defers the fields that have resolvers (variants); plain columns come at once.
		var initial struct {
			Data    json.RawMessage `json:"data"`
			HasNext *bool           `json:"hasNext"`
		}
		// (gqlgen writes the deferred field as null in the initial result; clients merge.)
		if len(parts) != 2 || json.Unmarshal([]byte(parts[0]), &initial) != nil ||
			!strings.HasPrefix(string(initial.Data), `{"product":{"id":"`+id+`"`) || strings.Contains(string(initial.Data), "TEA-1") ||
			initial.HasNext == nil || !*initial.HasNext ||
			!strings.HasPrefix(parts[1], `{"incremental":[{"data":{"variants":[{"sku":"TEA-1"}]},"label":"more","path":["product"]`) ||
			!strings.HasSuffix(parts[1], `],"hasNext":false}`) {
			t.Fatalf("parts:\n%s", strings.Join(parts, "\n"))
		}

		r := s.Do(apitest.Request{Query: query, Variables: vars})
		if len(r.Errors) > 0 || !strings.Contains(string(r.Raw), `"product":{"id":"`+id+`","variants":[{"sku":"TEA-1"}]}`) || r.Contains("hasNext") {
			t.Fatalf("merged for a JSON client: %s", r.Raw)
		}
	})
}
