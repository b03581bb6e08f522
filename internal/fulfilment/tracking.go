package fulfilment

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/shipment"
	"github.com/xiadan/xiadan/ent/trackingevent"
)

// readShipment reads a shipment as the caller sees it, with its scans in the order they
// happened. The generated Shipment.trackingEvents resolver reads the edge under the name
// the query selected it as (its alias, or trackingEvents), so inside a GraphQL request the
// scans are loaded, in order, under each of those names.
func readShipment(ctx context.Context, db *ent.Client, id int) (*ent.Shipment, error) {
	q := db.Shipment.Query().Where(shipment.ID(id)).WithTrackingEvents(byOccurrence)
	for _, name := range selectedAs(ctx, "trackingEvents") {
		q.WithNamedTrackingEvents(name, byOccurrence)
	}
	return q.Only(ctx)
}

// selectedAs returns the names under which the current GraphQL field's selection asks for
// field; none outside a GraphQL request.
func selectedAs(ctx context.Context, field string) []string {
	if !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return nil
	}
	var names []string
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"Shipment", "Node"}) {
		if f.Name == field {
			names = append(names, f.Alias)
		}
	}
	return names
}

// byOccurrence orders scans by when they happened, then by arrival.
func byOccurrence(q *ent.TrackingEventQuery) {
	q.Order(trackingevent.ByOccurredAt(), trackingevent.ByID())
}

// ScansInOrder returns an interceptor for the TrackingEvent client that makes every load
// of tracking events come in the order they happened. The generated Shipment.trackingEvents
// resolver and Ent field collection load the edge without an order, which on both
// databases means arrival order (Order.shipments.trackingEvents, node(id:)); register this
// once on the client (client.TrackingEvent.Intercept(fulfilment.ScansInOrder())) and the
// transactions opened from it share it. An order the caller set comes first; this only
// breaks ties after it.
func ScansInOrder() ent.Interceptor {
	return ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			if tq, ok := q.(*ent.TrackingEventQuery); ok {
				byOccurrence(tq)
			}
			return next.Query(ctx, q)
		})
	})
}
