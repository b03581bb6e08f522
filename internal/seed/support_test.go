package seed_test

import (
	"context"
	"testing"

	"github.com/xiadan/xiadan/ent/helparticle"
	"github.com/xiadan/xiadan/ent/ticket"
	"github.com/xiadan/xiadan/internal/helpcentre"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The demo shows customer service: tickets in each state, and a searchable help centre in
// both languages with a draft the public does not see.
func TestDemoCustomerService(t *testing.T) {
	t.Parallel()
	client, _ := demo(t)
	ctx := viewer.SystemContext(context.Background())
	ts, err := client.Ticket.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rated, answered, fresh, escalated int
	for _, tk := range ts {
		switch {
		case tk.Rating != nil && tk.Status == ticket.StatusCLOSED:
			rated++
		case tk.Status == ticket.StatusANSWERED:
			answered++
		case tk.Escalated:
			escalated++
		case tk.Status == ticket.StatusOPEN:
			fresh++
		}
	}
	if len(ts) != 4 || rated != 1 || answered != 1 || fresh != 1 || escalated != 1 {
		t.Fatalf("%d tickets: rated %d, answered %d, new %d, escalated %d", len(ts), rated, answered, fresh, escalated)
	}
	public := context.Background() // an anonymous reader
	drafts, err := client.HelpArticle.Query().Where(helparticle.StatusEQ(helparticle.StatusDRAFT)).Count(ctx)
	if err != nil || drafts != 1 {
		t.Fatalf("drafts: %d %v", drafts, err)
	}
	for q, want := range map[string]string{"退款": "如何申请退款", "refund": "How to request a refund", "发货": "多久能收到货？"} {
		found, err := helpcentre.Search(public, client, q, nil, nil)
		if err != nil || len(found) == 0 || found[0].Title != want {
			t.Errorf("search %q: %v %v", q, found, err)
		}
	}
}
