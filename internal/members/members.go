// Package members runs the platform's VIP tiers and merchants' customer groups: admins
// define ranked tiers earned by spend and/or paid orders over a rolling window, a job
// (safe on every replica) assigns each customer's tier, merchants set member prices per
// variant and tier and keep customer groups (manual and/or by rule); the tiers' benefits
// reach checkout as pricing.Providers (member price, tier discount, free shipping) and
// coupons target "tier:<CODE>" and "group:<id>" audiences through pricing.AudienceCheckers.
// See docs/PROMOTIONS-members.md.
package members

import (
	stdsql "database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/money"
)

// Service runs tiers, memberships, member prices and customer groups.
type Service struct {
	Config Config
	memo   basketMemo
}

// New returns a service with configuration c.
func New(c Config) *Service { return &Service{Config: c} }

// conflict is a CONFLICT error with extensions.reason.
func conflict(field, reason, format string, args ...any) *apperror.Error {
	e := apperror.ConflictOn(field, format, args...)
	e.Extensions = map[string]any{"reason": reason}
	return e
}

// amount reads a decimal amount of currency from field; nil stays nil.
func amount(field string, s *string, currency string, allowZero bool) (*int64, error) {
	if s == nil {
		return nil, nil
	}
	v, err := money.ParseAmount(*s, currency)
	if err != nil {
		return nil, apperror.BadInput(field, "must be an amount in %s such as 99.00", currency)
	}
	if v < 0 || (v == 0 && !allowZero) {
		return nil, apperror.BadInput(field, "must be above 0")
	}
	return &v, nil
}

var tierCode = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,31}$`)

// cleanName trims a name and checks it is 1 to max characters.
func cleanName(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len([]rune(s)) > max {
		return "", apperror.BadInput(field, "must be 1 to %d characters", max)
	}
	return s, nil
}

func percent(bps int) string { return fmt.Sprintf("%g%%", float64(bps)/100) }

func sortedSet(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func joinErrs(errs []error) error { return errors.Join(errs...) }

// isNoRows is what some drivers report for an upsert that did nothing.
func isNoRows(err error) bool { return errors.Is(err, stdsql.ErrNoRows) }
