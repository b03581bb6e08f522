// Package apitest runs the real HTTP handler against a real database for integration
// tests, and speaks GraphQL to it the way a client would.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/xiadan/xiadan/ent"
	_ "github.com/xiadan/xiadan/ent/runtime" // privacy policies and hooks
	"github.com/xiadan/xiadan/internal/app"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/risk"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Server is a running Xiadan server on a fresh database.
type Server struct {
	t      testing.TB
	App    *app.App
	DB     *database.DB
	HTTP   *httptest.Server
	Config config.Config

	logs *logRecords
}

// New starts a server on the database at url, with configuration tweaked by opts.
func New(t testing.TB, url string, opts ...func(*config.Config)) *Server {
	t.Helper()
	return newServer(t, url, serverOptions{events: true}, opts...)
}

// NewWithoutEvents is New without the event relay and bus running, for tests that drive
// them by hand (crash recovery, say).
func NewWithoutEvents(t testing.TB, url string, opts ...func(*config.Config)) *Server {
	t.Helper()
	return newServer(t, url, serverOptions{}, opts...)
}

// NewWithClock is New on a server whose tokens go by clock (app.App.SetClock), so a test
// expires them with clock.Advance rather than by waiting.
func NewWithClock(t testing.TB, url string, clock *Clock, opts ...func(*config.Config)) *Server {
	t.Helper()
	return newServer(t, url, serverOptions{events: true, clock: clock}, opts...)
}

// NewWithDriver is New on a database whose Ent driver is wrapped by wrap, so a test can
// watch (or count) the statements the server sends.
//
// Its dataloaders collect keys for a second (opts may say otherwise): a count checks that
// keys are batched, not that a -race build on a loaded machine resolves a page within
// production's 2 ms window (CI runs split batches at 2 ms and even at 250 ms).
func NewWithDriver(t testing.TB, url string, wrap func(dialect.Driver) dialect.Driver, opts ...func(*config.Config)) *Server {
	t.Helper()
	opts = append([]func(*config.Config){func(c *config.Config) { c.LoaderBatchWait = time.Second }}, opts...)
	return newServer(t, url, serverOptions{events: true, wrapDriver: wrap}, opts...)
}

// NewWithTelemetry is New on a server whose telemetry is tel (built by the test, say with
// an in-memory span exporter); tel also wraps the database driver, as in production.
func NewWithTelemetry(t testing.TB, url string, tel *telemetry.Telemetry, opts ...func(*config.Config)) *Server {
	t.Helper()
	return newServer(t, url, serverOptions{events: true, telemetry: tel}, opts...)
}

// serverOptions are the ways test servers differ.
type serverOptions struct {
	// telemetry, when set, is the server's telemetry; otherwise one is built from the
	// configuration (off unless a test sets METRICS_TOKEN's field).
	telemetry *telemetry.Telemetry
	// clock, when set, is the server's clock for tokens.
	clock *Clock
	// wrapDriver, when set, wraps the Ent driver (database.Options.WrapDriver).
	wrapDriver func(dialect.Driver) dialect.Driver
	// events starts the event bus and relay.
	events bool
	// listener, when set, is where the server listens (chosen before it is built).
	listener net.Listener
}

func newServer(t testing.TB, url string, so serverOptions, opts ...func(*config.Config)) *Server {
	t.Helper()
	// Test accounts need no protection against offline guessing, and the real argon2id
	// parameters cost a few hundred milliseconds per sign-up and sign-in under the race
	// detector (internal/auth keeps them for every binary that is not a test).
	auth.UseFastPasswordHashingInTests()
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = url
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = "error"
	// Every test client registers from 127.0.0.1; tests of the registration limit set
	// their own.
	cfg.RegistrationMaxPerAddress = 1 << 20
	cfg.EmailVerifyURL = VerifyURL
	// A test about something else must not fail because a loaded machine (the race
	// detector, parallel packages) made one request slower than production's deadline;
	// tests of the deadline set their own.
	cfg.RequestTimeout = 5 * time.Minute
	// Tests read what they just wrote, also directly in the database and with a test
	// clock; the storefront cache serves data up to a feed poll (or its TTL) old, so
	// only its own tests and the benchmarks turn it on (internal/storecache).
	cfg.StorefrontCache.Mode = "off"
	// Every anonymous test client queries from 127.0.0.1, and a test about something else
	// must not depend on how fast it sends its queries; tests of the query-cost budget
	// set their own (internal/app/ratelimit_test.go).
	cfg.RateLimit.QueryCostBudget = 0
	// Tests of other things place many orders from one buyer, device and address, which
	// the velocity rules would hold for review: risk scores and records (so its hooks
	// run everywhere) but holds only in its own tests (internal/risk), which set "hold".
	cfg.Risk.Mode = risk.ModeMonitor
	// A product count past 1,000 rows is taken in the background and waited for only
	// COUNT_BUDGET; tests that read totalCount must get the figure however loaded the
	// machine, so they wait for it.
	cfg.CountBudget = 5 * time.Minute
	// /readyz reads the schema from information_schema, slow on a loaded MariaDB holding
	// hundreds of test databases: tests judge its answer, not its speed.
	cfg.ReadyTimeout = time.Minute
	if so.listener != nil {
		cfg.Payment.PublicURL = "http://" + so.listener.Addr().String()
	}
	for _, o := range opts {
		o(&cfg)
	}
	tel := so.telemetry
	if tel == nil {
		if tel, err = telemetry.New(cfg.Telemetry); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	wrap := tel.WrapDriver
	if so.wrapDriver != nil {
		wrap = func(d dialect.Driver) dialect.Driver { return so.wrapDriver(tel.WrapDriver(d)) }
	}
	db := testdb.Open(t, url, database.Options{WrapDriver: wrap})
	level := slog.LevelError
	if os.Getenv("XIADAN_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	logs := &logRecords{}
	// A failed test shows what its server logged last (warnings of background loops, such
	// as a syncer retrying, go to the records only).
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log, last records:\n%s", logs.tail(40))
		}
	})
	logger := slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}),
		slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}),
	))
	a, err := app.New(cfg, db, logger, app.WithTelemetry(tel))
	if err != nil {
		if so.listener != nil {
			_ = so.listener.Close()
		}
		t.Fatal(err)
	}
	if so.clock != nil {
		a.SetClock(so.clock)
	}
	hs := httptest.NewUnstartedServer(a.Handler())
	if so.listener != nil {
		_ = hs.Listener.Close()
		hs.Listener = so.listener
	}
	hs.Start()
	t.Cleanup(hs.Close)
	if so.events {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := a.RunEvents(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return &Server{t: t, App: a, DB: db, HTTP: hs, Config: cfg, logs: logs}
}

// logRecords keeps the server's log records (JSON lines) for Server.Logs.
type logRecords struct {
	mu    sync.Mutex
	lines [][]byte
}

func (l *logRecords) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, bytes.Clone(p))
	return len(p), nil
}

// tail returns the last n records, one per line.
func (l *logRecords) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, line := range l.lines[max(0, len(l.lines)-n):] {
		b.Write(line)
	}
	return b.String()
}

// Logs returns what the server logged at info level and above while handling the request
// with id requestID (its X-Request-ID), one map per record, so a test can check that a
// refused request was logged once, briefly, and not as an error.
func (s *Server) Logs(requestID string) []map[string]any {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	var out []map[string]any
	for _, line := range s.logs.lines {
		var rec map[string]any
		if json.Unmarshal(line, &rec) == nil && rec["request_id"] == requestID {
			rec["_bytes"] = len(line)
			out = append(out, rec)
		}
	}
	return out
}

// Client returns the server's Ent client with privacy bypassed, for arranging and checking
// test data directly.
func (s *Server) Client() (*ent.Client, context.Context) {
	return s.DB.Client, viewer.SystemContext(context.Background())
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Response is a GraphQL response.
type Response struct {
	Status     int
	Data       json.RawMessage `json:"data"`
	Errors     []Error         `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
	Header     http.Header     `json:"-"`
	Raw        []byte          `json:"-"`
}

// Code is the extensions.code of the first error, or "" when there is none.
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Field is the extensions.field of the first error.
func (r *Response) Field() string {
	if len(r.Errors) == 0 {
		return ""
	}
	f, _ := r.Errors[0].Extensions["field"].(string)
	return f
}

// Decode unmarshals data into v.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decoding data %s: %v", r.Data, err)
	}
}

// Request is one GraphQL call.
type Request struct {
	Query     string
	Variables map[string]any
	// OperationName picks the operation of a document that holds several.
	OperationName string
	Token         string
	Header        map[string]string
}

// Do sends a GraphQL request over HTTP POST.
func (s *Server) Do(req Request) *Response {
	s.t.Helper()
	out, err := s.Try(req)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// Try is Do that returns what went wrong instead of failing the test, so that it can be
// called from goroutines other than the test's (testing.T.Fatal may not be).
func (s *Server) Try(req Request) (*Response, error) {
	params := map[string]any{"query": req.Query, "variables": req.Variables}
	if req.OperationName != "" {
		params["operationName"] = req.OperationName
	}
	body, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encoding the request: %w", err)
	}
	hr, err := http.NewRequest(http.MethodPost, s.HTTP.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	if req.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.Token)
	}
	for k, v := range req.Header {
		hr.Header.Set(k, v)
	}
	res, err := raceClient.Do(hr)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	out := &Response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("response is not JSON (%d): %s", res.StatusCode, raw)
	}
	return out, nil
}

// raceClient keeps enough idle connections for the concurrency tests' bursts: with the
// default two per host, most requests of a burst would first dial, which spreads them out.
var raceClient = &http.Client{Transport: &http.Transport{
	Proxy:               nil,
	MaxIdleConns:        256,
	MaxIdleConnsPerHost: 64,
	IdleConnTimeout:     30 * time.Second,
}}

// Query sends query with variables as the holder of token ("" for anonymous).
func (s *Server) Query(token, query string, vars map[string]any) *Response {
	s.t.Helper()
	return s.Do(Request{Query: query, Variables: vars, Token: token})
}

// MustQuery is Query that fails the test on any error.
func (s *Server) MustQuery(token, query string, vars map[string]any) *Response {
	s.t.Helper()
	r := s.Query(token, query, vars)
	if len(r.Errors) > 0 {
		s.t.Fatalf("unexpected errors: %s", r.Raw)
	}
	return r
}

// Session is a signed-in user as seen by a test.
type Session struct {
	UserID       string
	Email        string
	AccessToken  string
	RefreshToken string
}

// Register signs up a customer with a strong test password and returns its session.
func (s *Server) Register(email, name string) Session {
	s.t.Helper()
	r := s.MustQuery("", `mutation($i: RegisterInput!) { register(input: $i) { accessToken refreshToken user { id email } } }`,
		map[string]any{"i": map[string]any{"email": email, "password": Password, "displayName": name}})
	var out struct {
		Register struct {
			AccessToken, RefreshToken string
			User                      struct{ ID, Email string }
		}
	}
	r.Decode(s.t, &out)
	return Session{UserID: out.Register.User.ID, Email: out.Register.User.Email,
		AccessToken: out.Register.AccessToken, RefreshToken: out.Register.RefreshToken}
}

// Login signs in with the test password.
func (s *Server) Login(email string) Session {
	s.t.Helper()
	r := s.MustQuery("", `mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken user { id email } } }`,
		map[string]any{"i": map[string]any{"email": email, "password": Password}})
	var out struct {
		Login struct {
			AccessToken, RefreshToken string
			User                      struct{ ID, Email string }
		}
	}
	r.Decode(s.t, &out)
	return Session{UserID: out.Login.User.ID, Email: out.Login.User.Email,
		AccessToken: out.Login.AccessToken, RefreshToken: out.Login.RefreshToken}
}

// Password is the password of every account the tests create.
const Password = "correct horse battery staple"

// ForEachDialect runs fn once per database (SQLite and MySQL) on a fresh server, its
// configuration tweaked by opts. The dialects run in parallel (t.Parallel), after the
// calling test function returns: call it last, and keep what fn shares between dialects
// read-only.
func ForEachDialect(t *testing.T, fn func(t *testing.T, s *Server), opts ...func(*config.Config)) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, New(t, d.URL(t), opts...))
		})
	}
}

// Contains reports whether the raw response contains s, for quick leak checks.
func (r *Response) Contains(s string) bool { return strings.Contains(string(r.Raw), s) }
