package reports

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/report"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/mail"
	"github.com/xiadan/xiadan/internal/telemetry"
	"github.com/xiadan/xiadan/internal/viewer"
)

// errTooLarge fails a report whose file passes MaxFileBytes.
var errTooLarge = errors.New("the file would be larger than 64 MiB: ask for a shorter period")

// RunJobs makes the schedules' due reports and builds queued ones every interval until
// ctx ends. Every replica may run it: reports are claimed in the database.
func (s *Service) RunJobs(ctx context.Context, db *ent.Client, interval time.Duration, logger *slog.Logger) {
	telemetry.RunJob(ctx, "reports", interval, logger, "reports built", func(ctx context.Context) (int, error) {
		return s.RunOnce(ctx, db)
	})
}

// RunOnce queues the schedules' due reports, then claims and builds reports until none
// is left to claim; it returns how many it built (READY or FAILED).
func (s *Service) RunOnce(ctx context.Context, db *ent.Client) (int, error) {
	ctx = viewer.SystemContext(ctx)
	if err := s.queueDue(ctx, db); err != nil {
		return 0, err
	}
	built := 0
	for ctx.Err() == nil {
		r, err := s.claim(ctx, db)
		if err != nil {
			return built, err
		}
		if r == nil {
			return built, nil
		}
		if err := s.build(ctx, db, r); err != nil {
			return built, err
		}
		built++
	}
	return built, ctx.Err()
}

// claim takes the oldest QUEUED report, or a RUNNING one whose lease has passed (its
// replica died), by an UPDATE conditional on the status and attempts it was read with:
// of two replicas claiming it at once, the one whose UPDATE changed a row builds it. A
// report claimed MaxAttempts times already FAILS instead.
func (s *Service) claim(ctx context.Context, db *ent.Client) (*ent.Report, error) {
	for {
		now := s.now()
		cands, err := db.Report.Query().Where(report.Or(report.StatusEQ(report.StatusQUEUED),
			report.And(report.StatusEQ(report.StatusRUNNING), report.LeaseUntilLT(now)))).
			Order(ent.Asc(report.FieldID)).Limit(10).All(ctx)
		if err != nil || len(cands) == 0 {
			return nil, err
		}
		for _, c := range cands {
			up := db.Report.Update().Where(report.ID(c.ID), report.StatusEQ(c.Status), report.Attempts(c.Attempts)).SetUpdatedAt(now)
			if c.Attempts >= MaxAttempts {
				up.SetStatus(report.StatusFAILED).SetError(fmt.Sprintf("the report could not be built in %d attempts", MaxAttempts)).
					SetCompletedAt(now).ClearLeaseUntil()
			} else {
				up.SetStatus(report.StatusRUNNING).SetAttempts(c.Attempts + 1).SetLeaseUntil(now.Add(s.lease()))
			}
			n, err := up.Save(ctx)
			if err != nil {
				return nil, err
			}
			if n == 1 && c.Attempts < MaxAttempts {
				return db.Report.Get(ctx, c.ID)
			}
		}
	}
}

// build writes r's file, stores it and records the outcome — only while r is still this
// claim's (RUNNING with the attempts it claimed), so a replica whose lease passed cannot
// overwrite the one that took over.
func (s *Service) build(ctx context.Context, db *ent.Client, r *ent.Report) error {
	now := s.now()
	mine := db.Report.Update().Where(report.ID(r.ID), report.StatusEQ(report.StatusRUNNING), report.Attempts(r.Attempts)).
		SetUpdatedAt(now).SetCompletedAt(now).ClearLeaseUntil()
	rows, size, key, berr := s.write(ctx, db, r)
	if berr != nil {
		msg := "the report could not be built; try again later"
		if errors.Is(berr, errTooLarge) {
			msg = errTooLarge.Error()
		} else if s.Logger != nil {
			s.Logger.ErrorContext(ctx, "report failed", "report", r.ID, "err", berr)
		}
		_, err := mine.SetStatus(report.StatusFAILED).SetError(msg).Save(ctx)
		s.count()
		return err
	}
	n, err := mine.SetStatus(report.StatusREADY).SetRowCount(rows).SetFileSize(size).SetStorageKey(key).Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 { // another replica took it over: its file stands, ours goes
		_ = s.Uploads.Store().Delete(ctx, key)
		return nil
	}
	s.count()
	if r.ScheduleID != nil {
		s.notify(ctx, db, r.ID)
	}
	return nil
}

func (s *Service) count() {
	s.mu.Lock()
	s.built++
	s.mu.Unlock()
}

// write builds r's file in a temporary file, rows streamed a page at a time, and puts it
// in the upload store; it returns the rows, the size and the key.
func (s *Service) write(ctx context.Context, db *ent.Client, r *ent.Report) (int, int64, string, error) {
	if s.Uploads == nil || s.Uploads.Store() == nil {
		return 0, 0, "", errors.New("reports: the upload store is off")
	}
	f, err := os.CreateTemp("", "xiadan-report-*")
	if err != nil {
		return 0, 0, "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	var sh sheet
	if r.Format == schematype.ReportXLSX {
		sh, err = newXLSX(f)
	} else {
		sh, err = newCSV(f)
	}
	if err != nil {
		return 0, 0, "", err
	}
	rows, err := s.contents(ctx, db, r, sh)
	if err != nil {
		return 0, 0, "", err
	}
	if err := sh.Close(); err != nil {
		return 0, 0, "", err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, 0, "", err
	}
	if st.Size() > MaxFileBytes {
		return 0, 0, "", errTooLarge
	}
	// The store takes bytes (upload.Store.Put), so the finished file is read back whole;
	// the rows were never all in memory at once.
	data, err := os.ReadFile(f.Name())
	if err != nil {
		return 0, 0, "", err
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	key := KeyPrefix + s.now().Format("2006-01") + "/" + hex.EncodeToString(b)
	if err := s.Uploads.Store().Put(ctx, key, contentType(r.Format), data); err != nil {
		return 0, 0, "", err
	}
	return rows, st.Size(), key, nil
}

// notify mails a scheduled report's owner that it is READY, once: the winner of the
// conditional UPDATE of notified_at sends (a crash right after it loses that one mail).
func (s *Service) notify(ctx context.Context, db *ent.Client, id int) {
	n, err := db.Report.Update().Where(report.ID(id), report.NotifiedAtIsNil()).SetNotifiedAt(s.now()).Save(ctx)
	if err != nil || n == 0 || s.Mailer == nil {
		return
	}
	r, err := db.Report.Get(ctx, id)
	if err != nil {
		return
	}
	u, err := db.User.Get(ctx, r.RequestedBy)
	if err != nil || u.Email == nil || *u.Email == "" {
		return
	}
	msg := mail.Message{To: *u.Email, Subject: "Your report " + FileName(r) + " is ready",
		Text: fmt.Sprintf("Your scheduled %s report for %s to %s is ready (%d rows).\n\n"+
			"Download it from the reports page (query report(id: %d) { downloadURL }); download links expire, so none is given here.\n",
			r.Kind, r.PeriodStart.In(Shanghai).Format(time.DateOnly), r.PeriodEnd.In(Shanghai).AddDate(0, 0, -1).Format(time.DateOnly),
			deref(r.RowCount), r.ID)}
	if err := s.Mailer.Send(ctx, msg); err != nil && s.Logger != nil {
		s.Logger.WarnContext(ctx, "report mail failed", "report", id, "err", err)
	}
}

func deref(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

// queueDue makes, for every schedule, the report of the last full period if it is due
// and not made yet; the unique index on (schedule, period start) keeps it to one however
// many replicas run this at once.
func (s *Service) queueDue(ctx context.Context, db *ent.Client) error {
	scs, err := db.ReportSchedule.Query().All(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	for _, sc := range scs {
		p := lastFull(sc.Cadence, now)
		if p.Start.Before(sc.FirstPeriodStart) {
			continue
		}
		ok, err := db.Report.Query().Where(report.ScheduleID(sc.ID), report.PeriodStart(p.Start)).Exist(ctx)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		err = db.Report.Create().SetNillableMerchantID(sc.MerchantID).SetRequestedBy(sc.OwnerID).SetScheduleID(sc.ID).
			SetKind(sc.Kind).SetFormat(sc.Format).SetPeriodStart(p.Start).SetPeriodEnd(p.End).
			SetIdempotencyKey(fmt.Sprintf("schedule-%d-%s", sc.ID, p.Start.In(Shanghai).Format("20060102"))).
			SetCreatedAt(now).SetUpdatedAt(now).Exec(ctx)
		if err != nil && !ent.IsConstraintError(err) {
			return err
		}
	}
	return nil
}
