package currency

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/exchangerate"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/viewer"
)

// ProviderFrankfurter names the Frankfurter provider (EXCHANGE_RATE_PROVIDER).
const ProviderFrankfurter = "frankfurter"

// Fetched is one rate a provider published: 1 Base = Rate Quote from EffectiveAt.
type Fetched struct {
	Base, Quote, Rate string
	EffectiveAt       time.Time
}

// Provider is a rate source a job fetches from; its rates are recorded like an admin's,
// with the provider's Name as source.
type Provider interface {
	Name() string
	// Fetch returns the latest rates of base against every currency the provider knows.
	Fetch(ctx context.Context, base string) ([]Fetched, error)
}

// Frankfurter reads the Frankfurter API (https://frankfurter.dev, the European Central
// Bank's reference rates): GET {URL}/latest?from=CNY answers
// {"amount":1.0,"base":"CNY","date":"2026-12-04","rates":{"USD":0.1376,"JPY":20.77,…}}.
// Numbers are read as their decimal text, never as floats; the date is taken as 00:00 UTC.
type Frankfurter struct {
	URL    string
	Client *http.Client
}

// Name is the rates' source.
func (Frankfurter) Name() string { return ProviderFrankfurter }

// maxProviderBody caps a provider's answer (Frankfurter's is about 1 KiB).
const maxProviderBody = 1 << 20

// Fetch asks for base's latest rates.
func (f Frankfurter) Fetch(ctx context.Context, base string) ([]Fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL+"/latest?from="+url.QueryEscape(base), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	hc := f.Client
	if hc == nil {
		hc = &http.Client{Timeout: 20 * time.Second}
	}
	rsp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer rsp.Body.Close()
	if rsp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("frankfurter: HTTP %d", rsp.StatusCode)
	}
	dec := json.NewDecoder(io.LimitReader(rsp.Body, maxProviderBody))
	dec.UseNumber()
	var body struct {
		Base  string                 `json:"base"`
		Date  string                 `json:"date"`
		Rates map[string]json.Number `json:"rates"`
	}
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("frankfurter: %w", err)
	}
	if body.Base != base {
		return nil, fmt.Errorf("frankfurter: asked for %s, answered %s", base, body.Base)
	}
	day, err := time.Parse(time.DateOnly, body.Date)
	if err != nil {
		return nil, fmt.Errorf("frankfurter: date %q: %w", body.Date, err)
	}
	out := make([]Fetched, 0, len(body.Rates))
	for code, n := range body.Rates {
		out = append(out, Fetched{Base: base, Quote: code, Rate: plainDecimal(n.String()), EffectiveAt: day})
	}
	return out, nil
}

// plainDecimal writes a JSON number with an exponent (1.2e-05) as a plain decimal of at
// most MaxRateDecimalPlaces places; other text is returned as it is.
func plainDecimal(s string) string {
	if _, _, err := ParseRate(s); err == nil {
		return s
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	return decimalString(r, MaxRateDecimalPlaces)
}

// Refresh fetches the pivot currency's rates from p and records, in one transaction, each
// one for a known currency that differs from the pair's current row from p (so a refresh
// of unchanged rates writes nothing). A rate the provider got wrong (zero, too precise) is
// skipped and logged. It returns how many rows it recorded.
func (s *Service) Refresh(ctx context.Context, p Provider, logger *slog.Logger) (int, error) {
	fetched, err := p.Fetch(ctx, s.Config.Pivot)
	if err != nil {
		return 0, err
	}
	sys := viewer.SystemContext(ctx)
	tx, err := s.Client.Tx(sys)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	latest, err := tx.ExchangeRate.Query().
		Where(exchangerate.Base(s.Config.Pivot), exchangerate.Source(p.Name()), current()).All(sys)
	if err != nil {
		return 0, err
	}
	have := map[string]*ent.ExchangeRate{}
	for _, r := range latest {
		have[r.Quote] = r
	}
	var creates []*ent.ExchangeRateCreate
	for _, f := range fetched {
		base, quote, canon, err := validate(SetInput{Base: f.Base, Quote: f.Quote, Rate: f.Rate})
		if err != nil {
			if logger != nil && money.Known(f.Quote) {
				logger.WarnContext(ctx, "exchange rate skipped", "provider", p.Name(), "quote", f.Quote, "rate", f.Rate, "err", err)
			}
			continue
		}
		if h := have[quote]; h != nil && h.Rate == canon && h.EffectiveAt.Equal(f.EffectiveAt) {
			continue
		}
		creates = append(creates, tx.ExchangeRate.Create().SetBase(base).SetQuote(quote).SetRate(canon).
			SetSource(p.Name()).SetEffectiveAt(f.EffectiveAt.UTC()))
	}
	if len(creates) > 0 {
		if err := tx.ExchangeRate.CreateBulk(creates...).Exec(sys); err != nil {
			return 0, err
		}
	}
	return len(creates), tx.Commit()
}

// RunJobs refreshes the rates from the configured provider every RefreshInterval until
// ctx ends; without a provider it returns at once (admins set the rates).
func (s *Service) RunJobs(ctx context.Context, logger *slog.Logger) {
	var p Provider
	switch s.Config.Provider {
	case ProviderFrankfurter:
		p = Frankfurter{URL: s.Config.ProviderURL}
	default:
		return
	}
	tick := time.NewTicker(s.Config.RefreshInterval)
	defer tick.Stop()
	for {
		n, err := s.Refresh(ctx, p, logger)
		telemetry.RecordJob(ctx, "exchange_rates", err)
		if err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "refreshing exchange rates", "provider", p.Name(), "err", err)
		} else if n > 0 {
			logger.InfoContext(ctx, "exchange rates refreshed", "provider", p.Name(), "recorded", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
