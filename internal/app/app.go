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
	"slices"
	"strings"
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
	"github.com/xiadan/xiadan/internal/guard"
	"github.com/xiadan/xiadan/internal/identity/sandbox"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/mail"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payment/providers"
	"github.com/xiadan/xiadan/internal/payments"
	"github.com/xiadan/xiadan/internal/streams"
	"github.com/xiadan/xiadan/internal/upload"
	"github.com/xiadan/xiadan/internal/viewer"
	"github.com/xiadan/xiadan/internal/webhooks"
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
	// Webhooks delivers order events to merchants' and partners' endpoints.
	Webhooks *webhooks.Service
	// Uploads takes, checks, serves and binds files (internal/upload).
	Uploads *upload.Service
	// AccessRecheck is how often an open websocket re-checks its token's rights (1m
	// when zero): the fallback for an access change this replica did not hear of.
	AccessRecheck time.Duration

	clock Clock // nil: the wall clock (SetClock)
	// Streams counts the open websockets and event streams, and closes them when their
	// account's access changes (streams.go).
	Streams *streams.Registry
	// signInSandbox is the offline sign-in platform, when on (its page is mounted).
	signInSandbox *sandbox.Sandbox
}

// New builds the services of the server from its configuration and database.
func New(cfg config.Config, db *database.DB, logger *slog.Logger) (*App, error) {
	keys, err := auth.LoadKeySet(cfg.JWTSigningKeyFile, cfg.JWTVerifyKeyFiles, devKeyDir(cfg))
	if err != nil {
		return nil, err
	}
	mailer, err := mail.New(cfg.Mail, mail.OutboxDir(cfg.DataDir), logger)
	if err != nil {
		return nil, err
	}
	signIn, err := newSignIn(cfg, logger)
	if err != nil {
		return nil, err
	}
	svc := &auth.Service{
		Client:            db.Client,
		Tokens:            &auth.TokenIssuer{Keys: keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTokenTTL},
		RefreshTTL:        cfg.RefreshTokenTTL,
		Throttle:          auth.NewThrottle(cfg.LoginFailureWindow),
		MaxFailures:       cfg.LoginMaxFailures,
		Registrations:     auth.NewQuota(cfg.RegistrationWindow),
		RegistrationLimit: cfg.RegistrationMaxPerAddress,
		Mailer:            mailer,
		Logger:            logger,
		VerifyURL:         cfg.EmailVerifyURL,
		VerificationTTL:   cfg.EmailVerificationTTL,
		Identities:        signIn.registry,
		SignIn:            cfg.SignIn,
		PlatformCalls:     auth.NewQuota(time.Minute),
		SMS:               signIn.sms,
		SMSCountries:      cfg.SMS.Countries,
		PhoneSends:        auth.NewQuota(time.Hour),
	}
	// Carrier scans always come in the order they happened, however they are loaded.
	db.Client.TrackingEvent.Intercept(fulfilment.ScansInOrder())
	reg, sb, err := providers.New(cfg.Payment, nil)
	if err != nil {
		return nil, err
	}
	ord := orders.New(cfg.OrderPaymentTimeout, cfg.OrderAutoCompleteAfter)
	pay := payments.New(db.Client, reg, sb, cfg.Payment, ord, logger)
	pay.PayerOpenID = payerOpenID(cfg, signIn.registry, svc)
	var bus events.Bus = &events.Local{}
	if cfg.NATSURL != "" {
		nb, err := events.NewNATS(cfg.NATSURL, logger, events.NATSRetention(cfg.EventRetention),
			events.NATSStream(cfg.NATSStream, strings.ToLower(cfg.NATSStream)))
		if err != nil {
			return nil, err
		}
		bus = nb
	}
	hub := events.NewHub(db.Client, 0, logger)
	relay := events.NewRelay(db.Client, bus, logger)
	wh := webhooks.New(db.Client, logger, cfg.WebhookAllowPrivate)
	relay.OnNumbered = wh.EnqueueDeliveries
	uploads, err := upload.New(cfg.Upload, db.Client, cfg.DataDir, logger)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Logger: logger, DB: db, Auth: svc,
		Orders: ord, Payments: pay, Fulfilment: &fulfilment.Service{Orders: ord},
		Relay: relay, Hub: hub, Bus: bus, Webhooks: wh, Uploads: uploads,
		Streamer: &events.Streamer{DB: db.Client, Hub: hub, Retention: cfg.EventRetention},
		Streams:  streams.New(cfg.WSMaxPerUser), signInSandbox: signIn.sandbox}
	streams.Register(db.Client, a.accessChanged)
	return a, nil
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
	if err := a.listenAccessChanges(ctx); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		_ = a.Bus.Close()
	}()
	go a.Relay.Run(ctx)
	go a.Webhooks.Run(ctx) // every replica: deliveries are claimed in the database
	return nil
}

// RunJobs runs the background jobs until ctx ends. Every replica may run them: each job
// claims its work in the database.
func (a *App) RunJobs(ctx context.Context) {
	go a.Payments.RunReconcile(ctx, a.Config.JobInterval)
	go a.Uploads.RunCleanup(ctx, a.Config.JobInterval)
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
		Orders: a.Orders, Payments: a.Payments, Fulfilment: a.Fulfilment, Events: a.Streamer,
		Webhooks: a.Webhooks, Uploads: a.Uploads}))
	srv.AddTransport(transport.Websocket{
		// Legacy graphql-ws: a "ka" message every 15 s.
		KeepAlivePingInterval: 15 * time.Second,
		// graphql-transport-ws: a ping every 15 s; a client that has not answered with a pong
		// within 30 s (a dead peer, or one that stopped reading) is cut off, which also frees
		// a writer stuck on its full socket.
		PingPongInterval: 15 * time.Second,
		InitTimeout:      10 * time.Second,
		// Cross-site upgrades are refused unless the Origin matches ALLOWED_ORIGINS (a
		// same-host Origin, and clients that send none, are accepted).
		Implementation: transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{
			OriginPatterns: a.Config.AllowedOrigins,
		}},
		InitFunc: a.websocketInit,
	})
	// GraphQL over Server-Sent Events before POST; requests are read strictly
	// (transport.go), and whatever no transport claims is refused with 405 or 415.
	srv.AddTransport(sseTransport{logger: a.Logger})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{logger: a.Logger})
	srv.AddTransport(postTransport{logger: a.Logger})
	if a.Config.Upload.Enabled {
		// The GraphQL multipart request spec, for uploadFile (multipart.go).
		srv.AddTransport(multipartTransport{logger: a.Logger, maxBytes: a.Config.Upload.MultipartMaxBytes})
	}
	srv.AddTransport(unsupportedTransport{logger: a.Logger})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	presenter := apperror.Presenter(a.Logger, audit.RequestID)
	if a.Config.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		disableIntrospection(srv)
		presenter = apperror.WithoutSuggestions(presenter)
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(RequestDeadline{Timeout: a.Config.RequestTimeout}) // outside the transaction
	srv.Use(Transactioner{Client: a.DB.Client, Logger: a.Logger, AfterCommit: a.Relay.Nudge})
	guard.Install(srv, guard.Options{})
	srv.AroundFields(requireConnectionPageSize)
	srv.SetErrorPresenter(presenter)
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
	mux.Handle("/graphql", a.authenticate(a.trackEventStreams(a.limitBody(loader.Middleware(a.DB.Client, a.Config.LoaderBatchWait, gql)))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz())
	a.Payments.Routes(mux)
	a.Uploads.Routes(mux) // the disk store's files at /uploads/
	if a.signInSandbox != nil {
		mux.Handle(sandbox.AuthorizePath, a.signInSandbox.Page())
	}
	a.partnerRoutes(mux)
	if a.Config.Playground {
		mux.Handle("/", playgroundHandler())
	}
	return a.requestContext(a.withDeadline(mux))
}

// websocketInit authenticates a websocket connection from its connection_init payload
// ({"Authorization": "Bearer <token>"}, or {"token": "<token>"}).
//
// A refused token closes the socket with 4403 Forbidden, as graphql-transport-ws asks (the
// graphql-ws client does not retry it). An accepted token bounds the connection: its
// context ends when the token expires, and gqlgen then ends every subscription of the
// connection and closes the socket with its generic 1000 "terminated" — gqlgen lets no one
// choose the code or reason for a connection whose context ended (a reason set with
// transport.AppendCloseReason would be sent on every other close too). gqlgen refuses a
// second connection_init on an open connection, so a client re-authenticates by
// reconnecting with a fresh token and resuming each subscription with `after`
// (docs/EVENTS.md).
func (a *App) websocketInit(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	token := bearer(payload.Authorization())
	if token == "" {
		token = payload.GetString("token")
	}
	// graphql-transport-ws's close codes: a refused connection_init, a server failure.
	const closeForbidden, closeInternal = 4403, 4500
	refuse := func(code int, reason string) (context.Context, *transport.InitPayload, error) {
		ctx = transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, code), reason)
		return ctx, nil, fmt.Errorf("%s", reason)
	}
	if token == "" {
		ctx, cancel := context.WithCancel(ctx)
		if err := a.trackStream(ctx, nil, cancel); err != nil {
			cancel()
			return refuse(closeTooManyConnections, err.Error())
		}
		return ctx, nil, nil
	}
	v, err := a.Auth.Authenticate(ctx, token)
	if err != nil && apperror.CodeOf(err) != apperror.Unauthenticated {
		a.Logger.ErrorContext(ctx, "websocket: authenticating", "err", err)
		return refuse(closeInternal, "Internal server error")
	}
	var claims *auth.Claims
	if err == nil {
		claims, err = a.Auth.Tokens.Verify(token)
	}
	// Verify allows some clock skew past the expiry; a connection gets none of it.
	if err != nil || claims.ExpiresAt == nil || !claims.ExpiresAt.After(a.now()) {
		return refuse(closeForbidden, "Forbidden: invalid or expired access token")
	}
	ctx, cancel := a.untilExpiry(viewer.NewContext(ctx, v), claims.ExpiresAt.Time)
	context.AfterFunc(ctx, cancel) // the timer goes when the connection or the token ends
	if err := a.trackStream(ctx, v, cancel); err != nil {
		cancel()
		return refuse(closeTooManyConnections, err.Error())
	}
	go a.watchAccess(ctx, cancel, token, v)
	return ctx, nil, nil
}

// watchAccess ends a websocket connection whose access changed since it was opened: the
// account disabled, the partner client revoked or rotated, a merchant or scope taken
// away. Subscriptions are authorised when they start, so the connection must not outlive
// the rights they were granted on; the client reconnects (and is authorised afresh).
func (a *App) watchAccess(ctx context.Context, cancel context.CancelFunc, token string, v *viewer.Viewer) {
	every := a.AccessRecheck
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := a.Auth.Authenticate(ctx, token)
		if ctx.Err() != nil {
			return
		}
		if err != nil && apperror.CodeOf(err) != apperror.Unauthenticated {
			a.Logger.WarnContext(ctx, "websocket: rechecking access", "err", err)
			continue // a database hiccup is not a reason to drop subscribers
		}
		if err != nil || !sameAccess(v, now) {
			a.Logger.InfoContext(ctx, "websocket: access changed; closing the connection", "user_id", v.UserID, "api_client_id", v.APIClientID)
			cancel()
			return
		}
	}
}

// sameAccess reports whether two viewers of one token have the same rights.
func sameAccess(a, b *viewer.Viewer) bool {
	sorted := func(xs []int) []int { xs = slices.Clone(xs); slices.Sort(xs); return xs }
	strs := func(xs []string) []string { xs = slices.Clone(xs); slices.Sort(xs); return xs }
	roles := func(xs []viewer.Role) []viewer.Role { xs = slices.Clone(xs); slices.Sort(xs); return xs }
	return a.UserID == b.UserID && a.MerchantID == b.MerchantID && a.MerchantRole == b.MerchantRole &&
		a.APIClientID == b.APIClientID && slices.Equal(roles(a.Roles), roles(b.Roles)) &&
		slices.Equal(sorted(a.PartnerMerchantIDs), sorted(b.PartnerMerchantIDs)) && slices.Equal(strs(a.Scopes), strs(b.Scopes))
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
