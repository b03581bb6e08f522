// Package currency presents storefront prices, indicatively, in the currency a query
// chooses: it keeps the exchange-rate table admins set (and a provider may feed), caches
// every pair's current rate per process, and converts with exact fractions rounded
// half-even once. Settlement never converts: carts, checkout, orders and payments stay in
// the merchant's currency (docs/CURRENCIES.md).
package currency

import (
	"context"
	"sync"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/exchangerate"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// SourceAdmin is the source of a rate an admin set.
const SourceAdmin = "admin"

// SetInput is a rate as an admin sets it: 1 Base = Rate Quote.
type SetInput struct {
	Base  string
	Quote string
	Rate  string
}

// Service keeps the rates and the process's cache of the current ones.
type Service struct {
	Config Config
	Client *ent.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	snap    *Snapshot
	loaded  time.Time
	version uint64 // bumped by Invalidate; a load begun before a bump is not kept
	loading chan struct{}
}

// New returns the rates service over client.
func New(cfg Config, client *ent.Client) *Service {
	return &Service{Config: cfg, Client: client}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Set records an admin's rate, in db's transaction: a new row, so the previous rate stays
// in the history. Of two admins setting one pair at once both rows are kept and the later
// (effective_at, then id) is current. Validation errors name base, quote or rate.
func (s *Service) Set(ctx context.Context, db *ent.Client, in SetInput) (*ent.ExchangeRate, error) {
	base, quote, canon, err := validate(in)
	if err != nil {
		return nil, err
	}
	c := db.ExchangeRate.Create().SetBase(base).SetQuote(quote).SetRate(canon).
		SetSource(SourceAdmin).SetEffectiveAt(s.now().Truncate(time.Microsecond))
	if id := viewer.FromContext(ctx).UserID; id != 0 {
		c.SetSetByID(id)
	}
	row, err := c.Save(ctx)
	if err != nil {
		return nil, err
	}
	if err := audit.Record(ctx, db, audit.Entry{Action: "exchange_rate.set", TargetType: "exchange_rate",
		TargetID: row.ID, Details: map[string]any{"base": base, "quote": quote, "rate": canon}}); err != nil {
		return nil, err
	}
	return row, nil
}

// validate checks an admin's rate: known ISO 4217 codes, two different ones, and an exact
// positive decimal of sane precision.
func validate(in SetInput) (base, quote, rate string, err error) {
	base, ok := money.Normalize(in.Base)
	if !ok {
		return "", "", "", apperror.BadInput("base", "%q is not an ISO 4217 currency code", in.Base)
	}
	quote, ok = money.Normalize(in.Quote)
	if !ok {
		return "", "", "", apperror.BadInput("quote", "%q is not an ISO 4217 currency code", in.Quote)
	}
	if base == quote {
		return "", "", "", apperror.BadInput("quote", "must differ from base")
	}
	_, canon, perr := ParseRate(in.Rate)
	if perr != nil {
		return "", "", "", apperror.BadInput("rate", "%v", perr)
	}
	return base, quote, canon, nil
}

// ListArgs are the exchangeRates query's arguments.
type ListArgs struct {
	After, Before *entgql.Cursor[int]
	First, Last   *int
	Base, Quote   *string
	CurrentOnly   *bool
	OrderBy       *ent.ExchangeRateOrder
}

// List pages through the recorded rates, newest first unless OrderBy says otherwise.
func (s *Service) List(ctx context.Context, db *ent.Client, a ListArgs) (*ent.ExchangeRateConnection, error) {
	ps, err := listFilter(a.Base, a.Quote, a.CurrentOnly)
	if err != nil {
		return nil, err
	}
	order := a.OrderBy
	if order == nil {
		order = &ent.ExchangeRateOrder{Field: ent.ExchangeRateOrderFieldEffectiveAt, Direction: entgql.OrderDirectionDesc}
	}
	return db.ExchangeRate.Query().Where(ps...).Paginate(ctx, a.After, a.First, a.Before, a.Last, ent.WithExchangeRateOrder(order))
}

// listFilter returns the predicates of the exchangeRates query: base and quote narrow to
// one currency each, currentOnly to each pair's current row.
func listFilter(base, quote *string, currentOnly *bool) ([]predicate.ExchangeRate, error) {
	var ps []predicate.ExchangeRate
	if base != nil {
		c, ok := money.Normalize(*base)
		if !ok {
			return nil, apperror.BadInput("base", "%q is not an ISO 4217 currency code", *base)
		}
		ps = append(ps, exchangerate.Base(c))
	}
	if quote != nil {
		c, ok := money.Normalize(*quote)
		if !ok {
			return nil, apperror.BadInput("quote", "%q is not an ISO 4217 currency code", *quote)
		}
		ps = append(ps, exchangerate.Quote(c))
	}
	if currentOnly != nil && *currentOnly {
		ps = append(ps, current())
	}
	return ps, nil
}

// current keeps the rows no newer row of the same pair supersedes: the latest
// effective_at, then the highest id. The (base, quote, effective_at) index answers the
// anti-join per pair.
func current() predicate.ExchangeRate {
	return func(s *sql.Selector) {
		n := sql.Table(exchangerate.Table).As("newer")
		s.Where(sql.NotExists(sql.Select(n.C(exchangerate.FieldID)).From(n).Where(sql.And(
			sql.ColumnsEQ(n.C(exchangerate.FieldBase), s.C(exchangerate.FieldBase)),
			sql.ColumnsEQ(n.C(exchangerate.FieldQuote), s.C(exchangerate.FieldQuote)),
			sql.Or(
				sql.ColumnsGT(n.C(exchangerate.FieldEffectiveAt), s.C(exchangerate.FieldEffectiveAt)),
				sql.And(
					sql.ColumnsEQ(n.C(exchangerate.FieldEffectiveAt), s.C(exchangerate.FieldEffectiveAt)),
					sql.ColumnsGT(n.C(exchangerate.FieldID), s.C(exchangerate.FieldID)),
				),
			),
		))))
	}
}

// Current returns every pair's current rate: from the process cache, or read in one
// statement when the cache is older than CacheTTL or was invalidated. Concurrent callers
// share one read.
func (s *Service) Current(ctx context.Context) (*Snapshot, error) {
	for {
		s.mu.Lock()
		if s.snap != nil && s.now().Sub(s.loaded) < s.Config.CacheTTL {
			snap := s.snap
			s.mu.Unlock()
			return snap, nil
		}
		if wait := s.loading; wait != nil {
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		s.loading, s.loaded = done, time.Time{}
		version := s.version
		s.mu.Unlock()

		snap, err := s.load(ctx)
		s.mu.Lock()
		s.loading = nil
		close(done)
		if err == nil && version == s.version {
			s.snap, s.loaded = snap, s.now()
		}
		s.mu.Unlock()
		return snap, err
	}
}

// load reads every pair's current rate in one statement.
func (s *Service) load(ctx context.Context) (*Snapshot, error) {
	rows, err := s.Client.ExchangeRate.Query().Where(current()).All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{rates: make(map[pair]quote, len(rows)), pivot: s.Config.Pivot}
	for _, r := range rows {
		rat, text, err := ParseRate(r.Rate)
		if err != nil {
			continue // only written through validate; a hand-edited bad row presents nothing
		}
		snap.rates[pair{r.Base, r.Quote}] = quote{rate: rat, text: text, source: r.Source, asOf: r.EffectiveAt.UTC()}
	}
	return snap, nil
}

// Invalidate drops the cached rates, so the next request reads them again: the rate hook
// calls it once a change commits on this replica; a change outbox's consumer may call it
// for changes made on other replicas.
func (s *Service) Invalidate() {
	s.mu.Lock()
	s.snap, s.version = nil, s.version+1
	s.mu.Unlock()
}
