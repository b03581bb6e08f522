package reports_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/report"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// BenchmarkOrdersCSV builds the ORDERS CSV of a period holding BENCH_REPORT_ORDERS orders
// (default 2,000; two lines each) of one shop on SQLite (BENCH_REPORT_DB=mysql for
// MariaDB): each op is a claim, the paged reads, the file and the store's put.
func BenchmarkOrdersCSV(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("BENCH_REPORT_ORDERS")); err == nil && v > 0 {
		n = v
	}
	url := testdb.SQLiteURL(b)
	if os.Getenv("BENCH_REPORT_DB") == "mysql" {
		url = testdb.MySQLURL(b)
	}
	clock := apitest.NewClock(time.Now())
	s := apitest.NewForUploads(b, url, clock)
	m := s.NewMerchant(b, "bench-shop", merchant.StatusACTIVE)
	buyer := s.Register("bench-buyer@example.com", "Bench buyer")
	uid, _ := strconv.Atoi(buyer.UserID)
	client, ctx := s.Client()
	start := clock.Now().Add(-time.Hour).UTC()
	for done := 0; done < n; done += 500 {
		size := min(500, n-done)
		cs := make([]*ent.OrderCreate, size)
		for i := range cs {
			k := done + i
			cs[i] = client.Order.Create().SetNumber(fmt.Sprintf("B%010d", k)).SetCheckoutID(fmt.Sprintf("c%d", k)).
				SetCustomerID(uid).SetMerchantID(m.IntID).SetSubtotal(5100).SetShippingFee(1000).SetTotal(6100).
				SetCreatedAt(start.Add(time.Duration(k) * time.Millisecond))
		}
		orders, err := client.Order.CreateBulk(cs...).Save(ctx)
		if err != nil {
			b.Fatal(err)
		}
		items := make([]*ent.OrderItemCreate, 0, 2*size)
		for _, o := range orders {
			for j := range 2 {
				items = append(items, client.OrderItem.Create().SetOrderID(o.ID).SetTitle("西湖龙井 Longjing tea").
					SetSku(fmt.Sprintf("tea-%d", j)).SetUnitPrice(2550).SetQuantity(1).SetLineTotal(2550))
			}
		}
		if err := client.OrderItem.CreateBulk(items...).Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	day := clock.Now()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		r := client.Report.Create().SetMerchantID(m.IntID).SetRequestedBy(uid).SetKind(schematype.ReportOrders).
			SetFormat(schematype.ReportCSV).SetPeriodStart(day.Add(-48 * time.Hour)).SetPeriodEnd(day.Add(time.Hour)).
			SetIdempotencyKey(fmt.Sprintf("bench-%d", i)).SaveX(ctx)
		b.StartTimer()
		if _, err := s.App.Reports.RunOnce(context.Background(), s.App.DB.Client); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		got := client.Report.GetX(ctx, r.ID)
		if got.Status != report.StatusREADY || *got.RowCount != n {
			b.Fatalf("report %s with %v rows, want %d", got.Status, got.RowCount, n)
		}
		b.ReportMetric(float64(*got.FileSize), "file-bytes")
		b.StartTimer()
	}
}
