package database

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestMySQLConfig(t *testing.T) {
	u, err := parseURL("mysql://app:p%40ss%2Fw%3Ard@db.example:3307/shop?tls=skip-verify&multiStatements=true&parseTime=false&loc=Local&readTimeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mysqlConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"user", cfg.User, "app"},
		{"password", cfg.Passwd, "p@ss/w:rd"},
		{"addr", cfg.Addr, "db.example:3307"},
		{"db", cfg.DBName, "shop"},
		{"parseTime", cfg.ParseTime, true},
		{"loc", cfg.Loc, time.UTC},
		{"multiStatements", cfg.MultiStatements, false},
		{"collation", cfg.Collation, "utf8mb4_bin"},
		{"time_zone", cfg.Params["time_zone"], "'+00:00'"},
		{"readTimeout", cfg.ReadTimeout, 5 * time.Second},
		{"tls", cfg.TLSConfig, "skip-verify"},
		{"dial timeout", cfg.Timeout, mysqlDialTimeout},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	u, _ = parseURL("mysql://root@localhost/shop")
	if cfg, err := mysqlConfig(u); err != nil || cfg.Addr != "localhost:3306" || cfg.Passwd != "" {
		t.Errorf("default port: %+v, %v", cfg, err)
	}
}

// Bad URLs fail with a message that says what is wrong and never shows the password.
func TestOpenRejectsBadURLs(t *testing.T) {
	const secret = "s3cr3t"
	for _, raw := range []string{
		"",
		"xiadan.db",
		"postgres://u:" + secret + "@host/db",
		"mysql://u:" + secret + "@host",
		"mysql://u:" + secret + "@host/",
		"mysql://u:" + secret + "@host/a/b",
		"mysql://u:" + secret + "@host:port/db",
		"mysql://u:" + secret + "@host/db?timeout=soon",
		"mysql://u:" + secret + "@host/db?tls=nonesuch",
		"mysql://u:" + secret + "@[::1/db",
		"sqlite://",
		"sqlite://x.db?cache=shared",
	} {
		_, err := Open(context.Background(), raw, Options{})
		if err == nil {
			t.Errorf("Open(%q) succeeded", raw)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open(%q) error shows the password: %v", raw, err)
		}
		t.Logf("%-45q %v", raw, err)
	}
}

// An unreachable server is reported with the URL, password redacted.
func TestOpenUnreachableMySQL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, "mysql://u:s3cr3t@127.0.0.1:1/db", Options{})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("got %v", err)
	}
}
