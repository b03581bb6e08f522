package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/testdb"
)

// The events benchmark's settings and their defaults (the recorded run).
const (
	defaultSubscribers = 5000
	eventMerchants     = 50
	defaultOrderRate   = 20 // orders a second in the steady phase: 40 events (placed, cancelled)
	defaultSteady      = 30 * time.Second
	defaultBurst       = 15 * time.Second
	burstWorkers       = 16
	// childEnv names the subscriber process's configuration file; see TestEventSubscribers.
	childEnv = "BENCH_EVENTS_CHILD"
)

const eventSubscription = `subscription($m: ID!) { orderEvents(merchantID: $m) { id type sequence cursor } }`

// eventSettings size BenchmarkEvents: BENCH_SUBSCRIBERS, BENCH_EVENTS_RATE (orders a
// second, steady phase), BENCH_EVENTS_STEADY and BENCH_EVENTS_BURST (durations).
type eventSettings struct {
	subscribers, rate int
	steady, burst     time.Duration
}

func eventSettingsFromEnv(b *testing.B) eventSettings {
	s := eventSettings{subscribers: defaultSubscribers, rate: defaultOrderRate, steady: defaultSteady, burst: defaultBurst}
	for name, p := range map[string]*int{"BENCH_SUBSCRIBERS": &s.subscribers, "BENCH_EVENTS_RATE": &s.rate} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				b.Fatalf("%s must be a positive number, not %q", name, v)
			}
			*p = n
		}
	}
	for name, p := range map[string]*time.Duration{"BENCH_EVENTS_STEADY": &s.steady, "BENCH_EVENTS_BURST": &s.burst} {
		if v := os.Getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				b.Fatalf("%s must be a positive duration such as 30s, not %q", name, v)
			}
			*p = d
		}
	}
	return s
}

// BenchmarkEvents measures order events from commit to websocket subscribers: thousands
// of graphql-transport-ws subscribers of orderEvents, spread over 50 merchants, held by a
// separate process (this test binary, as TestEventSubscribers) so the server's memory is
// measured alone; orders placed and cancelled through the API at a steady rate, then as
// fast as 16 clients can; on one instance (in-process bus) and across two replicas over
// NATS JetStream (writes on A, subscribers on B). MySQL only. See docs/BENCHMARKS.md.
func BenchmarkEvents(b *testing.B) {
	s := eventSettingsFromEnv(b)
	raiseFileLimit(b)
	var rows []string
	b.Run("one-instance", func(b *testing.B) {
		srv := apitest.New(b, testdb.MySQLURL(b))
		rows = append(rows, runEvents(b, s, "one instance", srv, srv)...)
	})
	b.Run("two-replicas-nats", func(b *testing.B) {
		u := benchNATS(b)
		dbURL := testdb.MySQLURL(b)
		stream := benchStream(b, u)
		a := natsReplica(b, dbURL, u, stream)
		r := natsReplica(b, dbURL, u, stream, func(c *config.Config) { c.DataDir = a.Config.DataDir })
		rows = append(rows, runEvents(b, s, "two replicas, NATS", a, r)...)
	})
	fmt.Printf("\n| setup | phase | events | events written/s | events/s delivered | deliveries/s | p50 ms (response) | p99 ms (response) | max ms (response) | p50 ms (occurredAt) | p99 ms (occurredAt) | subscriptions dropped |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n%s\n",
		strings.Join(rows, "\n"))
}

// raiseFileLimit lifts the soft limit on open files to the hard one: every subscriber is
// a socket at each end.
func raiseFileLimit(b *testing.B) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		b.Fatal(err)
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		b.Fatal(err)
	}
}

// benchNATS is the NATS server (NATS_TEST_URL, default 127.0.0.1:4222); the replica half
// is skipped without one.
func benchNATS(b *testing.B) string {
	u := os.Getenv("NATS_TEST_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	host := u
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		host = p.Host
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		b.Skipf("no NATS server at %s (set NATS_TEST_URL, or start nats-server -js): %v", u, err)
	}
	_ = c.Close()
	return u
}

// benchStream gives the run a stream of its own, deleted at the end.
func benchStream(b *testing.B, u string) events.NATSOption {
	id := strings.ToLower(rand.Text()[:10])
	stream := "XIADAN_BENCH_" + strings.ToUpper(id)
	b.Cleanup(func() {
		nc, err := nats.Connect(u)
		if err != nil {
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, stream)
	})
	return events.NATSStream(stream, "xiadan_bench_"+id+".order_events")
}

// natsReplica is a server on dbURL whose bus is NATS, as with NATS_URL set, on the run's
// own stream.
func natsReplica(b *testing.B, dbURL, u string, stream events.NATSOption, opts ...func(*config.Config)) *apitest.Server {
	s := apitest.NewWithoutEvents(b, dbURL, opts...)
	bus, err := events.NewNATS(u, slog.New(slog.DiscardHandler), stream)
	if err != nil {
		b.Fatal(err)
	}
	s.App.Bus, s.App.Relay.Bus = bus, bus
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	if err := s.App.RunEvents(ctx); err != nil {
		b.Fatal(err)
	}
	return s
}

// eventShop is the benchmark's data: merchants with one virtual product each, their
// owners (who subscribe), and buyers (who order).
type eventShop struct {
	merchants []apitest.Merchant
	variants  []int
	buyers    []apitest.Session
}

func newEventShop(b *testing.B, s *apitest.Server) *eventShop {
	w := &eventShop{}
	client, ctx := s.Client()
	for i := range eventMerchants {
		m := s.NewMerchant(b, fmt.Sprintf("shop-%02d", i), merchant.StatusACTIVE)
		p := client.Product.Create().SetMerchantID(m.IntID).SetTitle("Gift card").SetKind(product.KindVIRTUAL).
			SetStatus(product.StatusACTIVE).SaveX(ctx)
		v := client.ProductVariant.Create().SetProductID(p.ID).SetMerchantID(m.IntID).SetSku(fmt.Sprint("GC-", i)).
			SetPrice(1000).SetStock(100_000_000).SaveX(ctx)
		w.merchants = append(w.merchants, m)
		w.variants = append(w.variants, v.ID)
	}
	for i := range burstWorkers {
		w.buyers = append(w.buyers, s.Register(fmt.Sprintf("buyer-%02d@example.com", i), "Buyer"))
	}
	return w
}

// commitKey names an event by its order and type, which is what a mutation response
// tells the writer.
type commitKey struct {
	order int
	typ   orderevent.Type
}

// writer places and cancels orders through the API, remembering when each response
// arrived: the server commits before it answers, so that time is at most the transfer of
// the response after the commit.
type writer struct {
	url  string
	http *http.Client
	shop *eventShop

	mu        sync.Mutex
	committed map[commitKey]time.Time
	failures  atomic.Int64
	firstErr  atomic.Value // string: the first failure's reason
	seq       atomic.Int64
}

func (w *writer) fail(what string, err error) {
	w.failures.Add(1)
	w.firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %v", what, err))
}

// cycle places one order at merchant m as buyer, then cancels it: two events.
func (w *writer) cycle(buyer, m int) {
	key := fmt.Sprintf("bench-order-%08d", w.seq.Add(1))
	var placed struct {
		PlaceOrder struct{ Orders []struct{ ID string } }
	}
	if err := w.do(w.shop.buyers[buyer].AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { id } } }`,
		map[string]any{"i": map[string]any{
			"lines":          []any{map[string]any{"variantID": strconv.Itoa(w.shop.variants[m]), "quantity": 1}},
			"contact":        map[string]any{"name": "Li", "phone": "13800138000"},
			"idempotencyKey": key}}, &placed); err != nil || len(placed.PlaceOrder.Orders) != 1 {
		w.fail("placeOrder", err)
		return
	}
	id, _ := strconv.Atoi(placed.PlaceOrder.Orders[0].ID)
	w.record(commitKey{id, orderevent.TypeCREATED})
	if err := w.do(w.shop.buyers[buyer].AccessToken, `mutation($id: ID!) { cancelOrder(id: $id) { status } }`,
		map[string]any{"id": strconv.Itoa(id)}, nil); err != nil {
		w.fail("cancelOrder", err)
		return
	}
	w.record(commitKey{id, orderevent.TypeCANCELLED})
}

func (w *writer) record(k commitKey) {
	t := time.Now()
	w.mu.Lock()
	w.committed[k] = t
	w.mu.Unlock()
}

func (w *writer) do(token, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, w.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rsp, err := w.http.Do(req)
	if err != nil {
		return err
	}
	defer rsp.Body.Close()
	raw, err := io.ReadAll(rsp.Body)
	if err != nil {
		return err
	}
	if err := graphQLData(raw); err != nil {
		return err
	}
	var env struct{ Data json.RawMessage }
	if err := json.Unmarshal(raw, &env); err != nil {
		return err
	}
	if out != nil {
		return json.Unmarshal(env.Data, out)
	}
	return nil
}

// delivery is one event received by one subscriber.
type delivery struct {
	sub, event int
	at         int64 // unix nanoseconds
}

// subscribers is the subscriber process, seen from the benchmark.
type subscribers struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ready chan int
	done  chan struct{}

	mu         sync.Mutex
	deliveries []delivery
	ended      int // subscriptions the server ended (a slow subscriber, say)
	lastError  string
	clientMem  string
}

func (s *subscribers) count() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.deliveries), s.ended
}

// childConfig is what the subscriber process reads from the file named by childEnv.
type childConfig struct {
	URL  string      `json:"url"`
	Subs []childSubs `json:"subs"`
}

type childSubs struct {
	Token    string `json:"token"`
	Merchant string `json:"merchant"`
}

// startSubscribers starts the subscriber process: n subscribers of srv, subscriber i
// following merchant i mod 50 with its owner's token.
func startSubscribers(b *testing.B, srv *apitest.Server, shop *eventShop, n int) *subscribers {
	cfg := childConfig{URL: "ws" + strings.TrimPrefix(srv.HTTP.URL, "http") + "/graphql"}
	for i := range n {
		m := shop.merchants[i%eventMerchants]
		cfg.Subs = append(cfg.Subs, childSubs{Token: m.Owner.AccessToken, Merchant: m.ID})
	}
	path := b.TempDir() + "/subscribers.json"
	data, _ := json.Marshal(cfg)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEventSubscribers$", "-test.bench=^$", "-test.count=1", "-test.timeout=60m")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &subscribers{cmd: cmd, stdin: stdin, ready: make(chan int, 1), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 4 && f[0] == "d":
				sub, _ := strconv.Atoi(f[1])
				id, _ := strconv.Atoi(f[2])
				at, _ := strconv.ParseInt(f[3], 10, 64)
				s.mu.Lock()
				s.deliveries = append(s.deliveries, delivery{sub, id, at})
				s.mu.Unlock()
			case len(f) == 2 && f[0] == "ready":
				k, _ := strconv.Atoi(f[1])
				s.ready <- k
			case len(f) >= 1 && f[0] == "ended":
				s.mu.Lock()
				s.ended++
				s.lastError = strings.Join(f[1:], " ")
				s.mu.Unlock()
			case len(f) >= 1 && f[0] == "mem":
				s.mu.Lock()
				s.clientMem = strings.Join(f[1:], " ")
				s.mu.Unlock()
			}
		}
	}()
	b.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	})
	return s
}

// runEvents runs the phases on one setup: writes through w, subscribers on r.
func runEvents(b *testing.B, s eventSettings, setup string, w, r *apitest.Server) []string {
	start := time.Now()
	shop := newEventShop(b, w)
	fmt.Printf("events %s: 50 merchants, %d buyers in %s\n", setup, len(shop.buyers), time.Since(start).Round(time.Millisecond))

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	start = time.Now()
	subs := startSubscribers(b, r, shop, s.subscribers)
	select {
	case n := <-subs.ready:
		if n != s.subscribers {
			b.Fatalf("%d of %d subscribers connected", n, s.subscribers)
		}
	case <-time.After(5 * time.Minute):
		b.Fatal("the subscribers did not connect within 5 minutes")
	}
	for r.App.Hub.Subscribers() < s.subscribers {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("%d of %d subscriptions reached the hub", r.App.Hub.Subscribers(), s.subscribers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	connect := time.Since(start)
	time.Sleep(2 * time.Second) // idle
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(s.subscribers) / 1024 }
	fmt.Printf("events %s: %d subscribers connected and subscribed in %s\n", setup, s.subscribers, connect.Round(time.Millisecond))
	fmt.Printf("events %s: server process, per idle subscriber: HeapInuse %.1f KiB, StackInuse %.1f KiB, Sys %.1f KiB, goroutines %.2f (subscriber process: %s)\n",
		setup, per(after.HeapInuse, before.HeapInuse), per(after.StackInuse, before.StackInuse), per(after.Sys, before.Sys),
		float64(runtime.NumGoroutine()-goroutines)/float64(s.subscribers), subs.clientMem)
	if w != r {
		fmt.Printf("events %s: (both replicas run in this process: the figures are B's subscriptions plus whatever A allocated meanwhile)\n", setup)
	}

	wr := &writer{url: w.HTTP.URL + "/graphql", shop: shop, committed: map[commitKey]time.Time{},
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	perMerchant := map[int]int{}
	for i := range s.subscribers {
		perMerchant[shop.merchants[i%eventMerchants].IntID]++
	}
	var rows []string
	phase := func(name string, drive func()) {
		d0, e0 := subs.count()
		wr.mu.Lock()
		wr.committed = map[commitKey]time.Time{}
		wr.mu.Unlock()
		startPos := r.App.Hub.Position()
		t0 := time.Now()
		stop := make(chan struct{})
		backlog := make(chan string, 1)
		go func() { backlog <- sampleBacklog(w, r, stop) }()
		drive()
		driven := time.Since(t0)
		close(stop)
		// Wait for every committed event to reach every subscriber of its merchant.
		evs := phaseEvents(b, w, startPos)
		want := 0
		for _, ev := range evs {
			want += perMerchant[ev.merchant]
		}
		// Stop waiting when nothing more arrives for 10 s (subscriptions were ended).
		progress, seen := time.Now(), 0
		for {
			d, _ := subs.count()
			if d-d0 >= want || time.Since(progress) > 10*time.Second {
				break
			}
			if d != seen {
				progress, seen = time.Now(), d
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // anything extra would be a duplicate
		subs.mu.Lock()
		got := slices.Clone(subs.deliveries[d0:])
		ended := subs.ended - e0
		lastErr := subs.lastError
		subs.mu.Unlock()
		wr.mu.Lock()
		committed := wr.committed
		wr.mu.Unlock()
		rows = append(rows, report(setup, name, t0, driven, evs, committed, got, want, ended, lastErr, wr.failures.Swap(0)))
		fmt.Printf("events %s, %s: while writing, the most events %s\n", setup, name, <-backlog)
		if e, _ := wr.firstErr.Swap("").(string); e != "" {
			fmt.Printf("events %s, %s: first failed write: %s\n", setup, name, e)
		}
	}

	phase(fmt.Sprintf("steady %d orders/s", s.rate), func() {
		tick := time.NewTicker(time.Second / time.Duration(s.rate))
		defer tick.Stop()
		var wg sync.WaitGroup
		jobs := make(chan int)
		for i := range burstWorkers {
			wg.Go(func() {
				for j := range jobs {
					wr.cycle(i, j%eventMerchants)
				}
			})
		}
		end := time.After(s.steady)
	loop:
		for j := 0; ; j++ {
			select {
			case <-end:
				break loop
			case <-tick.C:
				select {
				case jobs <- j:
				default: // every worker busy: the rate was not kept, which the events/s shows
				}
			}
		}
		close(jobs)
		wg.Wait()
	})
	phase(fmt.Sprintf("burst, %d writers", burstWorkers), func() {
		var wg sync.WaitGroup
		end := time.Now().Add(s.burst)
		for i := range burstWorkers {
			wg.Go(func() {
				for j := i; time.Now().Before(end); j += burstWorkers {
					wr.cycle(i, j%eventMerchants)
				}
			})
		}
		wg.Wait()
	})
	return rows
}

// sampleBacklog watches, every 100 ms until stop, where events wait: committed but not
// numbered by the relay, numbered but not published, published but not yet through the
// subscribers' hub. It returns the largest of each.
func sampleBacklog(w, r *apitest.Server, stop <-chan struct{}) string {
	client, ctx := w.Client()
	var unnumbered, unpublished, undelivered int64
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return fmt.Sprintf("waiting to be numbered %d, numbered and not published %d, published and not through B's hub %d",
				unnumbered, unpublished, undelivered)
		case <-t.C:
		}
		n, err := client.OrderEvent.Query().Where(orderevent.PositionIsNil()).Count(ctx)
		if err != nil {
			continue
		}
		unnumbered = max(unnumbered, int64(n))
		st, err := client.RelayState.Query().Only(ctx)
		if err != nil {
			continue
		}
		unpublished = max(unpublished, st.AssignedPosition-st.PublishedPosition)
		undelivered = max(undelivered, st.PublishedPosition-r.App.Hub.Position())
	}
}

// phaseEvent is an event committed during a phase, as stored.
type phaseEvent struct {
	id, merchant, order int
	position            int64
	typ                 orderevent.Type
	createdAt           time.Time
}

// phaseEvents waits until the relay has published everything committed so far and
// returns the events after position from.
func phaseEvents(b *testing.B, w *apitest.Server, from int64) []phaseEvent {
	client, ctx := w.Client()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pending, err := client.OrderEvent.Query().Where(orderevent.PositionIsNil()).Count(ctx)
		if err != nil {
			b.Fatal(err)
		}
		published, err := w.App.Relay.PublishedPosition(ctx)
		if err != nil {
			b.Fatal(err)
		}
		last, err := client.OrderEvent.Query().Where(orderevent.PositionNotNil()).Count(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if pending == 0 && published >= int64(last) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rows, err := client.OrderEvent.Query().Where(orderevent.PositionGT(from)).All(ctx)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]phaseEvent, len(rows))
	for i, ev := range rows {
		out[i] = phaseEvent{ev.ID, ev.MerchantID, ev.OrderID, *ev.Position, ev.Type, ev.CreatedAt}
	}
	return out
}

// report prints and returns the table row of one phase. Latency is measured twice:
// from the arrival of the mutation's response (after the commit: at most the response's
// transfer late, so it understates by that) and from the event's occurredAt (set inside
// the transaction, before the commit: it overstates by the rest of the transaction).
func report(setup, name string, t0 time.Time, driven time.Duration, evs []phaseEvent, committed map[commitKey]time.Time,
	got []delivery, want, ended int, lastErr string, failures int64) string {
	byID := make(map[int]phaseEvent, len(evs))
	for _, ev := range evs {
		byID[ev.id] = ev
	}
	var fromResponse, fromOccurred []time.Duration
	seen := map[int]bool{}
	var lastAt int64
	unknown, duplicates, disordered := 0, 0, 0
	type subEvent struct{ sub, event int }
	received := map[subEvent]bool{}
	lastPos := map[int]int64{} // per subscriber
	for _, d := range got {
		ev, ok := byID[d.event]
		if !ok {
			unknown++
			continue
		}
		if received[subEvent{d.sub, d.event}] {
			duplicates++
		}
		received[subEvent{d.sub, d.event}] = true
		if ev.position <= lastPos[d.sub] {
			disordered++
		}
		lastPos[d.sub] = ev.position
		seen[d.event] = true
		lastAt = max(lastAt, d.at)
		at := time.Unix(0, d.at)
		fromOccurred = append(fromOccurred, at.Sub(ev.createdAt))
		if c, ok := committed[commitKey{ev.order, ev.typ}]; ok {
			fromResponse = append(fromResponse, at.Sub(c))
		}
	}
	window := time.Unix(0, lastAt).Sub(t0)
	pct := func(ds []time.Duration, q float64) float64 {
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return ms(ds[min(len(ds)-1, int(q*float64(len(ds))))])
	}
	fmt.Printf("events %s, %s: %d deliveries repeated an event to its subscriber, %d came out of position order\n", setup, name, duplicates, disordered)
	fmt.Printf("events %s, %s: %d events committed in %s (%.1f events/s written; %d failed writes); %d of %d deliveries (%d of unknown events), "+
		"every event delivered by %s after the phase began: %.1f events/s, %.0f deliveries/s; "+
		"latency from response p50 %.2f ms p99 %.2f ms max %.2f ms (%d samples), from occurredAt p50 %.2f ms p99 %.2f ms; %d subscriptions ended by the server %s\n",
		setup, name, len(evs), driven.Round(time.Millisecond), float64(len(evs))/driven.Seconds(), failures,
		len(got)-unknown, want, unknown, window.Round(time.Millisecond), float64(len(seen))/window.Seconds(),
		float64(len(got)-unknown)/window.Seconds(),
		pct(fromResponse, 0.5), pct(fromResponse, 0.99), pct(fromResponse, 1), len(fromResponse),
		pct(fromOccurred, 0.5), pct(fromOccurred, 0.99), ended, lastErr)
	return fmt.Sprintf("| %s | %s | %d | %.1f | %.1f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %d |", setup, name, len(evs),
		float64(len(evs))/driven.Seconds(), float64(len(seen))/window.Seconds(), float64(len(got)-unknown)/window.Seconds(),
		pct(fromResponse, 0.5), pct(fromResponse, 0.99), pct(fromResponse, 1),
		pct(fromOccurred, 0.5), pct(fromOccurred, 0.99), ended)
}

// TestEventSubscribers is the subscriber process of BenchmarkEvents, run by it through
// this test binary; on its own it is skipped. It opens one graphql-transport-ws
// connection per subscriber, subscribes, prints "ready <n>", then "d <subscriber> <event
// id> <unix ns>" for each event received, until its stdin closes.
func TestEventSubscribers(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("the subscriber process of BenchmarkEvents")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg childConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	out := make(chan string, 1<<16)
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		w := bufio.NewWriterSize(os.Stdout, 1<<16)
		for line := range out {
			_, _ = w.WriteString(line)
			if len(out) == 0 {
				_ = w.Flush()
			}
		}
		_ = w.Flush()
	}()

	ctx, cancel := context.WithCancel(context.Background())
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var connected atomic.Int64
	var wg, up sync.WaitGroup
	sem := make(chan struct{}, 64) // connections being opened at once
	for i, sub := range cfg.Subs {
		up.Add(1)
		wg.Go(func() {
			sem <- struct{}{}
			c, err := subscribe(ctx, cfg.URL, sub, strconv.Itoa(i+1))
			<-sem
			if err != nil {
				out <- fmt.Sprintf("ended connect: %v\n", err)
				up.Done()
				return
			}
			connected.Add(1)
			up.Done()
			readEvents(ctx, c, i+1, out)
		})
	}
	up.Wait()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	n := float64(len(cfg.Subs))
	out <- fmt.Sprintf("mem HeapInuse %.1f KiB, StackInuse %.1f KiB per subscriber\n",
		(float64(after.HeapInuse)-float64(before.HeapInuse))/n/1024, (float64(after.StackInuse)-float64(before.StackInuse))/n/1024)
	out <- fmt.Sprintf("ready %d\n", connected.Load())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
	cancel()
	wg.Wait()
	close(out)
	<-flushed
}

// subscribe opens a graphql-transport-ws connection, authenticates and subscribes.
func subscribe(ctx context.Context, wsURL string, sub childSubs, id string) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	send := func(v any) error {
		data, _ := json.Marshal(v)
		return c.Write(dctx, websocket.MessageText, data)
	}
	if err := send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + sub.Token}}); err != nil {
		return nil, err
	}
	_, data, err := c.Read(dctx)
	if err != nil {
		return nil, err
	}
	var ack struct{ Type string }
	if err := json.Unmarshal(data, &ack); err != nil || ack.Type != "connection_ack" {
		return nil, fmt.Errorf("connection_init answered with %s", data)
	}
	if err := send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{
		"query": eventSubscription, "variables": map[string]any{"m": sub.Merchant}}}); err != nil {
		return nil, err
	}
	return c, nil
}

// readEvents reports each event received on c, and answers pings, until c or ctx ends.
func readEvents(ctx context.Context, c *websocket.Conn, sub int, out chan<- string) {
	defer c.CloseNow()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				out <- fmt.Sprintf("ended read: %v\n", err)
			}
			return
		}
		at := time.Now().UnixNano()
		var msg struct {
			Type    string
			Payload struct {
				Data struct {
					OrderEvents struct{ ID string }
				}
			}
		}
		if err := json.Unmarshal(data, &msg); err != nil {
			out <- fmt.Sprintf("ended bad message: %.200s\n", data)
			return
		}
		switch msg.Type {
		case "next":
			out <- fmt.Sprintf("d %d %s %d\n", sub, msg.Payload.Data.OrderEvents.ID, at)
		case "ping":
			_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
		case "pong":
		default: // error, complete
			out <- fmt.Sprintf("ended %s: %.200s\n", msg.Type, data)
			return
		}
	}
}
