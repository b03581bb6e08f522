// Package redpackets runs red-packet rains (红包雨): an admin's campaign splits a budget
// into packets at creation, customers claim them during the campaign's window (through
// the database, or through Redis when REDIS_URL is set — the same results), and claimed
// packets are wallet-like credit that checkout spends through Provider
// (pricing.StageRedPacket). docs/PROMOTIONS-redpackets.md explains the rain.
package redpackets

import (
	"context"
	stdsql "database/sql"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"github.com/redis/go-redis/v9"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/redpacket"
	"github.com/xiadan/xiadan/ent/redpacketcampaign"
	"github.com/xiadan/xiadan/ent/redpacketclaimer"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The reasons (extensions.reason) of a refused claim or spend.
const (
	ReasonNotStarted   = "NOT_STARTED"
	ReasonEnded        = "ENDED"
	ReasonExhausted    = "EXHAUSTED"
	ReasonLimitReached = "LIMIT_REACHED"
	// ReasonUnavailable: a packet the checkout quoted was spent, expired or is gone.
	ReasonUnavailable = "RED_PACKET_UNAVAILABLE"
)

// Service creates campaigns, takes claims and answers wallets.
type Service struct {
	// Now is the clock of windows and expiries (time.Now when nil).
	Now func() time.Time
	// Redis, when set, decides claims (redis.go); the database otherwise.
	Redis *redis.Client
	// Prefix starts every Redis key (one per deployment, or per test).
	Prefix string
	Logger *slog.Logger
	// Rand splits budgets (a random source seeded per process when nil).
	Rand *rand.Rand
}

// New returns the service; rdb nil claims through the database alone.
func New(rdb *redis.Client, prefix string, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	if prefix == "" {
		prefix = "xiadan:rp:"
	}
	return &Service{Redis: rdb, Prefix: prefix, Logger: logger}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func conflict(reason, format string, args ...any) *apperror.Error {
	e := apperror.New(apperror.Conflict, format, args...)
	e.Extensions = map[string]any{"reason": reason}
	return e
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// Create validates in and writes the campaign with its packets, split at once.
func (s *Service) Create(ctx context.Context, db *ent.Client, in CreateInput) (*ent.RedPacketCampaign, error) {
	in.Name = strings.TrimSpace(in.Name)
	perUser, validity := 1, 24
	if in.PerUserLimit != nil {
		perUser = *in.PerUserLimit
	}
	if in.ValidityHours != nil {
		validity = *in.ValidityHours
	}
	now := s.now()
	switch {
	case in.Name == "" || utf8.RuneCountInString(in.Name) > 100:
		return nil, apperror.BadInput("name", "must be 1 to 100 characters")
	case !currencyRE.MatchString(in.Currency):
		return nil, apperror.BadInput("currency", "must be three capital letters, such as CNY")
	case in.Count < 1 || in.Count > maxCount:
		return nil, apperror.BadInput("count", "must be between 1 and %d", maxCount)
	case in.Budget <= 0 || in.Budget > maxAmount:
		return nil, apperror.BadInput("budget", "must be between 1 and %d", int64(maxAmount))
	case !in.EndsAt.After(in.StartsAt):
		return nil, apperror.BadInput("endsAt", "must be after startsAt")
	case !in.EndsAt.After(now):
		return nil, apperror.BadInput("endsAt", "must be in the future")
	case perUser < 1 || perUser > in.Count:
		return nil, apperror.BadInput("perUserLimit", "must be between 1 and count")
	case validity < 1 || validity > 24*366:
		return nil, apperror.BadInput("validityHours", "must be between 1 and %d", 24*366)
	}
	var lo, hi int64
	switch in.Split {
	case redpacketcampaign.SplitFIXED:
		if in.Budget%int64(in.Count) != 0 {
			return nil, apperror.BadInput("budget", "a FIXED split needs a budget divisible by count")
		}
		lo = in.Budget / int64(in.Count)
		hi = lo
		if (in.MinAmount != nil && *in.MinAmount != lo) || (in.MaxAmount != nil && *in.MaxAmount != lo) {
			return nil, apperror.BadInput("minAmount", "a FIXED split takes no minAmount or maxAmount other than budget/count")
		}
	case redpacketcampaign.SplitRANDOM:
		if in.MinAmount == nil || *in.MinAmount <= 0 {
			return nil, apperror.BadInput("minAmount", "a RANDOM split needs a positive minAmount")
		}
		if in.MaxAmount == nil || *in.MaxAmount < *in.MinAmount || *in.MaxAmount > maxAmount {
			return nil, apperror.BadInput("maxAmount", "a RANDOM split needs maxAmount ≥ minAmount")
		}
		lo, hi = *in.MinAmount, *in.MaxAmount
		n := int64(in.Count)
		if in.Budget < lo*n {
			return nil, apperror.BadInput("budget", "must be at least count × minAmount (%d)", lo*n)
		}
		if in.Budget > hi*n {
			return nil, apperror.BadInput("budget", "must be at most count × maxAmount (%d)", hi*n)
		}
	default:
		return nil, apperror.BadInput("split", "must be RANDOM or FIXED")
	}
	r := s.Rand
	if r == nil {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	amounts, err := Split(in.Budget, in.Count, lo, hi, r)
	if err != nil {
		return nil, apperror.BadInput("budget", "%v", err)
	}
	sys := viewer.SystemContext(ctx)
	c := db.RedPacketCampaign.Create().SetName(in.Name).SetCurrency(in.Currency).SetSplit(in.Split).
		SetBudget(in.Budget).SetCount(in.Count).SetMinAmount(lo).SetMaxAmount(hi).
		SetStartsAt(in.StartsAt.UTC()).SetEndsAt(in.EndsAt.UTC()).SetPerUserLimit(perUser).SetValidityHours(validity)
	if uid := viewer.FromContext(ctx).UserID; uid != 0 {
		c.SetCreatedByID(uid)
	}
	camp, err := c.Save(sys)
	if err != nil {
		return nil, err
	}
	const batch = 500
	for start := 0; start < len(amounts); start += batch {
		end := min(start+batch, len(amounts))
		bulk := make([]*ent.RedPacketCreate, 0, end-start)
		for i := start; i < end; i++ {
			bulk = append(bulk, db.RedPacket.Create().SetCampaignID(camp.ID).SetSeq(i+1).
				SetAmount(amounts[i]).SetCurrency(in.Currency))
		}
		if err := db.RedPacket.CreateBulk(bulk...).Exec(sys); err != nil {
			return nil, err
		}
	}
	return camp, nil
}

// Cancel stops a campaign's claims; what was claimed stays spendable.
func (s *Service) Cancel(ctx context.Context, db *ent.Client, id int) (*ent.RedPacketCampaign, error) {
	sys := viewer.SystemContext(ctx)
	n, err := db.RedPacketCampaign.Update().
		Where(redpacketcampaign.ID(id), redpacketcampaign.StatusEQ(redpacketcampaign.StatusACTIVE)).
		SetStatus(redpacketcampaign.StatusCANCELLED).Save(sys)
	if err != nil {
		return nil, err
	}
	c, err := db.RedPacketCampaign.Get(sys, id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("no red-packet campaign %d", id)
	}
	if err == nil && n == 0 {
		return nil, apperror.WrongState(string(c.Status), "the campaign is already cancelled")
	}
	return c, err
}

// Campaign returns a campaign, nil when there is none.
func (s *Service) Campaign(ctx context.Context, db *ent.Client, id int) (*ent.RedPacketCampaign, error) {
	c, err := db.RedPacketCampaign.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return c, err
}

// Campaigns lists active campaigns not yet ended, soonest first (all, newest first, with
// includeEnded).
func (s *Service) Campaigns(ctx context.Context, db *ent.Client, includeEnded bool) ([]*ent.RedPacketCampaign, error) {
	q := db.RedPacketCampaign.Query().Limit(50)
	if includeEnded {
		return q.Order(redpacketcampaign.ByID(sql.OrderDesc())).All(ctx)
	}
	return q.Where(redpacketcampaign.StatusEQ(redpacketcampaign.StatusACTIVE), redpacketcampaign.EndsAtGT(s.now())).
		Order(redpacketcampaign.ByStartsAt(), redpacketcampaign.ByID()).All(ctx)
}

// StatsOf counts what a campaign has given out.
func (s *Service) StatsOf(ctx context.Context, db *ent.Client, c *ent.RedPacketCampaign) (*Stats, error) {
	var rows []struct {
		N   int              `json:"n"`
		Sum stdsql.NullInt64 `json:"sum"`
	}
	err := db.RedPacket.Query().Where(redpacket.CampaignID(c.ID), redpacket.UserIDNotNil()).
		Aggregate(ent.As(ent.Count(), "n"), ent.As(ent.Sum(redpacket.FieldAmount), "sum")).
		Scan(viewer.SystemContext(ctx), &rows)
	if err != nil {
		return nil, err
	}
	st := &Stats{RemainingCount: c.Count}
	if len(rows) == 1 {
		st.ClaimedCount, st.ClaimedAmount = rows[0].N, rows[0].Sum.Int64
		st.RemainingCount = c.Count - rows[0].N
	}
	return st, nil
}

// Claim gives the caller one packet of campaign id, or a CONFLICT with its reason.
func (s *Service) Claim(ctx context.Context, db *ent.Client, id int) (*ent.RedPacket, error) {
	uid := viewer.FromContext(ctx).UserID
	if uid == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to claim red packets")
	}
	sys := viewer.SystemContext(ctx)
	c, err := db.RedPacketCampaign.Get(sys, id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("no red-packet campaign %d", id)
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	switch {
	case c.Status == redpacketcampaign.StatusCANCELLED:
		return nil, conflict(ReasonEnded, "the campaign was cancelled")
	case now.Before(c.StartsAt):
		return nil, conflict(ReasonNotStarted, "the rain starts at %s", c.StartsAt.Format(time.RFC3339))
	case !now.Before(c.EndsAt):
		return nil, conflict(ReasonEnded, "the rain ended at %s", c.EndsAt.Format(time.RFC3339))
	}
	if s.Redis != nil {
		return s.claimRedis(ctx, db, c, uid, now)
	}
	if err := countClaim(sys, db, c, uid); err != nil {
		return nil, err
	}
	// A packet nobody holds, chosen by the database: on MySQL a locking read that skips
	// the rows other claims hold (each claimer takes a different row, nobody waits); SQLite
	// runs one writer at a time. The conditional UPDATE below re-checks it is free.
	for range 3 {
		p, err := db.RedPacket.Query().
			Where(redpacket.CampaignID(c.ID), redpacket.UserIDIsNil(), skipLocked).
			Order(redpacket.ByID()).First(sys)
		if ent.IsNotFound(err) {
			return nil, conflict(ReasonExhausted, "every red packet of the campaign has been claimed")
		}
		if err != nil {
			return nil, err
		}
		got, err := take(sys, db, c, p, uid, now)
		if err != nil || got != nil {
			return got, err
		}
	}
	return nil, conflict(ReasonExhausted, "every red packet of the campaign has been claimed")
}

// take gives packet p to uid if it is still free: nil, nil when another claim took it.
func take(ctx context.Context, db *ent.Client, c *ent.RedPacketCampaign, p *ent.RedPacket, uid int, now time.Time) (*ent.RedPacket, error) {
	exp := now.Add(time.Duration(c.ValidityHours) * time.Hour)
	n, err := db.RedPacket.Update().Where(redpacket.ID(p.ID), redpacket.UserIDIsNil()).
		SetUserID(uid).SetClaimedAt(now).SetExpiresAt(exp).SetBalance(p.Amount).Save(ctx)
	if err != nil || n == 0 {
		return nil, err
	}
	p.UserID, p.ClaimedAt, p.ExpiresAt, p.Balance = &uid, &now, &exp, p.Amount
	return p, nil
}

// skipLocked makes the free-packet query FOR UPDATE SKIP LOCKED on MySQL and MariaDB
// (10.6+); nothing on SQLite, whose writers never overlap.
func skipLocked(s *sql.Selector) {
	if s.Dialect() == dialect.MySQL {
		s.ForUpdate(sql.WithLockAction(sql.SkipLocked))
	}
}

// countClaim counts uid's claim of c unless they reached the per-user limit: the row is
// made if missing (an upsert that changes nothing when it exists), then raised by a
// conditional UPDATE whose row count decides.
func countClaim(ctx context.Context, db *ent.Client, c *ent.RedPacketCampaign, uid int) error {
	// The campaign was read before, from this transaction's snapshot: hold it (shared, so
	// claims do not queue on each other) and make sure it is still active. Cancelling
	// takes the row exclusively, so no packet is given after a cancellation commits.
	active, err := db.RedPacketCampaign.Query().
		Where(redpacketcampaign.ID(c.ID), redpacketcampaign.StatusEQ(redpacketcampaign.StatusACTIVE), hooks.ShareRows).Exist(ctx)
	if err != nil {
		return err
	}
	if !active {
		return conflict(ReasonEnded, "the campaign was cancelled")
	}
	err = db.RedPacketClaimer.Create().SetCampaignID(c.ID).SetUserID(uid).SetClaims(0).
		OnConflictColumns(redpacketclaimer.FieldCampaignID, redpacketclaimer.FieldUserID).Ignore().Exec(ctx)
	if err != nil {
		return err
	}
	n, err := db.RedPacketClaimer.Update().
		Where(redpacketclaimer.CampaignID(c.ID), redpacketclaimer.UserID(uid), redpacketclaimer.ClaimsLT(c.PerUserLimit)).
		AddClaims(1).Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return conflict(ReasonLimitReached, "you have claimed this campaign's %d red packet(s)", c.PerUserLimit)
	}
	return nil
}

// StatusOf is a claimed packet's state at now.
func StatusOf(p *ent.RedPacket, now time.Time) Status {
	switch {
	case p.Balance == 0:
		return StatusUsed
	case p.ExpiresAt != nil && !p.ExpiresAt.After(now):
		return StatusExpired
	}
	return StatusAvailable
}

// PacketStatus is StatusOf at the service's clock.
func (s *Service) PacketStatus(p *ent.RedPacket) Status { return StatusOf(p, s.now()) }

// Mine lists the caller's claimed packets (up to 100), of one status or all.
func (s *Service) Mine(ctx context.Context, db *ent.Client, status *Status) ([]*ent.RedPacket, error) {
	uid := viewer.FromContext(ctx).UserID
	now := s.now()
	q := db.RedPacket.Query().Where(redpacket.UserID(uid)).Limit(100)
	if status == nil {
		return q.Order(redpacket.ByClaimedAt(sql.OrderDesc()), redpacket.ByID(sql.OrderDesc())).All(ctx)
	}
	var p predicate.RedPacket
	switch *status {
	case StatusAvailable:
		p = redpacket.And(redpacket.BalanceGT(0), redpacket.ExpiresAtGT(now))
		return q.Where(p).Order(redpacket.ByExpiresAt(), redpacket.ByID()).All(ctx)
	case StatusUsed:
		p = redpacket.Balance(0)
	default:
		p = redpacket.And(redpacket.BalanceGT(0), redpacket.ExpiresAtLTE(now))
	}
	return q.Where(p).Order(redpacket.ByClaimedAt(sql.OrderDesc()), redpacket.ByID(sql.OrderDesc())).All(ctx)
}

// Balance is what the caller's unexpired packets in currency hold.
func (s *Service) Balance(ctx context.Context, db *ent.Client, currency string) (int64, error) {
	uid := viewer.FromContext(ctx).UserID
	var rows []struct {
		Sum stdsql.NullInt64 `json:"sum"`
	}
	err := db.RedPacket.Query().
		Where(redpacket.UserID(uid), redpacket.Currency(currency), redpacket.BalanceGT(0), redpacket.ExpiresAtGT(s.now())).
		Aggregate(ent.As(ent.Sum(redpacket.FieldBalance), "sum")).Scan(ctx, &rows)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	return rows[0].Sum.Int64, nil
}

// CampaignOf is a packet's campaign.
func (s *Service) CampaignOf(ctx context.Context, db *ent.Client, p *ent.RedPacket) (*ent.RedPacketCampaign, error) {
	return db.RedPacketCampaign.Get(ctx, p.CampaignID)
}
