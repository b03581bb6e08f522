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

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/graph"
	"github.com/xiadan/xiadan/internal/aftersales"
	"github.com/xiadan/xiadan/internal/analytics"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/catalog"
	cataloghooks "github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/catalogfeed"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/coupons"
	"github.com/xiadan/xiadan/internal/creators"
	"github.com/xiadan/xiadan/internal/credit"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/currency"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/datarights"
	"github.com/xiadan/xiadan/internal/demoimage"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/experiments"
	"github.com/xiadan/xiadan/internal/fulfilment"
	"github.com/xiadan/xiadan/internal/guard"
	"github.com/xiadan/xiadan/internal/helpcentre"
	"github.com/xiadan/xiadan/internal/httpcache"
	"github.com/xiadan/xiadan/internal/i18n"
	"github.com/xiadan/xiadan/internal/identity/sandbox"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/mail"
	"github.com/xiadan/xiadan/internal/members"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payment/providers"
	"github.com/xiadan/xiadan/internal/payments"
	"github.com/xiadan/xiadan/internal/persisted"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/promotions"
	"github.com/xiadan/xiadan/internal/ratelimit"
	"github.com/xiadan/xiadan/internal/recommend"
	"github.com/xiadan/xiadan/internal/redpackets"
	"github.com/xiadan/xiadan/internal/reports"
	"github.com/xiadan/xiadan/internal/reviews"
	"github.com/xiadan/xiadan/internal/risk"
	"github.com/xiadan/xiadan/internal/search"
	"github.com/xiadan/xiadan/internal/search/meili"
	"github.com/xiadan/xiadan/internal/search/meilifeed"
	"github.com/xiadan/xiadan/internal/storecache"
	"github.com/xiadan/xiadan/internal/streams"
	"github.com/xiadan/xiadan/internal/support"
	"github.com/xiadan/xiadan/internal/telemetry"
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
	Orders *orders.Service
	// Coupons runs coupon templates and claims, and is a promotions provider of Orders.
	Coupons    *coupons.Service
	Payments   *payments.Service
	Fulfilment *fulfilment.Service
	// Risk screens orders, holds risky ones for review and keeps the block and trust
	// lists (internal/risk).
	Risk *risk.Service
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
	// DataRights answers data export and erasure requests (internal/datarights).
	DataRights *datarights.Service
	// Analytics records behaviour events and answers dashboards (internal/analytics).
	Analytics *analytics.Service
	// Reports builds CSV and XLSX reports of orders, sales and settlements (internal/reports).
	Reports *reports.Service
	// Recommend answers recommendations and keeps their counts (internal/recommend).
	Recommend *recommend.Service
	// Credit computes merchant credit and manages sanctions (internal/credit).
	Credit *credit.Service
	// Promotions manages automatic promotions and provides their checkout providers
	// (internal/promotions).
	Promotions *promotions.Service
	// Members runs VIP tiers, member prices and customer groups (internal/members).
	Members *members.Service
	// RedPackets runs red-packet rains and wallets (internal/redpackets).
	RedPackets *redpackets.Service
	// Experiments runs A/B experiments; Creators creator attribution and commissions
	// (internal/experiments, internal/creators).
	Experiments *experiments.Service
	Creators    *creators.Service
	// CatalogFeed reads the catalog change outbox (internal/catalogfeed); StoreCache
	// answers anonymous storefront queries from a cache it invalidates (nil when off).
	CatalogFeed *catalogfeed.Feed
	StoreCache  *storecache.Cache
	// Currency keeps exchange rates and presents storefront prices in the currency a
	// query chooses (internal/currency).
	Currency *currency.Service
	// Languages serves content per locale and edits translations (internal/i18n).
	Languages *i18n.Service
	// Limits holds the rate limits' state: sign-in, registration, SMS and token-endpoint
	// limits (through Auth) and the query-cost budget (internal/ratelimit).
	Limits ratelimit.Limiter
	// SearchServer answers storefront searches from Meilisearch, and SearchSync keeps its
	// indexes in step with the catalog on replicas with SEARCH_SYNC (both nil without
	// SEARCH_URL; docs/SEARCH-SERVER.md).
	SearchServer *catalog.ServerSearch
	SearchSync   *meili.Syncer
	// Telemetry is the metrics registry and tracer (internal/telemetry).
	Telemetry *telemetry.Telemetry
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

// Option changes how New builds the server.
type Option func(*App)

// WithTelemetry makes t the server's telemetry: the one whose WrapDriver wrapped db's
// driver, so SQL statements are timed and traced. Without it New builds one from the
// configuration, which sees no statement.
func WithTelemetry(t *telemetry.Telemetry) Option {
	return func(a *App) { a.Telemetry = t }
}

// New builds the services of the server from its configuration and database.
func New(cfg config.Config, db *database.DB, logger *slog.Logger, opts ...Option) (*App, error) {
	var given App
	for _, o := range opts {
		o(&given)
	}
	tel := given.Telemetry
	if tel == nil {
		var err error
		if tel, err = telemetry.New(cfg.Telemetry); err != nil {
			return nil, err
		}
	}
	// Log lines written while a request's span is active carry its trace and span ids.
	logger = telemetry.Logger(logger)
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
	// Rate limits count in Redis, shared by the replicas, when REDIS_URL is set, and in
	// this process otherwise (or while Redis does not answer).
	var limits ratelimit.Limiter = ratelimit.NewMemory()
	if webLayer.redis != nil {
		limits = ratelimit.NewShared(ratelimit.NewRedis(webLayer.redis, cfg.RateLimit.RedisPrefix), logger)
	}
	svc := &auth.Service{
		Client:            db.Client,
		Tokens:            &auth.TokenIssuer{Keys: keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTokenTTL},
		RefreshTTL:        cfg.RefreshTokenTTL,
		Throttle:          auth.NewThrottle(limits, cfg.LoginFailureWindow),
		MaxFailures:       cfg.LoginMaxFailures,
		Registrations:     auth.NewQuota(limits, cfg.RegistrationWindow),
		RegistrationLimit: cfg.RegistrationMaxPerAddress,
		Mailer:            mailer,
		Logger:            logger,
		VerifyURL:         cfg.EmailVerifyURL,
		VerificationTTL:   cfg.EmailVerificationTTL,
		Identities:        signIn.registry,
		SignIn:            cfg.SignIn,
		PlatformCalls:     auth.NewQuota(limits, time.Minute),
		SMS:               signIn.sms,
		SMSCountries:      cfg.SMS.Countries,
		PhoneSends:        auth.NewQuota(limits, time.Hour),
		AdminRequireTOTP:  cfg.AdminRequireTOTP,
	}
	if svc.TOTPKeys, err = cfg.TOTPKeyring(); err != nil {
		return nil, err
	}
	// Secrets stored in plain or under a former key are sealed under the current one now,
	// and one that cannot be opened stops the start here, not an admin's sign-in later.
	if n, err := svc.SealTOTPSecrets(context.Background(), db.Client); err != nil {
		return nil, fmt.Errorf("TOTP secrets: %w", err)
	} else if n > 0 {
		logger.Info("TOTP secrets sealed under the current TOTP_ENCRYPTION_KEY", "count", n)
	}
	// Carrier scans always come in the order they happened, however they are loaded.
	db.Client.TrackingEvent.Intercept(fulfilment.ScansInOrder())
	reg, sb, err := providers.New(cfg.Payment, nil)
	if err != nil {
		return nil, err
	}
	ord := orders.New(cfg.OrderPaymentTimeout, cfg.OrderAutoCompleteAfter)
	// Promotions quoted by the cart and placeOrder, in the order they run within a stage.
	// Audience checkers (tiers, groups, experiment arms) are added to both below.
	mbr := members.New(cfg.Members)
	exp := experiments.New()
	crt := creators.New(cfg.Creators)
	audiences := []pricing.AudienceChecker{mbr.TierChecker(), mbr.GroupChecker(), exp.Audience()}
	cpn := coupons.New(audiences...)
	prm := promotions.New(audiences...)
	ord.Promotions = []pricing.Provider{prm.FlashSale(), mbr.MemberPriceProvider(), prm.Automatic(),
		mbr.TierDiscountProvider(), cpn, mbr.FreeShippingProvider(), exp.Provider(), crt.Provider()}
	pay := payments.New(db.Client, reg, sb, cfg.Payment, ord, logger)
	pay.PayerOpenID = payerOpenID(cfg, signIn.registry, svc)
	rsk := risk.New(cfg.Risk, ord)
	pay.Risk = rsk
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
	a := &App{Config: cfg, Logger: logger, DB: db, Auth: svc, Limits: limits,
		Orders: ord, Payments: pay, Fulfilment: &fulfilment.Service{Orders: ord}, Risk: rsk,
		Relay: relay, Hub: hub, Bus: bus, Webhooks: wh, Uploads: uploads, Reviews: reviews.New(cfg.Reviews, uploads),
		Streamer: &events.Streamer{DB: db.Client, Hub: hub, Retention: cfg.EventRetention},
		Streams:  streams.New(cfg.WSMaxPerUser), signInSandbox: signIn.sandbox, web: webLayer,
		Credit: credit.New(cfg.Credit), Coupons: cpn, Promotions: prm, Members: mbr, Experiments: exp, Creators: crt,
		Telemetry: tel}
	tel.RegisterDB(db.SQL, db.Dialect)
	tel.RegisterProbes(telemetry.Probes{Relay: relayBacklog(relay), Webhooks: webhookBacklog(wh)})
	a.AfterSales = &aftersales.Service{Config: cfg.AfterSales, Orders: ord, Payments: pay, Uploads: uploads}
	a.Credit.Disputes = a.AfterSales // disputes, arbitration and response times count in merchant credit
	a.Support = &support.Service{SLA: cfg.SupportFirstResponseSLA, ReopenWindow: cfg.SupportReopenWindow,
		Uploads: uploads, Mailer: mailer, Logger: logger}
	a.Help = &helpcentre.Service{}
	a.DataRights = &datarights.Service{}
	if a.Analytics, err = analytics.New(db.Client, db.SQL, limits, cfg.Analytics, logger); err != nil {
		return nil, err
	}
	a.Reports = reports.New(uploads, mailer, db.Client, logger)
	a.Recommend = &recommend.Service{Now: a.now, SettleLag: 2 * time.Minute}
	served := cfg.Locales
	if len(served) == 0 { // a Config built by hand, as in tests
		served = config.DefaultLocales
	}
	locales, err := i18n.NewLocales(served)
	if err != nil {
		return nil, err
	}
	a.Languages = &i18n.Service{Locales: locales, OnChange: recordTranslation}
	a.RedPackets = redpackets.New(webLayer.redis, cfg.RedPacketRedisPrefix, logger) // claims through Redis when REDIS_URL is set
	ord.Promotions = append(ord.Promotions, a.RedPackets.Provider())
	a.protocols = newProtocols(logger, cfg.StreamKeepAlive, a.Streams)
	// Catalog changes are recorded by hooks in their transaction and read back by the
	// feed, which keys the storefront cache (docs/CACHING.md).
	a.CatalogFeed = catalogfeed.New(db.Client, webLayer.redis, logger)
	a.CatalogFeed.Dialect = db.Dialect
	catalogfeed.Register(db.Client, a.CatalogFeed)
	sc := cfg.StorefrontCache
	if a.StoreCache, err = storecache.New(storecache.Config{Mode: sc.Mode, TTL: sc.TTL, MaxEntries: sc.MaxEntries,
		MaxBytes: sc.MaxBytes, Prefix: sc.RedisPrefix, MaxBodyBytes: MaxBodyBytes}, webLayer.redis, a.CatalogFeed.Generation, webLayer.queries, logger); err != nil {
		return nil, err
	}
	if err := a.newSearchServer(cfg, locales); err != nil {
		return nil, err
	}
	streams.Register(db.Client, a.accessChanged)
	// Exchange rates: a committed change drops this replica's cached rates at once.
	a.Currency = currency.New(cfg.Currency, db.Client)
	db.Client.ExchangeRate.Use(currency.ExchangeRateChangedHook(a.Currency.Invalidate))
	// and a change committed on another replica drops them when the catalog feed brings it.
	a.CatalogFeed.Subscribe(func(cs []catalogfeed.Change) {
		for _, c := range cs {
			if c.Entity == catalogfeed.Rate {
				a.Currency.Invalidate()
				return
			}
		}
	})
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
	go a.CatalogFeed.Run(ctx)
	go a.Webhooks.Run(ctx) // every replica: deliveries are claimed in the database
	if a.SearchSync != nil {
		go func() { _ = a.SearchSync.Run(ctx) }() // logs its failures and retries; ends with ctx
	}
	return nil
}

// newSearchServer connects the search server when SEARCH_URL is set: searches ask it
// first, and with SEARCH_SYNC this replica's syncer follows the catalog feed, woken by
// every batch the feed delivers (a local commit at once, others' within a poll).
func (a *App) newSearchServer(cfg config.Config, locales *i18n.Locales) error {
	if !cfg.SearchServer.Enabled() {
		return nil
	}
	sc, err := meili.New(cfg.SearchServer, nil)
	if err != nil {
		return fmt.Errorf("SEARCH_URL: %w", err)
	}
	a.SearchServer = &catalog.ServerSearch{Client: sc, Logger: a.Logger}
	if cfg.SearchServer.Sync {
		a.SearchSync = meilifeed.NewSyncer(sc, a.DB.Client, a.DB.Dialect, locales, a.Logger)
		// The first Notify sets the syncer up (its wake channel) here, before the feed's
		// goroutine and Run's can both try to.
		a.SearchSync.Notify()
		a.CatalogFeed.Subscribe(func([]catalogfeed.Change) { a.SearchSync.Notify() })
	}
	return nil
}

// RunJobs runs the background jobs until ctx ends. Every replica may run them: each job
// claims its work in the database.
func (a *App) RunJobs(ctx context.Context) {
	ctx = telemetry.WithJobs(ctx, a.Telemetry) // each run counted in xiadan_job_runs_total
	go a.Payments.RunReconcile(ctx, a.Config.JobInterval)
	go a.Uploads.RunCleanup(ctx, a.Config.JobInterval)
	go a.Reviews.RunJobs(ctx, a.DB.Client, a.Config.JobInterval, a.Logger)
	go a.AfterSales.RunJobs(ctx, a.DB.Client, a.Config.JobInterval, a.Logger)
	go a.Support.RunJobs(ctx, a.DB.Client, a.Config.JobInterval, a.Logger)
	go a.Credit.RunJobs(standing.WithClock(ctx, a.now), a.DB.Client, a.Config.JobInterval, a.Logger)
	go a.Members.RunJobs(standing.WithClock(ctx, a.now), a.DB.Client, a.Config.JobInterval, a.Logger)
	go a.Creators.RunJobs(ctx, a.DB.Client, a.Config.JobInterval, a.Logger)
	go a.Recommend.RunJobs(ctx, a.DB.Client, a.Config.JobInterval, a.Logger)
	go catalogfeed.RunPrune(ctx, a.DB.Client, a.Config.JobInterval, a.Config.StorefrontCache.ChangeRetention, a.Logger)
	go a.Currency.RunJobs(ctx, a.Logger) // only with EXCHANGE_RATE_PROVIDER
	go a.Analytics.RunJobs(ctx, a.Config.JobInterval)
	go a.Reports.RunJobs(ctx, a.DB.Client, a.Config.JobInterval, a.Logger)
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
		AfterSales: a.AfterSales, Support: a.Support, Help: a.Help, Credit: a.Credit,
		Coupons: a.Coupons, Promotions: a.Promotions, Members: a.Members, RedPackets: a.RedPackets,
		ABTests: a.Experiments, CreatorProgram: a.Creators, Rates: a.Currency, Languages: a.Languages, Risk: a.Risk,
		DataRights: a.DataRights, Analytics: a.Analytics, Reports: a.Reports, Recommend: a.Recommend}))
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
	if ext := a.Telemetry.GraphQL(); ext != nil { // first: its span encloses the transaction
		srv.Use(ext)
	}
	presenter := apperror.Presenter(a.Logger, audit.RequestID)
	if a.Config.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		disableIntrospection(srv)
		presenter = apperror.WithoutSuggestions(presenter)
	}
	srv.Use(persisted.Extension{Cache: a.web.queries})
	srv.Use(i18n.Extension{Locales: a.Languages.Locales})      // Accept-Language; extensions.locale
	srv.Use(RequestDeadline{Timeout: a.Config.RequestTimeout}) // outside the transaction
	srv.Use(Transactioner{Client: a.DB.Client, Logger: a.Logger, AfterCommit: a.Relay.Nudge})
	guard.Install(srv, guard.Options{Budget: a.newQueryBudget()})
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
	// Keyword search: synonym groups and the index vocabulary of this database, and the
	// Chinese segmenter's dictionary loaded before the first search (internal/search).
	searchGQL := catalog.SearchDictsMiddleware(catalog.NewSearchDicts(a.DB.Client), catalog.ServerSearchMiddleware(a.SearchServer, gql))
	go search.WarmUp()
	mux.Handle("/graphql", a.web.cors.Handler(httpcache.Middleware(a.Config.HTTPCacheMaxAge,
		a.StoreCache.Middleware(a.authenticate(a.limitBody(a.retryDeadlocks(loader.MiddlewareWithCounts(a.DB.Client, a.Config.LoaderBatchWait,
			loader.NewCountCache(loader.CountTTL).WithBudget(a.Config.CountBudget), searchGQL))))))))
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
	// Metrics on the main listener only behind METRICS_TOKEN (else on METRICS_ADDR alone).
	if a.Config.Telemetry.MetricsToken != "" {
		mux.Handle("GET /metrics", a.Telemetry.MetricsHandler())
	}
	if a.Config.Playground {
		mux.Handle("/", playgroundHandler())
	}
	// Outermost, so the request's span is in the context of everything, its log lines
	// included; requests are labelled by the pattern the mux picks for them.
	return a.Telemetry.Middleware(a.requestContext(a.withDeadline(mux)), func(r *http.Request) string {
		_, pattern := mux.Handler(r)
		return pattern
	})
}

// relayBacklog adapts the relay's backlog to the telemetry probe.
func relayBacklog(r *events.Relay) func(context.Context) (telemetry.RelayBacklog, error) {
	return func(ctx context.Context) (telemetry.RelayBacklog, error) {
		n, p, oldest, err := r.Backlog(ctx)
		return telemetry.RelayBacklog{Unnumbered: n, Unpublished: p, Oldest: oldest}, err
	}
}

// webhookBacklog adapts the webhook worker's backlog to the telemetry probe.
func webhookBacklog(s *webhooks.Service) func(context.Context) (telemetry.WebhookBacklog, error) {
	return func(ctx context.Context) (telemetry.WebhookBacklog, error) {
		due, retrying, oldest, err := s.Backlog(ctx)
		return telemetry.WebhookBacklog{Due: due, Retrying: retrying, OldestDue: oldest}, err
	}
}

// requireConnectionPageSize makes every connection field take first or last between 1
// and 100, so no query can ask for an unbounded list.
func requireConnectionPageSize(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Definition == nil || !(isConnection(fc.Field.Definition.Type) || paginated(fc.Field.Definition)) {
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

// paginated reports whether field takes Relay's page arguments, as a connection whose type
// is not named <X>Connection does (productSearch's ProductSearchResult).
func paginated(field *ast.FieldDefinition) bool {
	return field.Arguments.ForName("first") != nil && field.Arguments.ForName("after") != nil &&
		field.Arguments.ForName("last") != nil && field.Arguments.ForName("before") != nil
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

// recordTranslation records a change of translations in the catalog feed, in the writing
// transaction, as a change of the record translated: cached pages and search indexes
// follow it like any other change of that record; a product's keyword index is rewritten. Help-centre texts are their own kind.
func recordTranslation(ctx context.Context, db *ent.Client, c i18n.Change) error {
	kind := catalogfeed.Translation
	switch c.Kind {
	case i18n.Product:
		kind = catalogfeed.Product
		// The keyword index holds a product's translations too.
		if err := cataloghooks.ReindexProducts(ctx, db, c.ID); err != nil {
			return err
		}
	case i18n.Category:
		kind = catalogfeed.Category
	case i18n.Merchant:
		kind = catalogfeed.Merchant
	}
	return catalogfeed.Record(ctx, db, kind, c.ID)
}
