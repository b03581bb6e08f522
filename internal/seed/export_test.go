package seed

import "time"

// ViaBuilders makes o send the scale products through Ent's builders and hooks, and seed
// at the time now: the reference TestBulkScaleWritesWhatTheHooksWould compares with.
func ViaBuilders(o Options, viaBuilders bool, now time.Time) Options {
	o.viaBuilders, o.now = viaBuilders, now
	return o
}
