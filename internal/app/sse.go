package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/streams"
	"github.com/xiadan/xiadan/internal/viewer"
)

// GraphQL over Server-Sent Events, as the graphql-sse protocol has it
// (https://github.com/enisdenjo/graphql-sse/blob/master/PROTOCOL.md), in both its modes:
//
//   - distinct connections: each operation is a GET or POST with Accept: text/event-stream
//     answered by its own stream of "next" events and one "complete";
//   - single connection: PUT reserves a stream and answers its token; one GET or POST with
//     the token (header X-GraphQL-Event-Stream-Token or parameter token) and Accept:
//     text/event-stream opens it; operations are POSTed with the token and an
//     extensions.operationId, answered 202 and streamed as {"id", "payload"}; DELETE
//     ?operationId= stops one.
//
// Every stream sends a ":" comment line every STREAM_KEEPALIVE_INTERVAL, so proxies with
// an idle timeout keep it. A stream (a reservation from its PUT on) counts against its
// account's WS_MAX_PER_USER and ends when the account's access changes; a reservation is
// bound to whoever made it.

// streamTokenHeader carries a single-connection reservation's token.
const streamTokenHeader = "X-GraphQL-Event-Stream-Token"

// reservationTTL is how long a reservation waits for its event stream.
const reservationTTL = time.Minute

// maxPendingMessages bounds what a reservation keeps for an event stream not yet open.
const maxPendingMessages = 256

// protocols is what the HTTP transports share: the logger, the keep-alive, the stream
// accounting and graphql-sse's reservations.
type protocols struct {
	logger    *slog.Logger
	keepAlive time.Duration
	streams   *streams.Registry

	mu           sync.Mutex
	reservations map[string]*reservation
}

func newProtocols(logger *slog.Logger, keepAlive time.Duration, reg *streams.Registry) *protocols {
	if keepAlive <= 0 {
		keepAlive = 15 * time.Second
	}
	return &protocols{logger: logger, keepAlive: keepAlive, streams: reg, reservations: map[string]*reservation{}}
}

// openStream counts a stream of the caller of ctx that cancel ends, until ctx ends; past
// the cap it answers 429 and returns false.
func (p *protocols) openStream(w http.ResponseWriter, ctx context.Context, cancel context.CancelFunc) bool {
	release, err := p.streams.Open(viewer.FromContext(ctx), auth.ClientFromContext(ctx).IP, cancel)
	if err != nil {
		tooManyStreams(w, err)
		return false
	}
	context.AfterFunc(ctx, release)
	return true
}

func tooManyStreams(w http.ResponseWriter, err error) {
	e := &apperror.Error{Code: apperror.RateLimited, Message: err.Error()}
	if tooMany := (*streams.TooManyError)(nil); errors.As(err, &tooMany) {
		e.Extensions = map[string]any{"limit": tooMany.Max}
	}
	writeError(w, http.StatusTooManyRequests, e)
}

// sseWriter writes Server-Sent Events to one response; its methods may be called from
// several goroutines.
type sseWriter struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

// startSSE answers 200 text/event-stream and writes a first comment, which some browsers
// need to see the stream open.
func startSSE(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	_ = s.write([]byte(":\n\n"))
	return s
}

func (s *sseWriter) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, err := s.w.Write(b); err != nil {
		s.err = err
		return err
	}
	if err := s.rc.Flush(); err != nil {
		s.err = err
	}
	return s.err
}

// errStreamClosed fails writes after the handler that owns the response has returned.
var errStreamClosed = errors.New("the stream has closed")

// close makes every later write fail: net/http forbids using a ResponseWriter after its
// handler returned, and keep-alives and operations write from their own goroutines.
func (s *sseWriter) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = errStreamClosed
}

// event writes one event whose data is v as JSON (or an empty data line for nil).
func (s *sseWriter) event(name string, v any) error {
	data := []byte{}
	if v != nil {
		var err error
		if data, err = json.Marshal(v); err != nil {
			return err
		}
	}
	b := make([]byte, 0, len(name)+len(data)+20)
	b = append(b, "event: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	return s.write(b)
}

// keepAlive writes a comment every interval until ctx ends or a write fails.
func (s *sseWriter) keepAlive(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.write([]byte(":\n\n")) != nil {
				return
			}
		}
	}
}

// serveSSE answers one operation in distinct-connections mode: its results as "next"
// events, then "complete". A request error (rc nil, opErr set) is one "next" with the
// errors, as graphql-sse asks.
func (p *protocols) serveSSE(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, rc *graphql.OperationContext, opErr gqlerror.List) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if !p.openStream(w, ctx, cancel) {
		return
	}
	s := startSSE(w)
	defer s.close()
	go s.keepAlive(ctx, p.keepAlive)
	if opErr != nil {
		_ = s.event("next", requestErrorBody(exec.DispatchError(ctx, opErr)))
		_ = s.event("complete", nil)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	for resp := responses(ctx); resp != nil; resp = responses(ctx) {
		if s.event("next", resp) != nil {
			return
		}
	}
	_ = s.event("complete", nil)
}

// reservation is one single-connection stream of graphql-sse, from its PUT on.
type reservation struct {
	token, owner string
	ctx          context.Context // ends with the reservation
	cancel       context.CancelFunc

	mu      sync.Mutex
	out     *sseWriter // the event stream, once open
	opened  bool
	pending [][]byte              // events written before the stream opened
	ops     map[string]*runningOp // running operations by id
}

// runningOp is an operation running on a reservation.
type runningOp struct{ cancel context.CancelFunc }

// send writes an event to the stream, or keeps it until the stream opens.
func (res *reservation) send(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	msg := []byte("event: " + name + "\ndata: " + string(data) + "\n\n")
	res.mu.Lock()
	out := res.out
	if out == nil {
		if len(res.pending) >= maxPendingMessages {
			res.mu.Unlock()
			res.cancel() // a client that never opens its stream loses it
			return
		}
		res.pending = append(res.pending, msg)
		res.mu.Unlock()
		return
	}
	res.mu.Unlock()
	if out.write(msg) != nil {
		res.cancel()
	}
}

// streamOwner is whom a reservation belongs to: the signed-in person, the API client or,
// without a token, the client's address.
func streamOwner(ctx context.Context) string {
	v := viewer.FromContext(ctx)
	switch {
	case v != nil && v.UserID != 0:
		return "user:" + strconv.Itoa(v.UserID)
	case v != nil && v.APIClientID != 0:
		return "client:" + strconv.Itoa(v.APIClientID)
	}
	return "addr:" + auth.ClientFromContext(ctx).IP
}

// streamToken is the reservation token a request presents, if any.
func streamToken(r *http.Request) string {
	if t := r.Header.Get(streamTokenHeader); t != "" {
		return t
	}
	if r.Method == http.MethodGet || r.Method == http.MethodDelete || r.Method == http.MethodPost {
		if q, err := url.ParseQuery(r.URL.RawQuery); err == nil {
			return q.Get("token")
		}
	}
	return ""
}

// sseSingleTransport is graphql-sse's single connection mode (see above).
type sseSingleTransport struct{ p *protocols }

// Supports claims PUTs, DELETEs, and requests that present a reservation token.
func (sseSingleTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	return r.Method == http.MethodPut || r.Method == http.MethodDelete ||
		(r.Method == http.MethodGet || r.Method == http.MethodPost) && streamToken(r) != ""
}

// Do dispatches on the method.
func (t sseSingleTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	p := t.p
	if r.Method == http.MethodPut {
		p.reserve(w, r)
		return
	}
	res := p.reservation(r)
	if res == nil {
		refuse(w, r, p.logger, &requestError{status: http.StatusNotFound, reason: ReasonStreamNotFound,
			message: "no such event stream reservation: it has ended or was never made by you; reserve one with PUT"})
		return
	}
	switch r.Method {
	case http.MethodDelete:
		opID := r.URL.Query().Get("operationId")
		if opID == "" {
			refuse(w, r, p.logger, malformed("operationId", "DELETE needs the operationId parameter of the operation to stop"))
			return
		}
		res.mu.Lock()
		op := res.ops[opID]
		delete(res.ops, opID) // stopped: no "complete" follows
		res.mu.Unlock()
		if op != nil {
			op.cancel()
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		if negotiate(parseAccept(r.Header.Get("Accept")), mediaEventStream) == "" {
			refuse(w, r, p.logger, &requestError{status: http.StatusNotAcceptable, reason: ReasonMalformedRequest,
				message: "a GET with a reservation token opens its event stream: send Accept: text/event-stream"})
			return
		}
		p.openReserved(w, r, res)
	default: // POST: the event stream when it asks for one, an operation otherwise
		if negotiate(parseAccept(r.Header.Get("Accept")), mediaJSON, mediaGraphQLResponse, mediaEventStream) == mediaEventStream {
			p.openReserved(w, r, res)
			return
		}
		p.startOperation(w, r, exec, res)
	}
}

// reserve makes a reservation for the caller and answers 201 with its token.
func (p *protocols) reserve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Accept") != "" && negotiate(parseAccept(r.Header.Get("Accept")), "text/plain") == "" {
		refuse(w, r, p.logger, &requestError{status: http.StatusNotAcceptable, reason: ReasonMalformedRequest,
			message: "a reservation is answered with its token as text/plain"})
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	res := &reservation{token: hex.EncodeToString(b), owner: streamOwner(r.Context()), ctx: ctx, cancel: cancel,
		ops: map[string]*runningOp{}}
	if !p.openStream(w, ctx, cancel) {
		cancel()
		return
	}
	p.mu.Lock()
	p.reservations[res.token] = res
	p.mu.Unlock()
	context.AfterFunc(ctx, func() {
		p.mu.Lock()
		delete(p.reservations, res.token)
		p.mu.Unlock()
	})
	// A reservation whose stream never opens expires.
	time.AfterFunc(reservationTTL, func() {
		res.mu.Lock()
		opened := res.opened
		res.mu.Unlock()
		if !opened {
			cancel()
		}
	})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(res.token))
}

// reservation returns the live reservation r presents, if the caller made it.
func (p *protocols) reservation(r *http.Request) *reservation {
	token := streamToken(r)
	p.mu.Lock()
	res := p.reservations[token]
	p.mu.Unlock()
	if res == nil || res.ctx.Err() != nil || res.owner != streamOwner(r.Context()) {
		return nil
	}
	return res
}

// openReserved serves a reservation's event stream until the client goes, the token
// expires or the account's access changes; the reservation and its operations end with it.
func (p *protocols) openReserved(w http.ResponseWriter, r *http.Request, res *reservation) {
	res.mu.Lock()
	if res.opened {
		res.mu.Unlock()
		refuse(w, r, p.logger, &requestError{status: http.StatusConflict, reason: ReasonStreamConflict,
			message: "this reservation's event stream is already open"})
		return
	}
	res.opened = true
	res.mu.Unlock()
	defer res.cancel()
	stop := context.AfterFunc(r.Context(), res.cancel)
	defer stop()

	out := startSSE(w)
	defer out.close()
	res.mu.Lock()
	for _, msg := range res.pending {
		_ = out.write(msg)
	}
	res.pending = nil
	res.out = out
	res.mu.Unlock()
	go out.keepAlive(res.ctx, p.keepAlive)
	<-res.ctx.Done()
}

// startOperation runs an operation POSTed with a reservation token: 202 once it is
// valid, its results then streamed as {"id", "payload"}; request errors are answered
// directly, as for any GraphQL-over-HTTP request.
func (p *protocols) startOperation(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, res *reservation) {
	if !isJSON(r.Header.Get("Content-Type")) {
		unsupportedTransport{logger: p.logger}.Do(w, r, exec)
		return
	}
	params, bad := readParams(r)
	if bad != nil {
		refuse(w, r, p.logger, bad)
		return
	}
	opID, _ := params.Extensions["operationId"].(string)
	if opID == "" {
		refuse(w, r, p.logger, malformed("extensions.operationId", "an operation on a reserved event stream needs a string extensions.operationId"))
		return
	}
	media := jsonMedia(negotiate(parseAccept(r.Header.Get("Accept")), mediaJSON, mediaGraphQLResponse))
	rc, opErr := exec.CreateOperationContext(r.Context(), params)
	if opErr != nil {
		writeRequestError(w, media, exec.DispatchError(graphql.WithOperationContext(r.Context(), rc), opErr))
		return
	}
	// The operation outlives this request: it runs until it completes, is stopped, or the
	// reservation ends — and no longer than this request's token.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	if deadline, ok := tokenExpiry(r.Context()); ok {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	stopWithReservation := context.AfterFunc(res.ctx, cancel)
	res.mu.Lock()
	if _, dup := res.ops[opID]; dup {
		res.mu.Unlock()
		stopWithReservation()
		cancel()
		refuse(w, r, p.logger, &requestError{status: http.StatusConflict, reason: ReasonStreamConflict, field: "extensions.operationId",
			message: fmt.Sprintf("operation %q is already running on this stream", abbreviate(opID, 64))})
		return
	}
	op := &runningOp{cancel: cancel}
	res.ops[opID] = op
	res.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)

	go func() {
		defer func() {
			stopWithReservation()
			cancel()
		}()
		type payload struct {
			ID      string            `json:"id"`
			Payload *graphql.Response `json:"payload"`
		}
		responses, ctx := exec.DispatchOperation(ctx, rc)
		for resp := responses(ctx); resp != nil; resp = responses(ctx) {
			res.send("next", payload{opID, resp})
		}
		// Completed, or ended by its token's expiry: say so, unless DELETE stopped it
		// (it is no longer listed) or the reservation is gone.
		res.mu.Lock()
		mine := res.ops[opID] == op
		if mine {
			delete(res.ops, opID)
		}
		res.mu.Unlock()
		if mine && res.ctx.Err() == nil {
			res.send("complete", map[string]string{"id": opID})
		}
	}()
}
