package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The websocket subprotocols the server speaks.
const (
	// ProtocolTransportWS is graphql-transport-ws, what the graphql-ws client library speaks:
	// connection_init → connection_ack, subscribe → next/error/complete, ping/pong.
	ProtocolTransportWS = "graphql-transport-ws"
	// ProtocolLegacyWS is subscriptions-transport-ws, which named itself graphql-ws:
	// connection_init → connection_ack (+ka), start → data/error/complete, stop.
	ProtocolLegacyWS = "graphql-ws"
)

// WSOptions configure DialWS.
type WSOptions struct {
	// Protocol is the subprotocol to ask for; ProtocolTransportWS when empty.
	Protocol string
	// Token goes into connection_init as {"Authorization": "Bearer <token>"}; none when empty.
	Token string
	// Origin is sent as the Origin header when set, as a browser would.
	Origin string
	// Paused leaves the socket unread after connection_ack until Resume is called: a
	// subscriber that does not keep up (and does not answer pings meanwhile).
	Paused bool
}

// WSMessage is one protocol message, either way.
type WSMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// WSEvent is what a subscription receives, the same for both protocols.
type WSEvent struct {
	// Type is "next" (a result; the legacy "data" too), "error" (the operation failed and
	// ended) or "complete" (the server ended it).
	Type string
	// Response is the result of a next, or carries the errors of an error; for a complete
	// it is empty, never nil, so a test that expected a result fails rather than panics.
	Response *Response
}

// Code is the extensions.code of the event's first error, "" when there is none.
func (e WSEvent) Code() string {
	if e.Response == nil {
		return ""
	}
	return e.Response.Code()
}

// WSClient is a GraphQL websocket client speaking one of the server's subprotocols exactly.
// It answers the server's pings itself; every other message goes to its subscription.
// It needs no testing.T, so the benchmark can drive thousands of them.
type WSClient struct {
	conn     *websocket.Conn
	protocol string

	mu      sync.Mutex
	subs    map[string]*WSSubscription
	nextID  int
	started bool
	err     error // why the socket ended, once done is closed
	done    chan struct{}
	other   chan WSMessage // connection-level messages (connection_error, say)
}

// WSSubscription is one operation on a WSClient.
type WSSubscription struct {
	ID string
	c  *WSClient
	ch chan WSEvent
}

// DialWS connects to the GraphQL endpoint at url (ws://…/graphql), sends connection_init
// and waits for connection_ack. A refused connection_init is an error carrying the close
// status (websocket.CloseStatus).
func DialWS(ctx context.Context, url string, o WSOptions) (*WSClient, error) {
	if o.Protocol == "" {
		o.Protocol = ProtocolTransportWS
	}
	h := http.Header{}
	if o.Origin != "" {
		h.Set("Origin", o.Origin)
	}
	conn, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{o.Protocol}, HTTPHeader: h})
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("websocket upgrade refused with HTTP %d: %w", res.StatusCode, err)
		}
		return nil, err
	}
	if conn.Subprotocol() != o.Protocol {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("server chose subprotocol %q, not %q", conn.Subprotocol(), o.Protocol)
	}
	conn.SetReadLimit(64 << 20)
	c := &WSClient{conn: conn, protocol: o.Protocol, subs: map[string]*WSSubscription{},
		done: make(chan struct{}), other: make(chan WSMessage, 16)}
	init := WSMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)}
	if o.Token != "" {
		init.Payload, _ = json.Marshal(map[string]string{"Authorization": "Bearer " + o.Token})
	}
	if err := c.Send(ctx, init); err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	for {
		m, err := c.read(ctx)
		if err != nil {
			_ = conn.CloseNow()
			return nil, fmt.Errorf("waiting for connection_ack: %w", err)
		}
		if m.Type == "connection_ack" {
			break
		}
		if m.Type == "connection_error" {
			// The legacy protocol says why before it closes.
			_, err := c.read(ctx)
			_ = conn.CloseNow()
			return nil, fmt.Errorf("connection_error %s: %w", m.Payload, err)
		}
	}
	if !o.Paused {
		c.Resume()
	}
	return c, nil
}

// Protocol is the negotiated subprotocol.
func (c *WSClient) Protocol() string { return c.protocol }

// Send writes one protocol message.
func (c *WSClient) Send(ctx context.Context, m WSMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.conn.Write(ctx, websocket.MessageText, b)
}

func (c *WSClient) read(ctx context.Context) (WSMessage, error) {
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		return WSMessage{}, err
	}
	var m WSMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return WSMessage{}, fmt.Errorf("message is not JSON: %s", b)
	}
	return m, nil
}

// Resume starts reading the socket (DialWS does, unless Paused).
func (c *WSClient) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		c.started = true
		go c.readLoop()
	}
}

func (c *WSClient) readLoop() {
	var err error
	for {
		var m WSMessage
		if m, err = c.read(context.Background()); err != nil {
			break
		}
		switch m.Type {
		case "ping":
			go func() { _ = c.Send(context.Background(), WSMessage{Type: "pong", Payload: m.Payload}) }()
			continue
		case "ka":
			continue
		case "pong":
			if len(m.Payload) == 0 {
				continue // an answer to nobody's question
			}
			// A pong with a payload answers the test's own ping (a refresh, say).
			select {
			case c.other <- m:
			default:
			}
			continue
		}
		c.mu.Lock()
		s := c.subs[m.ID]
		c.mu.Unlock()
		if s == nil {
			select {
			case c.other <- m:
			default: // nobody asked; keep reading
			}
			continue
		}
		ev := WSEvent{Type: m.Type, Response: &Response{Raw: m.Payload}}
		switch m.Type {
		case "next", "data":
			ev.Type = "next"
			if e := json.Unmarshal(m.Payload, ev.Response); e != nil {
				ev.Response.Errors = []Error{{Message: "payload is not a GraphQL response: " + string(m.Payload)}}
			}
		case "error":
			// graphql-transport-ws sends a list of errors, the legacy protocol one error.
			if e := json.Unmarshal(m.Payload, &ev.Response.Errors); e != nil {
				var one Error
				_ = json.Unmarshal(m.Payload, &one)
				ev.Response.Errors = []Error{one}
			}
		}
		s.ch <- ev // a consumer that does not read stops this reader: backpressure
		if m.Type == "error" || m.Type == "complete" {
			c.mu.Lock()
			delete(c.subs, m.ID)
			close(s.ch)
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	c.err = err
	for id, s := range c.subs {
		delete(c.subs, id)
		close(s.ch)
	}
	close(c.done) // under mu: Subscribe adds no subscription after this
	c.mu.Unlock()
}

// Subscribe starts an operation (subscribe, or the legacy start).
func (c *WSClient) Subscribe(ctx context.Context, query string, vars map[string]any) (*WSSubscription, error) {
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return nil, c.closedErr()
	default:
	}
	c.nextID++
	s := &WSSubscription{ID: strconv.Itoa(c.nextID), c: c, ch: make(chan WSEvent, 64)}
	c.subs[s.ID] = s
	c.mu.Unlock()
	typ := "subscribe"
	if c.protocol == ProtocolLegacyWS {
		typ = "start"
	}
	if err := c.Send(ctx, WSMessage{ID: s.ID, Type: typ, Payload: payload}); err != nil {
		return nil, err
	}
	return s, nil
}

// Events are the subscription's events; the channel closes after error or complete, or
// when the socket ends.
func (s *WSSubscription) Events() <-chan WSEvent { return s.ch }

// Next waits for the subscription's next event.
func (s *WSSubscription) Next(ctx context.Context) (WSEvent, error) {
	select {
	case ev, ok := <-s.ch:
		if !ok {
			return WSEvent{}, s.c.closedErr()
		}
		return ev, nil
	case <-ctx.Done():
		return WSEvent{}, fmt.Errorf("no event on subscription %s: %w", s.ID, ctx.Err())
	}
}

// Stop ends the subscription from the client's side (complete, or the legacy stop).
func (s *WSSubscription) Stop(ctx context.Context) error {
	typ := "complete"
	if s.c.protocol == ProtocolLegacyWS {
		typ = "stop"
	}
	return s.c.Send(ctx, WSMessage{ID: s.ID, Type: typ})
}

func (c *WSClient) closedErr() error {
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return fmt.Errorf("the socket ended: %w", c.err)
	default:
		return errors.New("the subscription ended")
	}
}

// Done is closed when the socket has ended; Err then says how.
func (c *WSClient) Done() <-chan struct{} { return c.done }

// Err is why the socket ended (websocket.CloseStatus reads the server's close code), nil
// while it is open.
func (c *WSClient) Err() error {
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.err
	default:
		return nil
	}
}

// ConnectionMessages are messages for no subscription, such as the legacy
// connection_error, and pongs with a payload (the answers to the test's own pings).
func (c *WSClient) ConnectionMessages() <-chan WSMessage { return c.other }

// Close ends the connection with a normal close.
func (c *WSClient) Close() error { return c.conn.Close(websocket.StatusNormalClosure, "") }

// Drop cuts the connection without a close handshake, as a lost network would.
func (c *WSClient) Drop() error { return c.conn.CloseNow() }

// WSURL is the server's GraphQL websocket address.
func (s *Server) WSURL() string {
	return "ws" + strings.TrimPrefix(s.HTTP.URL, "http") + "/graphql"
}

// DialWS connects to the server as the holder of token, speaking graphql-transport-ws
// unless o says otherwise; the test fails when it cannot. The socket is dropped at cleanup.
func (s *Server) DialWS(t testing.TB, token string, o ...WSOptions) *WSClient {
	t.Helper()
	var opts WSOptions
	if len(o) > 0 {
		opts = o[0]
	}
	opts.Token = token
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := DialWS(ctx, s.WSURL(), opts)
	if err != nil {
		t.Fatalf("websocket (%s): %v", opts.Protocol, err)
	}
	t.Cleanup(func() { _ = c.Drop() })
	return c
}

// MustSubscribe subscribes and fails the test when the request cannot be sent.
func (c *WSClient) MustSubscribe(t testing.TB, query string, vars map[string]any) *WSSubscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.Subscribe(ctx, query, vars)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return s
}
