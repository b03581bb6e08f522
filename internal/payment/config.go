package payment

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Secret is a configuration value that must never be printed: fmt, JSON and slog show
// it as REDACTED. Reveal returns the value.
type Secret string

const redacted = "REDACTED"

// Reveal returns the secret's value, for the code that signs with it.
func (s Secret) Reveal() string { return string(s) }

// String hides the value from fmt verbs v, s and q.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalJSON hides the value from encoding/json.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// LogValue hides the value from log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// DevelopmentSandboxSecret signs sandbox messages when PAYMENT_SANDBOX_SECRET is unset
// outside production. It is public on purpose: the sandbox moves no money, and a fixed
// value keeps it working across restarts and replicas with zero set-up.
const DevelopmentSandboxSecret Secret = "xiadan-sandbox-development-secret-not-for-production"

// Config is every payment setting, read from the environment by ConfigFromEnv. A real
// adapter is on only when its first variable (ALIPAY_APP_ID, WECHAT_MCH_ID, QQ_MCH_ID) is set.
type Config struct {
	// PublicURL is this server's base URL as browsers and providers reach it
	// (PAYMENT_PUBLIC_URL), used for notify URLs and the sandbox pay page.
	PublicURL string
	Sandbox   SandboxConfig
	Alipay    AlipayConfig
	WeChat    WeChatConfig
	QQ        QQConfig
}

// SandboxConfig configures the sandbox provider.
type SandboxConfig struct {
	// Enabled is PAYMENT_SANDBOX (default: on outside production, off in production).
	Enabled bool
	// Secret is PAYMENT_SANDBOX_SECRET, the HMAC key of tickets and notifications
	// (at least 32 bytes; DevelopmentSandboxSecret when unset outside production).
	Secret Secret
	// Tolerance is PAYMENT_SANDBOX_TOLERANCE, the accepted age of a notification's
	// signing time (default 5m).
	Tolerance time.Duration
}

// AlipayConfig configures the Alipay adapter (public-key mode, RSA2).
type AlipayConfig struct {
	AppID          string // ALIPAY_APP_ID
	PrivateKeyFile string // ALIPAY_PRIVATE_KEY_FILE: the app's RSA private key (PEM PKCS#1/#8, or bare base64)
	PublicKeyFile  string // ALIPAY_PUBLIC_KEY_FILE: Alipay's public key (PEM, or bare base64 as Alipay shows it)
	SellerID       string // ALIPAY_SELLER_ID: optional 2088… merchant id notifications must name
	Production     bool   // ALIPAY_PRODUCTION: production gateway (default: as XIADAN_ENV); else Alipay's sandbox
	GatewayURL     string // ALIPAY_GATEWAY_URL: optional override of the gateway (tests, egress proxies)
}

// Enabled reports whether the Alipay adapter is configured.
func (c AlipayConfig) Enabled() bool { return c.AppID != "" }

// WeChatConfig configures the WeChat Pay API v3 adapter (direct merchant).
type WeChatConfig struct {
	MchID            string // WECHAT_MCH_ID
	AppID            string // WECHAT_APP_ID: the app (mini program / official account / app) bound to the merchant
	APIv3Key         Secret // WECHAT_API_V3_KEY: 32 bytes, decrypts notifications
	SerialNo         string // WECHAT_SERIAL_NO: serial of the merchant API certificate
	PrivateKeyFile   string // WECHAT_PRIVATE_KEY_FILE: apiclient_key.pem
	PlatformCertFile string // WECHAT_PLATFORM_CERT_FILE: platform certificate or WeChat Pay public key (PEM)
	PlatformSerial   string // WECHAT_PLATFORM_SERIAL: its serial / PUB_KEY_ID_…; read from the certificate when empty
	BaseURL          string // WECHAT_BASE_URL: optional override of https://api.mch.weixin.qq.com
}

// Enabled reports whether the WeChat Pay adapter is configured.
func (c WeChatConfig) Enabled() bool { return c.MchID != "" }

// QQConfig configures the QQ Wallet adapter.
type QQConfig struct {
	MchID          string // QQ_MCH_ID
	AppID          string // QQ_APP_ID
	APIKey         Secret // QQ_API_KEY: the merchant API key that signs every message
	SignType       string // QQ_SIGN_TYPE: MD5 (default) or HMAC-SHA256
	CertFile       string // QQ_CERT_FILE: client certificate for refunds (optional; PEM)
	KeyFile        string // QQ_KEY_FILE: its private key (PEM)
	OpUserID       string // QQ_OP_USER_ID: operator id refunds require
	OpUserPassword Secret // QQ_OP_USER_PASSWORD: operator password (its MD5 is sent)
	GatewayURL     string // QQ_GATEWAY_URL: optional override of https://qpay.qq.com and https://api.qpay.qq.com
}

// Enabled reports whether the QQ Wallet adapter is configured.
func (c QQConfig) Enabled() bool { return c.MchID != "" }

// RefundsEnabled reports whether QQ refunds are configured (they need a client certificate).
func (c QQConfig) RefundsEnabled() bool {
	return c.CertFile != "" && c.KeyFile != "" && c.OpUserID != "" && c.OpUserPassword != ""
}

// NotifyURL is the absolute URL at which the named provider must post notifications.
func (c Config) NotifyURL(providerName string) string {
	return strings.TrimSuffix(c.PublicURL, "/") + NotifyPath(providerName)
}

// ConfigFromEnv reads the payment configuration from getenv (os.Getenv in the server) and
// validates it. production is the server's mode (XIADAN_ENV=production): it turns the
// sandbox off by default and Alipay's production gateway on.
func ConfigFromEnv(getenv func(string) string, production bool) (Config, error) {
	r := envReader{getenv: getenv}
	c := Config{
		PublicURL: r.str("PAYMENT_PUBLIC_URL", ""),
		Sandbox: SandboxConfig{
			Enabled:   r.boolean("PAYMENT_SANDBOX", !production),
			Secret:    Secret(r.str("PAYMENT_SANDBOX_SECRET", "")),
			Tolerance: r.duration("PAYMENT_SANDBOX_TOLERANCE", 5*time.Minute),
		},
		Alipay: AlipayConfig{
			AppID:          r.str("ALIPAY_APP_ID", ""),
			PrivateKeyFile: r.str("ALIPAY_PRIVATE_KEY_FILE", ""),
			PublicKeyFile:  r.str("ALIPAY_PUBLIC_KEY_FILE", ""),
			SellerID:       r.str("ALIPAY_SELLER_ID", ""),
			Production:     r.boolean("ALIPAY_PRODUCTION", production),
			GatewayURL:     r.str("ALIPAY_GATEWAY_URL", ""),
		},
		WeChat: WeChatConfig{
			MchID:            r.str("WECHAT_MCH_ID", ""),
			AppID:            r.str("WECHAT_APP_ID", ""),
			APIv3Key:         Secret(r.str("WECHAT_API_V3_KEY", "")),
			SerialNo:         r.str("WECHAT_SERIAL_NO", ""),
			PrivateKeyFile:   r.str("WECHAT_PRIVATE_KEY_FILE", ""),
			PlatformCertFile: r.str("WECHAT_PLATFORM_CERT_FILE", ""),
			PlatformSerial:   r.str("WECHAT_PLATFORM_SERIAL", ""),
			BaseURL:          r.str("WECHAT_BASE_URL", ""),
		},
		QQ: QQConfig{
			MchID:          r.str("QQ_MCH_ID", ""),
			AppID:          r.str("QQ_APP_ID", ""),
			APIKey:         Secret(r.str("QQ_API_KEY", "")),
			SignType:       r.str("QQ_SIGN_TYPE", "MD5"),
			CertFile:       r.str("QQ_CERT_FILE", ""),
			KeyFile:        r.str("QQ_KEY_FILE", ""),
			OpUserID:       r.str("QQ_OP_USER_ID", ""),
			OpUserPassword: Secret(r.str("QQ_OP_USER_PASSWORD", "")),
			GatewayURL:     r.str("QQ_GATEWAY_URL", ""),
		},
	}
	if c.PublicURL == "" && !production {
		c.PublicURL = "http://localhost:8080"
	}
	if c.Sandbox.Enabled && c.Sandbox.Secret == "" && !production {
		c.Sandbox.Secret = DevelopmentSandboxSecret
	}
	if len(r.errs) > 0 {
		return Config{}, errors.Join(r.errs...)
	}
	return c, c.Validate()
}

// Validate reports every invalid setting at once, naming the variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	require := func(name, value string) {
		if value == "" {
			bad(name, "is required")
		}
	}
	anyReal := c.Alipay.Enabled() || c.WeChat.Enabled() || c.QQ.Enabled()
	if c.PublicURL == "" {
		if anyReal || c.Sandbox.Enabled {
			bad("PAYMENT_PUBLIC_URL", "is required (the base URL providers post notifications to)")
		}
	} else if !absoluteHTTPURL(c.PublicURL) {
		bad("PAYMENT_PUBLIC_URL", "must be an absolute http(s) URL")
	}
	if c.Sandbox.Enabled {
		if len(c.Sandbox.Secret) < 32 {
			bad("PAYMENT_SANDBOX_SECRET", "must be at least 32 bytes when the sandbox is on")
		}
		if c.Sandbox.Tolerance < 30*time.Second || c.Sandbox.Tolerance > time.Hour {
			bad("PAYMENT_SANDBOX_TOLERANCE", "must be between 30s and 1h")
		}
	}
	if a := c.Alipay; a.Enabled() {
		require("ALIPAY_PRIVATE_KEY_FILE", a.PrivateKeyFile)
		require("ALIPAY_PUBLIC_KEY_FILE", a.PublicKeyFile)
		if a.GatewayURL != "" && !absoluteHTTPURL(a.GatewayURL) {
			bad("ALIPAY_GATEWAY_URL", "must be an absolute http(s) URL")
		}
	}
	if w := c.WeChat; w.Enabled() {
		require("WECHAT_APP_ID", w.AppID)
		require("WECHAT_SERIAL_NO", w.SerialNo)
		require("WECHAT_PRIVATE_KEY_FILE", w.PrivateKeyFile)
		require("WECHAT_PLATFORM_CERT_FILE", w.PlatformCertFile)
		if len(w.APIv3Key) != 32 {
			bad("WECHAT_API_V3_KEY", "must be the 32-byte API v3 key")
		}
		if w.BaseURL != "" && !absoluteHTTPURL(w.BaseURL) {
			bad("WECHAT_BASE_URL", "must be an absolute http(s) URL")
		}
	}
	if q := c.QQ; q.Enabled() {
		require("QQ_APP_ID", q.AppID)
		require("QQ_API_KEY", q.APIKey.Reveal())
		if q.SignType != "MD5" && q.SignType != "HMAC-SHA256" {
			bad("QQ_SIGN_TYPE", "must be MD5 or HMAC-SHA256")
		}
		set := 0
		for _, v := range []string{q.CertFile, q.KeyFile, q.OpUserID, q.OpUserPassword.Reveal()} {
			if v != "" {
				set++
			}
		}
		if set != 0 && set != 4 {
			bad("QQ_CERT_FILE", "QQ_KEY_FILE, QQ_OP_USER_ID and QQ_OP_USER_PASSWORD must be set together (refunds)")
		}
		if q.GatewayURL != "" && !absoluteHTTPURL(q.GatewayURL) {
			bad("QQ_GATEWAY_URL", "must be an absolute http(s) URL")
		}
	}
	return errors.Join(errs...)
}

type envReader struct {
	getenv func(string) string
	errs   []error
}

func (r *envReader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *envReader) boolean(name string, def bool) bool {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: must be true or false", name))
		return def
	}
	return b
}

func (r *envReader) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: must be a duration such as 5m", name))
		return def
	}
	return d
}
