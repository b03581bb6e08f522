package reports_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/report"
	"github.com/xiadan/xiadan/ent/reportschedule"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/reports"
	"github.com/xiadan/xiadan/internal/testdb"
)

// world is a server (going by a test clock, its disk store reachable) with two shops, A
// selling a ¥25.50 Longjing tea, a buyer and an admin.
type world struct {
	s      *apitest.Server
	clock  *apitest.Clock
	a, b   apitest.Merchant
	tea    string
	buyer  apitest.Session
	admin  string
	seq    atomic.Int64
	teaPID int
}

func newWorld(t *testing.T, s *apitest.Server, clock *apitest.Clock) *world {
	t.Helper()
	w := &world{s: s, clock: clock}
	w.a = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	w.b = s.NewMerchant(t, "coffee-house", merchant.StatusACTIVE)
	pid, tea := s.NewProduct(t, w.a, "西湖龙井 Longjing tea", product.KindPHYSICAL, "tea-1", 2550, 1000)
	w.teaPID, w.tea = pid, strconv.Itoa(tea)
	w.buyer = s.Register("buyer@example.com", "Buyer Wang")
	w.admin = s.NewAdmin(t, "admin@example.com").AccessToken
	return w
}

// forEach runs fn on SQLite and MySQL, each with its own server and clock.
func forEach(t *testing.T, fn func(t *testing.T, w *world)) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := apitest.NewClock(time.Now())
			s := apitest.NewForUploads(t, d.URL(t), clock)
			fn(t, newWorld(t, s, clock))
		})
	}
}

func (w *world) key(p string) string { return fmt.Sprintf("%s-%04d", p, w.seq.Add(1)) }

func (w *world) must(t *testing.T, token, q string, vars map[string]any, out any) {
	t.Helper()
	r := w.s.Query(token, q, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s", q, r.Raw)
	}
	if out != nil {
		r.Decode(t, out)
	}
}

// place places an order of qty teas at shop A, paid when pay is set, and returns its number.
func (w *world) place(t *testing.T, qty int, pay bool) string {
	t.Helper()
	addr := map[string]any{"recipientName": "王芳", "phone": "13800138000", "province": "Zhejiang", "city": "Hangzhou", "street": "1 West Lake Road"}
	var placed struct {
		PlaceOrder struct {
			CheckoutID string
			Orders     []struct{ Number string }
		}
	}
	w.must(t, w.buyer.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID orders { number } } }`,
		map[string]any{"i": map[string]any{"lines": []map[string]any{{"variantID": w.tea, "quantity": qty}},
			"shippingAddress": addr, "idempotencyKey": w.key("place")}}, &placed)
	if pay {
		var p struct{ PayOrder struct{ ID string } }
		w.must(t, w.buyer.AccessToken, `mutation($i: PayOrderInput!) { payOrder(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"checkoutID": placed.PlaceOrder.CheckoutID, "method": "BANK_CARD", "idempotencyKey": w.key("pay")}}, &p)
		w.must(t, w.buyer.AccessToken, `mutation($id: ID!) { sandboxCompletePayment(paymentID: $id, outcome: SUCCEEDED) { id } }`,
			map[string]any{"id": p.PayOrder.ID}, nil)
	}
	return placed.PlaceOrder.Orders[0].Number
}

type rep struct {
	ID, Kind, Format, Status string
	RowCount                 *int
	FileSize                 *int
	DownloadURL              *string
	FileName                 string
	Error                    *string
	MerchantID               *string
}

const repFields = `id kind format status rowCount fileSize downloadURL fileName error merchantID`

const requestOp = `mutation($i: RequestReportInput!) { requestReport(input: $i) { ` + repFields + ` } }`

func (w *world) today() string { return w.clock.Now().In(reports.Shanghai).Format(time.DateOnly) }

func (w *world) request(t *testing.T, token string, in map[string]any) rep {
	t.Helper()
	if _, ok := in["idempotencyKey"]; !ok {
		in["idempotencyKey"] = w.key("report")
	}
	if _, ok := in["from"]; !ok {
		in["from"], in["to"] = w.today(), w.today()
	}
	var out struct{ RequestReport rep }
	w.must(t, token, requestOp, map[string]any{"i": in}, &out)
	return out.RequestReport
}

func (w *world) get(t *testing.T, token, id string) rep {
	t.Helper()
	var out struct{ Report rep }
	w.must(t, token, `query($id: ID!) { report(id: $id) { `+repFields+` } }`, map[string]any{"id": id}, &out)
	return out.Report
}

func (w *world) run(t *testing.T) int {
	t.Helper()
	n, err := w.s.App.Reports.RunOnce(context.Background(), w.s.App.DB.Client)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func download(t *testing.T, url string) (int, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func wantCode(t *testing.T, r *apitest.Response, code, field string) {
	t.Helper()
	if r.Code() != code || (field != "" && r.Field() != field) {
		t.Fatalf("want %s on %q, got %q on %q: %s", code, field, r.Code(), r.Field(), r.Raw)
	}
}

func yuan(minor int64) string { return fmt.Sprintf("%d.%02d", minor/100, minor%100) }

// TestOrdersReportListsThePlacedOrders: shop A's ORDERS report of today, as CSV and as
// XLSX, holds exactly the orders placed there (not shop B's), with amounts, statuses and
// a pseudonymous buyer, and the CSV starts with a byte-order mark.
func TestOrdersReportListsThePlacedOrders(t *testing.T) {
	forEach(t, func(t *testing.T, w *world) {
		placed := []string{w.place(t, 2, true), w.place(t, 1, false), w.place(t, 3, true)}
		w.s.App.Reports.PageSize = 2 // the orders come in two pages
		owner := w.a.Owner.AccessToken
		csvRep := w.request(t, owner, map[string]any{"kind": "ORDERS", "format": "CSV"})
		if csvRep.Status != "QUEUED" || csvRep.DownloadURL != nil {
			t.Fatalf("a new report: %+v", csvRep)
		}
		xlsxRep := w.request(t, owner, map[string]any{"kind": "ORDERS", "format": "XLSX"})
		if n := w.run(t); n != 2 {
			t.Fatalf("the job built %d reports, want 2", n)
		}
		csvRep = w.get(t, owner, csvRep.ID)
		if csvRep.Status != "READY" || csvRep.RowCount == nil || *csvRep.RowCount != 3 || csvRep.DownloadURL == nil ||
			csvRep.FileName != "orders-"+w.today()+"-"+w.today()+".csv" {
			t.Fatalf("ready report: %+v", csvRep)
		}
		code, body := download(t, *csvRep.DownloadURL)
		if code != http.StatusOK || !bytes.HasPrefix(body, []byte("\uFEFF")) || int64(len(body)) != int64(*csvRep.FileSize) {
			t.Fatalf("download: %d, %d bytes (size %d): %.80q", code, len(body), *csvRep.FileSize, body)
		}
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		client, ctx := w.s.Client()
		check := func(rows [][]string) {
			t.Helper()
			if len(rows) != 4 || rows[0][0] != "order_number" || rows[0][12] != "currency" {
				t.Fatalf("rows: %q", rows)
			}
			var numbers []string
			for _, r := range rows[1:] {
				numbers = append(numbers, r[0])
				o, err := client.Order.Query().Where(order.Number(r[0])).Only(ctx)
				if err != nil {
					t.Fatal(err)
				}
				items := 0
				for _, it := range o.QueryItems().AllX(ctx) {
					items += it.Quantity
				}
				want := []string{o.Number, w.a.ID, o.CreatedAt.In(reports.Shanghai).Format(time.DateTime), "", string(o.Status),
					"buyer-1", strconv.Itoa(items), yuan(o.Subtotal), yuan(o.Discount + o.ShippingDiscount), yuan(o.ShippingFee),
					yuan(o.Total), yuan(o.RefundedAmount), "CNY"}
				if o.PaidAt != nil {
					want[3] = o.PaidAt.In(reports.Shanghai).Format(time.DateTime)
				}
				if !slices.Equal(r, want) {
					t.Errorf("row %q, want %q", r, want)
				}
			}
			slices.Sort(numbers)
			want := slices.Clone(placed)
			slices.Sort(want)
			if !slices.Equal(numbers, want) {
				t.Fatalf("orders %v, want %v", numbers, want)
			}
		}
		check(rows)
		if rows[2][4] != "PENDING_PAYMENT" || rows[1][3] == "" || rows[2][3] != "" || rows[1][7] != "51.00" {
			t.Fatalf("the unpaid order's row: %q", rows)
		}

		xlsxRep = w.get(t, owner, xlsxRep.ID)
		if xlsxRep.Status != "READY" || xlsxRep.DownloadURL == nil {
			t.Fatalf("xlsx: %+v", xlsxRep)
		}
		code, body = download(t, *xlsxRep.DownloadURL)
		if code != http.StatusOK {
			t.Fatalf("xlsx download: %d %s", code, body)
		}
		f, err := excelize.OpenReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		xrows, err := f.GetRows("Sheet1")
		if err != nil {
			t.Fatal(err)
		}
		check(xrows)
	})
}

// TestSalesAndSettlementsReports: the SALES report has one row for the tea today with
// the units and amounts of the paid orders only; SETTLEMENTS one row per paid order.
func TestSalesAndSettlementsReports(t *testing.T) {
	forEach(t, func(t *testing.T, w *world) {
		w.place(t, 2, true)
		w.place(t, 1, false)
		w.place(t, 3, true)
		owner := w.a.Owner.AccessToken
		sales := w.request(t, owner, map[string]any{"kind": "SALES", "format": "CSV"})
		settle := w.request(t, owner, map[string]any{"kind": "SETTLEMENTS", "format": "CSV"})
		w.run(t)
		read := func(id string) [][]string {
			r := w.get(t, owner, id)
			if r.Status != "READY" {
				t.Fatalf("report: %+v", r)
			}
			_, body := download(t, *r.DownloadURL)
			rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF")))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			return rows
		}
		want := [][]string{
			{"date", "merchant_id", "product_id", "product", "units", "gross", "discounts", "refunds", "net", "currency"},
			{w.today(), w.a.ID, strconv.Itoa(w.teaPID), "西湖龙井 Longjing tea", "5", "127.50", "0.00", "0.00", "127.50", "CNY"},
		}
		if rows := read(sales.ID); !slices.EqualFunc(rows, want, slices.Equal) {
			t.Fatalf("sales rows %q, want %q", rows, want)
		}
		rows := read(settle.ID)
		if len(rows) != 3 || rows[0][12] != "merchant_net" {
			t.Fatalf("settlement rows %q", rows)
		}
		for _, r := range rows[1:] {
			if r[8] != r[12] || r[9] != "0.00" || r[10] != "0.00" { // no refund, platform discount or commission
				t.Errorf("settlement row %q: net should be what the buyer paid", r)
			}
		}
	})
}

// TestReportsArePrivate: shop B cannot ask for, read, list or download shop A's reports;
// a buyer cannot ask for any; an unsigned URL serves nothing; admins read any and ask for
// the platform's, which shops cannot see.
func TestReportsArePrivate(t *testing.T) {
	forEach(t, func(t *testing.T, w *world) {
		w.place(t, 1, true)
		a, b := w.a.Owner.AccessToken, w.b.Owner.AccessToken
		mine := w.request(t, a, map[string]any{"kind": "ORDERS", "format": "CSV"})
		w.run(t)
		in := func(mid *string) map[string]any {
			m := map[string]any{"kind": "ORDERS", "format": "CSV", "from": w.today(), "to": w.today(), "idempotencyKey": w.key("x")}
			if mid != nil {
				m["merchantID"] = *mid
			}
			return m
		}
		wantCode(t, w.s.Query(b, requestOp, map[string]any{"i": in(&w.a.ID)}), "FORBIDDEN", "")
		wantCode(t, w.s.Query(w.buyer.AccessToken, requestOp, map[string]any{"i": in(nil)}), "FORBIDDEN", "")
		wantCode(t, w.s.Query(w.buyer.AccessToken, requestOp, map[string]any{"i": in(&w.a.ID)}), "FORBIDDEN", "")
		wantCode(t, w.s.Query("", requestOp, map[string]any{"i": in(nil)}), "UNAUTHENTICATED", "")
		for _, tok := range []string{b, w.buyer.AccessToken} {
			wantCode(t, w.s.Query(tok, `query($id: ID!) { report(id: $id) { id downloadURL } }`, map[string]any{"id": mine.ID}), "NOT_FOUND", "id")
		}
		var list struct{ Reports []rep }
		w.must(t, b, `{ reports { id } }`, nil, &list)
		if len(list.Reports) != 0 {
			t.Fatalf("shop B lists %v", list.Reports)
		}
		wantCode(t, w.s.Query(b, `query($m: ID) { reports(merchantID: $m) { id } }`, map[string]any{"m": w.a.ID}), "FORBIDDEN", "")
		wantCode(t, w.s.Query(w.buyer.AccessToken, `{ reports { id } }`, nil), "FORBIDDEN", "")

		got := w.get(t, w.admin, mine.ID)
		if got.DownloadURL == nil || got.MerchantID == nil || *got.MerchantID != w.a.ID {
			t.Fatalf("the admin's view: %+v", got)
		}
		// Without its signature, or with another file's, the address serves nothing.
		url := *got.DownloadURL
		plain := url[:bytes.IndexByte([]byte(url), '?')]
		if code, _ := download(t, plain); code != http.StatusNotFound {
			t.Fatalf("unsigned download: %d", code)
		}
		if code, _ := download(t, plain+"x"+url[len(plain):]); code != http.StatusForbidden {
			t.Fatalf("download with another key's signature: %d", code)
		}
		// The signed URL expires.
		w.clock.Advance(w.s.Config.Upload.URLTTL + time.Minute)
		if code, _ := download(t, url); code != http.StatusForbidden {
			t.Fatalf("expired download: %d", code)
		}
		// The clock moved past the access tokens' lifetime too.
		w.admin, a = w.s.Login("admin@example.com").AccessToken, w.s.Login("tea-house-owner@example.com").AccessToken

		platform := w.request(t, w.admin, map[string]any{"kind": "SALES", "format": "CSV"})
		if platform.MerchantID != nil {
			t.Fatalf("platform report: %+v", platform)
		}
		wantCode(t, w.s.Query(a, `query($id: ID!) { report(id: $id) { id } }`, map[string]any{"id": platform.ID}), "NOT_FOUND", "id")
		w.must(t, a, `{ reports { id } }`, nil, &list)
		if len(list.Reports) != 1 || list.Reports[0].ID != mine.ID {
			t.Fatalf("shop A lists %v", list.Reports)
		}
	})
}

// TestBadPeriodsAndKeys: malformed, backwards, too long and future periods and empty
// keys are BAD_USER_INPUT naming the field.
func TestBadPeriodsAndKeys(t *testing.T) {
	forEach(t, func(t *testing.T, w *world) {
		today := w.clock.Now().In(reports.Shanghai)
		d := func(days int) string { return today.AddDate(0, 0, days).Format(time.DateOnly) }
		for _, c := range []struct {
			name, from, to, key, field string
		}{
			{"malformed from", "2026/01/01", d(-1), "k1", "from"},
			{"malformed to", d(-2), "yesterday", "k2", "to"},
			{"from after to", d(-1), d(-2), "k3", "to"},
			{"longer than 366 days", d(-400), d(-1), "k4", "to"},
			{"in the future", d(-1), d(1), "k5", "to"},
			{"empty key", d(-1), d(-1), " ", "idempotencyKey"},
		} {
			r := w.s.Query(w.a.Owner.AccessToken, requestOp, map[string]any{"i": map[string]any{
				"kind": "ORDERS", "format": "CSV", "from": c.from, "to": c.to, "idempotencyKey": c.key}})
			if r.Code() != "BAD_USER_INPUT" || !bytes.Contains([]byte(r.Field()), []byte(c.field)) {
				t.Errorf("%s: got %q on %q: %s", c.name, r.Code(), r.Field(), r.Raw)
			}
		}
		// 366 days ending today is allowed.
		w.request(t, w.a.Owner.AccessToken, map[string]any{"kind": "ORDERS", "format": "CSV", "from": d(-365), "to": d(0)})
	})
}

// TestSameKeySameReport: asking again with the same key returns the first report, even
// with other fields; another key makes another.
func TestSameKeySameReport(t *testing.T) {
	forEach(t, func(t *testing.T, w *world) {
		a := w.a.Owner.AccessToken
		first := w.request(t, a, map[string]any{"kind": "ORDERS", "format": "CSV", "idempotencyKey": "weekly-1"})
		again := w.request(t, a, map[string]any{"kind": "SALES", "format": "XLSX", "idempotencyKey": "weekly-1"})
		other := w.request(t, a, map[string]any{"kind": "ORDERS", "format": "CSV", "idempotencyKey": "weekly-2"})
		if again.ID != first.ID || again.Kind != "ORDERS" || other.ID == first.ID {
			t.Fatalf("first %+v, again %+v, other %+v", first, again, other)
		}
	})
}

// TestScheduleMakesOneReportPerPeriod: a weekly schedule makes nothing while its first
// week runs, then one report for it however often the job runs, mails its owner once, and
// makes the next week's a week later; deleted, it makes no more.
func TestScheduleMakesOneReportPerPeriod(t *testing.T) {
	forEach(t, func(t *testing.T, w *world) {
		w.place(t, 1, true)
		a := w.a.Owner.AccessToken
		var made struct {
			CreateReportSchedule struct{ ID, Cadence, MerchantID string }
		}
		w.must(t, a, `mutation { createReportSchedule(input: {kind: ORDERS, format: CSV, cadence: WEEKLY}) { id cadence merchantID } }`, nil, &made)
		if made.CreateReportSchedule.MerchantID != w.a.ID {
			t.Fatalf("schedule: %+v", made)
		}
		scheduled := func() []*struct{ id int } {
			client, ctx := w.s.Client()
			rs := client.Report.Query().Where(report.ScheduleIDNotNil()).AllX(ctx)
			out := make([]*struct{ id int }, len(rs))
			for i, r := range rs {
				out[i] = &struct{ id int }{r.ID}
				if r.Status != report.StatusREADY {
					t.Fatalf("scheduled report %d is %s", r.ID, r.Status)
				}
			}
			return out
		}
		w.run(t)
		if n := len(scheduled()); n != 0 {
			t.Fatalf("%d reports before the first week ended", n)
		}
		w.clock.Advance(7 * 24 * time.Hour)
		w.run(t)
		w.run(t)
		if n := len(scheduled()); n != 1 {
			t.Fatalf("%d reports after one week, want 1", n)
		}
		ready := func() int {
			n := 0
			for _, m := range w.s.MailTo(t, "tea-house-owner@example.com") {
				if bytes.Contains([]byte(m.Subject), []byte("is ready")) {
					n++
				}
			}
			return n
		}
		if n := ready(); n != 1 {
			t.Fatalf("%d mails that the report is ready, want 1", n)
		}
		w.clock.Advance(7 * 24 * time.Hour)
		w.run(t)
		if n := len(scheduled()); n != 2 || ready() != 2 {
			t.Fatalf("%d reports after two weeks, want 2; %d mails", n, ready())
		}
		// The clock moved past the access tokens' lifetime.
		a = w.s.Login("tea-house-owner@example.com").AccessToken
		wantCode(t, w.s.Query(w.s.Login("coffee-house-owner@example.com").AccessToken, `mutation($id: ID!) { deleteReportSchedule(id: $id) }`,
			map[string]any{"id": made.CreateReportSchedule.ID}), "NOT_FOUND", "id")
		w.must(t, a, `mutation($id: ID!) { deleteReportSchedule(id: $id) }`, map[string]any{"id": made.CreateReportSchedule.ID}, nil)
		var list struct{ ReportSchedules []struct{ ID string } }
		w.must(t, a, `{ reportSchedules { id } }`, nil, &list)
		if len(list.ReportSchedules) != 0 {
			t.Fatalf("schedules after delete: %v", list)
		}
		w.clock.Advance(7 * 24 * time.Hour)
		w.run(t)
		if n := len(scheduled()); n != 2 {
			t.Fatalf("%d reports after the schedule was deleted, want 2", n)
		}
	})
}

// TestStuckReportsAreReclaimed: a RUNNING report whose lease passed (its replica died) is
// built by the next run; one claimed MaxAttempts times FAILS instead.
func TestStuckReportsAreReclaimed(t *testing.T) {
	forEach(t, func(t *testing.T, w *world) {
		a := w.a.Owner.AccessToken
		stuck := w.request(t, a, map[string]any{"kind": "ORDERS", "format": "CSV"})
		dead := w.request(t, a, map[string]any{"kind": "ORDERS", "format": "CSV"})
		client, ctx := w.s.Client()
		lease := w.clock.Now().Add(time.Minute)
		id := func(s string) int { n, _ := strconv.Atoi(s); return n }
		client.Report.UpdateOneID(id(stuck.ID)).SetStatus(report.StatusRUNNING).SetAttempts(1).SetLeaseUntil(lease).ExecX(ctx)
		client.Report.UpdateOneID(id(dead.ID)).SetStatus(report.StatusRUNNING).SetAttempts(reports.MaxAttempts).SetLeaseUntil(lease).ExecX(ctx)
		if n := w.run(t); n != 0 {
			t.Fatalf("built %d reports under a live lease", n)
		}
		w.clock.Advance(2 * time.Minute)
		w.run(t)
		if r := client.Report.GetX(ctx, id(stuck.ID)); r.Status != report.StatusREADY || r.Attempts != 2 {
			t.Fatalf("reclaimed report: %s after %d attempts", r.Status, r.Attempts)
		}
		if r := w.get(t, a, dead.ID); r.Status != "FAILED" || r.Error == nil || r.DownloadURL != nil {
			t.Fatalf("given-up report: %+v", r)
		}
	})
}

// TestConcurrentRequestsWithOneKey: many requests with one key at once make one report,
// and every request gets it.
func TestConcurrentRequestsWithOneKey(t *testing.T) {
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := apitest.NewClock(time.Now())
			w := newWorld(t, apitest.NewForUploads(t, d.URL(t), clock), clock)
			for round := range apitest.RaceRounds(d, 15) {
				key := fmt.Sprintf("race-%d", round)
				vars := map[string]any{"i": map[string]any{"kind": "ORDERS", "format": "CSV", "from": w.today(), "to": w.today(), "idempotencyKey": key}}
				racers := make([]apitest.Racer, 6)
				for i := range racers {
					racers[i] = w.s.Request(w.a.Owner.AccessToken, requestOp, vars)
				}
				outs := apitest.Race(racers...)
				if n := apitest.Successes(t, "requestReport", outs); n != len(racers) {
					t.Fatalf("round %d: %d of %d succeeded", round, n, len(racers))
				}
				ids := map[string]bool{}
				for _, o := range outs {
					var out struct{ RequestReport rep }
					o.R.Decode(t, &out)
					ids[out.RequestReport.ID] = true
				}
				client, ctx := w.s.Client()
				if n := client.Report.Query().Where(report.IdempotencyKey(key)).CountX(ctx); n != 1 || len(ids) != 1 {
					t.Fatalf("round %d: %d reports stored, %d ids returned", round, n, len(ids))
				}
			}
		})
	}
}

// TestConcurrentClaimsBuildEachReportOnce: two replicas' jobs running at once build every
// queued report exactly once.
func TestConcurrentClaimsBuildEachReportOnce(t *testing.T) {
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := apitest.NewClock(time.Now())
			w := newWorld(t, apitest.NewForUploads(t, d.URL(t), clock), clock)
			w.place(t, 1, true)
			client, ctx := w.s.Client()
			// The second replica: its own service on the same database and store.
			other := reports.New(w.s.App.Uploads, nil, w.s.App.DB.Client, nil)
			other.Now = clock.Now
			for round := range apitest.RaceRounds(d, 15) {
				const n = 4
				for range n {
					w.request(t, w.a.Owner.AccessToken, map[string]any{"kind": "ORDERS", "format": "CSV"})
				}
				before := w.s.App.Reports.Built() + other.Built()
				var wg sync.WaitGroup
				var got [2]int
				var errs [2]error
				start := make(chan struct{})
				for i, svc := range []*reports.Service{w.s.App.Reports, other} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						got[i], errs[i] = svc.RunOnce(context.Background(), w.s.App.DB.Client)
					}()
				}
				close(start)
				wg.Wait()
				if errs[0] != nil || errs[1] != nil {
					t.Fatalf("round %d: %v, %v", round, errs[0], errs[1])
				}
				if got[0]+got[1] != n || w.s.App.Reports.Built()+other.Built()-before != n {
					t.Fatalf("round %d: built %d + %d, want %d in all", round, got[0], got[1], n)
				}
				for _, r := range client.Report.Query().AllX(ctx) {
					if r.Status != report.StatusREADY || r.Attempts != 1 {
						t.Fatalf("round %d: report %d is %s after %d claims", round, r.ID, r.Status, r.Attempts)
					}
				}
			}
		})
	}
}

// TestScheduleRefusals: a buyer, and a shop naming another shop, are FORBIDDEN; past
// MaxSchedules a shop's next schedule is INVALID_STATE; an unknown schedule is NOT_FOUND.
func TestScheduleRefusals(t *testing.T) {
	forEach(t, func(t *testing.T, w *world) {
		const create = `mutation($m: ID) { createReportSchedule(input: {merchantID: $m, kind: SALES, format: XLSX, cadence: MONTHLY}) { id } }`
		wantCode(t, w.s.Query(w.buyer.AccessToken, create, nil), "FORBIDDEN", "")
		wantCode(t, w.s.Query(w.b.Owner.AccessToken, create, map[string]any{"m": w.a.ID}), "FORBIDDEN", "")
		for range reports.MaxSchedules {
			w.must(t, w.a.Owner.AccessToken, create, nil, nil)
		}
		wantCode(t, w.s.Query(w.a.Owner.AccessToken, create, nil), "INVALID_STATE", "")
		// Another shop's count is its own.
		w.must(t, w.b.Owner.AccessToken, create, nil, nil)
		wantCode(t, w.s.Query(w.a.Owner.AccessToken, `mutation { deleteReportSchedule(id: "999999999") }`, nil), "NOT_FOUND", "id")
	})
}

// TestScheduleCapHoldsUnderARace: with two places left under the cap, six owners' creates
// at once make exactly two schedules; the others are refused with INVALID_STATE. Over
// HTTP, on SQLite and on MySQL at both isolation levels, several rounds.
func TestScheduleCapHoldsUnderARace(t *testing.T) {
	const create = `mutation { createReportSchedule(input: {kind: SALES, format: CSV, cadence: WEEKLY}) { id } }`
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			clock := apitest.NewClock(time.Now())
			w := newWorld(t, apitest.NewForUploads(t, d.URL(t), clock), clock)
			owner := w.a.Owner.AccessToken
			client, ctx := w.s.Client()
			count := func() int {
				return client.ReportSchedule.Query().Where(reportschedule.MerchantID(w.a.IntID)).CountX(ctx)
			}
			for round := range apitest.RaceRounds(d, 5) {
				client.ReportSchedule.Delete().Where(reportschedule.MerchantID(w.a.IntID)).ExecX(ctx)
				for range reports.MaxSchedules - 2 {
					w.must(t, owner, create, nil, nil)
				}
				racers := make([]apitest.Racer, 6)
				for i := range racers {
					racers[i] = w.s.Request(owner, create, nil)
				}
				made := 0
				for _, o := range apitest.Race(racers...) {
					switch o.Code() {
					case "":
						made++
					case "INVALID_STATE":
					default:
						t.Errorf("round %d: unexpected outcome %s", round, o)
					}
				}
				if n := count(); made != 2 || n != reports.MaxSchedules {
					t.Fatalf("round %d: %d creates succeeded and %d schedules are stored, want 2 and %d",
						round, made, n, reports.MaxSchedules)
				}
			}
		})
	}
}
