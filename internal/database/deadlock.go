package database

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
)

// MySQL's answers to transactions that wait on each other.
const (
	// errDeadlock (ER_LOCK_DEADLOCK): InnoDB found a cycle of lock waits and rolled this
	// transaction back, whole, to break it.
	errDeadlock = 1213
	// errLockWaitTimeout (ER_LOCK_WAIT_TIMEOUT): a lock wait outlasted
	// innodb_lock_wait_timeout; only the statement is rolled back.
	errLockWaitTimeout = 1205
)

// IsDeadlock reports whether err is MySQL rolling a transaction back to break a deadlock.
// Such a transaction did nothing and may be run again from the start.
func IsDeadlock(err error) bool {
	var my *mysql.MySQLError
	return errors.As(err, &my) && my.Number == errDeadlock
}

// IsRetryable reports a deadlock or a lock wait timeout: a transaction that failed only
// because of the others running beside it, which a new attempt may win.
func IsRetryable(err error) bool {
	var my *mysql.MySQLError
	return errors.As(err, &my) && (my.Number == errDeadlock || my.Number == errLockWaitTimeout)
}

// A DeadlockMark records that a statement run under its context was chosen by MySQL as a
// deadlock's victim, so the request that owns the context can be run again from the start
// (internal/app's deadlock retry). Statements mark it themselves, on every MySQL connection
// the application opens (mysql_cancel.go).
type DeadlockMark struct {
	deadlocked atomic.Bool
	retrySafe  atomic.Bool
}

type deadlockMarkKey struct{}

// WithDeadlockMark returns ctx carrying a new mark.
func WithDeadlockMark(ctx context.Context) (context.Context, *DeadlockMark) {
	m := &DeadlockMark{}
	return context.WithValue(ctx, deadlockMarkKey{}, m), m
}

// DeadlockMarkOf returns the mark ctx carries, or nil.
func DeadlockMarkOf(ctx context.Context) *DeadlockMark {
	m, _ := ctx.Value(deadlockMarkKey{}).(*DeadlockMark)
	return m
}

// noteDeadlock marks ctx's mark when err is a deadlock.
func noteDeadlock(ctx context.Context, err error) {
	if err != nil && IsDeadlock(err) {
		if m := DeadlockMarkOf(ctx); m != nil {
			m.deadlocked.Store(true)
		}
	}
}

// Deadlocked reports whether a statement under the mark was a deadlock's victim.
func (m *DeadlockMark) Deadlocked() bool { return m != nil && m.deadlocked.Load() }

// SetRetrySafe says the work under the mark was rolled back whole and touched nothing
// outside the database, so running it again cannot do anything twice.
func (m *DeadlockMark) SetRetrySafe() {
	if m != nil {
		m.retrySafe.Store(true)
	}
}

// ShouldRetry reports whether the work under the mark lost a deadlock and may be run again.
func (m *DeadlockMark) ShouldRetry() bool {
	return m != nil && m.deadlocked.Load() && m.retrySafe.Load()
}
