// Package reports exports a merchant's (or, for admins, the platform's) orders, sales and
// settlements of a period as CSV or XLSX files (issue #13 §1): requestReport queues a
// report, a job claims it with a conditional UPDATE (so two replicas never build the same
// one), streams its rows page by page into a file in the upload store, and records the
// outcome; schedules make a report for every past week or month and mail their owner when
// it is READY. docs/REPORTS.md lists every column.
package reports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/report"
	"github.com/xiadan/xiadan/ent/reportschedule"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/mail"
	"github.com/xiadan/xiadan/internal/upload"
	"github.com/xiadan/xiadan/internal/viewer"
)

const (
	// MaxPeriodDays bounds a report's period.
	MaxPeriodDays = 366
	// MaxSchedules bounds the schedules of one merchant (or of the platform).
	MaxSchedules = 20
	// MaxFileBytes bounds a report's file; a bigger one FAILS, asking for a shorter period.
	MaxFileBytes = 64 << 20
	// MaxAttempts is how many claims a report gets before it FAILS (a replica crashing
	// while building it each time).
	MaxAttempts = 3
	// KeyPrefix is where report files live in the upload store.
	KeyPrefix = "reports/"
)

// Shanghai is the time zone of periods and of the times in the files: China keeps no
// daylight saving time, so a fixed offset is exact and needs no tzdata.
var Shanghai = time.FixedZone("Asia/Shanghai", 8*3600)

// Service builds reports.
type Service struct {
	Uploads *upload.Service
	Mailer  mail.Mailer
	Logger  *slog.Logger
	// Now is the clock (time.Now when nil); tests set a manual one.
	Now func() time.Time
	// Lease is how long a claim holds before another replica may take the report over
	// (default 10 minutes); PageSize how many orders are read at a time (default 500).
	Lease    time.Duration
	PageSize int

	mu sync.Mutex
	// built counts the reports this service built, for tests of the claim.
	built int
}

// New returns the service, registering its files with the upload store's file server.
func New(uploads *upload.Service, mailer mail.Mailer, db *ent.Client, logger *slog.Logger) *Service {
	s := &Service{Uploads: uploads, Mailer: mailer, Logger: logger}
	if uploads != nil {
		uploads.ServePrivate(KeyPrefix, func(ctx context.Context, key string) (string, bool) {
			r, err := db.Report.Query().Where(report.StorageKey(key), report.StatusEQ(report.StatusREADY)).
				Only(viewer.SystemContext(ctx))
			if err != nil {
				return "", false
			}
			return contentType(r.Format), true
		})
	}
	return s
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return 10 * time.Minute
}

func (s *Service) pageSize() int {
	if s.PageSize > 0 {
		return s.PageSize
	}
	return 500
}

// Built is how many reports this service has built (tests of the claim).
func (s *Service) Built() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.built
}

func contentType(f schematype.ReportFormat) string {
	if f == schematype.ReportXLSX {
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/csv; charset=utf-8"
}

// RequestInput is what requestReport asks for.
type RequestInput struct {
	MerchantID     *int
	Kind           schematype.ReportKind
	Format         schematype.ReportFormat
	From, To       string
	IdempotencyKey string
}

// scope decides whose data the caller asks for: a member's own merchant (merchantID
// empty or theirs), any merchant or the platform (nil) for admins; FORBIDDEN otherwise.
func scope(ctx context.Context, db *ent.Client, merchantID *int) (*int, error) {
	v := viewer.FromContext(ctx)
	if v.IsAdmin() {
		if merchantID == nil {
			return nil, nil
		}
		ok, err := db.Merchant.Query().Where(merchant.ID(*merchantID)).Exist(viewer.SystemContext(ctx))
		if err != nil {
			return nil, err
		}
		if !ok {
			e := apperror.NotFoundf("no such merchant")
			e.Field = "merchantID"
			return nil, e
		}
		return merchantID, nil
	}
	if v.Has(viewer.RoleMerchant) && v.MerchantID != 0 && v.UserID != 0 &&
		(merchantID == nil || *merchantID == v.MerchantID) {
		id := v.MerchantID
		return &id, nil
	}
	return nil, apperror.New(apperror.Forbidden, "reports are for the merchant's members and admins")
}

// Period is a report's period: the instants [Start, End).
type Period struct{ Start, End time.Time }

// parsePeriod reads from and to (YYYY-MM-DD, Asia/Shanghai, to inclusive) and checks the
// period is forwards, at most MaxPeriodDays long and not in the future.
func parsePeriod(from, to string, now time.Time) (Period, error) {
	f, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(from), Shanghai)
	if err != nil {
		return Period{}, apperror.BadInput("from", "must be a date, YYYY-MM-DD")
	}
	t, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(to), Shanghai)
	if err != nil {
		return Period{}, apperror.BadInput("to", "must be a date, YYYY-MM-DD")
	}
	if t.Before(f) {
		return Period{}, apperror.BadInput("to", "is before from")
	}
	end := t.AddDate(0, 0, 1)
	if days := int(end.Sub(f).Hours()/24 + 0.5); days > MaxPeriodDays {
		return Period{}, apperror.BadInput("to", "the period is %d days long, at most %d are allowed", days, MaxPeriodDays)
	}
	today := startOfDay(now)
	if t.After(today) {
		return Period{}, apperror.BadInput("to", "is in the future: the last day may be today (%s) at the latest", today.Format(time.DateOnly))
	}
	return Period{Start: f.UTC(), End: end.UTC()}, nil
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.In(Shanghai).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, Shanghai)
}

func idempotencyKey(k string) (string, error) {
	k = strings.TrimSpace(k)
	if k == "" {
		return "", apperror.BadInput("idempotencyKey", "must not be empty")
	}
	if !utf8.ValidString(k) || utf8.RuneCountInString(k) > 128 {
		return "", apperror.BadInput("idempotencyKey", "must be valid UTF-8 of at most 128 characters")
	}
	return k, nil
}

// Request queues a report. The caller's row is locked first (MySQL), so that requests of
// one person are made one at a time and the same key gives the same report however many
// are sent at once; the key is looked up with a locking read, which sees the latest
// committed rows.
func (s *Service) Request(ctx context.Context, db *ent.Client, in RequestInput) (*ent.Report, error) {
	key, err := idempotencyKey(in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	mid, err := scope(ctx, db, in.MerchantID)
	if err != nil {
		return nil, err
	}
	p, err := parsePeriod(in.From, in.To, s.now())
	if err != nil {
		return nil, err
	}
	v := viewer.FromContext(ctx)
	sys := viewer.SystemContext(ctx)
	if _, err := db.User.Query().Where(user.ID(v.UserID), hooks.LockRows).Only(sys); err != nil {
		return nil, err
	}
	prev, err := db.Report.Query().Where(report.RequestedBy(v.UserID), report.IdempotencyKey(key), hooks.LockRows).Only(sys)
	if err == nil {
		return prev, nil
	}
	if !ent.IsNotFound(err) {
		return nil, err
	}
	now := s.now()
	return db.Report.Create().SetNillableMerchantID(mid).SetRequestedBy(v.UserID).SetKind(in.Kind).SetFormat(in.Format).
		SetPeriodStart(p.Start).SetPeriodEnd(p.End).SetIdempotencyKey(key).SetCreatedAt(now).SetUpdatedAt(now).Save(sys)
}

// notFound is the answer for a report or schedule that does not exist or that the caller
// may not see.
func notFound(what string) error {
	e := apperror.NotFoundf("no such %s", what)
	e.Field = "id"
	return e
}

func hidden(err error) bool { return ent.IsNotFound(err) || errors.Is(err, privacy.Deny) }

// Get is a report the caller may read.
func Get(ctx context.Context, db *ent.Client, id int) (*ent.Report, error) {
	r, err := db.Report.Get(ctx, id)
	if hidden(err) {
		return nil, notFound("report")
	}
	return r, err
}

// List is the newest reports of the caller's scope (see scope), at most first (20 by
// default, up to 100).
func List(ctx context.Context, db *ent.Client, merchantID *int, first *int) ([]*ent.Report, error) {
	mid, err := scope(ctx, db, merchantID)
	if err != nil {
		return nil, err
	}
	n := 20
	if first != nil {
		if *first < 0 || *first > 100 {
			return nil, apperror.BadInput("first", "must be between 0 and 100")
		}
		n = *first
	}
	q := db.Report.Query().Order(ent.Desc(report.FieldID)).Limit(n)
	if mid == nil {
		q.Where(report.MerchantIDIsNil())
	} else {
		q.Where(report.MerchantID(*mid))
	}
	return q.All(ctx)
}

// DownloadURL is where the caller downloads a READY report: a signed URL valid for the
// upload store's URL TTL (private files are never public). The caller got r through the
// Report's privacy policy, so it may read it.
func (s *Service) DownloadURL(ctx context.Context, r *ent.Report) (*string, error) {
	if r.Status != report.StatusREADY || r.StorageKey == nil || s.Uploads == nil || s.Uploads.Store() == nil {
		return nil, nil
	}
	u, err := s.Uploads.Store().URL(ctx, *r.StorageKey, false, s.now().Add(s.Uploads.Config().URLTTL))
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// FileName is the suggested name of a report's file.
func FileName(r *ent.Report) string {
	ext := ".csv"
	if r.Format == schematype.ReportXLSX {
		ext = ".xlsx"
	}
	return fmt.Sprintf("%s-%s-%s%s", strings.ToLower(string(r.Kind)), r.PeriodStart.In(Shanghai).Format(time.DateOnly),
		r.PeriodEnd.In(Shanghai).AddDate(0, 0, -1).Format(time.DateOnly), ext)
}

// ScheduleInput is what createReportSchedule asks for.
type ScheduleInput struct {
	MerchantID *int
	Kind       schematype.ReportKind
	Format     schematype.ReportFormat
	Cadence    reportschedule.Cadence
}

// CreateSchedule makes a schedule of the caller's scope; its first report is of the
// period running now, made once it is over.
func (s *Service) CreateSchedule(ctx context.Context, db *ent.Client, in ScheduleInput) (*ent.ReportSchedule, error) {
	mid, err := scope(ctx, db, in.MerchantID)
	if err != nil {
		return nil, err
	}
	if err := reportschedule.CadenceValidator(in.Cadence); err != nil {
		return nil, apperror.BadInput("cadence", "must be WEEKLY or MONTHLY")
	}
	sys := viewer.SystemContext(ctx)
	q := db.ReportSchedule.Query()
	if mid == nil {
		q.Where(reportschedule.MerchantIDIsNil())
	} else {
		// The shop's row, locked (MySQL) for the rest of the mutation's transaction, makes
		// two creates at the cap count one after the other, and the count, a locking read
		// too, sees the schedules committed before it, not the transaction's snapshot: the
		// cap holds under a race. (The platform's schedules, made by admins, have no such
		// row: their cap is soft.)
		if _, err := db.Merchant.Query().Where(merchant.ID(*mid), hooks.LockRows).OnlyID(sys); err != nil {
			return nil, err
		}
		q.Where(reportschedule.MerchantID(*mid), hooks.LockRows)
	}
	n, err := q.Count(sys)
	if err != nil {
		return nil, err
	}
	if n >= MaxSchedules {
		return nil, apperror.New(apperror.InvalidState, "at most %d report schedules are kept; delete one first", MaxSchedules)
	}
	now := s.now()
	cur := periodAround(in.Cadence, now)
	return db.ReportSchedule.Create().SetNillableMerchantID(mid).SetOwnerID(viewer.FromContext(ctx).UserID).
		SetKind(in.Kind).SetFormat(in.Format).SetCadence(in.Cadence).SetFirstPeriodStart(cur.Start).
		SetCreatedAt(now).SetUpdatedAt(now).Save(sys)
}

// Schedules are the schedules of the caller's scope, oldest first.
func Schedules(ctx context.Context, db *ent.Client, merchantID *int) ([]*ent.ReportSchedule, error) {
	mid, err := scope(ctx, db, merchantID)
	if err != nil {
		return nil, err
	}
	q := db.ReportSchedule.Query().Order(ent.Asc(reportschedule.FieldID))
	if mid == nil {
		q.Where(reportschedule.MerchantIDIsNil())
	} else {
		q.Where(reportschedule.MerchantID(*mid))
	}
	return q.All(ctx)
}

// DeleteSchedule deletes a schedule the caller may see; its reports stay.
func DeleteSchedule(ctx context.Context, db *ent.Client, id int) (int, error) {
	sc, err := db.ReportSchedule.Get(ctx, id)
	if hidden(err) {
		return 0, notFound("report schedule")
	}
	if err != nil {
		return 0, err
	}
	if _, err := scope(ctx, db, sc.MerchantID); err != nil {
		return 0, notFound("report schedule")
	}
	n, err := db.ReportSchedule.Delete().Where(reportschedule.ID(id)).Exec(viewer.SystemContext(ctx))
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, notFound("report schedule")
	}
	return id, nil
}

// periodAround is the week (Monday to Sunday) or month, Asia/Shanghai, holding t.
func periodAround(c reportschedule.Cadence, t time.Time) Period {
	d := startOfDay(t)
	if c == reportschedule.CadenceMONTHLY {
		start := time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, Shanghai)
		return Period{Start: start.UTC(), End: start.AddDate(0, 1, 0).UTC()}
	}
	back := (int(d.Weekday()) + 6) % 7 // days since Monday
	start := d.AddDate(0, 0, -back)
	return Period{Start: start.UTC(), End: start.AddDate(0, 0, 7).UTC()}
}

// lastFull is the last week or month that is over at t.
func lastFull(c reportschedule.Cadence, t time.Time) Period {
	cur := periodAround(c, t)
	return periodAround(c, cur.Start.Add(-time.Second))
}
