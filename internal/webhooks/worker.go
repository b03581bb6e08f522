package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/webhook"
	"github.com/xiadan/xiadan/ent/webhookdelivery"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/events"
)

// Retry policy: MaxAttempts attempts, the wait before attempt n+1 drawn uniformly from
// [0, min(MaxDelay, BaseDelay·2^(n-1))) ("full jitter", so receivers that failed together
// are not retried together) plus minDelay — up to about four hours from first to last.
const (
	MaxAttempts = 8
	BaseDelay   = 2 * time.Minute
	MaxDelay    = 2 * time.Hour
	minDelay    = 5 * time.Second
)

// Health policy: a webhook is disabled after failing without a success for DisableAfter,
// or after DisableAfterFailures failed attempts in a row.
const (
	DisableAfter         = 24 * time.Hour
	DisableAfterFailures = 50
)

// claimFor is how long a claimed delivery is reserved for its worker: far longer than one
// attempt, short enough that a crashed worker's deliveries are soon picked up again.
const claimFor = 5 * time.Minute

// userAgent identifies the requests.
const userAgent = "Xiadan-Webhooks/1.0"

// maxErrorLen is the longest error text kept per attempt.
const maxErrorLen = 500

// RetryDelayCap is the longest wait after failed attempt n (1-based) before the next one.
func RetryDelayCap(n int) time.Duration {
	d := BaseDelay
	for i := 1; i < n && d < MaxDelay; i++ {
		d *= 2
	}
	return min(d, MaxDelay) + minDelay
}

func retryDelay(n int) time.Duration {
	return minDelay + rand.N(RetryDelayCap(n)-minDelay)
}

// Payload is the JSON body of a delivery.
type Payload struct {
	// ID is the order event's id, the same for every delivery and retry of the event: use
	// it to drop duplicates.
	ID string `json:"id"`
	// Cursor resumes the orderEvents subscription after this event.
	Cursor      string `json:"cursor"`
	Position    int64  `json:"position"`
	Sequence    int64  `json:"sequence"`
	Type        string `json:"type"`
	OrderID     string `json:"orderId"`
	OrderNumber string `json:"orderNumber"`
	MerchantID  string `json:"merchantId"`
	// FromStatus and ToStatus are null for events that change no status.
	FromStatus *string   `json:"fromStatus"`
	ToStatus   *string   `json:"toStatus"`
	ActorRole  string    `json:"actorRole"`
	OccurredAt time.Time `json:"occurredAt"`
	Reason     string    `json:"reason"`
	// ReviewID is the review of REVIEW_CREATED and REVIEW_REPLIED events (docs/REVIEWS.md).
	ReviewID string `json:"reviewId,omitempty"`
}

// Run delivers due deliveries until ctx ends.
func (s *Service) Run(ctx context.Context) {
	for {
		n, err := s.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.Logger.Error("webhooks: delivering", "err", err)
		}
		if err == nil && n >= s.batch() {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(s.Interval, 100*time.Millisecond)):
		}
	}
}

func (s *Service) batch() int {
	if s.Batch > 0 {
		return s.Batch
	}
	return 64
}

// RunOnce claims the deliveries due now, sends them and records the outcomes. It returns
// how many it attempted. Claims are conditional updates, so several workers (on several
// replicas) never send the same attempt at once.
func (s *Service) RunOnce(ctx context.Context) (int, error) {
	now := s.now()
	actx := allow(ctx)
	due := []predicate.WebhookDelivery{
		webhookdelivery.StatusIn(webhookdelivery.StatusPENDING, webhookdelivery.StatusFAILED),
		webhookdelivery.NextAttemptAtLTE(now),
		webhookdelivery.Or(webhookdelivery.ClaimedUntilIsNil(), webhookdelivery.ClaimedUntilLT(now)),
	}
	ids, err := s.DB.WebhookDelivery.Query().
		Where(append(due, webhookdelivery.HasWebhookWith(webhook.StatusEQ(webhook.StatusACTIVE)))...).
		Order(webhookdelivery.ByNextAttemptAt(), webhookdelivery.ByID()).Limit(s.batch()).IDs(actx)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	var claimed []int
	// Stored with microseconds: the exact value identifies this worker's claim.
	claim := now.Add(claimFor).UTC().Truncate(time.Microsecond)
	for _, id := range ids {
		n, err := s.DB.WebhookDelivery.Update().Where(append(due, webhookdelivery.ID(id))...).
			SetClaimedUntil(claim).Save(actx)
		if err != nil {
			return 0, err
		}
		if n == 1 {
			claimed = append(claimed, id)
		}
	}
	if len(claimed) == 0 {
		return 0, nil
	}
	jobs, err := s.prepare(actx, claimed)
	if err != nil {
		return 0, err
	}
	for i := range jobs {
		jobs[i].claim = claim
	}
	limit := make(chan struct{}, max(1, s.Concurrency))
	var wg sync.WaitGroup
	for _, j := range jobs {
		limit <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-limit; wg.Done() }()
			if err := s.attempt(actx, j); err != nil && ctx.Err() == nil {
				s.Logger.Error("webhooks: recording attempt", "delivery", j.delivery.ID, "err", err)
			}
		}()
	}
	wg.Wait()
	return len(jobs), ctx.Err()
}

// job is one claimed delivery ready to send.
type job struct {
	delivery *ent.WebhookDelivery
	hook     *ent.Webhook
	body     []byte
	// gone is set when the event no longer exists (pruned), so there is nothing to send.
	gone bool
	// claim is the claimed_until this worker wrote; the outcome is recorded only while the
	// delivery still carries it.
	claim time.Time
}

// prepare loads the claimed deliveries with their webhooks, events and order numbers, in
// four queries whatever their number.
func (s *Service) prepare(ctx context.Context, ids []int) ([]job, error) {
	ds, err := s.DB.WebhookDelivery.Query().Where(webhookdelivery.IDIn(ids...)).WithWebhook().
		Order(webhookdelivery.ByID()).All(ctx)
	if err != nil {
		return nil, err
	}
	eventIDs := make([]int, 0, len(ds))
	for _, d := range ds {
		eventIDs = append(eventIDs, d.EventID)
	}
	evs, err := s.DB.OrderEvent.Query().Where(orderevent.IDIn(eventIDs...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[int]*ent.OrderEvent{}
	orderIDs := make([]int, 0, len(evs))
	for _, ev := range evs {
		byID[ev.ID] = ev
		orderIDs = append(orderIDs, ev.OrderID)
	}
	orders, err := s.DB.Order.Query().Where(order.IDIn(orderIDs...)).Select(order.FieldID, order.FieldNumber).All(ctx)
	if err != nil {
		return nil, err
	}
	numbers := map[int]string{}
	for _, o := range orders {
		numbers[o.ID] = o.Number
	}
	jobs := make([]job, 0, len(ds))
	for _, d := range ds {
		j := job{delivery: d, hook: d.Edges.Webhook}
		ev := byID[d.EventID]
		if ev == nil {
			j.gone = true
		} else if j.body, err = json.Marshal(payload(ev, numbers[ev.OrderID])); err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// nonEmpty is s, or nil for "" (a status the event did not have).
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func payload(ev *ent.OrderEvent, number string) Payload {
	p := Payload{ID: strconv.Itoa(ev.ID), Type: string(ev.Type), OrderID: strconv.Itoa(ev.OrderID),
		OrderNumber: number, MerchantID: strconv.Itoa(ev.MerchantID), FromStatus: nonEmpty(ev.FromStatus),
		ToStatus: nonEmpty(ev.ToStatus), ActorRole: string(ev.ActorRole), OccurredAt: ev.CreatedAt.UTC(), Reason: ev.Reason}
	if ev.Position != nil {
		p.Position = *ev.Position
		p.Cursor = events.Cursor(*ev.Position)
	}
	if ev.Sequence != nil {
		p.Sequence = *ev.Sequence
	}
	if ev.ReviewID != nil {
		p.ReviewID = strconv.Itoa(*ev.ReviewID)
	}
	return p
}

// outcome is what one HTTP attempt came to.
type outcome struct {
	code    *int
	latency time.Duration
	err     string
}

func (o outcome) ok() bool { return o.err == "" && o.code != nil && *o.code >= 200 && *o.code < 300 }

// attempt sends one delivery and records the outcome.
func (s *Service) attempt(ctx context.Context, j job) error {
	if j.gone {
		return s.record(ctx, j, outcome{err: "the event no longer exists"}, true)
	}
	o := s.send(ctx, j)
	if ctx.Err() != nil {
		// Shutting down: the claim lapses and the attempt is made again. The receiver may
		// have got it; the event id lets it drop the duplicate.
		return nil
	}
	return s.record(ctx, j, o, false)
}

func (s *Service) send(ctx context.Context, j job) outcome {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, j.hook.URL, bytes.NewReader(j.body))
	if err != nil {
		return outcome{err: "bad request: " + err.Error()}
	}
	now := s.now()
	secrets := []string{j.hook.Secret}
	if j.hook.PreviousSecret != "" && j.hook.PreviousSecretExpiresAt != nil && now.Before(*j.hook.PreviousSecretExpiresAt) {
		secrets = append(secrets, j.hook.PreviousSecret)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Xiadan-Event-Id", strconv.Itoa(j.delivery.EventID))
	req.Header.Set("X-Xiadan-Event-Type", j.delivery.EventType)
	req.Header.Set("X-Xiadan-Delivery-Id", strconv.Itoa(j.delivery.ID))
	req.Header.Set(SignatureHeader, Sign(now, j.body, secrets...))
	start := time.Now()
	res, err := s.httpClient().Do(req)
	o := outcome{latency: time.Since(start)}
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			o.err = fmt.Sprintf("timed out after %s", timeout)
		case errors.Is(err, errNonPublic):
			o.err = errNonPublic.Error()
		default:
			o.err = err.Error()
		}
		return o
	}
	defer res.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(res.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
	o.latency = time.Since(start)
	o.code = &res.StatusCode
	if res.StatusCode < 200 || res.StatusCode > 299 {
		o.err = "HTTP " + strconv.Itoa(res.StatusCode)
		if text := strings.TrimSpace(string(snippet)); text != "" {
			o.err += ": " + text
		}
	}
	return o
}

// errClaimLost rolls back the record of an attempt whose claim another worker took over.
var errClaimLost = errors.New("webhooks: delivery claim lost")

// record logs the attempt, schedules the next one or settles the delivery, releases the
// claim and updates the webhook's health, in one transaction.
func (s *Service) record(ctx context.Context, j job, o outcome, final bool) error {
	now := s.now()
	d := j.delivery
	number := d.Attempts + 1
	errText := clip(o.err)
	// The attempt was made: record it even if shutdown begins meanwhile.
	ctx = context.WithoutCancel(ctx)
	return s.inTx(ctx, func(tx *ent.Client) error {
		a := tx.WebhookAttempt.Create().SetDeliveryID(d.ID).SetNumber(number).
			SetLatencyMs(int(o.latency.Milliseconds())).SetError(errText).SetCreatedAt(now)
		u := tx.WebhookDelivery.UpdateOneID(d.ID).SetAttempts(number).SetLastLatencyMs(int(o.latency.Milliseconds())).
			SetLastError(errText).ClearClaimedUntil()
		if o.code != nil {
			a.SetResponseCode(*o.code)
			u.SetLastResponseCode(*o.code)
		} else {
			u.ClearLastResponseCode()
		}
		switch {
		case o.ok():
			u.SetStatus(webhookdelivery.StatusSUCCEEDED).SetDeliveredAt(now).ClearNextAttemptAt()
		case final || number >= MaxAttempts:
			u.SetStatus(webhookdelivery.StatusGAVE_UP).ClearNextAttemptAt()
		default:
			u.SetStatus(webhookdelivery.StatusFAILED).SetNextAttemptAt(now.Add(retryDelay(number)))
		}
		if err := a.Exec(ctx); err != nil {
			return err
		}
		if !j.claim.IsZero() {
			// Record only while the claim is still ours: a worker whose claim ran out (and
			// whose delivery another worker took over) must not overwrite that outcome.
			u.Where(webhookdelivery.ClaimedUntil(j.claim))
		}
		if err := u.Exec(ctx); err != nil {
			if ent.IsNotFound(err) {
				s.Logger.Warn("webhooks: claim lost before the outcome was recorded", "delivery", d.ID)
				return errClaimLost
			}
			return err
		}
		if j.gone {
			return nil // says nothing about the endpoint
		}
		return s.health(ctx, tx, d.WebhookID, o, errText, now)
	})
}

// health tracks a webhook's failures in a row and disables it once it has failed for too
// long. The webhook's row is locked, as deliveries to it finish concurrently.
func (s *Service) health(ctx context.Context, tx *ent.Client, id int, o outcome, errText string, now time.Time) error {
	w, err := tx.Webhook.Query().Where(webhook.ID(id), hooks.LockRows).Only(ctx)
	if ent.IsNotFound(err) {
		return nil // deleted meanwhile
	} else if err != nil {
		return err
	}
	if o.ok() {
		if w.ConsecutiveFailures == 0 && w.FailingSince == nil {
			return nil
		}
		return tx.Webhook.UpdateOne(w).SetConsecutiveFailures(0).ClearFailingSince().Exec(ctx)
	}
	failures, since := w.ConsecutiveFailures+1, now
	if w.FailingSince != nil {
		since = *w.FailingSince
	}
	u := tx.Webhook.UpdateOne(w).SetConsecutiveFailures(failures).SetFailingSince(since)
	if w.Status == webhook.StatusACTIVE {
		var why string
		switch {
		case now.Sub(since) >= DisableAfter:
			why = fmt.Sprintf("failing for %s since %s", roundHours(now.Sub(since)), since.Format(time.RFC3339))
		case failures >= DisableAfterFailures:
			why = fmt.Sprintf("%d failed attempts in a row", failures)
		}
		if why != "" {
			u.SetStatus(webhook.StatusDISABLED).SetDisabledReason(clip(why + "; last error: " + errText))
			s.Logger.Warn("webhooks: disabled a failing webhook", "webhook", w.ID, "merchant", w.MerchantID, "reason", why)
		}
	}
	return u.Exec(ctx)
}

func roundHours(d time.Duration) string {
	return strconv.Itoa(int(d/time.Hour)) + "h"
}

// clip makes s valid UTF-8 of at most maxErrorLen characters.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if utf8.RuneCountInString(s) <= maxErrorLen {
		return s
	}
	r := []rune(s)
	return string(r[:maxErrorLen-1]) + "…"
}

// Backlog counts the deliveries due now and those waiting to retry after a failure, and
// says since when the longest-waiting due one has been due: reads of the (status,
// next_attempt_at) index, cheap enough for every metrics scrape. Deliveries to disabled
// webhooks count too, as they wait for the webhook to be enabled again.
func (s *Service) Backlog(ctx context.Context) (due, retrying int64, oldestDue time.Time, err error) {
	actx := allow(ctx)
	now := s.now()
	waiting := webhookdelivery.StatusIn(webhookdelivery.StatusPENDING, webhookdelivery.StatusFAILED)
	d, err := s.DB.WebhookDelivery.Query().Where(waiting, webhookdelivery.NextAttemptAtLTE(now)).Count(actx)
	if err != nil {
		return 0, 0, time.Time{}, err
	}
	r, err := s.DB.WebhookDelivery.Query().Where(webhookdelivery.StatusEQ(webhookdelivery.StatusFAILED),
		webhookdelivery.NextAttemptAtGT(now)).Count(actx)
	if err != nil {
		return 0, 0, time.Time{}, err
	}
	if d > 0 {
		first, err := s.DB.WebhookDelivery.Query().Where(waiting, webhookdelivery.NextAttemptAtLTE(now)).
			Order(webhookdelivery.ByNextAttemptAt()).First(actx)
		if err != nil && !ent.IsNotFound(err) {
			return 0, 0, time.Time{}, err
		}
		if first != nil && first.NextAttemptAt != nil {
			oldestDue = *first.NextAttemptAt
		}
	}
	return int64(d), int64(r), oldestDue, nil
}
