package seed

import "time"

// ViaBuilders makes o send the scale products through Ent's builders and hooks, and seed
// at the time now, batch products per transaction, without the orders and the rest of
// the demo's activity: the reference TestBulkScaleWritesWhatTheHooksWould compares with.
func ViaBuilders(o Options, viaBuilders bool, now time.Time, batch int) Options {
	o.viaBuilders, o.now, o.batch, o.catalogueOnly = viaBuilders, now, batch, true
	return o
}

// CatalogueOnly makes o seed the demo catalogue and the scale products only, batch per
// transaction, so a test crosses batch boundaries with a few products.
func CatalogueOnly(o Options, batch int) Options {
	o.batch, o.catalogueOnly = batch, true
	return o
}
