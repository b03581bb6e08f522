package redpackets

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/redpacket"
	"github.com/xiadan/xiadan/ent/redpacketclaimer"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The Redis path. Per campaign three keys share a hash tag (one Cluster slot):
//
//	<prefix>{c<id>}:meta     hash: starts, ends (Unix ms), limit
//	<prefix>{c<id>}:packets  list of "<packet id>:<amount>" not yet claimed
//	<prefix>{c<id>}:users    hash: user id → claims
//
// claimScript checks the window and the caller's count and pops a packet, atomically; the
// claim is then written to the database in the request transaction (the same conditional
// writes as the database path, so the database stays the truth). When that transaction
// rolls back or fails to commit, compensateScript puts the packet back and the count down.
//
// The keys are loaded from the database when a claim finds them missing (loadScript
// writes them only if meta is still missing, so two loaders cannot both load). A process
// that dies between the pop and its commit loses that packet from the list: the campaign
// then gives out less than its budget, never more; Reconcile rebuilds the keys from the
// database (run it when no claims are in flight, e.g. at start or after the rain).

var claimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOLIST'} end
local now = tonumber(ARGV[1])
if now < tonumber(redis.call('HGET', KEYS[1], 'starts')) then return {'NOT_STARTED'} end
if now >= tonumber(redis.call('HGET', KEYS[1], 'ends')) then return {'ENDED'} end
local n = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')
if n >= tonumber(redis.call('HGET', KEYS[1], 'limit')) then return {'LIMIT_REACHED'} end
local v = redis.call('LPOP', KEYS[2])
if not v then return {'EXHAUSTED'} end
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
return {'OK', v}
`)

var compensateScript = redis.NewScript(`
redis.call('RPUSH', KEYS[1], ARGV[1])
if tonumber(redis.call('HINCRBY', KEYS[2], ARGV[2], -1)) <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
return 1
`)

// loadScript: ARGV = starts, ends, limit, ttl seconds, n packets, packets…, then user/count pairs.
var loadScript = redis.NewScript(`
if ARGV[6] ~= 'force' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local n = tonumber(ARGV[5])
for i = 1, n do redis.call('RPUSH', KEYS[2], ARGV[6 + i]) end
for i = 7 + n, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'starts', ARGV[1], 'ends', ARGV[2], 'limit', ARGV[3])
local ttl = tonumber(ARGV[4])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end
return 1
`)

func (s *Service) keys(campaignID int) []string {
	tag := fmt.Sprintf("%s{c%d}:", s.Prefix, campaignID)
	return []string{tag + "meta", tag + "packets", tag + "users"}
}

func (s *Service) claimRedis(ctx context.Context, db *ent.Client, c *ent.RedPacketCampaign, uid int, now time.Time) (*ent.RedPacket, error) {
	keys := s.keys(c.ID)
	var res []any
	for range 2 {
		v, err := claimScript.Run(ctx, s.Redis, keys, now.UnixMilli(), uid).Slice()
		if err != nil {
			return nil, err
		}
		res = v
		if res[0] != "NOLIST" {
			break
		}
		if err := s.load(ctx, db, c, false); err != nil {
			return nil, err
		}
	}
	switch res[0] {
	case "OK":
	case "NOT_STARTED":
		return nil, conflict(ReasonNotStarted, "the rain starts at %s", c.StartsAt.Format(time.RFC3339))
	case "ENDED":
		return nil, conflict(ReasonEnded, "the rain ended at %s", c.EndsAt.Format(time.RFC3339))
	case "LIMIT_REACHED":
		return nil, conflict(ReasonLimitReached, "you have claimed this campaign's %d red packet(s)", c.PerUserLimit)
	case "EXHAUSTED":
		return nil, conflict(ReasonExhausted, "every red packet of the campaign has been claimed")
	default:
		return nil, fmt.Errorf("red packets: redis answered %v", res)
	}
	entry, _ := res[1].(string)
	id, amount, err := parseEntry(entry)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	var stale atomic.Bool // the database has the packet claimed: it must not go back
	compensate := func() {
		once.Do(func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			var err error
			if stale.Load() {
				err = s.Redis.HIncrBy(cctx, keys[2], strconv.Itoa(uid), -1).Err()
			} else {
				err = compensateScript.Run(cctx, s.Redis, []string{keys[1], keys[2]}, entry, uid).Err()
			}
			if err != nil {
				s.Logger.ErrorContext(ctx, "red packets: putting a packet back in redis", "campaign", c.ID, "packet", id, "err", err)
			}
		})
	}
	if tx := ent.TxFromContext(ctx); tx != nil {
		tx.OnRollback(func(next ent.Rollbacker) ent.Rollbacker {
			return ent.RollbackFunc(func(ctx context.Context, tx *ent.Tx) error {
				err := next.Rollback(ctx, tx)
				compensate()
				return err
			})
		})
		tx.OnCommit(func(next ent.Committer) ent.Committer {
			return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
				err := next.Commit(ctx, tx)
				if err != nil {
					compensate()
				}
				return err
			})
		})
	}
	p, err := s.recordRedisClaim(ctx, db, c, id, amount, uid, now)
	if errors.Is(err, errStale) {
		stale.Store(true)
	}
	if err != nil && ent.TxFromContext(ctx) == nil {
		compensate()
	}
	return p, err
}

// recordRedisClaim writes the claim Redis granted with the database path's conditional
// writes: the per-user count and the packet, which must still be free.
func (s *Service) recordRedisClaim(ctx context.Context, db *ent.Client, c *ent.RedPacketCampaign, id int, amount int64, uid int, now time.Time) (*ent.RedPacket, error) {
	sys := viewer.SystemContext(ctx)
	if err := countClaim(sys, db, c, uid); err != nil {
		return nil, err
	}
	p := &ent.RedPacket{ID: id, CampaignID: c.ID, Amount: amount, Currency: c.Currency}
	got, err := take(sys, db, c, p, uid, now)
	if err != nil {
		return nil, err
	}
	if got == nil {
		return nil, fmt.Errorf("red packets: packet %d of campaign %d: %w", id, c.ID, errStale)
	}
	return got, nil
}

// errStale: Redis handed out a packet the database has given already (Redis state older
// than the database's, e.g. a Reconcile racing claims). The packet is not put back.
var errStale = errors.New("redis gave a packet the database has given already")

func parseEntry(v string) (int, int64, error) {
	a, b, ok := strings.Cut(v, ":")
	id, err1 := strconv.Atoi(a)
	amount, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("red packets: bad redis entry %q", v)
	}
	return id, amount, nil
}

// load writes a campaign's Redis keys from the database: the free packets and each
// claimer's count. Without force it does nothing when the keys exist.
func (s *Service) load(ctx context.Context, db *ent.Client, c *ent.RedPacketCampaign, force bool) error {
	sys := viewer.SystemContext(ctx)
	free, err := db.RedPacket.Query().Where(redpacket.CampaignID(c.ID), redpacket.UserIDIsNil()).
		Order(redpacket.ByID()).Select(redpacket.FieldID, redpacket.FieldAmount).All(sys)
	if err != nil {
		return err
	}
	claimers, err := db.RedPacketClaimer.Query().Where(redpacketclaimer.CampaignID(c.ID), redpacketclaimer.ClaimsGT(0)).All(sys)
	if err != nil {
		return err
	}
	ttl := int64(time.Until(c.EndsAt).Seconds()) + 86400
	if ttl < 86400 {
		ttl = 86400
	}
	mode := "load"
	if force {
		mode = "force"
	}
	argv := []any{c.StartsAt.UnixMilli(), c.EndsAt.UnixMilli(), c.PerUserLimit, ttl, len(free), mode}
	for _, p := range free {
		argv = append(argv, fmt.Sprintf("%d:%d", p.ID, p.Amount))
	}
	for _, cl := range claimers {
		argv = append(argv, cl.UserID, cl.Claims)
	}
	return loadScript.Run(ctx, s.Redis, s.keys(c.ID), argv...).Err()
}

// Reconcile rebuilds the Redis keys of every campaign still running from the database,
// giving back packets a crash lost between Redis and the database. Run it when no claims
// are in flight (the server's start, or an admin's pause); a no-op without Redis.
func (s *Service) Reconcile(ctx context.Context, db *ent.Client) error {
	if s.Redis == nil {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	cs, err := s.Campaigns(sys, db, false)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := s.load(ctx, db, c, true); err != nil {
			return err
		}
	}
	return nil
}
