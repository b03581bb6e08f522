package seed_test

import (
	"context"
	"testing"

	"github.com/xiadan/xiadan/ent/aftersalesrequest"
	"github.com/xiadan/xiadan/ent/refund"
	"github.com/xiadan/xiadan/internal/viewer"
)

func TestDemoAfterSalesInSeveralStates(t *testing.T) {
	t.Parallel()
	client, sum := demo(t)
	ctx := viewer.SystemContext(context.Background())
	rs, err := client.AfterSalesRequest.Query().WithEvents().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != sum.AfterSales || len(rs) == 0 {
		t.Fatalf("%d requests, the summary says %d", len(rs), sum.AfterSales)
	}
	seen := map[aftersalesrequest.Status]bool{}
	for _, r := range rs {
		seen[r.Status] = true
		if len(r.Edges.Events) == 0 {
			t.Errorf("request %s has no timeline", r.Number)
		}
	}
	for _, st := range []aftersalesrequest.Status{aftersalesrequest.StatusREQUESTED, aftersalesrequest.StatusPROPOSED,
		aftersalesrequest.StatusESCALATED, aftersalesrequest.StatusAWAITING_RETURN, aftersalesrequest.StatusRETURN_SHIPPED,
		aftersalesrequest.StatusREFUNDED, aftersalesrequest.StatusEXCHANGED} {
		if !seen[st] {
			t.Errorf("no demo request is %s", st)
		}
	}
	if n, err := client.Refund.Query().Where(refund.AfterSalesRequestIDNotNil()).Count(ctx); err != nil || n != 1 {
		t.Errorf("%d after-sales refunds (%v), want the one REFUNDED request's", n, err)
	}
}
