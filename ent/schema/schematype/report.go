package schematype

import (
	"fmt"
	"io"
	"slices"
	"strconv"
)

// ReportKind is what a report lists (internal/reports): shared by reports and their
// schedules, so one GraphQL enum serves both.
type ReportKind string

// The kinds of report.
const (
	ReportOrders      ReportKind = "ORDERS"
	ReportSales       ReportKind = "SALES"
	ReportSettlements ReportKind = "SETTLEMENTS"
)

// Values are the kinds, for Ent.
func (ReportKind) Values() []string {
	return []string{string(ReportOrders), string(ReportSales), string(ReportSettlements)}
}

// MarshalGQL writes the kind as a GraphQL enum value.
func (k ReportKind) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(k))) }

// UnmarshalGQL reads a GraphQL enum value.
func (k *ReportKind) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, k.Values(), (*string)(k), "ReportKind")
}

// ReportFormat is the file format of a report.
type ReportFormat string

// The formats.
const (
	ReportCSV  ReportFormat = "CSV"
	ReportXLSX ReportFormat = "XLSX"
)

// Values are the formats, for Ent.
func (ReportFormat) Values() []string { return []string{string(ReportCSV), string(ReportXLSX)} }

// MarshalGQL writes the format as a GraphQL enum value.
func (f ReportFormat) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(f))) }

// UnmarshalGQL reads a GraphQL enum value.
func (f *ReportFormat) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, f.Values(), (*string)(f), "ReportFormat")
}

func unmarshalEnum(v any, values []string, out *string, name string) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(values, s) {
		return fmt.Errorf("%v is not a valid %s", v, name)
	}
	*out = s
	return nil
}
