package e2etest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/testdb"
	"github.com/xiadan/xiadan/internal/viewer"
)

// natsURL is the NATS server of the replica tests, skipping when there is none.
func natsURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("NATS_TEST_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	host := strings.TrimPrefix(u, "nats://")
	c, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		t.Skipf("no NATS server at %s (%v): start one (../shared/services.sh nats) to run the replica test", u, err)
	}
	c.Close()
	return u
}

// replica is one `xiadan serve` process.
type replica struct {
	url string
	cmd *exec.Cmd
	log *bytes.Buffer
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startReplica(t *testing.T, bin string, env []string) *replica {
	t.Helper()
	addr := freePort(t)
	r := &replica{url: "http://" + addr, log: &bytes.Buffer{}}
	r.cmd = exec.Command(bin, "serve")
	r.cmd.Env = append(append(os.Environ(), env...), "LISTEN_ADDR="+addr, "PAYMENT_PUBLIC_URL="+r.url)
	pr, pw := io.Pipe()
	r.cmd.Stdout, r.cmd.Stderr = pw, pw
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			r.log.WriteString(s.Text() + "\n")
		}
	}()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = r.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
		}
		pw.Close()
		if t.Failed() {
			t.Logf("replica %s log:\n%s", r.url, r.log.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(r.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return r
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("replica %s did not become ready:\n%s", r.url, r.log.String())
	return nil
}

func (r *replica) query(t *testing.T, token, query string, vars map[string]any) json.RawMessage {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, r.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out struct {
		Data   json.RawMessage
		Errors []any
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("%s: %s", query, raw)
	}
	return out.Data
}

// TestTwoServerProcessesShareEventsOverNATS runs two `xiadan serve` processes on one
// MySQL database and a real NATS server: a subscriber connected to replica B receives the
// changes made through replica A, in order.
func TestTwoServerProcessesShareEventsOverNATS(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and starts two server processes")
	}
	nats := natsURL(t)
	dbURL := testdb.MySQLURL(t)
	root := e2eRepoRoot(t)
	bin := filepath.Join(t.TempDir(), "xiadan")
	// Built the way this test binary was (with -race under make test), so go build finds
	// every package already compiled in the build cache and only links.
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	stream := fmt.Sprintf("XIADAN_TEST_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		nc, err := natsgo.Connect(nats)
		if err != nil {
			t.Errorf("deleting stream %s: %v", stream, err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, stream); err != nil {
			t.Errorf("deleting stream %s: %v", stream, err)
		}
	})
	env := []string{"DATABASE_URL=" + dbURL, "NATS_URL=" + nats, "NATS_STREAM=" + stream,
		"XIADAN_DATA_DIR=" + t.TempDir(), "LOG_LEVEL=warn", "JOB_INTERVAL=1s"}
	a := startReplica(t, bin, env) // migrates the database and makes the shared dev signing key
	b := startReplica(t, bin, env)

	// A shop and a buyer, written directly; the buyer signs up through A.
	ctx := viewer.SystemContext(context.Background())
	db, err := database.Open(ctx, dbURL, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var reg struct {
		Register struct {
			AccessToken string
			User        struct{ ID string }
		}
	}
	if err := json.Unmarshal(a.query(t, "", `mutation { register(input: {email: "buyer@example.com", password: "correct horse battery staple", displayName: "B"}) { accessToken user { id } } }`, nil), &reg); err != nil {
		t.Fatal(err)
	}
	buyer, _ := strconv.Atoi(reg.Register.User.ID)
	m := db.Client.Merchant.Create().SetName("tea").SetSlug("tea").SetContactName("O").SetContactPhone("13800000000").
		SetContactEmail("tea@example.com").SetLicenceNumber("91310000MA1FL8XQ37").SetLegalName("L").SetOwnerID(buyer).
		SetStatus(merchant.StatusACTIVE).SaveX(ctx)
	p := db.Client.Product.Create().SetMerchantID(m.ID).SetTitle("Tea").SetKind(product.KindVIRTUAL).
		SetStatus(product.StatusACTIVE).SaveX(ctx)
	v := db.Client.ProductVariant.Create().SetProductID(p.ID).SetMerchantID(m.ID).SetSku("T-1").SetPrice(1000).SetStock(10).SaveX(ctx)

	// The subscriber is on B.
	wctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws, err := apitest.DialWS(wctx, "ws"+strings.TrimPrefix(b.url, "http")+"/graphql", apitest.WSOptions{Token: reg.Register.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	sub, err := ws.Subscribe(wctx, `subscription { myOrderEvents { type sequence cursor order { number } } }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // registered on B before the change on A

	// The change is made through A.
	var placed struct {
		PlaceOrder struct{ Orders []struct{ ID, Number string } }
	}
	if err := json.Unmarshal(a.query(t, reg.Register.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { id number } } }`,
		map[string]any{"i": map[string]any{"lines": []any{map[string]any{"variantID": v.ID, "quantity": 1}},
			"contact": map[string]any{"name": "Li", "phone": "13800138000"}, "idempotencyKey": "replicas-1"}}), &placed); err != nil {
		t.Fatal(err)
	}
	order := placed.PlaceOrder.Orders[0]
	a.query(t, reg.Register.AccessToken, `mutation($id: ID!) { cancelOrder(id: $id) { status } }`, map[string]any{"id": order.ID})

	for i, want := range []string{"CREATED", "CANCELLED"} {
		ev, err := sub.Next(wctx)
		if err != nil {
			t.Fatalf("event %d on B: %v", i, err)
		}
		if ev.Type != "next" || !ev.Response.Contains(`"type":"`+want+`"`) || !ev.Response.Contains(order.Number) ||
			!ev.Response.Contains(fmt.Sprintf(`"sequence":%d`, i+1)) {
			t.Fatalf("event %d on B: %s", i, ev.Response.Raw)
		}
	}
}
