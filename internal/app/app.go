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
	"github.com/xiadan/xiadan/internal/aftersales"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/credit"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/demoimage"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/fulfilment"
	"github.com/xiadan/xiadan/internal/guard"
	"github.com/xiadan/xiadan/internal/helpcentre"
	"github.com/xiadan/xiadan/internal/httpcache"
	"github.com/xiadan/xiadan/internal/identity/sandbox"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/mail"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payment/providers"
	"github.com/xiadan/xiadan/internal/payments"
	"github.com/xiadan/xiadan/internal/persisted"
	"github.com/xiadan/xiadan/internal/reviews"
	"github.com/xiadan/xiadan/internal/streams"
	"github.com/xiadan/xiadan/internal/support"
	"github.com/xiadan/xiadan/internal/upload"
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
	// Reviews runs reviews and ratings (internal/reviews).
	Reviews *reviews.Service
	// AfterSales runs refunds, returns, exchanges and arbitration (internal/aftersales).
	AfterSales *aftersales.Service
	// Support runs customer-service tickets and escalates overdue ones; Help keeps the
	// help centre.
	Support *support.Service
	Help    *helpcentre.Service
	// Credit computes merchant credit and manages sanctions (internal/credit).
	Credit *credit.Service
	// AccessRecheck is how often an open websocket re-checks its token's rights (1m
	// when zero): the fallback for an access change this replica did not hear of.
	AccessRecheck time.Duration

	clock Clock // nil: the wall clock (SetClock)
	// Streams counts the open websockets and event streams, and closes them when their
	// account's access changes (streams.go).
	Streams *streams.Registry
	// signInSandbox is the offline sign-in platform, when on (its page is mounted).
	signInSandbox *sandbox.Sandbox
	// protocols is the HTTP transports' shared state: keep-alive, graphql-sse's
	// reservations (sse.go).
	protocols *protocols
	// web is the CORS policy and the persisted-query store (web.go).
	web web
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
	webLayer, err := newWeb(cfg, logger)
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
		Relay: relay, Hub: hub, Bus: bus, Webhooks: wh, Uploads: uploads, Reviews: reviews.New(cfg.Reviews, uploads),
		Streamer: &events.Streamer{DB: db.Client, Hub: hub, Retention: cfg.EventRetention},
		Streams:  streams.New(cfg.WSMaxPerUser), signInSandbox: signIn.sandbox, web: webLayer,
		Credit: credit.New(cfg.Credit)}
	a.AfterSales = &aftersales.Service{Config: cfg.AfterSales, Orders: ord, Payments: pay, Uploads: uploads}
	a.Credit.Disputes = a.AfterSales // disputes, arbitration and response times count in merchant credit
	a.Support = &support.Service{SLA: cfg.SupportFirstResponseSLA, ReopenWindow: cfg.SupportReopenWindow,
		Uploads: uploads, Mailer: mailer, Logger: logger}
	a.Help = &helpcentre.Service{}
	a.protocols = newProtocols(logger, cfg.StreamKeepAlive, a.Streams)
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
	go a.Reviews.RunJobs(ctx, a.DB.Client, a.Config.JobInterval, a.Logger)
	go a.AfterSales.RunJobs(ctx, a.DB.Client, a.Config.JobInterval, a.Logger)
	go a.Support.RunJobs(ctx, a.DB.Client, a.Config.JobInterval, a.Logger)
	go a.Credit.RunJobs(standing.WithClock(ctx, a.now), a.DB.Client, a.Config.JobInterval, a.Logger)
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
		Webhooks: a.Webhooks, Uploads: a.Uploads, Reviews: a.Reviews,
		AfterSales: a.AfterSales, Support: a.Support, Help: a.Help, Credit: a.Credit}))
	// graphql-transport-ws (the graphql-ws library, Apollo's GraphQLWsLink, urql) by our own
	// transport, which keeps to the protocol's letter (websocket.go); gqlgen's serves the
	// legacy subscriptions-transport-ws (subprotocol graphql-ws) and upgrades naming none.
	srv.AddTransport(a.transportWS())
	srv.AddTransport(transport.Websocket{
		// Legacy graphql-ws: a "ka" message every 15 s.
		KeepAlivePingInterval: 15 * time.Second,
		InitTimeout:           a.Config.WSInitTimeout,
		// Cross-site upgrades are refused unless the Origin is one CORS_ALLOWED_ORIGINS allows (a
		// same-host Origin, and clients that send none, are accepted).
		Implementation: transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{
			OriginPatterns: a.Config.CORS.WebsocketPatterns(),
		}},
		InitFunc: a.legacyWebsocketInit,
	})
	// GraphQL over HTTP, answered as JSON, Server-Sent Events or multipart/mixed as Accept
	// asks (transport.go, sse.go, multipart.go), and graphql-sse's single connection mode;
	// requests are read strictly, and whatever no transport claims is refused with 405 or
	// 415.
	srv.AddTransport(sseSingleTransport{p: a.protocols})
	srv.AddTransport(transport.Options{})
	if a.Config.Upload.Enabled {
		// The GraphQL multipart request spec, for uploadFile (uploadform.go).
		srv.AddTransport(multipartTransport{logger: a.Logger, maxBytes: a.Config.Upload.MultipartMaxBytes, p: a.protocols})
	}
	srv.AddTransport(httpTransport{p: a.protocols})
	srv.AddTransport(unsupportedTransport{logger: a.Logger})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	presenter := apperror.Presenter(a.Logger, audit.RequestID)
	if a.Config.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		disableIntrospection(srv)
		presenter = apperror.WithoutSuggestions(presenter)
	}
	srv.Use(persisted.Extension{Cache: a.web.queries})
	srv.Use(RequestDeadline{Timeout: a.Config.RequestTimeout}) // outside the transaction
	srv.Use(Transactioner{Client: a.DB.Client, Logger: a.Logger, AfterCommit: a.Relay.Nudge})
	guard.Install(srv, guard.Options{})
	srv.AroundFields(requireConnectionPageSize)
	srv.AroundFields(reviews.CloseReviewFilters)
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
	mux.Handle("/graphql", a.web.cors.Handler(httpcache.Middleware(a.Config.HTTPCacheMaxAge,
		a.authenticate(a.limitBody(loader.Middleware(a.DB.Client, a.Config.LoaderBatchWait, gql))))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz())
	a.Payments.Routes(mux)
	// The disk store's files and presigned PUTs at /uploads/, under the same CORS policy as
	// the API: a storefront on another origin PUTs there directly.
	uploads := http.NewServeMux()
	a.Uploads.Routes(uploads)
	mux.Handle(upload.HandlerPath, a.web.cors.Handler(uploads))
	if a.signInSandbox != nil {
		mux.Handle(sandbox.AuthorizePath, a.signInSandbox.Page())
	}
	a.partnerRoutes(mux)
	mux.Handle(demoimage.Path, demoimage.Handler()) // the seeded demo's pictures
	if a.Config.Playground {
		mux.Handle("/", playgroundHandler())
	}
	return a.requestContext(a.withDeadline(mux))
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
