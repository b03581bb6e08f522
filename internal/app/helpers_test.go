package app_test

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/testdb"
)

func testdbSQLite(t *testing.T) string { return testdb.SQLiteURL(t) }

func mustSignWithIssuer(t *testing.T, ti *auth.TokenIssuer, tok *jwt.Token) string {
	t.Helper()
	s, err := ti.Keys.Sign(tok)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// natsURL is the NATS server of the replica tests, skipping when there is none.
func natsURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("NATS_TEST_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	host := strings.TrimPrefix(u, "nats://")
	c, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		t.Skipf("no NATS server at %s (%v): start one (../shared/services.sh nats) to run the replica test", u, err)
	}
	c.Close()
	return u
}
