package seed_test

import (
	"context"
	"testing"

	"github.com/xiadan/xiadan/ent/creatorlink"
	"github.com/xiadan/xiadan/ent/experiment"
	"github.com/xiadan/xiadan/internal/seed"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The demo runs an experiment with two arms and has an approved creator with a code and a
// shop that pays commission.
func TestDemoGrowth(t *testing.T) {
	t.Parallel()
	client, _ := demo(t)
	ctx := viewer.SystemContext(context.Background())
	e, err := client.Experiment.Query().Where(experiment.Key(seed.DemoExperimentKey)).WithArms().Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != experiment.StatusRUNNING || len(e.Edges.Arms) != 2 {
		t.Errorf("experiment %+v with %d arms", e, len(e.Edges.Arms))
	}
	l, err := client.CreatorLink.Query().Where(creatorlink.Code(seed.DemoCreatorCode)).WithCreator().Only(ctx)
	if err != nil || l.Edges.Creator.Status != "APPROVED" {
		t.Errorf("creator code: %v, %+v", err, l)
	}
	if n, err := client.CommissionRule.Query().Count(ctx); err != nil || n != 1 {
		t.Errorf("%d commission rules, %v", n, err)
	}
}
