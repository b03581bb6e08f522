package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keeps the state in Redis, so that every replica using the same server and prefix
// shares one counter per key. Each operation is one Lua script, which Redis runs
// atomically: parallel requests on any number of replicas can never take more from a
// bucket than it holds, nor count a failure twice. Its methods report Redis's errors;
// Shared turns them into the in-process fallback.
//
// Time is Redis's own (TIME inside the script), so the replicas' clocks need not agree;
// a clock set with SetNow (tests) is passed to the scripts instead.
//
// Keys are prefix + kind + a hash of the caller's key, so that accounts' email addresses
// and client addresses are not stored in Redis in clear; every key expires when it has
// nothing left to remember.
type Redis struct {
	client *redis.Client
	prefix string
	now    atomic.Pointer[func() time.Time]
}

// NewRedis returns the Redis store of client whose keys start with prefix.
func NewRedis(client *redis.Client, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// SetNow sets the clock passed to the scripts (nil: Redis's TIME).
func (r *Redis) SetNow(now func() time.Time) {
	if now == nil {
		r.now.Store(nil)
		return
	}
	r.now.Store(&now)
}

func (r *Redis) key(kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	return r.prefix + kind + ":" + hex.EncodeToString(sum[:16])
}

// nowArg is the time the scripts go by, in milliseconds, or -1 for Redis's clock.
func (r *Redis) nowArg() int64 {
	now := r.now.Load()
	if now == nil {
		return -1
	}
	return (*now)().UnixMilli()
}

// scriptNow is the common start of the scripts: now in milliseconds, from ARGV[1] or TIME.
// Redis 5 and later replicate a script's effects, not the script, so TIME before a write
// is allowed (replicate_commands makes it so on older servers).
const scriptNow = `
local now = tonumber(ARGV[1])
if now < 0 then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// blockedScript returns the milliseconds KEYS[1] must still wait.
var blockedScript = redis.NewScript(scriptNow + `
local u = tonumber(redis.call('HGET', KEYS[1], 'u'))
if not u or u <= now then return 0 end
return u - now
`)

// failScript records a failure: ARGV[2] limit, ARGV[3] window (ms), ARGV[4] max back-off (ms).
var failScript = redis.NewScript(scriptNow + `
local limit, window, maxblock = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local v = redis.call('HMGET', KEYS[1], 'n', 'f', 'u')
local n, first, untl = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]) or 0
if not n or (now - first > window and now > untl) then
  n, first, untl = 0, now, 0
end
n = n + 1
local over = n - limit
if over >= 0 then
  untl = now + math.min(1000 * 2 ^ math.min(over, 20), maxblock)
end
redis.call('HSET', KEYS[1], 'n', n, 'f', first, 'u', untl)
redis.call('PEXPIRE', KEYS[1], math.max(first + window, untl) - now + 1000)
return n
`)

// takeScript counts an event: ARGV[2] limit, ARGV[3] window (ms). It returns 0, or the
// milliseconds until the window ends when the limit is reached.
var takeScript = redis.NewScript(scriptNow + `
local limit, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'c', 's')
local c, s = tonumber(v[1]), tonumber(v[2])
if not c or now - s >= window then
  c, s = 0, now
end
if c >= limit then return s + window - now end
redis.call('HSET', KEYS[1], 'c', c + 1, 's', s)
redis.call('PEXPIRE', KEYS[1], s + window - now + 1000)
return 0
`)

// spendScript takes ARGV[2] points from a bucket of ARGV[3] points restored at ARGV[4]
// points per millisecond. It returns {1 if taken else 0, points left as a string}.
var spendScript = redis.NewScript(scriptNow + `
local cost, cap, rate = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local v = redis.call('HMGET', KEYS[1], 'a', 't')
local a, t = tonumber(v[1]), tonumber(v[2])
if not a then a, t = cap, now end
if now > t then
  a = math.min(cap, a + (now - t) * rate)
  t = now
end
local ok = 0
if cost <= a then
  a = a - cost
  ok = 1
end
redis.call('HSET', KEYS[1], 'a', string.format('%.6f', a), 't', string.format('%d', t))
local ttl = 1000
if rate > 0 then ttl = ttl + math.ceil((cap - a) / rate) else ttl = ttl + 86400000 end
redis.call('PEXPIRE', KEYS[1], ttl)
return {ok, string.format('%.6f', a)}
`)

// Blocked is Limiter.Blocked, with Redis's error.
func (r *Redis) Blocked(ctx context.Context, key string) (time.Duration, error) {
	ms, err := blockedScript.Run(ctx, r.client, []string{r.key("f", key)}, r.nowArg()).Int64()
	return time.Duration(ms) * time.Millisecond, err
}

// Fail is Limiter.Fail, with Redis's error.
func (r *Redis) Fail(ctx context.Context, key string, limit int, window time.Duration) error {
	return failScript.Run(ctx, r.client, []string{r.key("f", key)}, r.nowArg(), limit,
		window.Milliseconds(), MaxBackoff.Milliseconds()).Err()
}

// Reset is Limiter.Reset, with Redis's error.
func (r *Redis) Reset(ctx context.Context, key string) error {
	return r.client.Del(ctx, r.key("f", key)).Err()
}

// Take is Limiter.Take, with Redis's error.
func (r *Redis) Take(ctx context.Context, key string, limit int, window time.Duration) (time.Duration, error) {
	ms, err := takeScript.Run(ctx, r.client, []string{r.key("q", key)}, r.nowArg(), limit, window.Milliseconds()).Int64()
	return time.Duration(ms) * time.Millisecond, err
}

// Spend is Limiter.Spend, with Redis's error.
func (r *Redis) Spend(ctx context.Context, key string, cost float64, b Bucket) (Status, error) {
	res, err := spendScript.Run(ctx, r.client, []string{r.key("b", key)}, r.nowArg(),
		strconv.FormatFloat(cost, 'f', -1, 64), strconv.FormatFloat(b.Capacity, 'f', -1, 64),
		strconv.FormatFloat(b.RestoreRate/1000, 'f', -1, 64)).Slice()
	if err != nil {
		return Status{}, err
	}
	if len(res) != 2 {
		return Status{}, errUnexpected
	}
	ok, _ := res[0].(int64)
	s, _ := res[1].(string)
	avail, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return Status{}, errUnexpected
	}
	st := Status{Allowed: ok == 1, Available: avail}
	if !st.Allowed {
		st.RetryAfter = retryAfter(cost-avail, b)
	}
	return st, nil
}

type redisError string

func (e redisError) Error() string { return string(e) }

const errUnexpected = redisError("ratelimit: unexpected answer from the Redis script")
