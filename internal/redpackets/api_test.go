package redpackets_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/xiadan/xiadan/ent/redpacket"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/testdb"
)

const (
	createM = `mutation($i: CreateRedPacketCampaignInput!) { createRedPacketCampaign(input: $i) {
		id name currency split budget count minAmount maxAmount perUserLimit validityHours status claimedCount remainingCount } }`
	claimM  = `mutation($c: ID!) { claimRedPacket(campaignID: $c) { id amount balance currency claimedAt expiresAt status campaign { id } } }`
	cancelM = `mutation($id: ID!) { cancelRedPacketCampaign(id: $id) { id status } }`
	mineQ   = `query($s: RedPacketStatus) { myRedPackets(status: $s) { id amount balance status } myRedPacketBalance(currency: "CNY") }`
	campQ   = `query($id: ID!) { redPacketCampaign(id: $id) { id claimedCount claimedAmount remainingCount } }`
)

// redisURL is the Redis of the Redis-path tests, the local one; they skip without it.
func redisURL(t testing.TB) string {
	u := "redis://127.0.0.1:6379/0"
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Skipf("redis unreachable at %s: %v", u, err)
	}
	return u
}

// path is one claim path: the database's, or Redis's with a key prefix of its own.
type path struct {
	name string
	opts func(t testing.TB) func(*config.Config)
}

var paths = []path{
	{"db", func(testing.TB) func(*config.Config) { return func(*config.Config) {} }},
	{"redis", func(t testing.TB) func(*config.Config) {
		u := redisURL(t)
		prefix := "xiadan:test:rp:" + rand.Text()[:10] + ":"
		t.Cleanup(func() { dropKeys(u, prefix) })
		return func(c *config.Config) { c.RedisURL = u; c.RedPacketRedisPrefix = prefix }
	}},
}

func input(name string, extra map[string]any) map[string]any {
	in := map[string]any{"name": name, "currency": "CNY", "split": "RANDOM", "budget": 10000, "count": 10,
		"minAmount": 100, "maxAmount": 3000, "startsAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano),
		"endsAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)}
	for k, v := range extra {
		in[k] = v
	}
	return in
}

func create(t testing.TB, s *apitest.Server, token string, in map[string]any) string {
	t.Helper()
	r := s.MustQuery(token, createM, map[string]any{"i": in})
	var out struct{ CreateRedPacketCampaign struct{ ID string } }
	r.Decode(t, &out)
	return out.CreateRedPacketCampaign.ID
}

func reason(r *apitest.Response) string {
	if len(r.Errors) == 0 {
		return ""
	}
	v, _ := r.Errors[0].Extensions["reason"].(string)
	return v
}

// TestCreateCampaignValidation: admins create campaigns whose packets sum to the budget;
// bad input is BAD_USER_INPUT naming the field; customers are FORBIDDEN.
func TestCreateCampaignValidation(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		admin := s.NewAdmin(t, "ops@example.com")
		buyer := s.Register("buyer@example.com", "Buyer")
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
		for _, c := range []struct {
			name  string
			extra map[string]any
			field string
		}{
			{"empty name", map[string]any{"name": " "}, "name"},
			{"bad currency", map[string]any{"currency": "cny"}, "currency"},
			{"no packets", map[string]any{"count": 0}, "count"},
			{"too many packets", map[string]any{"count": 10001}, "count"},
			{"budget below count*min", map[string]any{"budget": 999}, "budget"},
			{"budget above count*max", map[string]any{"budget": 30001}, "budget"},
			{"random without min", map[string]any{"minAmount": nil}, "minAmount"},
			{"max below min", map[string]any{"maxAmount": 50}, "maxAmount"},
			{"fixed not divisible", map[string]any{"split": "FIXED", "budget": 10001, "minAmount": nil, "maxAmount": nil}, "budget"},
			{"ends before start", map[string]any{"endsAt": past}, "endsAt"},
			{"limit above count", map[string]any{"perUserLimit": 11}, "perUserLimit"},
			{"no validity", map[string]any{"validityHours": 0}, "validityHours"},
		} {
			r := s.Query(admin.AccessToken, createM, map[string]any{"i": input(c.name, c.extra)})
			if r.Code() != "BAD_USER_INPUT" || r.Field() != c.field {
				t.Errorf("%s: got %s %s, want BAD_USER_INPUT on %s: %s", c.name, r.Code(), r.Field(), c.field, r.Raw)
			}
		}
		if r := s.Query(buyer.AccessToken, createM, map[string]any{"i": input("x", nil)}); r.Code() != "FORBIDDEN" {
			t.Errorf("customer creating a campaign: %s", r.Raw)
		}
		if r := s.Query("", claimM, map[string]any{"c": "1"}); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous claim: %s", r.Raw)
		}
		if r := s.Query(buyer.AccessToken, claimM, map[string]any{"c": "999999"}); r.Code() != "NOT_FOUND" {
			t.Errorf("claim of an unknown campaign: %s", r.Raw)
		}
		// FIXED: every packet holds budget/count.
		id := create(t, s, admin.AccessToken, input("fixed", map[string]any{"split": "FIXED", "budget": 1000, "count": 4, "minAmount": nil, "maxAmount": nil}))
		client, ctx := s.Client()
		cid, _ := strconv.Atoi(id)
		ps, err := client.RedPacket.Query().Where(redpacket.CampaignID(cid)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 4 {
			t.Fatalf("FIXED campaign has %d packets, want 4", len(ps))
		}
		for _, p := range ps {
			if p.Amount != 250 || p.UserID != nil {
				t.Errorf("FIXED packet %+v, want 250 unclaimed", p)
			}
		}
		// RANDOM: the packets sum to the budget within bounds.
		id = create(t, s, admin.AccessToken, input("random", nil))
		cid, _ = strconv.Atoi(id)
		ps, err = client.RedPacket.Query().Where(redpacket.CampaignID(cid)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, p := range ps {
			if p.Amount < 100 || p.Amount > 3000 {
				t.Errorf("RANDOM packet of %d outside [100, 3000]", p.Amount)
			}
			sum += p.Amount
		}
		if len(ps) != 10 || sum != 10000 {
			t.Errorf("RANDOM campaign: %d packets summing to %d, want 10 summing to 10000", len(ps), sum)
		}
		if r := s.Query(admin.AccessToken, cancelM, map[string]any{"id": id}); r.Code() != "" || !r.Contains("CANCELLED") {
			t.Errorf("cancel: %s", r.Raw)
		}
		if r := s.Query(buyer.AccessToken, claimM, map[string]any{"c": id}); r.Code() != "CONFLICT" || reason(r) != "ENDED" {
			t.Errorf("claim of a cancelled campaign: %s", r.Raw)
		}
	})
}

// TestClaimLifecycle, on both claim paths and both databases, with the server's clock:
// before the window NOT_STARTED; in it a packet with its expiry; the per-user limit
// LIMIT_REACHED; an emptied campaign EXHAUSTED; after the window ENDED; the wallet lists
// the packet AVAILABLE with its balance, and EXPIRED (balance 0) after its validity.
func TestClaimLifecycle(t *testing.T) {
	t.Parallel()
	for _, p := range paths {
		for _, d := range testdb.Dialects() {
			t.Run(p.name+"/"+d.Name, func(t *testing.T) {
				t.Parallel()
				opt := p.opts(t)
				start := time.Now().UTC().Truncate(time.Second)
				clock := apitest.NewClock(start)
				s := apitest.NewWithClock(t, d.URL(t), clock, opt)
				admin := s.NewAdmin(t, "ops@example.com")
				users := []apitest.Session{s.Register("a@example.com", "A"), s.Register("b@example.com", "B"), s.Register("c@example.com", "C")}
				id := create(t, s, admin.AccessToken, input("rain", map[string]any{
					"budget": 300, "count": 3, "minAmount": 50, "maxAmount": 150, "perUserLimit": 2, "validityHours": 24,
					"startsAt": start.Add(30 * time.Second).Format(time.RFC3339Nano),
					"endsAt":   start.Add(90 * time.Second).Format(time.RFC3339Nano)}))
				claim := func(u apitest.Session) *apitest.Response {
					return s.Query(u.AccessToken, claimM, map[string]any{"c": id})
				}
				if r := claim(users[0]); reason(r) != "NOT_STARTED" || r.Code() != "CONFLICT" {
					t.Fatalf("claim before the rain: %s", r.Raw)
				}
				clock.Advance(30 * time.Second)
				var total int64
				for i, u := range []apitest.Session{users[0], users[0], users[1]} {
					r := claim(u)
					if r.Code() != "" {
						t.Fatalf("claim %d: %s", i, r.Raw)
					}
					var out struct {
						ClaimRedPacket struct {
							Amount, Balance int64
							Status          string
							ExpiresAt       time.Time
						}
					}
					r.Decode(t, &out)
					got := out.ClaimRedPacket
					if got.Amount < 50 || got.Amount > 150 || got.Balance != got.Amount || got.Status != "AVAILABLE" ||
						!got.ExpiresAt.Equal(start.Add(30*time.Second+24*time.Hour)) {
						t.Errorf("claim %d: %s", i, r.Raw)
					}
					total += got.Amount
				}
				if r := claim(users[0]); reason(r) != "LIMIT_REACHED" {
					t.Errorf("third claim by a user limited to 2: %s", r.Raw)
				}
				if r := claim(users[2]); reason(r) != "EXHAUSTED" {
					t.Errorf("claim of an emptied campaign: %s", r.Raw)
				}
				if total != 300 {
					t.Errorf("the three packets hold %d, want the budget 300", total)
				}
				r := s.MustQuery(admin.AccessToken, campQ, map[string]any{"id": id})
				if !r.Contains(`"claimedCount":3`) || !r.Contains(`"claimedAmount":300`) || !r.Contains(`"remainingCount":0`) {
					t.Errorf("campaign stats: %s", r.Raw)
				}
				clock.Advance(60 * time.Second)
				if r := claim(users[2]); reason(r) != "ENDED" {
					t.Errorf("claim after the rain: %s", r.Raw)
				}
				var wallet struct {
					MyRedPackets []struct {
						Amount, Balance int64
						Status          string
					}
					MyRedPacketBalance int64
				}
				s.MustQuery(users[0].AccessToken, mineQ, map[string]any{"s": "AVAILABLE"}).Decode(t, &wallet)
				if len(wallet.MyRedPackets) != 2 || wallet.MyRedPacketBalance != wallet.MyRedPackets[0].Balance+wallet.MyRedPackets[1].Balance {
					t.Errorf("wallet: %+v", wallet)
				}
				clock.Advance(25 * time.Hour)
				u0 := s.Login("a@example.com")
				s.MustQuery(u0.AccessToken, mineQ, map[string]any{"s": "EXPIRED"}).Decode(t, &wallet)
				if len(wallet.MyRedPackets) != 2 || wallet.MyRedPacketBalance != 0 {
					t.Errorf("wallet after expiry: %+v", wallet)
				}
			})
		}
	}
}

// TestClaimRace: 300 customers (60 on SQLite) each send two claims at once to a
// 100-packet campaign (20 on SQLite) limited to one per customer: exactly 100 claims
// succeed, the rest are CONFLICT EXHAUSTED or LIMIT_REACHED, nobody holds two, and the
// claimed amounts sum to the budget — on the database path and the Redis path, over HTTP,
// on MySQL at REPEATABLE READ and READ COMMITTED.
func TestClaimRace(t *testing.T) {
	t.Parallel()
	for _, p := range paths {
		for _, d := range apitest.RaceDialects() {
			t.Run(p.name+"/"+d.Name, func(t *testing.T) {
				t.Parallel()
				users, packets := 300, 100
				if d.Name == "sqlite" {
					users, packets = 60, 20
				}
				s := apitest.New(t, d.URL(t), p.opts(t))
				admin := s.NewAdmin(t, "ops@example.com")
				sessions := make([]apitest.Session, users)
				for i := range sessions {
					sessions[i] = s.Register(fmt.Sprintf("u%d@example.com", i), "U")
				}
				budget := int64(packets) * 500
				id := create(t, s, admin.AccessToken, input("race", map[string]any{
					"budget": budget, "count": packets, "minAmount": 1, "maxAmount": 1500, "perUserLimit": 1}))
				var racers []apitest.Racer
				for _, u := range sessions {
					racers = append(racers, s.Request(u.AccessToken, claimM, map[string]any{"c": id}),
						s.Request(u.AccessToken, claimM, map[string]any{"c": id}))
				}
				outs := apitest.Race(racers...)
				if n := apitest.Successes(t, "claims", outs, "CONFLICT"); n != packets {
					t.Errorf("%d claims succeeded, want %d", n, packets)
				}
				for _, o := range outs {
					if o.Code() == "CONFLICT" && reason(o.R) != "EXHAUSTED" && reason(o.R) != "LIMIT_REACHED" {
						t.Errorf("conflict for another reason: %s", o)
					}
				}
				client, ctx := s.Client()
				cid, _ := strconv.Atoi(id)
				claimed, err := client.RedPacket.Query().Where(redpacket.CampaignID(cid), redpacket.UserIDNotNil()).All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				holders := map[int]int{}
				var sum int64
				for _, p := range claimed {
					holders[*p.UserID]++
					sum += p.Amount
					if holders[*p.UserID] > 1 {
						t.Errorf("user %d holds %d packets, limit 1", *p.UserID, holders[*p.UserID])
					}
				}
				if len(claimed) != packets || sum != budget {
					t.Errorf("%d packets claimed summing to %d, want %d summing to %d", len(claimed), sum, packets, budget)
				}
			})
		}
	}
}

// dropKeys deletes a test's Redis keys.
func dropKeys(u, prefix string) {
	opts, _ := redis.ParseURL(u)
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
}
