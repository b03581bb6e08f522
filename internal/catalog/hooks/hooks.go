// Package hooks holds the Ent hooks of the catalog: derived data kept in step with the
// products and variants it is derived from, inside the same transaction.
package hooks
