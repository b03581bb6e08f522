package bench_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// BenchmarkRedPacketClaims is a red-packet rain on MySQL over HTTP: BENCH_RP_PACKETS
// packets (1000 by default), twice as many customers each claiming once, 32 at a time —
// first through the database path (FOR UPDATE SKIP LOCKED), then through Redis (a Lua pop,
// then the same conditional writes), on the same server and customers. It reports
// requests/s over the whole rain and claims/s until the last packet went, and fails unless
// exactly every packet was claimed. The Redis run is skipped when 127.0.0.1:6379 is down.
func BenchmarkRedPacketClaims(b *testing.B) {
	packets := 1000
	if n, err := strconv.Atoi(os.Getenv("BENCH_RP_PACKETS")); err == nil && n > 0 {
		packets = n
	}
	const workers = 32
	s := apitest.New(b, testdb.MySQLURL(b))
	admin := s.NewAdmin(b, "ops@example.com")
	users := make([]string, 2*packets)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 2 { // more concurrent sign-ups deadlock on MySQL (a finding of their own)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(users); i = int(next.Add(1)) - 1 {
				var r *apitest.Response
				var err error
				// Concurrent sign-ups on MySQL sometimes deadlock (INTERNAL): try again.
				for range 20 {
					r, err = s.Try(apitest.Request{Query: `mutation($i: RegisterInput!) { register(input: $i) { accessToken } }`,
						Variables: map[string]any{"i": map[string]any{"email": fmt.Sprintf("rp%d@example.com", i), "password": apitest.Password, "displayName": "U"}}})
					if err == nil && len(r.Errors) == 0 {
						break
					}
				}
				if err != nil || len(r.Errors) > 0 {
					panic(fmt.Sprintf("register: %v %s", err, r.Raw))
				}
				var out struct{ Register struct{ AccessToken string } }
				r.Decode(b, &out)
				users[i] = out.Register.AccessToken
			}
		}()
	}
	wg.Wait()
	svc := s.App.RedPackets
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	for _, path := range []string{"db", "redis"} {
		b.Run(path, func(b *testing.B) {
			if path == "redis" {
				if err := rdb.Ping(context.Background()).Err(); err != nil {
					b.Skipf("redis unreachable: %v", err)
				}
				svc.Redis, svc.Prefix = rdb, "xiadan:bench:rp:"+rand.Text()[:10]+":"
				defer func() { svc.Redis = nil }()
			}
			for range b.N {
				r := s.MustQuery(admin.AccessToken, `mutation($i: CreateRedPacketCampaignInput!) { createRedPacketCampaign(input: $i) { id } }`,
					map[string]any{"i": map[string]any{"name": "bench " + path, "currency": "CNY", "split": "RANDOM",
						"budget": packets * 500, "count": packets, "minAmount": 1, "maxAmount": 2000,
						"startsAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano),
						"endsAt":   time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)}})
				var out struct{ CreateRedPacketCampaign struct{ ID string } }
				r.Decode(b, &out)
				id := out.CreateRedPacketCampaign.ID
				var ok, refused, failed atomic.Int64
				var lastWin atomic.Int64
				next := atomic.Int64{}
				start := time.Now()
				var wg sync.WaitGroup
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := int(next.Add(1)) - 1; i < len(users); i = int(next.Add(1)) - 1 {
							r, err := s.Try(apitest.Request{Query: `mutation($c: ID!) { claimRedPacket(campaignID: $c) { amount } }`,
								Token: users[i], Variables: map[string]any{"c": id}})
							switch {
							case err != nil:
								failed.Add(1)
							case r.Code() == "":
								ok.Add(1)
								lastWin.Store(int64(time.Since(start)))
							case r.Code() == "CONFLICT":
								refused.Add(1)
							default:
								failed.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				total := time.Since(start)
				if ok.Load() != int64(packets) || failed.Load() != 0 {
					b.Fatalf("%d claims, %d refused, %d failed; want %d claims", ok.Load(), refused.Load(), failed.Load(), packets)
				}
				b.ReportMetric(0, "ns/op")
				b.ReportMetric(float64(len(users))/total.Seconds(), "req/s")
				b.ReportMetric(float64(packets)/time.Duration(lastWin.Load()).Seconds(), "claims/s")
			}
		})
	}
}
