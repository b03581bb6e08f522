package fulfilment

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/shipment"
	"github.com/xiadan/xiadan/ent/trackingevent"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/partners"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Limits of shipments and carrier scans.
const (
	MaxCarrier           = 64
	MinTrackingNumber    = 4
	MaxTrackingNumber    = 64
	MaxLocation          = 200
	MaxTrackingDetail    = 500
	AllowedClockSkew     = 5 * time.Minute
	trackingNumberSymbol = `[A-Za-z0-9-]`
)

var trackingNumberPattern = regexp.MustCompile(`^` + trackingNumberSymbol + `+$`)

// Ship hands a PHYSICAL order to a carrier: the order moves to SHIPPED (accepted first when
// it is only PAID) and the shipment is created, in db's transaction. The order's merchant
// staff and admins may ship; its customer gets FORBIDDEN, anyone else NOT_FOUND.
func (s *Service) Ship(ctx context.Context, db *ent.Client, orderID int, carrier, trackingNumber string) (*ent.Shipment, error) {
	carrier = strings.TrimSpace(carrier)
	if n := utf8.RuneCountInString(carrier); n < 1 || n > MaxCarrier {
		return nil, apperror.BadInput("carrier", "must be 1 to %d characters", MaxCarrier)
	}
	trackingNumber = strings.TrimSpace(trackingNumber)
	if n := len(trackingNumber); n < MinTrackingNumber || n > MaxTrackingNumber || !trackingNumberPattern.MatchString(trackingNumber) {
		return nil, apperror.BadInput("trackingNumber", "must be %d to %d letters, digits or hyphens",
			MinTrackingNumber, MaxTrackingNumber)
	}
	o, err := orders.ForMerchant(ctx, db, orderID)
	if err != nil {
		return nil, err
	}
	if err := requireFulfilment(o, order.FulfilmentPHYSICAL, insteadOf(o.Fulfilment)); err != nil {
		return nil, err
	}
	actor := orders.ActorOf(ctx, o)
	if o, err = s.startFulfilment(ctx, db, o, actor, "ship"); err != nil {
		return nil, err
	}
	if _, err := s.Orders.Transition(ctx, db, o, order.StatusSHIPPED, actor, carrier+" "+trackingNumber, nil); err != nil {
		return nil, err
	}
	sh, err := db.Shipment.Create().
		SetOrderID(o.ID).
		SetMerchantID(o.MerchantID).
		SetCarrier(carrier).
		SetTrackingNumber(trackingNumber).
		Save(system(ctx))
	if err != nil {
		return nil, err
	}
	return readShipment(ctx, db, sh.ID)
}

// Scan is one carrier tracking event as reported for a shipment.
type Scan struct {
	Status      trackingevent.Status
	Location    string
	Description string
	OccurredAt  time.Time
}

// AddTrackingEvent appends a carrier scan to a shipment, in db's transaction, and returns
// the shipment with its scans in the order they happened.
//
// The shipment's merchant staff, a partner granted that merchant, and admins may add
// scans; for anyone else the shipment does not exist (NOT_FOUND). A repeated scan (same
// status and time) changes nothing and is not an error, so carriers may resend. The
// shipment's status follows the latest scan by when it happened, not by when it arrived.
// Each new scan is recorded on the order's timeline, and a DELIVERED scan moves a SHIPPED
// order to DELIVERED.
//
// Concurrent scans of one shipment are serialised by locking the shipment row (MySQL;
// SQLite serialises write transactions), and every read after the lock is a locking read,
// so it sees what the transaction before it committed rather than an older snapshot. The
// unique index on (shipment, status, time) backs the duplicate check up.
func (s *Service) AddTrackingEvent(ctx context.Context, db *ent.Client, shipmentID int, in Scan) (*ent.Shipment, error) {
	now := s.now()
	if err := in.validate(now); err != nil {
		return nil, err
	}
	sh, err := db.Shipment.Get(ctx, shipmentID)
	if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) || (err == nil && !mayTrack(ctx, sh.MerchantID)) {
		return nil, apperror.NotFoundf("shipment %d not found", shipmentID)
	}
	if err != nil {
		return nil, err
	}
	if v := viewer.FromContext(ctx); !v.System && !v.IsAdmin() && !v.IsMerchantMember(sh.MerchantID) &&
		!v.HasScope(partners.ScopeTrackingWrite) {
		return nil, apperror.New(apperror.Forbidden, "this needs the %s scope", partners.ScopeTrackingWrite)
	}
	sctx := system(ctx)
	// The lock: from here on, one scan of this shipment at a time, and sh is as the
	// previous scan left it.
	if sh, err = db.Shipment.Query().Where(shipment.ID(sh.ID), predicate.Shipment(hooks.LockRows)).Only(sctx); err != nil {
		return nil, err
	}
	at := stamp(in.OccurredAt)
	if sh.Status == shipment.StatusDELIVERED && in.Status != trackingevent.StatusDELIVERED {
		// A delivered parcel does not go back on the road: a later scan saying otherwise
		// is refused. An earlier one that arrives late is only history.
		delivered, err := db.TrackingEvent.Query().
			Where(trackingevent.ShipmentID(sh.ID), trackingevent.StatusEQ(trackingevent.StatusDELIVERED)).
			Order(trackingevent.ByOccurredAt(), trackingevent.ByID()).
			First(sctx)
		if err != nil && !ent.IsNotFound(err) {
			return nil, err
		}
		if delivered == nil || !at.Before(delivered.OccurredAt) {
			return nil, apperror.WrongState(string(sh.Status),
				"shipment %s %s was delivered; a %s scan after the delivery cannot move it back", sh.Carrier, sh.TrackingNumber, in.Status)
		}
	}
	dup, err := db.TrackingEvent.Query().
		Where(trackingevent.ShipmentID(sh.ID), trackingevent.StatusEQ(in.Status), trackingevent.OccurredAt(at),
			predicate.TrackingEvent(hooks.LockRows)).
		Exist(sctx)
	if err != nil {
		return nil, err
	}
	if dup {
		return readShipment(ctx, db, sh.ID)
	}
	o, err := db.Order.Query().Where(order.ID(sh.OrderID), predicate.Order(hooks.LockRows)).Only(sctx)
	if err != nil {
		return nil, err
	}
	// Nothing happens to a parcel before its order is paid for.
	since := o.CreatedAt
	if o.PaidAt != nil {
		since = *o.PaidAt
	}
	if at.Before(since.Add(-AllowedClockSkew)) {
		return nil, apperror.BadInput("input.occurredAt", "is before the order was paid")
	}
	err = db.TrackingEvent.Create().
		SetShipmentID(sh.ID).
		SetStatus(in.Status).
		SetLocation(in.Location).
		SetDescription(in.Description).
		SetOccurredAt(at).
		SetCreatedAt(stamp(now)).
		Exec(sctx)
	if ent.IsConstraintError(err) {
		// Written by someone the lock did not hold back. A failed INSERT leaves the
		// transaction usable on MySQL and SQLite alike.
		return readShipment(ctx, db, sh.ID)
	}
	if err != nil {
		return nil, err
	}
	latest, err := db.TrackingEvent.Query().
		Where(trackingevent.ShipmentID(sh.ID), predicate.TrackingEvent(hooks.LockRows)).
		Order(trackingevent.ByOccurredAt(sql.OrderDesc()), trackingevent.ByID(sql.OrderDesc())).
		First(sctx)
	if err != nil {
		return nil, err
	}
	// The status follows the latest scan by when it happened, except that DELIVERED is
	// final, whenever its scan happened.
	status := shipment.Status(latest.Status)
	if in.Status == trackingevent.StatusDELIVERED {
		status = shipment.StatusDELIVERED
	}
	if status != sh.Status && sh.Status != shipment.StatusDELIVERED {
		if err := db.Shipment.UpdateOneID(sh.ID).SetStatus(status).Exec(sctx); err != nil {
			return nil, err
		}
	}
	actor := orders.ActorOf(ctx, o)
	if err := s.Orders.Record(ctx, db, o, orderevent.TypeTRACKING_UPDATED, "", "", actor, in.summary(sh)); err != nil {
		return nil, err
	}
	if in.Status == trackingevent.StatusDELIVERED && o.Status == order.StatusSHIPPED {
		if _, err := s.Orders.Transition(ctx, db, o, order.StatusDELIVERED, actor, "delivered, as "+sh.Carrier+" reports", nil); err != nil {
			return nil, err
		}
	}
	return readShipment(ctx, db, sh.ID)
}

// mayTrack reports whether the caller may add scans to shipments of merchant m.
func mayTrack(ctx context.Context, m int) bool {
	v := viewer.FromContext(ctx)
	return v.System || v.IsAdmin() || v.IsMerchantMember(m) ||
		(v.Has(viewer.RolePartner) && slices.Contains(v.PartnerMerchantIDs, m))
}

func (in *Scan) validate(now time.Time) error {
	if err := trackingevent.StatusValidator(in.Status); err != nil {
		return apperror.BadInput("input.status", "is not a tracking status")
	}
	in.Location = strings.TrimSpace(in.Location)
	if utf8.RuneCountInString(in.Location) > MaxLocation {
		return apperror.BadInput("input.location", "must be at most %d characters", MaxLocation)
	}
	in.Description = strings.TrimSpace(in.Description)
	if utf8.RuneCountInString(in.Description) > MaxTrackingDetail {
		return apperror.BadInput("input.description", "must be at most %d characters", MaxTrackingDetail)
	}
	if in.OccurredAt.IsZero() {
		return apperror.BadInput("input.occurredAt", "is required")
	}
	if in.OccurredAt.After(now.Add(AllowedClockSkew)) {
		return apperror.BadInput("input.occurredAt", "is in the future")
	}
	return nil
}

// summary is the timeline's reason for a scan: "IN_TRANSIT at Hangzhou: left the hub (SF 1234)".
func (in *Scan) summary(sh *ent.Shipment) string {
	var b strings.Builder
	b.WriteString(string(in.Status))
	if in.Location != "" {
		b.WriteString(" at " + in.Location)
	}
	if in.Description != "" {
		b.WriteString(": " + in.Description)
	}
	fmt.Fprintf(&b, " (%s %s)", sh.Carrier, sh.TrackingNumber)
	return b.String()
}

func (s *Service) now() time.Time {
	if s.Orders != nil && s.Orders.Now != nil {
		return s.Orders.Now().UTC()
	}
	return time.Now().UTC()
}

// stamp is how times are stored: UTC with microseconds, so equal scans compare equal.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
