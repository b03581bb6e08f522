package identity

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/xiadan/xiadan/internal/secret"
)

// DevelopmentSandboxSecret signs the sandbox's web sign-in codes when
// SIGNIN_SANDBOX_SECRET is unset. It is public on purpose: the sandbox lets anyone sign
// in as anyone and is refused in production.
const DevelopmentSandboxSecret secret.Value = "xiadan-signin-sandbox-development-secret"

// Config is every sign-in platform setting, read by ConfigFromEnv. A platform's mini
// program or web sign-in is on when its app id is set; otherwise the sandbox (when on)
// stands in for it.
type Config struct {
	// Sandbox is SIGNIN_SANDBOX: offline stand-ins for every platform not configured
	// (default on outside production; refused in production).
	Sandbox bool
	// SandboxSecret signs the sandbox's web codes (SIGNIN_SANDBOX_SECRET).
	SandboxSecret secret.Value
	// PublicURL is the server's base URL as browsers reach it: the sandbox's authorize
	// page lives under it (PAYMENT_PUBLIC_URL's value).
	PublicURL string
	// RedirectURIs are the front-end pages a web sign-in may return to
	// (WEB_SIGNIN_REDIRECT_URIS, exact URLs); outside production any http://localhost or
	// http://127.0.0.1 page is allowed too.
	RedirectURIs []string
	// Production is the server's mode.
	Production bool

	WeChatMini   AppConfig // WECHAT_MINI_APP_ID / _APP_SECRET
	QQMini       AppConfig // QQ_MINI_APP_ID / _APP_SECRET
	KuaishouMini AppConfig // KUAISHOU_MINI_APP_ID / _APP_SECRET
	AlipayMini   AlipayConfig
	WeChatWeb    AppConfig // WECHAT_WEB_APP_ID / _APP_SECRET (open platform website app)
	QQWeb        AppConfig // QQ_CONNECT_APP_ID / _APP_KEY

	// Base URLs of the platforms' APIs, overridable for egress proxies and tests.
	WeChatAPIURL     string // WECHAT_API_BASE_URL, default https://api.weixin.qq.com
	QQMiniAPIURL     string // QQ_MINI_API_BASE_URL, default https://api.q.qq.com
	QQConnectURL     string // QQ_CONNECT_BASE_URL, default https://graph.qq.com
	KuaishouAPIURL   string // KUAISHOU_API_BASE_URL, default https://open.kuaishou.com
	WeChatOpenURL    string // WECHAT_OPEN_BASE_URL (the website-login QR page), default https://open.weixin.qq.com
	AlipayGatewayURL string // ALIPAY_MINI_GATEWAY_URL, default Alipay's gateway (sandbox gateway outside production)
}

// AppConfig is an app id and its secret.
type AppConfig struct {
	AppID  string
	Secret secret.Value
}

// Enabled reports whether the app is configured.
func (c AppConfig) Enabled() bool { return c.AppID != "" }

// AlipayConfig is an Alipay mini program (public-key mode, RSA2).
type AlipayConfig struct {
	AppID          string // ALIPAY_MINI_APP_ID
	PrivateKeyFile string // ALIPAY_MINI_PRIVATE_KEY_FILE: the app's RSA private key
	PublicKeyFile  string // ALIPAY_MINI_PUBLIC_KEY_FILE: Alipay's public key
}

// Enabled reports whether the Alipay mini program is configured.
func (c AlipayConfig) Enabled() bool { return c.AppID != "" }

// ConfigFromEnv reads the sign-in configuration from getenv and validates it, reporting
// every problem at once. publicURL is the server's base URL (PAYMENT_PUBLIC_URL).
func ConfigFromEnv(getenv func(string) string, production bool, publicURL string) (Config, error) {
	str := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var errs []error
	c := Config{
		Sandbox:          !production,
		SandboxSecret:    secret.Value(str("SIGNIN_SANDBOX_SECRET")),
		PublicURL:        publicURL,
		Production:       production,
		WeChatMini:       AppConfig{str("WECHAT_MINI_APP_ID"), secret.Value(str("WECHAT_MINI_APP_SECRET"))},
		QQMini:           AppConfig{str("QQ_MINI_APP_ID"), secret.Value(str("QQ_MINI_APP_SECRET"))},
		KuaishouMini:     AppConfig{str("KUAISHOU_MINI_APP_ID"), secret.Value(str("KUAISHOU_MINI_APP_SECRET"))},
		AlipayMini:       AlipayConfig{str("ALIPAY_MINI_APP_ID"), str("ALIPAY_MINI_PRIVATE_KEY_FILE"), str("ALIPAY_MINI_PUBLIC_KEY_FILE")},
		WeChatWeb:        AppConfig{str("WECHAT_WEB_APP_ID"), secret.Value(str("WECHAT_WEB_APP_SECRET"))},
		QQWeb:            AppConfig{str("QQ_CONNECT_APP_ID"), secret.Value(str("QQ_CONNECT_APP_KEY"))},
		WeChatAPIURL:     str("WECHAT_API_BASE_URL"),
		QQMiniAPIURL:     str("QQ_MINI_API_BASE_URL"),
		QQConnectURL:     str("QQ_CONNECT_BASE_URL"),
		KuaishouAPIURL:   str("KUAISHOU_API_BASE_URL"),
		WeChatOpenURL:    str("WECHAT_OPEN_BASE_URL"),
		AlipayGatewayURL: str("ALIPAY_MINI_GATEWAY_URL"),
	}
	if v := str("SIGNIN_SANDBOX"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, errors.New("SIGNIN_SANDBOX: must be true or false"))
		}
		c.Sandbox = b
	}
	for _, s := range strings.Split(getenv("WEB_SIGNIN_REDIRECT_URIS"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.RedirectURIs = append(c.RedirectURIs, s)
		}
	}
	if c.Sandbox && c.SandboxSecret == "" && !production {
		c.SandboxSecret = DevelopmentSandboxSecret
	}
	errs = append(errs, c.Validate())
	return c, errors.Join(errs...)
}

// Validate reports every invalid setting at once, naming the variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if c.Sandbox && c.Production {
		bad("SIGNIN_SANDBOX", "must be off in production (the sandbox lets anyone sign in as anyone)")
	}
	if c.Sandbox && len(c.SandboxSecret) < 32 {
		bad("SIGNIN_SANDBOX_SECRET", "must be at least 32 bytes when the sandbox is on")
	}
	for _, a := range []struct {
		prefix, secretName string
		app                AppConfig
	}{
		{"WECHAT_MINI", "WECHAT_MINI_APP_SECRET", c.WeChatMini},
		{"QQ_MINI", "QQ_MINI_APP_SECRET", c.QQMini},
		{"KUAISHOU_MINI", "KUAISHOU_MINI_APP_SECRET", c.KuaishouMini},
		{"WECHAT_WEB", "WECHAT_WEB_APP_SECRET", c.WeChatWeb},
		{"QQ_CONNECT", "QQ_CONNECT_APP_KEY", c.QQWeb},
	} {
		switch {
		case a.app.AppID == "" && a.app.Secret != "":
			bad(a.prefix+"_APP_ID", "is required with %s", a.secretName)
		case a.app.AppID != "" && a.app.Secret == "":
			bad(a.secretName, "is required with %s_APP_ID", a.prefix)
		case len(a.app.AppID) > 64:
			bad(a.prefix+"_APP_ID", "is at most 64 characters")
		}
	}
	if a := c.AlipayMini; a.Enabled() {
		if a.PrivateKeyFile == "" {
			bad("ALIPAY_MINI_PRIVATE_KEY_FILE", "is required with ALIPAY_MINI_APP_ID")
		}
		if a.PublicKeyFile == "" {
			bad("ALIPAY_MINI_PUBLIC_KEY_FILE", "is required with ALIPAY_MINI_APP_ID")
		}
	}
	for name, v := range map[string]string{
		"WECHAT_API_BASE_URL": c.WeChatAPIURL, "QQ_MINI_API_BASE_URL": c.QQMiniAPIURL,
		"QQ_CONNECT_BASE_URL": c.QQConnectURL, "KUAISHOU_API_BASE_URL": c.KuaishouAPIURL,
		"WECHAT_OPEN_BASE_URL": c.WeChatOpenURL, "ALIPAY_MINI_GATEWAY_URL": c.AlipayGatewayURL,
	} {
		if v != "" && !absoluteHTTPURL(v) {
			bad(name, "must be an absolute http(s) URL")
		}
	}
	for _, u := range c.RedirectURIs {
		p, err := url.Parse(u)
		switch {
		case err != nil || !absoluteHTTPURL(u) || p.Fragment != "":
			bad("WEB_SIGNIN_REDIRECT_URIS", "%q is not an absolute http(s) URL without a fragment", u)
		case c.Production && p.Scheme != "https":
			bad("WEB_SIGNIN_REDIRECT_URIS", "%q must be https in production", u)
		}
	}
	if (c.Sandbox || c.WeChatWeb.Enabled() || c.QQWeb.Enabled()) && c.Sandbox && c.PublicURL == "" {
		bad("PAYMENT_PUBLIC_URL", "is required for the sign-in sandbox's pages")
	}
	return errors.Join(errs...)
}

// RedirectAllowed reports whether a web sign-in may return to uri: one of RedirectURIs
// exactly, or, outside production, any http://localhost or http://127.0.0.1 page.
func (c Config) RedirectAllowed(uri string) bool {
	for _, u := range c.RedirectURIs {
		if u == uri {
			return true
		}
	}
	if c.Production {
		return false
	}
	p, err := url.Parse(uri)
	if err != nil || p.Fragment != "" || p.User != nil {
		return false
	}
	h := p.Hostname()
	return (p.Scheme == "http" || p.Scheme == "https") && (h == "localhost" || h == "127.0.0.1" || h == "[::1]" || h == "::1")
}

func absoluteHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
