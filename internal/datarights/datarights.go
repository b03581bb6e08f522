// Package datarights answers people's data-rights requests (issue #13 §4): an export of
// everything the platform holds about them, built at once; and the erasure of their
// account, which an admin completes within a month — personal data erased or
// pseudonymised, orders and payments kept, without personal fields, for as long as the
// law requires. docs/DATA-RIGHTS.md lists every personal field and what erasure does to it.
//
// Every decision is a write conditional on the request being PENDING, whose rows-affected
// count decides: of a user cancelling and an admin completing at once, one wins and the
// other gets INVALID_STATE. Requests and decisions are audited (internal/audit).
package datarights

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/datarequest"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/viewer"
)

const (
	// Deadline is how long the platform has to answer a request: one month (GDPR art.
	// 12(3)); PIPL art. 50 asks for timely handling, which this meets.
	Deadline = 30 * 24 * time.Hour
	// ExportReuse is how long a completed export is handed back instead of a new one.
	ExportReuse = 24 * time.Hour
	// MaxReasonRunes bounds the user's and the admin's words.
	MaxReasonRunes = 500
)

// Service answers data-rights requests.
type Service struct {
	// Now is the clock (time.Now when nil); tests set a manual one.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// lockUser locks the caller's user row until the transaction ends (MySQL), so that one
// person's requests are made one at a time: two exports asked at once give one archive,
// two deletion requests one request.
func lockUser(ctx context.Context, db *ent.Client) (*ent.User, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return nil, apperror.New(apperror.Forbidden, "data-rights requests are made signed in with your own account")
	}
	u, err := db.User.Query().Where(user.ID(v.UserID), hooks.LockRows).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, apperror.New(apperror.Forbidden, "data-rights requests are made signed in with your own account")
	}
	return u, err
}

func reasonText(field string, v *string, required bool) (*string, error) {
	if v == nil || strings.TrimSpace(*v) == "" {
		if required {
			return nil, apperror.BadInput(field, "must not be empty")
		}
		return nil, nil
	}
	t := strings.TrimSpace(*v)
	if !utf8.ValidString(t) {
		return nil, apperror.BadInput(field, "is not valid UTF-8")
	}
	if utf8.RuneCountInString(t) > MaxReasonRunes {
		return nil, apperror.BadInput(field, "is longer than %d characters", MaxReasonRunes)
	}
	return &t, nil
}

// RequestExport builds the caller's export at once and returns it as a COMPLETED request
// whose archive only they can read. An export made in the last ExportReuse is returned
// again instead of a new one.
func (s *Service) RequestExport(ctx context.Context, db *ent.Client) (*ent.DataRequest, error) {
	u, err := lockUser(ctx, db)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	now := s.now()
	recent, err := db.DataRequest.Query().Where(datarequest.UserID(u.ID), datarequest.KindEQ(datarequest.KindEXPORT),
		datarequest.StatusIn(datarequest.StatusPENDING, datarequest.StatusCOMPLETED),
		datarequest.CreatedAtGT(now.Add(-ExportReuse))).Order(ent.Desc(datarequest.FieldID)).First(sys)
	if err == nil {
		return recent, nil
	}
	if !ent.IsNotFound(err) {
		return nil, err
	}
	doc, err := buildExport(sys, db, u, now)
	if err != nil {
		return nil, err
	}
	r, err := db.DataRequest.Create().SetUserID(u.ID).SetKind(datarequest.KindEXPORT).
		SetStatus(datarequest.StatusCOMPLETED).SetDueAt(now.Add(Deadline)).SetCompletedAt(now).
		SetArchive(doc).SetCreatedAt(now).SetUpdatedAt(now).Save(sys)
	if err != nil {
		return nil, err
	}
	return r, audit.Record(ctx, db, audit.Entry{Action: "datarights.export", TargetType: "DataRequest", TargetID: r.ID})
}

// RequestErasure asks for the caller's account to be erased: a PENDING request an admin
// completes by its due date. Asking again while one is PENDING returns that one.
func (s *Service) RequestErasure(ctx context.Context, db *ent.Client, reason *string) (*ent.DataRequest, error) {
	why, err := reasonText("reason", reason, false)
	if err != nil {
		return nil, err
	}
	u, err := lockUser(ctx, db)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	pending, err := db.DataRequest.Query().Where(datarequest.UserID(u.ID), datarequest.KindEQ(datarequest.KindERASURE),
		datarequest.StatusEQ(datarequest.StatusPENDING)).First(sys)
	if err == nil {
		return pending, nil
	}
	if !ent.IsNotFound(err) {
		return nil, err
	}
	now := s.now()
	r, err := db.DataRequest.Create().SetUserID(u.ID).SetKind(datarequest.KindERASURE).
		SetNillableReason(why).SetDueAt(now.Add(Deadline)).SetCreatedAt(now).SetUpdatedAt(now).Save(sys)
	if err != nil {
		return nil, err
	}
	return r, audit.Record(ctx, db, audit.Entry{Action: "datarights.request_erasure", TargetType: "DataRequest", TargetID: r.ID,
		Reason: deref(why)})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// notFound is the answer for a request that does not exist or that the caller may not see.
func notFound() error {
	e := apperror.NotFoundf("no such data request")
	e.Field = "id"
	return e
}

// settle moves request id from PENDING to status — only while it is PENDING, and, when
// mine is set, only if it is the caller's — and reports the loser's error: NOT_FOUND for a
// request the caller cannot see, INVALID_STATE with the current status otherwise.
func (s *Service) settle(ctx context.Context, db *ent.Client, id int, mine bool, kinds []datarequest.Kind,
	set func(*ent.DataRequestUpdate)) (*ent.DataRequest, error) {
	v := viewer.FromContext(ctx)
	sys := viewer.SystemContext(ctx)
	cur, err := db.DataRequest.Get(ctx, id)
	if ent.IsNotFound(err) || (err == nil && mine && cur.UserID != v.UserID) {
		return nil, notFound()
	}
	if err != nil {
		return nil, err
	}
	if len(kinds) > 0 && !containsKind(kinds, cur.Kind) {
		return nil, apperror.WrongState(string(cur.Status), "this is done for %s requests only", kinds[0])
	}
	now := s.now()
	up := db.DataRequest.Update().Where(datarequest.ID(id), datarequest.StatusEQ(datarequest.StatusPENDING)).SetUpdatedAt(now)
	set(up)
	n, err := up.Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		cur, err := db.DataRequest.Get(sys, id)
		if err != nil {
			return nil, err
		}
		return nil, apperror.WrongState(string(cur.Status), "the request is %s, no longer PENDING", cur.Status)
	}
	return db.DataRequest.Get(sys, id)
}

func containsKind(ks []datarequest.Kind, k datarequest.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// Cancel withdraws the caller's own PENDING request.
func (s *Service) Cancel(ctx context.Context, db *ent.Client, id int) (*ent.DataRequest, error) {
	now := s.now()
	r, err := s.settle(ctx, db, id, true, nil, func(u *ent.DataRequestUpdate) {
		u.SetStatus(datarequest.StatusCANCELLED).SetCompletedAt(now)
	})
	if err != nil {
		return nil, err
	}
	return r, audit.Record(ctx, db, audit.Entry{Action: "datarights.cancel", TargetType: "DataRequest", TargetID: r.ID})
}

// Reject refuses a PENDING request (an admin), saying why; the user sees the reason.
func (s *Service) Reject(ctx context.Context, db *ent.Client, id int, reason string) (*ent.DataRequest, error) {
	why, err := reasonText("reason", &reason, true)
	if err != nil {
		return nil, err
	}
	v := viewer.FromContext(ctx)
	now := s.now()
	r, err := s.settle(ctx, db, id, false, nil, func(u *ent.DataRequestUpdate) {
		u.SetStatus(datarequest.StatusREJECTED).SetNote(*why).SetHandledBy(v.UserID).SetCompletedAt(now)
	})
	if err != nil {
		return nil, err
	}
	return r, audit.Record(ctx, db, audit.Entry{Action: "datarights.reject", TargetType: "DataRequest", TargetID: r.ID,
		Reason: *why, Details: map[string]any{"user_id": r.UserID, "kind": string(r.Kind)}})
}

// CompleteErasure erases the account of a PENDING ERASURE request (an admin), in the same
// transaction as the decision: see Erase for what happens to each record.
func (s *Service) CompleteErasure(ctx context.Context, db *ent.Client, id int) (*ent.DataRequest, error) {
	v := viewer.FromContext(ctx)
	now := s.now()
	r, err := s.settle(ctx, db, id, false, []datarequest.Kind{datarequest.KindERASURE}, func(u *ent.DataRequestUpdate) {
		u.SetStatus(datarequest.StatusCOMPLETED).SetHandledBy(v.UserID).SetCompletedAt(now)
	})
	if err != nil {
		return nil, err
	}
	counts, err := Erase(viewer.SystemContext(ctx), db, r.UserID, now)
	if err != nil {
		return nil, err
	}
	details := map[string]any{"user_id": r.UserID}
	for k, n := range counts {
		details[k] = n
	}
	return r, audit.Record(ctx, db, audit.Entry{
		Action: "datarights.complete_erasure", TargetType: "DataRequest", TargetID: r.ID, Details: details})
}
