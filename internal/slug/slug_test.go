package slug

import (
	"strings"
	"testing"
)

func TestFromTitle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ title, want string }{
		{"West Lake Longjing Tea", "west-lake-longjing-tea"},
		{"西湖龙井 2024 明前", "xi-hu-long-jing-2024-ming-qian"},
		{"西湖龙井 West Lake Longjing", "xi-hu-long-jing-west-lake-longjing"},
		{"Café  crème — 500g!!", "cafe-creme-500g"},
		{"ＡＢＣ１２３", "abc123"}, // full-width forms fold to ASCII
		{"  --Hello--World--  ", "hello-world"},
	} {
		if got := FromTitle(tc.title); got != tc.want {
			t.Errorf("FromTitle(%q) = %q, want %q", tc.title, got, tc.want)
		}
		if !Valid(FromTitle(tc.title)) {
			t.Errorf("FromTitle(%q) is not a valid slug", tc.title)
		}
	}
	// Nothing to spell: a stable fallback.
	a, b := FromTitle("🍵🍵"), FromTitle("🍵🍵")
	if a != b || !strings.HasPrefix(a, "p-") || len(a) != 10 || !Valid(a) || a == FromTitle("🍰") {
		t.Errorf("fallback slugs: %q %q %q", a, b, FromTitle("🍰"))
	}
	// Long titles are cut at a word boundary, leaving room for a suffix.
	long := FromTitle(strings.Repeat("龙", 60))
	if len(long) > maxBase || strings.HasSuffix(long, "-") || !Valid(long) {
		t.Errorf("long title: %q (%d)", long, len(long))
	}
	if w := FromTitle(strings.Repeat("x", 200)); len(w) != maxBase || !Valid(w) {
		t.Errorf("one long word: %d bytes", len(w))
	}
}

func TestValidAndSuffix(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"green-tea": true, "a": true, "tea2024": true,
		"": false, "Green-Tea": false, "green--tea": false, "-tea": false, "tea-": false,
		"绿茶": false, "green tea": false, strings.Repeat("a", MaxLen+1): false,
	} {
		if Valid(s) != want {
			t.Errorf("Valid(%q) = %v", s, !want)
		}
	}
	if got := WithSuffix("green-tea", 2); got != "green-tea-2" {
		t.Errorf("WithSuffix: %q", got)
	}
	if got := WithSuffix(strings.Repeat("a", MaxLen), 12); len(got) != MaxLen || !Valid(got) || !strings.HasSuffix(got, "-12") {
		t.Errorf("WithSuffix at the limit: %q", got)
	}
}
