package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
)

// The HTTP transports of /graphql. gqlgen's own POST and GET transports answer a body they
// cannot decode with the whole body echoed back in the message, a code-less error, or
// (for a body over the cap) status 200; these read every request strictly and refuse a
// malformed one before it reaches the executor, with status 400, 405, 413 or 415, code
// BAD_USER_INPUT and one of the reasons below, and one short log line. README "Errors" and
// docs/QUERY_LIMITS.md describe them for clients.

// Reasons (extensions.reason) of a request refused by the HTTP layer.
const (
	// ReasonBodyTooLarge: the body is over MaxBodyBytes (413).
	ReasonBodyTooLarge = "BODY_TOO_LARGE"
	// ReasonMalformedRequest: the body or query string is not a GraphQL request: not JSON,
	// not an object, or a member of the wrong type (400).
	ReasonMalformedRequest = "MALFORMED_REQUEST"
	// ReasonBatchNotSupported: the body is a JSON array of operations (400).
	ReasonBatchNotSupported = "BATCH_NOT_SUPPORTED"
	// ReasonUnsupportedMediaType: a POST that is not application/json (415).
	ReasonUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	// ReasonMethodNotAllowed: a method other than GET and POST, or a mutation sent with
	// GET (405).
	ReasonMethodNotAllowed = "METHOD_NOT_ALLOWED"
	// ReasonSubscriptionNeedsStream: a subscription whose Accept header allows no
	// streaming media type (406): it would otherwise hang until its first event.
	ReasonSubscriptionNeedsStream = "SUBSCRIPTION_NEEDS_STREAM"
	// ReasonStreamNotFound: graphql-sse's single connection mode names a reservation that
	// does not exist, has ended or belongs to someone else (404).
	ReasonStreamNotFound = "STREAM_NOT_FOUND"
	// ReasonStreamConflict: a second event stream for one reservation, or an operation id
	// already running on it (409).
	ReasonStreamConflict = "STREAM_CONFLICT"
)

// requestError is a request refused before it reached the executor.
type requestError struct {
	status  int
	reason  string
	field   string // the member of the request at fault, when there is one
	message string
	detail  error // for the log only
	limit   int64 // the body cap of a 413, when not MaxBodyBytes
}

func (e *requestError) apperror() *apperror.Error {
	ext := map[string]any{"reason": e.reason}
	if e.status == http.StatusRequestEntityTooLarge {
		ext["limit"] = int64(MaxBodyBytes)
		if e.limit != 0 {
			ext["limit"] = e.limit
		}
	}
	return &apperror.Error{Code: apperror.BadUserInput, Field: e.field, Message: e.message, Extensions: ext}
}

func bodyTooLarge() *requestError {
	return &requestError{status: http.StatusRequestEntityTooLarge, reason: ReasonBodyTooLarge,
		message: fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes)}
}

func malformed(field, format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, reason: ReasonMalformedRequest, field: field,
		message: fmt.Sprintf(format, args...)}
}

// refuse answers a request refused by the HTTP layer and logs it in one line: it is the
// client's mistake, not ours, so no stack and no error level.
func refuse(w http.ResponseWriter, r *http.Request, logger *slog.Logger, e *requestError) {
	attrs := []any{"request_id", audit.RequestID(r.Context()), "method", r.Method, "status", e.status, "reason", e.reason}
	if e.detail != nil {
		attrs = append(attrs, "err", e.detail)
	}
	logger.InfoContext(r.Context(), "refused GraphQL request", attrs...)
	ae := e.apperror()
	if ae.Field != "" {
		ae.Extensions["field"] = ae.Field
	}
	if e.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "GET, POST, PUT, DELETE, OPTIONS")
	}
	writeError(w, e.status, ae)
}

// readBody reads a request body, which limitBody has capped at MaxBodyBytes.
func readBody(r *http.Request) ([]byte, *requestError) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, bodyTooLarge()
	case err != nil:
		return nil, &requestError{status: http.StatusBadRequest, reason: ReasonMalformedRequest,
			message: "could not read the request body", detail: err}
	}
	return body, nil
}

// parsePOST decodes a GraphQL-over-HTTP POST body: one JSON object whose query and
// operationName are strings and whose variables and extensions are objects, each of them
// optional or null. Unknown members are ignored, as the GraphQL-over-HTTP spec asks.
func parsePOST(body []byte) (*graphql.RawParams, *requestError) {
	trimmed := trimJSONSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil, malformed("", `the request body is empty; send {"query": "…", "variables": {…}}`)
	case trimmed[0] == '[':
		return nil, &requestError{status: http.StatusBadRequest, reason: ReasonBatchNotSupported,
			message: "batched requests (a JSON array of operations) are not supported; send one operation per request " +
				"(with Apollo Client, use HttpLink rather than BatchHttpLink)"}
	case trimmed[0] != '{':
		return nil, malformed("", "the request body must be a JSON object")
	}
	var raw struct {
		Query         json.RawMessage `json:"query"`
		OperationName json.RawMessage `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, notJSON(err)
	}
	if rest := trimJSONSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return nil, malformed("", "the request body must be one JSON object; it goes on after it at byte %d", dec.InputOffset())
	}
	p := &graphql.RawParams{}
	var bad *requestError
	if p.Query, bad = jsonString("query", raw.Query); bad != nil {
		return nil, bad
	}
	if p.OperationName, bad = jsonString("operationName", raw.OperationName); bad != nil {
		return nil, bad
	}
	if p.Variables, bad = jsonObject("variables", raw.Variables); bad != nil {
		return nil, bad
	}
	if p.Extensions, bad = jsonObject("extensions", raw.Extensions); bad != nil {
		return nil, bad
	}
	return p, nil
}

// parseGET reads a GraphQL-over-HTTP GET query string: query and operationName as they
// are, variables and extensions as JSON objects.
func parseGET(rawQuery string) (*graphql.RawParams, *requestError) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, &requestError{status: http.StatusBadRequest, reason: ReasonMalformedRequest,
			message: "the query string is malformed", detail: err}
	}
	p := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	var bad *requestError
	if v := q.Get("variables"); v != "" {
		if p.Variables, bad = jsonObject("variables", json.RawMessage(v)); bad != nil {
			return nil, bad
		}
	}
	if v := q.Get("extensions"); v != "" {
		if p.Extensions, bad = jsonObject("extensions", json.RawMessage(v)); bad != nil {
			return nil, bad
		}
	}
	return p, nil
}

func notJSON(err error) *requestError {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return malformed("", "the request body is not valid JSON (at byte %d): %v", syntax.Offset, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return malformed("", "the request body is not valid JSON: it ends too early")
	}
	return malformed("", "the request body is not valid JSON: %v", err)
}

// jsonString decodes a string member; absent and null are "".
func jsonString(field string, raw json.RawMessage) (string, *requestError) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", malformed(field, "%s must be a string, not %s", field, jsonKind(raw))
	}
	return s, nil
}

// jsonObject decodes an object member, numbers kept as json.Number as gqlgen's input
// coercion expects; absent and null are nil.
func jsonObject(field string, raw json.RawMessage) (map[string]any, *requestError) {
	raw = trimJSONSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, malformed(field, "%s must be a JSON object, not %s", field, jsonKind(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, malformed(field, "%s is not a valid JSON object", field)
	}
	if rest := trimJSONSpace(raw[dec.InputOffset():]); len(rest) > 0 {
		return nil, malformed(field, "%s must be one JSON object", field)
	}
	return m, nil
}

// trimJSONSpace trims what JSON counts as white space (bytes.TrimSpace would also take
// vertical tabs, form feeds and Unicode spaces, which JSON does not allow).
func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

// jsonKind names the JSON type of a value, for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = trimJSONSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	if !json.Valid(raw) {
		return "malformed JSON"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// httpTransport is GraphQL over HTTP: GET (queries, or any operation answered as a
// stream) and POST of application/json, answered in the media type the Accept header
// prefers that can carry the operation (accept.go): application/graphql-response+json or
// application/json for one result, text/event-stream (GraphQL over SSE, sse.go) or
// multipart/mixed (incremental delivery of @defer and Apollo's multipart subscriptions,
// multipart.go) for a stream.
type httpTransport struct{ p *protocols }

// Supports claims GETs and JSON POSTs that are not upgrades nor graphql-sse's
// single-connection requests.
func (httpTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" || streamToken(r) != "" {
		return false
	}
	return r.Method == http.MethodGet || r.Method == http.MethodPost && isJSON(r.Header.Get("Content-Type"))
}

// Do reads the request strictly, negotiates the response and runs the operation.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	p, bad := readParams(r)
	if bad != nil {
		refuse(w, r, t.p.logger, bad)
		return
	}
	t.serve(w, r, exec, p)
}

// serve runs a request read by a transport (this one, or the multipart request spec's for
// uploads) and answers in the media type the client prefers.
func (t httpTransport) serve(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, p *graphql.RawParams) {
	ranges := parseAccept(r.Header.Get("Accept"))
	ctx := r.Context()
	rc, opErr := exec.CreateOperationContext(ctx, p)
	if opErr != nil {
		// A request error is answered in the client's first choice of all: graphql-sse
		// wants validation errors as a "next" event of an accepted stream.
		switch media := negotiate(ranges, mediaJSON, mediaGraphQLResponse, mediaEventStream, mediaMultipart); media {
		case mediaEventStream:
			t.p.serveSSE(w, r, exec, nil, opErr)
		default:
			writeRequestError(w, jsonMedia(media), exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		}
		return
	}
	op := rc.Operation.Operation
	if op == ast.Subscription {
		switch negotiate(ranges, mediaEventStream, mediaMultipart) {
		case mediaEventStream:
			t.p.serveSSE(w, r, exec, rc, nil)
		case mediaMultipart:
			t.p.serveMultipart(w, r, exec, rc)
		default:
			refuse(w, r, t.p.logger, &requestError{status: http.StatusNotAcceptable, reason: ReasonSubscriptionNeedsStream,
				message: "a subscription is a stream of results: send it with Accept: text/event-stream (GraphQL over SSE) or " +
					`multipart/mixed;subscriptionSpec="1.0" (Apollo's multipart subscriptions), or over a websocket (graphql-transport-ws)`})
		}
		return
	}
	if r.Method == http.MethodGet && op != ast.Query {
		refuse(w, r, t.p.logger, &requestError{status: http.StatusMethodNotAllowed, reason: ReasonMethodNotAllowed,
			message: "GET runs queries only; send mutations with POST"})
		return
	}
	switch media := negotiate(ranges, mediaJSON, mediaGraphQLResponse, mediaEventStream, mediaMultipart); media {
	case mediaEventStream:
		t.p.serveSSE(w, r, exec, rc, nil)
	case mediaMultipart:
		t.p.serveMultipart(w, r, exec, rc)
	default:
		responses, ctx := exec.DispatchOperation(ctx, rc)
		w.Header().Set("Content-Type", jsonMedia(media))
		writeResponse(w, collectIncremental(ctx, responses))
	}
}

// jsonMedia is the JSON media type of a response: application/json when negotiated, and
// application/graphql-response+json when the client accepts none of ours (the
// GraphQL-over-HTTP spec's choice for such clients).
func jsonMedia(negotiated string) string {
	if negotiated == mediaJSON {
		return mediaJSON
	}
	return mediaGraphQLResponse
}

// readParams reads the GraphQL request of a GET or a POST, refusing one without a query
// (unless it names a persisted query).
func readParams(r *http.Request) (*graphql.RawParams, *requestError) {
	start := graphql.Now()
	var p *graphql.RawParams
	var bad *requestError
	if r.Method == http.MethodGet {
		p, bad = parseGET(r.URL.RawQuery)
	} else {
		var body []byte
		if body, bad = readBody(r); bad == nil {
			p, bad = parsePOST(body)
		}
	}
	if bad != nil {
		return nil, bad
	}
	if p.Query == "" && p.Extensions["persistedQuery"] == nil {
		return nil, malformed("query", `the request has no query; send {"query": "…"} (or a persisted query's extensions.persistedQuery)`)
	}
	p.Headers = r.Header
	p.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	return p, nil
}

// unsupportedTransport answers every request no other transport claimed: another method,
// or a POST of another media type.
type unsupportedTransport struct{ logger *slog.Logger }

// Supports claims whatever is left.
func (unsupportedTransport) Supports(*http.Request) bool { return true }

// Do refuses the request.
func (t unsupportedTransport) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "none"
		}
		refuse(w, r, t.logger, &requestError{status: http.StatusUnsupportedMediaType, reason: ReasonUnsupportedMediaType,
			message: fmt.Sprintf("unsupported Content-Type %q: send the request as application/json", abbreviate(ct, 100))})
		return
	}
	refuse(w, r, t.logger, &requestError{status: http.StatusMethodNotAllowed, reason: ReasonMethodNotAllowed,
		message: fmt.Sprintf("method %s is not allowed here: use POST (or GET for queries; PUT and DELETE with graphql-sse's single connection)",
			abbreviate(r.Method, 20))})
}

func abbreviate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// writeRequestError answers a request that failed before execution (it does not parse or
// validate, its variables do not coerce, it is over a limit): never with a "data" entry,
// as nothing was executed, and, as the GraphQL-over-HTTP spec asks, with 200 for
// application/json and 400 for application/graphql-response+json (whose clients read the
// status: a response without data is never a 2xx).
func writeRequestError(w http.ResponseWriter, contentType string, resp *graphql.Response) {
	status := http.StatusOK
	if contentType == mediaGraphQLResponse {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	b, err := json.Marshal(requestErrorBody(resp))
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal error: the response could not be encoded","extensions":{"code":"INTERNAL"}}]}`)
	}
	_, _ = w.Write(b)
}

// requestErrorBody is a request error's response: errors (and extensions), no data.
func requestErrorBody(resp *graphql.Response) any {
	return struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Errors, resp.Extensions}
}

// writeResponse writes a GraphQL response; it cannot fail to encode, as its data is JSON
// the executor wrote.
func writeResponse(w io.Writer, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal error: the response could not be encoded","extensions":{"code":"INTERNAL"}}]}`)
	}
	_, _ = w.Write(b)
}
