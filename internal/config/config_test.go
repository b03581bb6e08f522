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
	c, err := FromEnv(env(map[string]string{"XIADAN_ENV": "production", "JWT_SIGNING_KEY_FILE": "/k.pem"}))
	if err != nil || c.Playground || c.Introspection {
		t.Fatalf("production: %+v %v", c, err)
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
	if err != nil || c.RequestTimeout != 10*time.Second || c.WSMaxPerUser != 10 {
		t.Fatalf("defaults: %v %v %v", c.RequestTimeout, c.WSMaxPerUser, err)
	}
	c, err = FromEnv(env(map[string]string{"REQUEST_TIMEOUT": "30s", "WS_MAX_PER_USER": "3"}))
	if err != nil || c.RequestTimeout != 30*time.Second || c.WSMaxPerUser != 3 {
		t.Fatalf("set: %v %v %v", c.RequestTimeout, c.WSMaxPerUser, err)
	}
	for _, tc := range []map[string]string{
		{"REQUEST_TIMEOUT": "0s"}, {"REQUEST_TIMEOUT": "500ms"}, {"REQUEST_TIMEOUT": "1h"}, {"REQUEST_TIMEOUT": "ten"},
		{"WS_MAX_PER_USER": "0"}, {"WS_MAX_PER_USER": "-1"}, {"WS_MAX_PER_USER": "many"},
	} {
		_, err := FromEnv(env(tc))
		for name := range tc {
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%v: %v", tc, err)
			}
		}
	}
}
