package app_test

import (
	"testing"

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
