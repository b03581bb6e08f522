package app

import (
	"cmp"
	"mime"
	"slices"
	"strconv"
	"strings"
)

// The media types /graphql answers in, chosen from the request's Accept header: the first
// one the client accepts (by q-value, then in the order listed) that can carry the
// operation. A query or mutation can be answered in any of them; a subscription only in a
// streaming one.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
	mediaEventStream     = "text/event-stream"
	mediaMultipart       = "multipart/mixed"
)

// acceptRange is one entry of an Accept header.
type acceptRange struct {
	mediaType string // lower-cased, possibly a wildcard
	params    map[string]string
	q         float64
}

// parseAccept reads an Accept header into its ranges, most preferred first (a higher
// q-value first; the order listed among equals). Malformed entries are skipped; no header
// is application/json, as the GraphQL-over-HTTP spec has it. Ranges with q=0 are dropped:
// they are refusals.
func parseAccept(header string) []acceptRange {
	if strings.TrimSpace(header) == "" {
		return []acceptRange{{mediaType: mediaJSON, q: 1}}
	}
	var out []acceptRange
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
			delete(params, "q")
		}
		if q == 0 {
			continue
		}
		out = append(out, acceptRange{mediaType: mt, params: params, q: q})
	}
	slices.SortStableFunc(out, func(a, b acceptRange) int { return cmp.Compare(b.q, a.q) })
	return out
}

// negotiate returns the first media type of offers that ranges accept, in the client's
// order of preference, or "" when none is. A wildcard range stands for the first of offers
// it covers, so offers lists the server's preferences.
func negotiate(ranges []acceptRange, offers ...string) string {
	for _, r := range ranges {
		for _, o := range offers {
			if covers(r.mediaType, o) {
				return o
			}
		}
	}
	return ""
}

// covers reports whether the media range accepts the media type mt.
func covers(mediaRange, mt string) bool {
	if mediaRange == "*/*" || mediaRange == mt {
		return true
	}
	typ, _, _ := strings.Cut(mt, "/")
	return strings.HasSuffix(mediaRange, "/*") && strings.TrimSuffix(mediaRange, "/*") == typ
}

// acceptsSubscriptionMultipart reports whether the client asked for Apollo's multipart
// subscriptions (multipart/mixed;subscriptionSpec=…), which must not run under the request
// deadline.
func acceptsSubscriptionMultipart(header string) bool {
	for _, r := range parseAccept(header) {
		if r.mediaType == mediaMultipart && r.params["subscriptionspec"] != "" {
			return true
		}
	}
	return false
}
