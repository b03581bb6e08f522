package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "sqlite://xiadan.db" || c.ListenAddr != ":8080" || c.AccessTokenTTL != 15*time.Minute ||
		!c.Playground || !c.Introspection || c.Production() {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestProductionNeedsAKeyAndTurnsOffDeveloperTools(t *testing.T) {
	_, err := FromEnv(env(map[string]string{"XIADAN_ENV": "production"}))
	if err == nil || !strings.Contains(err.Error(), "JWT_SIGNING_KEY_FILE") {
		t.Fatalf("production without a key: %v", err)
	}
	_, err = FromEnv(env(map[string]string{"XIADAN_ENV": "production", "JWT_SIGNING_KEY_FILE": "/k.pem"}))
	if err == nil || !strings.Contains(err.Error(), "SMTP_HOST") {
		t.Fatalf("production without SMTP: %v", err)
	}
	c, err := FromEnv(env(map[string]string{"XIADAN_ENV": "production", "JWT_SIGNING_KEY_FILE": "/k.pem",
		"SMTP_HOST": "smtp.example.com", "SMTP_USERNAME": "xiadan", "SMTP_PASSWORD": " secret with spaces ",
		"MAIL_FROM": "Xiadan <no-reply@example.com>"}))
	if err != nil || c.Playground || c.Introspection {
		t.Fatalf("production: %+v %v", c, err)
	}
	if c.Mail.Port != 587 || c.Mail.TLS != "starttls" || c.Mail.Password != " secret with spaces " {
		t.Fatalf("SMTP defaults: %+v", c.Mail)
	}
}

func TestMailSettings(t *testing.T) {
	prod := map[string]string{"XIADAN_ENV": "production", "JWT_SIGNING_KEY_FILE": "/k.pem",
		"SMTP_HOST": "smtp.example.com", "MAIL_FROM": "no-reply@example.com"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range prod {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no sender", with("MAIL_FROM", ""), "MAIL_FROM"},
		{"port is not a number", with("SMTP_PORT", "smtp"), "SMTP_PORT"},
		{"unknown TLS mode", with("SMTP_TLS", "ssl"), "SMTP_TLS"},
		{"credentials in clear", with("SMTP_TLS", "none", "SMTP_USERNAME", "u", "SMTP_PASSWORD", "p"), "SMTP_TLS"},
		{"password without user", with("SMTP_PASSWORD", "p"), "SMTP_USERNAME"},
		{"plain http link in production", with("EMAIL_VERIFY_URL", "http://shop.example.com/verify"), "EMAIL_VERIFY_URL"},
		{"relative link", with("EMAIL_VERIFY_URL", "/verify"), "EMAIL_VERIFY_URL"},
		{"code lifetime", with("EMAIL_VERIFICATION_TTL", "1m"), "EMAIL_VERIFICATION_TTL"},
		{"registration limit", with("REGISTRATION_MAX_PER_ADDRESS", "0"), "REGISTRATION_MAX_PER_ADDRESS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := FromEnv(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
	// Development needs no mail settings, and may link to a local page.
	c, err := FromEnv(env(map[string]string{"EMAIL_VERIFY_URL": "http://localhost:3000/verify"}))
	if err != nil || c.Mail.Host != "" || c.EmailVerificationTTL != 30*time.Minute || c.RegistrationMaxPerAddress != 20 {
		t.Fatalf("development: %+v %v", c, err)
	}
}

func TestInvalidSettingsAreAllReported(t *testing.T) {
	_, err := FromEnv(env(map[string]string{
		"DATABASE_URL":                 "postgres://x",
		"ACCESS_TOKEN_TTL":             "soon",
		"PLAYGROUND":                   "maybe",
		"XIADAN_BOOTSTRAP_ADMIN_EMAIL": "a@b.c",
	}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, name := range []string{"ACCESS_TOKEN_TTL", "PLAYGROUND"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	_, err = FromEnv(env(map[string]string{"DATABASE_URL": "postgres://x", "XIADAN_BOOTSTRAP_ADMIN_EMAIL": "a@b.c"}))
	for _, name := range []string{"DATABASE_URL", "XIADAN_BOOTSTRAP_ADMIN_EMAIL"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

// TestRequestLimits: the request deadline and the per-account stream cap have defaults
// and are checked at start.
func TestRequestLimits(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil || c.RequestTimeout != 10*time.Second || c.WSMaxPerUser != 10 || c.WSInitTimeout != 10*time.Second {
		t.Fatalf("defaults: %v %v %v", c.RequestTimeout, c.WSMaxPerUser, err)
	}
	c, err = FromEnv(env(map[string]string{"REQUEST_TIMEOUT": "30s", "WS_MAX_PER_USER": "3"}))
	if err != nil || c.RequestTimeout != 30*time.Second || c.WSMaxPerUser != 3 {
		t.Fatalf("set: %v %v %v", c.RequestTimeout, c.WSMaxPerUser, err)
	}
	for _, tc := range []map[string]string{
		{"REQUEST_TIMEOUT": "0s"}, {"REQUEST_TIMEOUT": "500ms"}, {"REQUEST_TIMEOUT": "1h"}, {"REQUEST_TIMEOUT": "ten"},
		{"WS_MAX_PER_USER": "0"}, {"WS_MAX_PER_USER": "-1"}, {"WS_MAX_PER_USER": "many"},
		{"WS_INIT_TIMEOUT": "0s"}, {"WS_INIT_TIMEOUT": "2m"},
	} {
		_, err := FromEnv(env(tc))
		for name := range tc {
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%v: %v", tc, err)
			}
		}
	}
}

// The sandbox's pay page and notifications reach the server where it listens: without
// PAYMENT_PUBLIC_URL the public URL follows LISTEN_ADDR (outside production).
func TestPaymentPublicURLFollowsTheListenAddress(t *testing.T) {
	for _, tc := range []struct{ listen, public, want string }{
		{"", "", "http://localhost:8080"},
		{":9090", "", "http://localhost:9090"},
		{"0.0.0.0:9090", "", "http://localhost:9090"},
		{"[::]:9090", "", "http://localhost:9090"},
		{"127.0.0.1:7000", "", "http://127.0.0.1:7000"},
		{"[::1]:7000", "", "http://[::1]:7000"},
		{":9090", "https://shop.example.com", "https://shop.example.com"},
	} {
		c, err := FromEnv(env(map[string]string{"LISTEN_ADDR": tc.listen, "PAYMENT_PUBLIC_URL": tc.public}))
		if err != nil {
			t.Fatalf("%q: %v", tc.listen, err)
		}
		if c.Payment.PublicURL != tc.want || c.SignIn.PublicURL != tc.want {
			t.Errorf("LISTEN_ADDR=%q PAYMENT_PUBLIC_URL=%q: payment %q, sign-in %q, want %q",
				tc.listen, tc.public, c.Payment.PublicURL, c.SignIn.PublicURL, tc.want)
		}
		if got := c.Payment.NotifyURL("sandbox"); got != tc.want+"/payments/notify/sandbox" {
			t.Errorf("notify URL %q", got)
		}
	}
}

// One failed start lists every bad setting: the server's own, LISTEN_ADDR among them, and
// those of payments, sign-in and SMS, whether unreadable or invalid.
func TestEveryBadSettingIsReportedTogether(t *testing.T) {
	_, err := FromEnv(env(map[string]string{
		"LISTEN_ADDR":               "8080",
		"DATABASE_URL":              "postgres://db",
		"ACCESS_TOKEN_TTL":          "soon",
		"LOGIN_MAX_FAILURES":        "0",
		"LOG_LEVEL":                 "loud",
		"PAYMENT_SANDBOX_TOLERANCE": "1s",
		"WECHAT_MCH_ID":             "1900000001",
		"SMS_ALLOWED_COUNTRIES":     "eighty-six",
	}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, name := range []string{"LISTEN_ADDR", "DATABASE_URL", "ACCESS_TOKEN_TTL", "LOGIN_MAX_FAILURES", "LOG_LEVEL",
		"PAYMENT_SANDBOX_TOLERANCE", "WECHAT_APP_ID", "SMS_ALLOWED_COUNTRIES"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not name %s:\n%v", name, err)
		}
	}
	for _, bad := range []string{"8080", ":http", ":99999", "localhost", "[::1:80"} {
		_, err := FromEnv(env(map[string]string{"LISTEN_ADDR": bad}))
		if err == nil || !strings.Contains(err.Error(), "LISTEN_ADDR") {
			t.Errorf("LISTEN_ADDR=%q: %v", bad, err)
		}
	}
	// Port 0 lets the system choose; the public URL cannot follow it.
	if _, err := FromEnv(env(map[string]string{"LISTEN_ADDR": "127.0.0.1:0"})); err == nil ||
		!strings.Contains(err.Error(), "PAYMENT_PUBLIC_URL") {
		t.Errorf("LISTEN_ADDR with port 0 and no PAYMENT_PUBLIC_URL: %v", err)
	}
}

func TestStorefrontCacheSetting(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"in-process by default", nil, StorefrontCacheMemory, ""},
		{"redis by default with REDIS_URL", map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"}, StorefrontCacheRedis, ""},
		{"off", map[string]string{"STOREFRONT_CACHE": "off"}, StorefrontCacheOff, ""},
		{"redis with REDIS_URL", map[string]string{"STOREFRONT_CACHE": "redis", "REDIS_URL": "redis://127.0.0.1:6379/0"}, StorefrontCacheRedis, ""},
		{"redis without REDIS_URL", map[string]string{"STOREFRONT_CACHE": "redis"}, "", "STOREFRONT_CACHE: redis needs REDIS_URL"},
		{"unknown value", map[string]string{"STOREFRONT_CACHE": "disk"}, "", `STOREFRONT_CACHE: must be off, memory or redis, not "disk"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(env(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want an error naming %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil || c.StorefrontCache.Mode != tc.want {
				t.Fatalf("StorefrontCache.Mode = %q (%v), want %q", c.StorefrontCache.Mode, err, tc.want)
			}
		})
	}
}

func TestRateLimitSettings(t *testing.T) {
	c, err := FromEnv(env(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimit != (RateLimit{RedisPrefix: "xiadan:rl:", QueryCostBudget: 1000, QueryCostRestoreRate: 50}) {
		t.Fatalf("defaults: %+v", c.RateLimit)
	}
	if c, err := FromEnv(env(map[string]string{"QUERY_COST_BUDGET": "0"})); err != nil || c.RateLimit.QueryCostBudget != 0 {
		t.Fatalf("budget off: %v", err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"QUERY_COST_BUDGET": "999"}, "QUERY_COST_BUDGET"}, // below the most one query may cost
		{map[string]string{"QUERY_COST_RESTORE_RATE": "0"}, "QUERY_COST_RESTORE_RATE"},
		{map[string]string{"QUERY_COST_BUDGET": "2000", "QUERY_COST_RESTORE_RATE": "3000"}, "QUERY_COST_RESTORE_RATE"},
	} {
		if _, err := FromEnv(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%v: error %v, want one naming %s", tc.env, err, tc.want)
		}
	}
}
