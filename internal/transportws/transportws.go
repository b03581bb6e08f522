// Package transportws serves GraphQL over websockets in the graphql-transport-ws protocol
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md) to the letter, on
// coder/websocket, executing every operation through gqlgen's executor. gqlgen's own
// websocket transport is kept for the legacy subscriptions-transport-ws protocol (whose
// subprotocol is named graphql-ws); its graphql-transport-ws side differs from the
// specification in its close codes, lets two operations share an id and cannot end a
// connection with a reason of the server's choosing.
//
// Beyond the specification the server may end a connection for a reason of its own (an
// expired access token, say): every running operation is sent an error naming it, then
// the socket closes with the reason's code (CloseError); and a client may send a ping
// whose payload is {"type": "refresh", …}, answered by the pong of Server.Refresh.
package transportws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Subprotocol is the websocket subprotocol this transport speaks.
const Subprotocol = "graphql-transport-ws"

// The protocol's close codes.
const (
	CloseBadRequest          = 4400 // an invalid message
	CloseUnauthorized        = 4401 // subscribe before connection_ack
	CloseForbidden           = 4403 // connection_init refused; the server's own reasons (token expiry)
	CloseInitTimeout         = 4408 // no connection_init in time
	CloseSubscriberExists    = 4409 // subscribe with the id of a running operation
	CloseTooManyInitRequests = 4429 // a second connection_init
	CloseInternalServerError = 4500
)

// CloseError ends a connection with Code and Reason: returned by Server.Init to refuse a
// connection_init, or the cause (context.Cause) with which an accepted connection's
// context is cancelled. Errors, when set, are first sent as an error message to every
// running operation, so each subscriber learns why its subscription ended.
type CloseError struct {
	Code   int
	Reason string
	Errors gqlerror.List
}

func (e *CloseError) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Reason) }

// Server is the graphql-transport-ws transport; add it to a gqlgen handler.Server before
// gqlgen's transport.Websocket, which then serves only the other subprotocols.
type Server struct {
	// Accept configures the upgrade (OriginPatterns); Subprotocols is set by Server.
	Accept websocket.AcceptOptions
	// InitTimeout is how long a client has from the upgrade to its connection_init before
	// the socket closes with 4408 (10 s when zero).
	InitTimeout time.Duration
	// PingInterval is how often the server pings; a client that has not answered any
	// ping with a pong for two intervals is cut off (15 s when zero).
	PingInterval time.Duration
	// ReadLimit caps one message from the client (1 MiB when zero).
	ReadLimit int64
	// AfterFunc runs f once d has passed: the init timeout goes by it, so tests can fire
	// it on cue. time.AfterFunc when nil.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Init authenticates connection_init's payload and returns the connection's context.
	// A *CloseError refuses the connection with its code (another error: 4500). When the
	// returned context ends, the connection ends; a *CloseError cause says how.
	Init func(ctx context.Context, payload map[string]any) (context.Context, error)
	// Refresh answers a ping whose payload's "type" is "refresh": what it returns is the
	// pong's payload. Such pings are echoed like any other when nil.
	Refresh func(ctx context.Context, payload map[string]any) map[string]any
	// Logger reports failures of the server's own making.
	Logger *slog.Logger
}

var _ graphql.Transport = (*Server)(nil)

// Supports claims websocket upgrades that offer graphql-transport-ws.
func (s *Server) Supports(r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			if strings.EqualFold(strings.TrimSpace(p), Subprotocol) {
				return true
			}
		}
	}
	return false
}

// Do serves one connection until it ends.
func (s *Server) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	opts := s.Accept
	opts.Subprotocols = []string{Subprotocol}
	after := s.AfterFunc
	if after == nil {
		after = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	initTimeout := s.InitTimeout
	if initTimeout <= 0 {
		initTimeout = 10 * time.Second
	}
	c := &conn{s: s, exec: exec, header: r.Header, ops: map[string]*operation{}}
	// The init timer starts before the upgrade completes, so a client (or a test on a
	// manual clock) that has its socket knows the timer runs.
	timedOut := make(chan struct{})
	stopTimer := after(initTimeout, func() { close(timedOut) })
	defer stopTimer()
	ws, err := websocket.Accept(w, r, &opts)
	if err != nil {
		return // Accept has answered the request
	}
	c.ws = ws
	limit := s.ReadLimit
	if limit <= 0 {
		limit = 1 << 20
	}
	ws.SetReadLimit(limit)
	if ws.Subprotocol() != Subprotocol {
		// Supports saw it offered; a client that offered it in a form Accept does not
		// recognise gets the protocol's refusal.
		_ = ws.Close(4406, "Subprotocol not acceptable")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	c.ctx, c.readCtx = ctx, ctx
	go func() {
		select {
		case <-timedOut:
			c.mu.Lock()
			waiting := !c.initReceived
			c.mu.Unlock()
			if waiting {
				c.close(CloseInitTimeout, "Connection initialisation timeout")
			}
		case <-ctx.Done():
		}
	}()
	go c.keepAlive(ctx)
	c.readLoop()
}

// conn is one connection.
type conn struct {
	s      *Server
	exec   graphql.GraphExecutor
	header http.Header
	ws     *websocket.Conn
	ctx    context.Context // the operations' parent: the request's, after connection_ack Init's
	// readCtx is the request's: reading under Init's context would have coder/websocket cut
	// the socket the moment that context ends, before the reason could be sent.
	readCtx context.Context

	lastPong atomic.Int64 // unix nanoseconds of the last pong (or of the start)

	// mu guards the state below, and is held while an operation's message is written so
	// that nothing is sent for an operation after it has ended (the client completed it,
	// or the connection ended it).
	mu           sync.Mutex
	initReceived bool
	acked        bool
	closed       bool
	ops          map[string]*operation
}

// operation is one running subscribe.
type operation struct {
	id     string
	cancel context.CancelFunc
	errs   *opErrors
}

// message is a protocol message either way.
type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// subscribePayload is a subscribe message's payload.
type subscribePayload struct {
	Query         *string         `json:"query"`
	OperationName *string         `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
}

func (c *conn) readLoop() {
	for {
		start := graphql.Now()
		typ, b, err := c.ws.Read(c.readCtx)
		if err != nil {
			c.close(websocket.StatusNormalClosure, "") // no-op once closed; a gone peer hears nothing
			return
		}
		if typ != websocket.MessageText {
			c.close(CloseBadRequest, "Invalid message received: not a text message")
			return
		}
		m, payload, err := parse(b)
		if err != nil {
			c.close(CloseBadRequest, "Invalid message received: "+err.Error())
			return
		}
		switch m.Type {
		case "connection_init":
			if !c.init(payload) {
				return
			}
		case "ping":
			c.pong(payload, m.Payload)
		case "pong":
			c.lastPong.Store(time.Now().UnixNano())
		case "subscribe":
			c.mu.Lock()
			acked, dup := c.acked, c.ops[m.ID] != nil
			c.mu.Unlock()
			if !acked {
				c.close(CloseUnauthorized, "Unauthorized")
				return
			}
			if dup {
				c.close(CloseSubscriberExists, "Subscriber for "+m.ID+" already exists")
				return
			}
			c.subscribe(start, m)
		case "complete":
			c.mu.Lock()
			op := c.ops[m.ID]
			delete(c.ops, m.ID) // the id is free at once; nothing more is sent for it
			c.mu.Unlock()
			if op != nil {
				op.cancel()
			}
		default: // next, error, connection_ack: the server's to send
			c.close(CloseBadRequest, "Invalid message received: unexpected message type "+m.Type)
			return
		}
	}
}

// parse reads and checks one client message as the protocol describes it.
func parse(b []byte) (message, map[string]any, error) {
	var m message
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&m); err != nil {
		return m, nil, errors.New("not a JSON message object")
	}
	if d.More() {
		return m, nil, errors.New("trailing data after the message")
	}
	var payload map[string]any
	object := func() error {
		if len(m.Payload) == 0 || string(m.Payload) == "null" {
			return nil
		}
		if err := json.Unmarshal(m.Payload, &payload); err != nil || payload == nil {
			return fmt.Errorf("%q message's payload must be an object", m.Type)
		}
		return nil
	}
	needID := func() error {
		if m.ID == "" {
			return fmt.Errorf("%q message requires a non-empty id", m.Type)
		}
		return nil
	}
	switch m.Type {
	case "":
		return m, nil, errors.New("the message has no type")
	case "connection_init", "ping", "pong", "connection_ack":
		return m, payload, object()
	case "subscribe":
		if err := needID(); err != nil {
			return m, nil, err
		}
		if err := object(); err != nil || payload == nil {
			return m, nil, errors.New(`"subscribe" message's payload must be an object`)
		}
		if _, ok := payload["query"].(string); !ok {
			return m, nil, errors.New(`"subscribe" payload's query must be a string`)
		}
		if v, ok := payload["variables"]; ok && v != nil {
			if _, ok := v.(map[string]any); !ok {
				return m, nil, errors.New(`"subscribe" payload's variables must be an object`)
			}
		}
		if v, ok := payload["extensions"]; ok && v != nil {
			if _, ok := v.(map[string]any); !ok {
				return m, nil, errors.New(`"subscribe" payload's extensions must be an object`)
			}
		}
		if v, ok := payload["operationName"]; ok && v != nil {
			if _, ok := v.(string); !ok {
				return m, nil, errors.New(`"subscribe" payload's operationName must be a string`)
			}
		}
		return m, payload, nil
	case "complete", "next", "error":
		return m, nil, needID()
	}
	return m, nil, fmt.Errorf("unknown message type %q", m.Type)
}

// init answers connection_init; false when the connection has ended.
func (c *conn) init(payload map[string]any) bool {
	c.mu.Lock()
	again := c.initReceived
	c.initReceived = true
	c.mu.Unlock()
	if again {
		c.close(CloseTooManyInitRequests, "Too many initialisation requests")
		return false
	}
	if payload == nil {
		payload = map[string]any{}
	}
	ctx := c.ctx
	if c.s.Init != nil {
		var err error
		if ctx, err = c.s.Init(c.ctx, payload); err != nil {
			var ce *CloseError
			if !errors.As(err, &ce) {
				c.logError("connection_init", err)
				ce = &CloseError{Code: CloseInternalServerError, Reason: "Internal server error"}
			}
			c.close(websocket.StatusCode(ce.Code), ce.Reason)
			return false
		}
	}
	c.mu.Lock()
	if c.closed { // the init timeout fired meanwhile
		c.mu.Unlock()
		return false
	}
	c.ctx = ctx
	c.acked = true
	err := c.write(message{Type: "connection_ack"})
	c.mu.Unlock()
	if err != nil {
		return false
	}
	go c.endWith(ctx)
	return true
}

// endWith ends the connection when ctx (Init's) ends, for the reason its cause gives.
func (c *conn) endWith(ctx context.Context) {
	<-ctx.Done()
	var ce *CloseError
	if !errors.As(context.Cause(ctx), &ce) {
		// The request's context: the server shuts down, or the connection already ended.
		c.close(websocket.StatusGoingAway, "Going away")
		return
	}
	c.mu.Lock()
	if len(ce.Errors) > 0 && !c.closed {
		payload, _ := json.Marshal(ce.Errors)
		for id, op := range c.ops {
			delete(c.ops, id)
			op.cancel()
			_ = c.write(message{ID: id, Type: "error", Payload: payload})
		}
	}
	c.mu.Unlock()
	c.close(websocket.StatusCode(ce.Code), ce.Reason)
}

// pong answers a ping: a refresh with Server.Refresh's answer, any other by echoing it.
func (c *conn) pong(payload map[string]any, raw json.RawMessage) {
	if c.s.Refresh != nil && payload["type"] == "refresh" {
		c.mu.Lock()
		acked := c.acked
		c.mu.Unlock()
		if acked {
			reply, err := json.Marshal(c.s.Refresh(c.ctx, payload))
			if err != nil {
				c.logError("refresh", err)
				return
			}
			raw = reply
		}
	}
	_ = c.writeNow(message{Type: "pong", Payload: raw})
}

// keepAlive pings every interval and cuts off a client that has answered none for two:
// a dead peer, or one that stopped reading (which also frees a writer stuck on its full
// socket).
func (c *conn) keepAlive(ctx context.Context) {
	every := c.s.PingInterval
	if every <= 0 {
		every = 15 * time.Second
	}
	c.lastPong.Store(time.Now().UnixNano())
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if now.Sub(time.Unix(0, c.lastPong.Load())) > 2*every+every/2 {
				c.mu.Lock()
				c.closed = true
				c.mu.Unlock()
				_ = c.ws.CloseNow()
				return
			}
			_ = c.writeNow(message{Type: "ping"})
		}
	}
}

// subscribe starts an operation.
func (c *conn) subscribe(start time.Time, m message) {
	var p subscribePayload
	_ = json.Unmarshal(m.Payload, &p) // parse checked its shape
	params := &graphql.RawParams{Query: *p.Query, Headers: c.header,
		ReadTime: graphql.TraceTiming{Start: start, End: graphql.Now()}}
	if p.OperationName != nil {
		params.OperationName = *p.OperationName
	}
	if err := decodeObject(p.Variables, &params.Variables); err != nil {
		c.close(CloseBadRequest, "Invalid message received: variables")
		return
	}
	if err := decodeObject(p.Extensions, &params.Extensions); err != nil {
		c.close(CloseBadRequest, "Invalid message received: extensions")
		return
	}

	c.mu.Lock()
	connCtx := c.ctx
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(graphql.StartOperationTrace(connCtx))
	op := &operation{id: m.ID, cancel: cancel, errs: &opErrors{}}
	ctx = context.WithValue(ctx, opErrorsKey{}, op.errs)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancel()
		return
	}
	c.ops[m.ID] = op
	c.mu.Unlock()

	go func() {
		defer cancel()
		rc, err := c.exec.CreateOperationContext(ctx, params)
		if err != nil {
			// The kind first: the error presenter may rewrite the codes it is read from.
			kind := errcode.GetErrorKind(err)
			resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), err)
			if kind == errcode.KindProtocol {
				// A request that cannot run (parse, validation, variables): error, as
				// the specification says, and nothing after it.
				c.finish(op, resp.Errors)
				return
			}
			c.send(op, resp)
			c.finish(op, nil)
			return
		}
		ctx := graphql.WithOperationContext(ctx, rc)
		defer func() {
			if r := recover(); r != nil {
				err := rc.Recover(ctx, r)
				var gqlErr *gqlerror.Error
				if !errors.As(err, &gqlErr) {
					gqlErr = &gqlerror.Error{Message: "internal error"}
				}
				c.finish(op, gqlerror.List{gqlErr})
			}
		}()
		responses, ctx := c.exec.DispatchOperation(ctx, rc)
		for {
			resp := responses(ctx)
			if resp == nil {
				break
			}
			c.send(op, resp)
		}
		c.finish(op, op.errs.take())
	}()
}

func decodeObject(raw json.RawMessage, into *map[string]any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber() // as gqlgen's own transports read variables
	return d.Decode(into)
}

// send writes a result of op, unless op has ended.
func (c *conn) send(op *operation, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		c.logError("encoding a result", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops[op.id] == op {
		_ = c.write(message{ID: op.id, Type: "next", Payload: b})
	}
}

// finish ends op with error (when errs) or complete, unless it has ended already.
func (c *conn) finish(op *operation, errs gqlerror.List) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops[op.id] != op {
		return
	}
	if c.ctx.Err() != nil {
		// The connection is ending (its operations end with it): endWith tells each
		// operation why, rather than a complete that would read as a normal end.
		return
	}
	delete(c.ops, op.id)
	if len(errs) > 0 {
		b, _ := json.Marshal(errs)
		_ = c.write(message{ID: op.id, Type: "error", Payload: b})
		return
	}
	_ = c.write(message{ID: op.id, Type: "complete"})
}

// write sends m; the caller holds mu.
func (c *conn) write(m message) error {
	if c.closed {
		return errors.New("closed")
	}
	return c.writeNow(m)
}

// writeNow sends m without ordering it against the operations' messages.
func (c *conn) writeNow(m message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	// No deadline: a client that stops reading is cut off by keepAlive.
	return c.ws.Write(context.Background(), websocket.MessageText, b)
}

// close ends the connection once, with code and reason, and every operation with it.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	for id, op := range c.ops {
		delete(c.ops, id)
		op.cancel()
	}
	c.mu.Unlock()
	if len(reason) > 123 { // the most a close frame carries
		reason = reason[:120] + "..."
	}
	_ = c.ws.Close(code, reason)
}

func (c *conn) logError(what string, err error) {
	if c.s.Logger != nil {
		c.s.Logger.ErrorContext(c.ctx, "graphql-transport-ws: "+what, "err", err)
	}
}

// opErrors are the errors an operation's resolvers recorded (AddError).
type opErrors struct {
	mu   sync.Mutex
	errs gqlerror.List
}

func (e *opErrors) take() gqlerror.List {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.errs
}

type opErrorsKey struct{}

// AddError ends the operation of ctx, when its event stream closes, with an error message
// carrying err instead of a complete (as gqlgen's transport.AddSubscriptionError does for
// its transports); false when ctx is not an operation of this transport.
func AddError(ctx context.Context, err *gqlerror.Error) bool {
	e, ok := ctx.Value(opErrorsKey{}).(*opErrors)
	if !ok {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
	return true
}
