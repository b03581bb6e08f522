// Package config reads the server's whole configuration from the environment once, at
// start, and validates it; everything else receives the parsed Config.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xiadan/xiadan/internal/aftersales"
	"github.com/xiadan/xiadan/internal/cors"
	"github.com/xiadan/xiadan/internal/creators"
	"github.com/xiadan/xiadan/internal/credit"
	"github.com/xiadan/xiadan/internal/currency"
	"github.com/xiadan/xiadan/internal/identity"
	"github.com/xiadan/xiadan/internal/mail"
	"github.com/xiadan/xiadan/internal/members"
	"github.com/xiadan/xiadan/internal/payment"
	"github.com/xiadan/xiadan/internal/reviews"
	"github.com/xiadan/xiadan/internal/risk"
	"github.com/xiadan/xiadan/internal/search/meili"
	"github.com/xiadan/xiadan/internal/secret"
	"github.com/xiadan/xiadan/internal/sms"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/upload"
)

// Config is every setting of the server. See the README's configuration table.
type Config struct {
	// Env is "development" (default) or "production".
	Env string
	// DatabaseURL chooses the store: mysql://user:pass@host:3306/db or sqlite://path.db.
	DatabaseURL string
	// ListenAddr is the HTTP listen address.
	ListenAddr string
	// DataDir holds files the server makes for itself, such as the development signing key.
	DataDir string
	// Playground serves the GraphQL IDE at / ; Introspection answers schema queries.
	Playground    bool
	Introspection bool

	// JWT settings.
	JWTIssuer         string
	JWTAudience       string
	AccessTokenTTL    time.Duration
	RefreshTokenTTL   time.Duration
	JWTSigningKeyFile string
	JWTVerifyKeyFiles []string
	TrustProxyHeaders bool
	// CORS is which other origins' pages may call the API (CORS_ALLOWED_ORIGINS, with
	// the deprecated ALLOWED_ORIGINS as an alias); websockets check Origin against the
	// same list, and always allow the same origin.
	CORS cors.Config
	// HTTPCacheMaxAge is the max-age of answers to anonymous GET queries (0: revalidate
	// every time); RedisURL, when set, shares persisted queries across replicas.
	HTTPCacheMaxAge time.Duration
	RedisURL        string
	// Telemetry is metrics (METRICS_TOKEN, METRICS_ADDR, METRICS_MAX_OPERATIONS) and
	// tracing (the standard OTEL_* variables); see docs/OPERATIONS.md.
	Telemetry telemetry.Config
	// RedPacketRedisPrefix starts the Redis keys of red-packet claims (RED_PACKET_REDIS_PREFIX),
	// which go through Redis when RedisURL is set.
	RedPacketRedisPrefix string
	// RateLimit is where the rate limits count and the query-cost budget (ratelimit.go).
	RateLimit RateLimit
	// Analytics configures behaviour events and dashboards (analytics.go).
	Analytics          Analytics
	LoginMaxFailures   int
	LoginFailureWindow time.Duration
	// RegistrationMaxPerAddress accounts may be registered from one client address (an
	// IPv6 /64) per RegistrationWindow.
	RegistrationMaxPerAddress int
	RegistrationWindow        time.Duration

	// StorefrontCache is the anonymous storefront response cache (storefront_cache.go).
	StorefrontCache StorefrontCache

	// Mail is how the server sends email (SMTP_*, MAIL_FROM). Without SMTP_HOST, messages
	// go to the development outbox under DataDir; production requires SMTP.
	Mail mail.Config
	// EmailVerifyURL is the front-end page that finishes an email verification: messages
	// link to it with the one-time token appended as the `token` query parameter, and the
	// page calls verifyEmail(token:). Without it, messages carry only the code.
	EmailVerifyURL string
	// EmailVerificationTTL is how long a verification code and link stay valid.
	EmailVerificationTTL time.Duration

	// BootstrapAdminEmail and BootstrapAdminPassword create the first admin on a first start.
	BootstrapAdminEmail    string
	BootstrapAdminPassword string
	// AdminRequireTOTP withholds the ADMIN role from sessions of admins who have not turned
	// on TOTP two-factor sign-in (ADMIN_REQUIRE_TOTP); they can still enrol.
	AdminRequireTOTP bool
	// TOTPEncryptionKey seals admins' TOTP secrets at rest (TOTP_ENCRYPTION_KEY: 32 bytes
	// in base64 or hex); TOTPDecryptionKeys are former keys, still opened
	// (TOTP_DECRYPTION_KEYS, comma-separated) while the start seals their secrets again
	// under the current key.
	TOTPEncryptionKey  secret.Value
	TOTPDecryptionKeys []secret.Value

	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel  string
	LogFormat string
	// ShutdownTimeout bounds the graceful drain on SIGTERM.
	ShutdownTimeout time.Duration
	// RequestTimeout bounds every request but subscriptions: past it the request's
	// database work is cancelled, a mutation rolled back, and the caller told TIMEOUT.
	RequestTimeout time.Duration
	// ReadyTimeout bounds /readyz's look at the schema (READY_TIMEOUT, default 2s): a probe
	// that waits longer is told the database is unreachable.
	ReadyTimeout time.Duration
	// WSMaxPerUser caps the websockets and event streams one account or API client (or,
	// without a token, one client address) may hold open at once, on each replica.
	WSMaxPerUser int
	// WSInitTimeout is how long a websocket client has to send connection_init before the
	// socket closes (graphql-transport-ws: 4408).
	WSInitTimeout time.Duration
	// StreamKeepAlive is how often a quiet HTTP stream — a GraphQL-over-SSE event stream
	// (a ":" comment) or an Apollo multipart subscription (a "{}" heartbeat) — sends
	// something, so proxies with an idle timeout (often 60 s) do not cut it.
	StreamKeepAlive time.Duration
	// LoaderBatchWait is how long a dataloader collects keys before it sends its batch:
	// longer waits batch more reliably on a busy machine and add that much latency.
	LoaderBatchWait time.Duration
	// CountBudget is how long a request waits for a product count past 1,000 rows, which
	// is taken in the background, before answering with an estimate or a lower bound
	// (COUNT_BUDGET, default 300ms; internal/catalog/count.go).
	CountBudget time.Duration
	// Locales are the BCP 47 tags content is served in, the default first (LOCALES,
	// default zh-CN,en); internal/i18n.
	Locales []string

	// OrderPaymentTimeout is how long a new order waits for payment before it is
	// cancelled and its stock released.
	OrderPaymentTimeout time.Duration
	// OrderAutoCompleteAfter completes delivered (or fulfilled) orders the customer has
	// not confirmed after this long.
	OrderAutoCompleteAfter time.Duration
	// JobInterval is how often the background jobs look for work.
	JobInterval time.Duration
	// SupportFirstResponseSLA is how long staff have to answer a new ticket before it is
	// escalated to admins (docs/SUPPORT.md).
	SupportFirstResponseSLA time.Duration
	// SupportReopenWindow is how long after closing a customer may reopen a ticket they
	// have not rated (0: never).
	SupportReopenWindow time.Duration
	// EventRetention is how far back a subscription may resume with `after`.
	EventRetention time.Duration
	// NATSURL, when set, fans events out across replicas through NATS JetStream;
	// NATSStream names the stream (subjects NATSStream.<merchant>), so several
	// deployments can share one NATS server.
	NATSURL    string
	NATSStream string
	// WebhookAllowPrivate lets webhooks target loopback and private addresses (development).
	WebhookAllowPrivate bool
	// Payment is every payment provider setting (see internal/payment and docs/PAYMENTS.md).
	Payment payment.Config
	// SignIn is every sign-in platform setting and SMS every SMS setting (see
	// internal/identity, internal/sms and docs/IDENTITY.md).
	SignIn identity.Config
	SMS    sms.Config
	// Credit is how merchant credit is computed and sanctions bounded (CREDIT_*,
	// docs/CREDIT.md).
	Credit credit.Config
	// Members is how VIP tiers are earned (MEMBER_*, internal/members).
	Members members.Config
	// Currency is how exchange rates are kept and presented (EXCHANGE_RATE_*, internal/currency).
	Currency currency.Config
	// Creators is the creator attribution window and commission hold (CREATOR_*;
	// internal/creators, docs/PROMOTIONS-growth.md).
	Creators creators.Config
	// Upload is where uploaded files are kept and what is accepted (UPLOAD_*, S3_*;
	// internal/upload, docs/UPLOADS.md).
	Upload upload.Config
	// Reviews is the review window, the follow-up window and default reviews (REVIEW_*;
	// internal/reviews, docs/REVIEWS.md).
	Reviews reviews.Config
	// AfterSales is each side's deadline in an after-sales request (AFTER_SALES_*;
	// internal/aftersales, docs/AFTER_SALES.md).
	AfterSales aftersales.Config
	// Risk holds the risk rules' thresholds (RISK_*; internal/risk, docs/RISK.md).
	Risk risk.Config
	// SearchServer is the Meilisearch server that answers storefront searches (SEARCH_*;
	// internal/search/meili, docs/SEARCH-SERVER.md); without SEARCH_URL it is disabled.
	SearchServer meili.Config
}

// Production reports whether the server runs in production mode.
func (c Config) Production() bool { return c.Env == "production" }

// FromEnv reads the configuration from getenv (os.Getenv in production) and validates it.
func FromEnv(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		Env:                       r.str("XIADAN_ENV", "development"),
		DatabaseURL:               r.str("DATABASE_URL", "sqlite://xiadan.db"),
		ListenAddr:                r.str("LISTEN_ADDR", ":8080"),
		DataDir:                   r.str("XIADAN_DATA_DIR", ".xiadan"),
		JWTIssuer:                 r.str("JWT_ISSUER", "xiadan"),
		JWTAudience:               r.str("JWT_AUDIENCE", "xiadan-api"),
		AccessTokenTTL:            r.duration("ACCESS_TOKEN_TTL", 15*time.Minute),
		RefreshTokenTTL:           r.duration("REFRESH_TOKEN_TTL", 30*24*time.Hour),
		JWTSigningKeyFile:         r.str("JWT_SIGNING_KEY_FILE", ""),
		JWTVerifyKeyFiles:         r.list("JWT_VERIFY_KEY_FILES"),
		TrustProxyHeaders:         r.boolean("TRUST_PROXY_HEADERS", false),
		CORS:                      corsFromEnv(&r),
		HTTPCacheMaxAge:           r.duration("HTTP_CACHE_MAX_AGE", time.Minute),
		RedisURL:                  r.str("REDIS_URL", ""),
		RedPacketRedisPrefix:      r.str("RED_PACKET_REDIS_PREFIX", "xiadan:rp:"),
		LoginMaxFailures:          r.integer("LOGIN_MAX_FAILURES", 5),
		LoginFailureWindow:        r.duration("LOGIN_FAILURE_WINDOW", 15*time.Minute),
		RegistrationMaxPerAddress: r.integer("REGISTRATION_MAX_PER_ADDRESS", 20),
		RegistrationWindow:        r.duration("REGISTRATION_WINDOW", time.Hour),
		Mail: mail.Config{
			Host:     r.str("SMTP_HOST", ""),
			Port:     r.integer("SMTP_PORT", 587),
			Username: r.str("SMTP_USERNAME", ""),
			Password: r.getenv("SMTP_PASSWORD"),
			TLS:      r.str("SMTP_TLS", mail.TLSStartTLS),
			From:     r.str("MAIL_FROM", ""),
		},
		EmailVerifyURL:         r.str("EMAIL_VERIFY_URL", ""),
		EmailVerificationTTL:   r.duration("EMAIL_VERIFICATION_TTL", 30*time.Minute),
		BootstrapAdminEmail:    r.str("XIADAN_BOOTSTRAP_ADMIN_EMAIL", ""),
		BootstrapAdminPassword: r.str("XIADAN_BOOTSTRAP_ADMIN_PASSWORD", ""),
		LogLevel:               r.str("LOG_LEVEL", "info"),
		LogFormat:              r.str("LOG_FORMAT", "text"),
		ShutdownTimeout:        r.duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		RequestTimeout:         r.duration("REQUEST_TIMEOUT", 10*time.Second),
		ReadyTimeout:           r.duration("READY_TIMEOUT", 2*time.Second),
		WSMaxPerUser:           r.integer("WS_MAX_PER_USER", 10),
		WSInitTimeout:          r.duration("WS_INIT_TIMEOUT", 10*time.Second),
		StreamKeepAlive:        r.duration("STREAM_KEEPALIVE_INTERVAL", 15*time.Second),
		LoaderBatchWait:        r.duration("LOADER_BATCH_WAIT", 2*time.Millisecond),
		CountBudget:            r.duration("COUNT_BUDGET", 300*time.Millisecond),
		Locales:                localesOr(r.list("LOCALES")),
		OrderPaymentTimeout:    r.duration("ORDER_PAYMENT_TIMEOUT", 30*time.Minute),
		OrderAutoCompleteAfter: r.duration("ORDER_AUTO_COMPLETE_AFTER", 7*24*time.Hour),
		JobInterval:            r.duration("JOB_INTERVAL", 30*time.Second),
		EventRetention:         r.duration("EVENT_RETENTION", 7*24*time.Hour),
		NATSURL:                r.str("NATS_URL", ""),
		NATSStream:             r.str("NATS_STREAM", "XIADAN_ORDER_EVENTS"),
		AfterSales:             afterSalesFromEnv(&r),
		Risk:                   riskFromEnv(&r),
	}
	dev := c.Env != "production"
	c.StorefrontCache = storefrontCacheFromEnv(&r, c.RedisURL)
	c.RateLimit = rateLimitFromEnv(&r)
	c.Analytics = analyticsFromEnv(&r)
	c.SupportFirstResponseSLA = r.duration("SUPPORT_FIRST_RESPONSE_SLA", 24*time.Hour)
	c.SupportReopenWindow = r.duration("SUPPORT_REOPEN_WINDOW", 7*24*time.Hour)
	c.WebhookAllowPrivate = r.boolean("WEBHOOK_ALLOW_PRIVATE", false)
	c.Telemetry = telemetry.ConfigFromEnv(getenv)
	c.Telemetry.MaxOperations = r.integer("METRICS_MAX_OPERATIONS", 200)
	c.AdminRequireTOTP = r.boolean("ADMIN_REQUIRE_TOTP", false)
	c.TOTPEncryptionKey = secret.Value(r.str("TOTP_ENCRYPTION_KEY", ""))
	for _, k := range r.list("TOTP_DECRYPTION_KEYS") {
		c.TOTPDecryptionKeys = append(c.TOTPDecryptionKeys, secret.Value(k))
	}
	c.Playground = r.boolean("PLAYGROUND", dev)
	c.Introspection = r.boolean("INTROSPECTION", dev)
	c.Reviews = reviews.Config{
		Window:         r.duration("REVIEW_WINDOW", 15*24*time.Hour),
		FollowUpWindow: r.duration("REVIEW_FOLLOW_UP_WINDOW", 180*24*time.Hour),
		DefaultReviews: r.boolean("REVIEW_DEFAULT_ENABLED", true),
	}
	// Every problem is reported at once: the settings read here, their validation, and
	// the payment, sign-in and SMS settings, so one failed start lists all of them.
	errs := append([]error(nil), r.errs...)
	errs = append(errs, c.Validate())
	paymentEnv := getenv
	if _, port, err := net.SplitHostPort(c.ListenAddr); err == nil && port == "0" && dev &&
		strings.TrimSpace(getenv("PAYMENT_PUBLIC_URL")) == "" {
		errs = append(errs, errors.New("PAYMENT_PUBLIC_URL: is required when LISTEN_ADDR's port is 0 (chosen at start, so the sandbox cannot know it)"))
	}
	if url := ListenURL(c.ListenAddr); dev && url != "" {
		// The sandbox's pay page and notifications reach this server where it listens,
		// unless PAYMENT_PUBLIC_URL says otherwise.
		paymentEnv = func(name string) string {
			if v := getenv(name); name != "PAYMENT_PUBLIC_URL" || strings.TrimSpace(v) != "" {
				return v
			}
			return url
		}
	}
	pay, payErr := payment.ConfigFromEnv(paymentEnv, c.Production())
	publicURL := pay.PublicURL
	if payErr != nil && publicURL == "" {
		publicURL = strings.TrimSpace(paymentEnv("PAYMENT_PUBLIC_URL"))
	}
	signIn, signInErr := identity.ConfigFromEnv(getenv, c.Production(), publicURL)
	smsCfg, smsErr := sms.ConfigFromEnv(getenv, c.Production())
	uploadCfg, uploadErr := upload.ConfigFromEnv(getenv, c.Production(), c.ListenAddr, c.DataDir)
	creditCfg, creditErr := credit.ConfigFromEnv(getenv)
	membersCfg, membersErr := members.ConfigFromEnv(getenv)
	creatorsCfg, creatorsErr := creators.ConfigFromEnv(getenv)
	searchCfg, searchErr := meili.ConfigFromEnv(getenv)
	currencyCfg, currencyErr := currency.ConfigFromEnv(getenv)
	if err := errors.Join(append(errs, payErr, signInErr, smsErr, uploadErr, creditErr, membersErr, creatorsErr, searchErr, currencyErr)...); err != nil {
		return Config{}, err
	}
	c.Credit = creditCfg
	c.Members = membersCfg
	c.Creators = creatorsCfg
	c.SearchServer = searchCfg
	c.Currency = currencyCfg
	c.Payment, c.SignIn, c.SMS, c.Upload = pay, signIn, smsCfg, uploadCfg
	return c, nil
}

// ListenURL is the http URL at which this machine reaches a server listening on addr
// (LISTEN_ADDR): ":9090" and "0.0.0.0:9090" are http://localhost:9090. It is "" when
// addr is invalid or its port is chosen at start (port 0).
func ListenURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || validPort(port) != nil || port == "0" {
		return ""
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// validPort reports whether port is a port number (0 lets the system choose).
func validPort(port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q is not a port number (0-65535)", port)
	}
	return nil
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if err := c.AfterSales.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.TOTPKeyring(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Risk.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Env != "development" && c.Env != "production" {
		bad("XIADAN_ENV", "must be development or production, not %q", c.Env)
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "mysql" && u.Scheme != "sqlite") {
		bad("DATABASE_URL", "must look like mysql://user:pass@host:3306/db or sqlite://path.db")
	}
	if _, port, err := net.SplitHostPort(c.ListenAddr); err != nil {
		bad("LISTEN_ADDR", "must be host:port or :port, such as :8080 or 127.0.0.1:8080, not %q", c.ListenAddr)
	} else if err := validPort(port); err != nil {
		bad("LISTEN_ADDR", "%v", err)
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 24*time.Hour {
		bad("ACCESS_TOKEN_TTL", "must be between 1m and 24h")
	}
	if c.RefreshTokenTTL < c.AccessTokenTTL {
		bad("REFRESH_TOKEN_TTL", "must not be shorter than ACCESS_TOKEN_TTL")
	}
	if c.LoginMaxFailures < 1 {
		bad("LOGIN_MAX_FAILURES", "must be at least 1")
	}
	if c.RegistrationMaxPerAddress < 1 {
		bad("REGISTRATION_MAX_PER_ADDRESS", "must be at least 1")
	}
	if c.RegistrationWindow < time.Minute || c.RegistrationWindow > 7*24*time.Hour {
		bad("REGISTRATION_WINDOW", "must be between 1m and 168h")
	}
	errs = append(errs, c.Mail.Validate()...)
	errs = append(errs, c.Reviews.Validate())
	errs = append(errs, c.Telemetry.Validate())
	if a := c.Telemetry.MetricsAddr; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || validPort(port) != nil {
			bad("METRICS_ADDR", "must be host:port, such as 127.0.0.1:9090, not %q", a)
		} else if a == c.ListenAddr {
			bad("METRICS_ADDR", "must differ from LISTEN_ADDR")
		}
	}
	errs = append(errs, c.validateWeb()...)
	errs = append(errs, c.StorefrontCache.validate(c.RedisURL)...)
	errs = append(errs, c.RateLimit.validate()...)
	errs = append(errs, c.Analytics.validate()...)
	errs = append(errs, validateLocales(c.Locales)...)
	if c.Production() && c.Mail.Host == "" {
		bad("SMTP_HOST", "is required in production (email verification sends codes; the development outbox only writes files)")
	}
	if c.EmailVerifyURL != "" {
		u, err := url.Parse(c.EmailVerifyURL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Fragment != "":
			bad("EMAIL_VERIFY_URL", "must be an absolute URL such as https://shop.example.com/verify-email")
		case c.Production() && u.Scheme != "https":
			bad("EMAIL_VERIFY_URL", "must be https in production (the link carries a one-time token)")
		}
	}
	if c.EmailVerificationTTL < 5*time.Minute || c.EmailVerificationTTL > 24*time.Hour {
		bad("EMAIL_VERIFICATION_TTL", "must be between 5m and 24h")
	}
	if c.Production() && c.JWTSigningKeyFile == "" {
		bad("JWT_SIGNING_KEY_FILE", "is required in production (a development key is generated only outside production)")
	}
	if (c.BootstrapAdminEmail == "") != (c.BootstrapAdminPassword == "") {
		bad("XIADAN_BOOTSTRAP_ADMIN_EMAIL", "and XIADAN_BOOTSTRAP_ADMIN_PASSWORD must be set together")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "must be debug, info, warn or error")
	}
	if c.OrderPaymentTimeout < time.Minute || c.OrderPaymentTimeout > 7*24*time.Hour {
		bad("ORDER_PAYMENT_TIMEOUT", "must be between 1m and 168h")
	}
	if c.OrderAutoCompleteAfter < time.Minute {
		bad("ORDER_AUTO_COMPLETE_AFTER", "must be at least 1m")
	}
	if c.JobInterval < 100*time.Millisecond || c.JobInterval > time.Hour {
		bad("JOB_INTERVAL", "must be between 100ms and 1h")
	}
	if c.SupportFirstResponseSLA < time.Minute || c.SupportFirstResponseSLA > 30*24*time.Hour {
		bad("SUPPORT_FIRST_RESPONSE_SLA", "must be between 1m and 720h")
	}
	if c.SupportReopenWindow < 0 || c.SupportReopenWindow > 90*24*time.Hour {
		bad("SUPPORT_REOPEN_WINDOW", "must be between 0 and 2160h")
	}
	if c.LoaderBatchWait < time.Millisecond || c.LoaderBatchWait > time.Second {
		bad("LOADER_BATCH_WAIT", "must be between 1ms and 1s")
	}
	if c.CountBudget < 0 || c.CountBudget > 5*time.Minute {
		bad("COUNT_BUDGET", "must be between 0 and 5m")
	}
	if c.ReadyTimeout < 100*time.Millisecond || c.ReadyTimeout > time.Minute {
		bad("READY_TIMEOUT", "must be between 100ms and 1m")
	}
	if c.RequestTimeout < time.Second || c.RequestTimeout > 10*time.Minute {
		bad("REQUEST_TIMEOUT", "must be between 1s and 10m")
	}
	if c.WSMaxPerUser < 1 || c.WSMaxPerUser > 10_000 {
		bad("WS_MAX_PER_USER", "must be between 1 and 10000")
	}
	if c.WSInitTimeout < time.Second || c.WSInitTimeout > time.Minute {
		bad("WS_INIT_TIMEOUT", "must be between 1s and 1m")
	}
	if c.StreamKeepAlive < time.Second || c.StreamKeepAlive > 5*time.Minute {
		bad("STREAM_KEEPALIVE_INTERVAL", "must be between 1s and 5m")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT", "must be text or json")
	}
	return errors.Join(errs...)
}

// FromOS reads the configuration from the process environment.
func FromOS() (Config, error) { return FromEnv(os.Getenv) }

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) list(name string) []string {
	var out []string
	for _, s := range strings.Split(r.getenv(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not a duration such as 15m", name, v))
	}
	return d
}

func (r *reader) integer(name string, def int) int {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not an integer", name, v))
	}
	return n
}

func (r *reader) boolean(name string, def bool) bool {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not true or false", name, v))
	}
	return b
}

// riskFromEnv reads the risk rules' thresholds (RISK_*), defaulting to risk.DefaultConfig.
func riskFromEnv(r *reader) risk.Config {
	d := risk.DefaultConfig()
	return risk.Config{
		Mode:                  r.str("RISK_MODE", d.Mode),
		HoldScore:             r.integer("RISK_HOLD_SCORE", d.HoldScore),
		VelocityWindow:        r.duration("RISK_VELOCITY_WINDOW", d.VelocityWindow),
		MaxOrdersPerAccount:   r.integer("RISK_MAX_ORDERS_PER_ACCOUNT", d.MaxOrdersPerAccount),
		MaxOrdersPerDevice:    r.integer("RISK_MAX_ORDERS_PER_DEVICE", d.MaxOrdersPerDevice),
		MaxOrdersPerAddress:   r.integer("RISK_MAX_ORDERS_PER_ADDRESS", d.MaxOrdersPerAddress),
		MaxOrdersPerPhone:     r.integer("RISK_MAX_ORDERS_PER_PHONE", d.MaxOrdersPerPhone),
		LinkWindow:            r.duration("RISK_LINK_WINDOW", d.LinkWindow),
		MaxAccountsPerDevice:  r.integer("RISK_MAX_ACCOUNTS_PER_DEVICE", d.MaxAccountsPerDevice),
		MaxAccountsPerAddress: r.integer("RISK_MAX_ACCOUNTS_PER_ADDRESS", d.MaxAccountsPerAddress),
		MaxCouponAccounts:     r.integer("RISK_MAX_COUPON_ACCOUNTS", d.MaxCouponAccounts),
		MaxLineQuantity:       r.integer("RISK_MAX_LINE_QUANTITY", d.MaxLineQuantity),
		MaxOrderAmount:        int64(r.integer("RISK_MAX_ORDER_AMOUNT", int(d.MaxOrderAmount))),
		NormFactor:            r.integer("RISK_NORM_FACTOR", d.NormFactor),
		NormMinOrders:         r.integer("RISK_NORM_MIN_ORDERS", d.NormMinOrders),
		MaxPaymentFailures:    r.integer("RISK_MAX_PAYMENT_FAILURES", d.MaxPaymentFailures),
	}
}

// afterSalesFromEnv reads the after-sales deadlines (AFTER_SALES_*), defaulting to
// aftersales.DefaultConfig.
func afterSalesFromEnv(r *reader) aftersales.Config {
	d := aftersales.DefaultConfig()
	return aftersales.Config{
		ResponseWindow:    r.duration("AFTER_SALES_RESPONSE_WINDOW", d.ResponseWindow),
		ProposalWindow:    r.duration("AFTER_SALES_PROPOSAL_WINDOW", d.ProposalWindow),
		EscalationWindow:  r.duration("AFTER_SALES_ESCALATION_WINDOW", d.EscalationWindow),
		ReturnWindow:      r.duration("AFTER_SALES_RETURN_WINDOW", d.ReturnWindow),
		ReceiptWindow:     r.duration("AFTER_SALES_RECEIPT_WINDOW", d.ReceiptWindow),
		ReplacementWindow: r.duration("AFTER_SALES_REPLACEMENT_WINDOW", d.ReplacementWindow),
		RequestWindow:     r.duration("AFTER_SALES_REQUEST_WINDOW", d.RequestWindow),
	}
}

// TOTPKeyring returns the keyring of TOTP_ENCRYPTION_KEY and TOTP_DECRYPTION_KEYS (nil
// when no key is set).
func (c Config) TOTPKeyring() (*secret.Keyring, error) {
	if c.TOTPEncryptionKey == "" {
		if len(c.TOTPDecryptionKeys) > 0 {
			return nil, errors.New("TOTP_DECRYPTION_KEYS: set TOTP_ENCRYPTION_KEY too (the secrets are sealed again under it)")
		}
		return nil, nil
	}
	cur, err := secret.ParseKey(c.TOTPEncryptionKey.Reveal())
	if err != nil {
		return nil, fmt.Errorf("TOTP_ENCRYPTION_KEY: %w", err)
	}
	var old [][]byte
	for i, v := range c.TOTPDecryptionKeys {
		k, err := secret.ParseKey(v.Reveal())
		if err != nil {
			return nil, fmt.Errorf("TOTP_DECRYPTION_KEYS (key %d): %w", i+1, err)
		}
		old = append(old, k)
	}
	return secret.NewKeyring(cur, old...)
}
