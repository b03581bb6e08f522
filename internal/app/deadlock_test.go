package app_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/xiadan/xiadan/ent/address"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// TestMutationThatLosesADeadlockIsRunAgain: on MySQL, a mutation whose transaction InnoDB
// rolls back to break a deadlock is run again by the server, and the caller gets the
// answer of the run that succeeded — with nothing of the lost run left behind.
//
// The deadlock is made on purpose: the test's own transaction holds the merchant's row
// and, once the mutation has written an address and waits for that row, asks for the
// address the mutation wrote. Each waits for the other; InnoDB rolls back the lighter of
// the two, the mutation (the test's transaction has written 300 rows first).
func TestMutationThatLosesADeadlockIsRunAgain(t *testing.T) {
	t.Parallel()
	var my *testdb.Dialect
	for _, d := range testdb.Dialects() {
		if d.Name == "mysql" {
			my = &d
		}
	}
	if my == nil {
		t.Skip("no MySQL")
	}
	s := newWatchedServer(t, *my, 5*time.Minute)
	m := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	uid, _ := strconv.Atoi(m.Owner.UserID)
	ctx := context.Background()

	tx, err := s.DB.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "INSERT INTO catalog_changes (entity, entity_id, created_at) "+
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "+
		"SELECT 'deadlock-test', i, NOW(6) FROM n"); err != nil {
		t.Fatal(err)
	}
	var id int
	if err := tx.QueryRowContext(ctx, "SELECT id FROM merchants WHERE id = ? FOR UPDATE", m.IntID).Scan(&id); err != nil {
		t.Fatal(err)
	}

	s.watch.armed.Store(true)
	answer := make(chan *apitest.Response, 1)
	go func() { answer <- s.Query(m.Owner.AccessToken, blockedMutation, blockedVars(m)) }()
	select {
	case <-s.watch.st.started: // the address is written; the UPDATE of the merchant is on its way
	case r := <-answer:
		t.Fatalf("the mutation answered before it reached the merchant's row: %s", r.Raw)
	case <-time.After(2 * time.Minute):
		t.Fatal("the mutation never reached the merchant's row")
	}
	// The cycle: this waits for the mutation's address while the mutation waits for the
	// merchant. It returns once InnoDB has rolled the mutation back.
	rows, err := tx.QueryContext(ctx, "SELECT id FROM addresses WHERE user_id = ? FOR UPDATE", uid)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1213 {
		t.Fatal("InnoDB chose the test's transaction as the victim; the test needs the mutation to lose")
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = rows.Close()
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	r := <-answer
	if len(r.Errors) > 0 {
		t.Fatalf("the mutation that lost the deadlock: %s", r.Raw)
	}
	if !r.Contains("changed under a lock") {
		t.Fatalf("the answer of the run that succeeded: %s", r.Raw)
	}
	// Once: the lost run's address was rolled back, the second run's kept.
	client, cctx := s.Client()
	if n := client.Address.Query().Where(address.UserID(uid)).CountX(cctx); n != 1 {
		t.Fatalf("%d addresses after the retried mutation, want 1", n)
	}
	if got := client.Merchant.GetX(cctx, m.IntID).Description; got != "changed under a lock" {
		t.Fatalf("merchant description %q", got)
	}
}
