package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// FuzzParsePOST checks the POST body reader: it never panics; what it refuses is a 400
// with a reason of its own and a message that does not echo the body; what it accepts is
// one well-formed JSON object whose members read the same independently, and survives
// being written out and read again.
func FuzzParsePOST(f *testing.F) {
	for _, s := range []string{
		`{"query":"{ __typename }"}`,
		`{"query":"query Q($a: Int) { __typename }","operationName":"Q","variables":{"a":1.50e3,"b":[{"c":null}]},"extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`,
		`{"query":null,"variables":null}`, `[{"query":"{ a }"}]`, `{"variables":"{}"}`, `{"query":1}`, `{} {}`, ``, ` `, `null`,
		`{"query":"\ud800"}`, `{"QUERY":"x"}`, `{"query":"a","query":"b"}`, "\ufeff{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, bad := parsePOST(body)
		if bad != nil {
			if bad.status != http.StatusBadRequest || (bad.reason != ReasonMalformedRequest && bad.reason != ReasonBatchNotSupported) || bad.message == "" {
				t.Fatalf("refused %q with %+v", body, bad)
			}
			if len(body) > 60 && strings.Contains(bad.message, string(body)) {
				t.Fatalf("the message echoes the body: %s", bad.message)
			}
			return
		}
		if !json.Valid(body) || bytes.TrimLeft(body, " \t\r\n")[0] != '{' {
			t.Fatalf("accepted %q", body)
		}
		var generic map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&generic); err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		again, bad := parsePOST(mustJSON(t, map[string]any{"query": p.Query, "operationName": p.OperationName,
			"variables": p.Variables, "extensions": p.Extensions}))
		if bad != nil || again.Query != p.Query || again.OperationName != p.OperationName ||
			!reflect.DeepEqual(again.Variables, p.Variables) || !reflect.DeepEqual(again.Extensions, p.Extensions) {
			t.Fatalf("%q reads as %+v, written out and read again as %+v %v", body, p, again, bad)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
