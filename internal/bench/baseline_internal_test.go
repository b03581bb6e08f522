package bench

import (
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/search"
)

// The baseline's keyword statements bind one argument per placeholder, for one exact
// term, a prefix term (a lone CJK character), several words and a CJK run.
func TestBaselineSearchPlaceholdersMatchArguments(t *testing.T) {
	for _, kw := range []string{"teapot", "茶", "gift card", "蓝牙耳机", "西湖龙井 teapot"} {
		q := search.ParseQuery(kw)
		if q.Empty() {
			t.Fatalf("%q parses to nothing", kw)
		}
		for _, scored := range []bool{true, false} {
			var w sqlWriter
			w.matches(q, scored)
			if got, want := strings.Count(w.sb.String(), "?"), len(w.args); got != want {
				t.Errorf("%q (scored %v): %d placeholders, %d arguments: %s", kw, scored, got, want, w.sb.String())
			}
		}
	}
}
