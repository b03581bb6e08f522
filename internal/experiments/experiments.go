// Package experiments runs A/B experiments on promotions: admins define an experiment
// with weighted arms (each with an opaque payload, such as the coupon template to offer);
// a signed-in user is assigned an arm deterministically (Assign) and their first look is
// recorded as an exposure; orders they place while it runs are recorded as conversions by
// a pricing.Provider at StageRecord; Result compares the arms with 95% intervals
// (docs/PROMOTIONS-growth.md). Coupons target arms through the AudienceChecker
// ("experiment:<key>/<arm>").
package experiments

import (
	"context"
	"regexp"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/experiment"
	"github.com/xiadan/xiadan/ent/experimentarm"
	"github.com/xiadan/xiadan/ent/experimentexposure"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Service runs experiments.
type Service struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// New returns a service on the wall clock.
func New() *Service { return &Service{} }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// keyPattern is what experiment and arm keys look like: they appear in audience names
// ("experiment:<key>/<arm>"), so no slash or colon.
var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ArmInput is one arm of a new experiment.
type ArmInput struct {
	Key     string
	Weight  int
	Payload map[string]any
}

// CreateInput is an admin's new experiment, created as DRAFT.
type CreateInput struct {
	Key, Name string
	StartsAt  *time.Time
	EndsAt    *time.Time
	// ControlArm is the arm the others are compared with; the first arm when nil.
	ControlArm *string
	Arms       []*ArmInput
}

// View is an experiment as the admin API shows it.
type View struct {
	ID         int
	Key, Name  string
	Status     experiment.Status
	StartsAt   time.Time
	EndsAt     *time.Time
	ControlArm string
	Arms       []*ArmView
}

// ArmView is an arm as the API shows it.
type ArmView struct {
	Key     string
	Weight  int
	Payload map[string]any
}

func viewOf(e *ent.Experiment) *View {
	v := &View{ID: e.ID, Key: e.Key, Name: e.Name, Status: e.Status, StartsAt: e.StartsAt, EndsAt: e.EndsAt, ControlArm: e.ControlArm}
	for _, a := range e.Edges.Arms {
		v.Arms = append(v.Arms, &ArmView{Key: a.Key, Weight: a.Weight, Payload: a.Payload})
	}
	return v
}

func arms(e *ent.Experiment) []Arm {
	out := make([]Arm, 0, len(e.Edges.Arms))
	for _, a := range e.Edges.Arms {
		out = append(out, Arm{a.Key, a.Weight})
	}
	return out
}

func requireAdmin(ctx context.Context) error {
	v := viewer.FromContext(ctx)
	if !v.Authenticated() {
		return apperror.New(apperror.Unauthenticated, "sign in to do this")
	}
	if !v.IsAdmin() {
		return apperror.New(apperror.Forbidden, "experiments are run by admins")
	}
	return nil
}

// Create records a DRAFT experiment with its arms, in db's transaction. Keys are
// lower-case letters, digits, '-' and '_'; there are 2 to 10 arms of weight 1 to 10000.
func (s *Service) Create(ctx context.Context, db *ent.Client, in CreateInput) (*View, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if !keyPattern.MatchString(in.Key) {
		return nil, apperror.BadInput("key", "must be 1 to 64 lower-case letters, digits, '-' or '_'")
	}
	if in.Name == "" || len([]rune(in.Name)) > 200 {
		return nil, apperror.BadInput("name", "must be 1 to 200 characters")
	}
	if len(in.Arms) < 2 || len(in.Arms) > 10 {
		return nil, apperror.BadInput("arms", "must be 2 to 10 arms")
	}
	seen := map[string]bool{}
	for i, a := range in.Arms {
		if a == nil || !keyPattern.MatchString(a.Key) || len(a.Key) > 32 {
			return nil, apperror.BadInput(fieldAt("arms", i, "key"), "must be 1 to 32 lower-case letters, digits, '-' or '_'")
		}
		if seen[a.Key] {
			return nil, apperror.BadInput(fieldAt("arms", i, "key"), "is used by another arm")
		}
		seen[a.Key] = true
		if a.Weight < 1 || a.Weight > 10000 {
			return nil, apperror.BadInput(fieldAt("arms", i, "weight"), "must be 1 to 10000")
		}
	}
	control := in.Arms[0].Key
	if in.ControlArm != nil {
		if !seen[*in.ControlArm] {
			return nil, apperror.BadInput("controlArm", "must be the key of one of the arms")
		}
		control = *in.ControlArm
	}
	starts := s.now()
	if in.StartsAt != nil {
		starts = in.StartsAt.UTC()
	}
	if in.EndsAt != nil && !in.EndsAt.After(starts) {
		return nil, apperror.BadInput("endsAt", "must be after startsAt")
	}
	sys := viewer.SystemContext(ctx)
	if n, err := db.Experiment.Query().Where(experiment.Key(in.Key)).Count(sys); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, apperror.ConflictOn("key", "an experiment with this key exists")
	}
	e, err := db.Experiment.Create().SetKey(in.Key).SetName(in.Name).SetStartsAt(starts).
		SetNillableEndsAt(utcPtr(in.EndsAt)).SetControlArm(control).Save(sys)
	if ent.IsConstraintError(err) { // the same key created at the same moment
		return nil, apperror.ConflictOn("key", "an experiment with this key exists")
	}
	if err != nil {
		return nil, err
	}
	bulk := make([]*ent.ExperimentArmCreate, len(in.Arms))
	for i, a := range in.Arms {
		p := a.Payload
		if p == nil {
			p = map[string]any{}
		}
		bulk[i] = db.ExperimentArm.Create().SetExperimentID(e.ID).SetKey(a.Key).SetPosition(i).SetWeight(a.Weight).SetPayload(p)
	}
	if e.Edges.Arms, err = db.ExperimentArm.CreateBulk(bulk...).Save(sys); err != nil {
		return nil, err
	}
	return viewOf(e), nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func fieldAt(list string, i int, name string) string {
	return list + "[" + itoa(i) + "]." + name
}

// SetStatus moves experiment key DRAFT → RUNNING or RUNNING → STOPPED (a stopped one
// never runs again: its arms' users would be re-exposed to a changed world). The move is a
// conditional update on the status read, so of two admins one wins and the other gets
// INVALID_STATE.
func (s *Service) SetStatus(ctx context.Context, db *ent.Client, key string, to experiment.Status) (*View, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	e, err := s.load(sys, db, key)
	if err != nil {
		return nil, err
	}
	var from experiment.Status
	switch to {
	case experiment.StatusRUNNING:
		from = experiment.StatusDRAFT
	case experiment.StatusSTOPPED:
		from = experiment.StatusRUNNING
	default:
		return nil, apperror.BadInput("status", "must be RUNNING or STOPPED")
	}
	up := db.Experiment.Update().Where(experiment.ID(e.ID), experiment.StatusEQ(from)).SetStatus(to)
	if to == experiment.StatusSTOPPED && (e.EndsAt == nil || e.EndsAt.After(s.now())) {
		up.SetEndsAt(s.now())
	}
	n, err := up.Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		cur, err := s.load(sys, db, key)
		if err != nil {
			return nil, err
		}
		return nil, apperror.WrongState(string(cur.Status), "experiment %q cannot become %s", key, to)
	}
	e, err = s.load(sys, db, key)
	if err != nil {
		return nil, err
	}
	return viewOf(e), nil
}

// load reads experiment key with its arms in position order; NOT_FOUND when there is none.
func (s *Service) load(ctx context.Context, db *ent.Client, key string) (*ent.Experiment, error) {
	e, err := db.Experiment.Query().Where(experiment.Key(key)).
		WithArms(func(q *ent.ExperimentArmQuery) { q.Order(experimentarm.ByPosition()) }).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("no experiment %q", key)
	}
	return e, err
}

// Get returns experiment key to an admin.
func (s *Service) Get(ctx context.Context, db *ent.Client, key string) (*View, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	e, err := s.load(viewer.SystemContext(ctx), db, key)
	if err != nil {
		return nil, err
	}
	return viewOf(e), nil
}

// List returns the experiments, newest first, to an admin.
func (s *Service) List(ctx context.Context, db *ent.Client, status *experiment.Status) ([]*View, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	q := db.Experiment.Query().WithArms(func(q *ent.ExperimentArmQuery) { q.Order(experimentarm.ByPosition()) }).
		Order(experiment.ByID(sql.OrderDesc())).Limit(200)
	if status != nil {
		q.Where(experiment.StatusEQ(*status))
	}
	es, err := q.All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]*View, len(es))
	for i, e := range es {
		out[i] = viewOf(e)
	}
	return out, nil
}

// running reports whether e records exposures and conversions at now.
func running(e *ent.Experiment, now time.Time) bool {
	return e.Status == experiment.StatusRUNNING && !now.Before(e.StartsAt) && (e.EndsAt == nil || now.Before(*e.EndsAt))
}

// Assignment is the signed-in user's arm of an experiment.
type Assignment struct {
	ExperimentKey string
	Arm           string
	Payload       map[string]any
	ExposedAt     time.Time
}

// Expose returns the viewer's arm of the RUNNING experiment key and records their
// exposure the first time: one row per (experiment, user), whatever the number of
// concurrent calls, decided by the unique index — the losers of a race get a duplicate-key
// error, which is the answer "already recorded", and read the winner's row. It is nil
// (null) when the experiment is not running now (not started, ended or stopped): the
// client then shows its default. A DRAFT experiment is NOT_FOUND, like an unknown key.
func (s *Service) Expose(ctx context.Context, db *ent.Client, key string) (*Assignment, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to be assigned")
	}
	sys := viewer.SystemContext(ctx)
	e, err := s.load(sys, db, key)
	if err != nil {
		return nil, err
	}
	if e.Status == experiment.StatusDRAFT {
		return nil, apperror.NotFoundf("no experiment %q", key)
	}
	now := s.now()
	if !running(e, now) {
		return nil, nil
	}
	arm := Assign(e.Key, v.UserID, arms(e))
	err = db.ExperimentExposure.Create().SetExperimentID(e.ID).SetUserID(v.UserID).SetArm(arm).
		SetExposedAt(now.Truncate(time.Microsecond)).Exec(sys)
	if err != nil && !ent.IsConstraintError(err) {
		return nil, err
	}
	// A locking read sees the winner's committed row even inside a REPEATABLE READ
	// transaction whose snapshot predates it.
	x, err := db.ExperimentExposure.Query().
		Where(experimentexposure.ExperimentID(e.ID), experimentexposure.UserID(v.UserID), hooks.LockRows).Only(sys)
	if err != nil {
		return nil, err
	}
	out := &Assignment{ExperimentKey: e.Key, Arm: x.Arm, ExposedAt: x.ExposedAt}
	if i := slices.IndexFunc(e.Edges.Arms, func(a *ent.ExperimentArm) bool { return a.Key == x.Arm }); i >= 0 {
		out.Payload = e.Edges.Arms[i].Payload
	}
	return out, nil
}
