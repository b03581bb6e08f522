// Package app assembles the HTTP server: middleware (request id, client info, the viewer),
// the GraphQL handler with its transports, guards and error presenter, the playground, and
// health checks. server.go and the tests build the same handler through New.
package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/xiadan/xiadan/graph"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/fulfilment"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payment/providers"
	"github.com/xiadan/xiadan/internal/payments"
	"github.com/xiadan/xiadan/internal/guard"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/viewer"
)

// MaxBodyBytes caps a GraphQL request body, before anything parses it.
const MaxBodyBytes = 64 << 10

// App is the assembled server.
type App struct {
	Config config.Config
	Logger *slog.Logger
	DB     *database.DB
	Auth   *auth.Service
	// Orders, Payments and Fulfilment run the order life cycle.
	Orders     *orders.Service
	Payments   *payments.Service
	Fulfilment *fulfilment.Service
	// Relay, Hub, Bus and Streamer carry order events to subscribers (internal/events).
	Relay    *events.Relay
	Hub      *events.Hub
	Bus      events.Bus
	Streamer *events.Streamer
}

// New builds the services of the server from its configuration and database.
func New(cfg config.Config, db *database.DB, logger *slog.Logger) (*App, error) {
	keys, err := auth.LoadKeySet(cfg.JWTSigningKeyFile, cfg.JWTVerifyKeyFiles, devKeyDir(cfg))
	if err != nil {
		return nil, err
	}
	svc := &auth.Service{
		Client:      db.Client,
		Tokens:      &auth.TokenIssuer{Keys: keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTokenTTL},
		RefreshTTL:  cfg.RefreshTokenTTL,
		Throttle:    auth.NewThrottle(cfg.LoginFailureWindow),
		MaxFailures: cfg.LoginMaxFailures,
	}
	// Carrier scans always come in the order they happened, however they are loaded.
	db.Client.TrackingEvent.Intercept(fulfilment.ScansInOrder())
	reg, sb, err := providers.New(cfg.Payment, nil)
	if err != nil {
		return nil, err
	}
	ord := orders.New(cfg.OrderPaymentTimeout, cfg.OrderAutoCompleteAfter)
	pay := payments.New(db.Client, reg, sb, cfg.Payment, ord, logger)
	var bus events.Bus = &events.Local{}
	if cfg.NATSURL != "" {
		nb, err := events.NewNATS(cfg.NATSURL, logger)
		if err != nil {
			return nil, err
		}
		bus = nb
	}
	hub := events.NewHub(db.Client, 0, logger)
	relay := events.NewRelay(db.Client, bus, logger)
	return &App{Config: cfg, Logger: logger, DB: db, Auth: svc,
		Orders: ord, Payments: pay, Fulfilment: &fulfilment.Service{Orders: ord},
		Relay: relay, Hub: hub, Bus: bus,
		Streamer: &events.Streamer{DB: db.Client, Hub: hub, Retention: cfg.EventRetention}}, nil
}

// RunEvents starts the event bus and relay and runs them until ctx ends. Tests start it
// too (internal/apitest); the server starts it with the jobs.
func (a *App) RunEvents(ctx context.Context) error {
	start, err := a.Relay.PublishedPosition(ctx)
	if err != nil {
		return err
	}
	a.Hub.Start(start)
	if err := a.Bus.Start(ctx, a.Hub.Deliver); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		_ = a.Bus.Close()
	}()
	go a.Relay.Run(ctx)
	return nil
}

// RunJobs runs the background jobs until ctx ends. Every replica may run them: each job
// claims its work in the database.
func (a *App) RunJobs(ctx context.Context) {
	a.Orders.RunJobs(ctx, a.DB.Client, a.Config.JobInterval, a.Logger)
}

// devKeyDir is where a development signing key may be generated; never in production.
func devKeyDir(cfg config.Config) string {
	if cfg.Production() {
		return ""
	}
	return cfg.DataDir
}

// GraphQL returns the GraphQL handler without HTTP middleware.
func (a *App) GraphQL() *handler.Server {
	srv := handler.New(graph.NewSchema(&graph.Resolver{Client: a.DB.Client, Auth: a.Auth,
		Orders: a.Orders, Payments: a.Payments, Fulfilment: a.Fulfilment, Events: a.Streamer}))
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		InitTimeout:           10 * time.Second,
		Implementation: transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{
			OriginPatterns: a.Config.AllowedOrigins,
		}},
		InitFunc: a.websocketInit,
	})
	srv.AddTransport(transport.SSE{}) // GraphQL over Server-Sent Events, before POST
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if a.Config.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(Transactioner{Client: a.DB.Client, Logger: a.Logger, AfterCommit: a.Relay.Nudge})
	guard.Install(srv, guard.Options{})
	srv.AroundFields(requireConnectionPageSize)
	srv.SetErrorPresenter(apperror.Presenter(a.Logger, audit.RequestID))
	srv.SetRecoverFunc(func(ctx context.Context, err any) error {
		a.Logger.ErrorContext(ctx, "panic in resolver", "request_id", audit.RequestID(ctx), "panic", err, "stack", string(debug.Stack()))
		return fmt.Errorf("panic: %v", err)
	})
	return srv
}

// Handler returns the whole HTTP handler.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	gql := a.GraphQL()
	mux.Handle("/graphql", a.authenticate(limitBody(loader.Middleware(a.DB.Client, a.Config.LoaderBatchWait, gql))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.DB.Ping(ctx); err != nil {
			a.Logger.WarnContext(ctx, "readiness check failed", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	a.Payments.Routes(mux)
	if a.Config.Playground {
		mux.Handle("/", playgroundHandler())
	}
	return a.requestContext(mux)
}

// websocketInit authenticates a websocket connection from its connection_init payload.
func (a *App) websocketInit(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	token := bearer(payload.Authorization())
	if token == "" {
		token = payload.GetString("token")
	}
	if token == "" {
		return ctx, nil, nil
	}
	v, err := a.Auth.Authenticate(ctx, token)
	if err != nil {
		return ctx, nil, err
	}
	return viewer.NewContext(ctx, v), nil, nil
}

// requireConnectionPageSize makes every connection field take first or last between 1
// and 100, so no query can ask for an unbounded list.
func requireConnectionPageSize(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Definition == nil || !isConnection(fc.Field.Definition.Type) {
		return next(ctx)
	}
	first, hasFirst := intArg(fc.Args, "first")
	last, hasLast := intArg(fc.Args, "last")
	switch {
	case hasFirst && hasLast:
		return nil, apperror.BadInput("first", "pass first or last, not both")
	case !hasFirst && !hasLast:
		return nil, apperror.BadInput("first", "%s needs first or last (1 to 100)", fc.Field.Name)
	case hasFirst && (first < 1 || first > 100):
		return nil, apperror.BadInput("first", "must be between 1 and 100")
	case hasLast && (last < 1 || last > 100):
		return nil, apperror.BadInput("last", "must be between 1 and 100")
	}
	return next(ctx)
}

func isConnection(t *ast.Type) bool {
	if t == nil || t.Elem != nil {
		return false
	}
	n := t.NamedType
	return len(n) > len("Connection") && n[len(n)-len("Connection"):] == "Connection"
}

func intArg(args map[string]any, name string) (int, bool) {
	switch v := args[name].(type) {
	case *int:
		if v == nil {
			return 0, false
		}
		return *v, true
	case int:
		return v, true
	}
	return 0, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
