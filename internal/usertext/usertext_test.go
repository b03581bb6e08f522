package usertext_test

import (
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/usertext"
)

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"Chinese name", " 王小明 ", "王小明", true},
		{"ideographic spaces inside", "茶语轩\u3000旗舰店", "茶语轩\u3000旗舰店", true},
		{"emoji with presentation selector", "Tea ❤️", "Tea ❤️", true},
		{"right-to-left script", "مرحبا", "مرحبا", true},
		{"accents", "Zoë Šimić", "Zoë Šimić", true},
		{"right-to-left override", "Tea\u202Egnp.exe", "", false},
		{"left-to-right isolate", "a\u2066b", "", false},
		{"right-to-left mark", "a\u200Fb", "", false},
		{"zero-width space", "ad\u200Bmin", "", false},
		{"zero-width joiner", "👨\u200D👩", "", false},
		{"word joiner", "a\u2060b", "", false},
		{"byte order mark", "\uFEFFname", "", false},
		{"soft hyphen", "ad\u00ADmin", "", false},
		{"tag character", "a\U000E0041", "", false},
		{"Hangul filler", "\u3164", "", false},
		{"braille blank", "a\u2800", "", false},
		{"new line", "two\nlines", "", false},
		{"tab", "a\tb", "", false},
		{"NUL", "a\x00b", "", false},
		{"C1 control", "a\u0085b", "", false},
		{"line separator", "a\u2028b", "", false},
		{"invalid UTF-8", "a\xffb", "", false},
		{"blank", "   ", "", false},
		{"too long", strings.Repeat("名", 11), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := usertext.Line("name", tc.in, 1, 10)
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("Line(%q) = %q, %v", tc.in, got, err)
			}
			if err != nil && (apperror.CodeOf(err) != apperror.BadUserInput || err.(*apperror.Error).Field != "name") {
				t.Fatalf("error %v is not BAD_USER_INPUT on name", err)
			}
		})
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"paragraphs", "第一段\n\n第二段\r\n\tindented", true},
		{"mixed direction with marks", "Price \u200F١٠٠\u200E yuan", true},
		{"emoji sequence", "家庭 👨\u200D👩\u200D👧", true},
		{"right-to-left override", "safe \u202E txt.exe", false},
		{"first strong isolate", "a\u2068b", false},
		{"bell", "ding\a", false},
		{"escape", "\x1b[31mred", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := usertext.Text("description", tc.in, 0, 100); tc.ok != (err == nil) {
				t.Fatalf("Text(%q): %v", tc.in, err)
			}
		})
	}
	if _, err := usertext.Text("description", strings.Repeat("a", 101), 0, 100); err == nil || !strings.Contains(err.Error(), "at most 100") {
		t.Fatalf("over the limit: %v", err)
	}
}

func TestEmail(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "ann@example.com", "ann@example.com"},
		{"trimmed and lower-cased", "  Ann.Lee+shop@Example.COM ", "ann.lee+shop@example.com"},
		{"full-width input", "ＡＮＮ＠Ｅｘａｍｐｌｅ．ｃｏｍ", "ann@example.com"},
		{"internationalised", "用户@例子.中国", "用户@例子.中国"},
		{"zero-width space", "an\u200Bn@example.com", ""},
		{"right-to-left override in the domain", "ann@exa\u202Emple.com", ""},
		{"soft hyphen", "an\u00ADn@example.com", ""},
		{"NUL", "ann\x00@example.com", ""},
		{"new line", "ann@example.com\nBcc: x@example.com", ""},
		{"inner space", "ann lee@example.com", ""},
		{"ideographic space", "ann\u3000@example.com", ""},
		{"with a display name", "Ann <ann@example.com>", ""},
		{"quoted local part", `"ann lee"@example.com`, ""},
		{"no dot in the domain", "ann@localhost", ""},
		{"domain literal", "ann@[10.0.0.1]", ""},
		{"empty label", "ann@example..com", ""},
		{"local part too long", strings.Repeat("a", 65) + "@example.com", ""},
		{"too long", "a@" + strings.Repeat("b", 250) + ".com", ""},
		{"invalid UTF-8", "ann\xff@example.com", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := usertext.Email("email", tc.in)
			if (tc.want == "") != (err != nil) || got != tc.want {
				t.Fatalf("Email(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			if err == nil {
				// Normalising twice changes nothing.
				if again, err := usertext.Email("email", got); err != nil || again != got {
					t.Fatalf("not idempotent: %q → %q, %v", got, again, err)
				}
			}
		})
	}
	if !usertext.SameEmail("Staff@Example.com", "ｓｔａｆｆ＠ｅｘａｍｐｌｅ．ｃｏｍ") {
		t.Fatal("the same address in two spellings differs")
	}
	if usertext.SameEmail("staff@example.com", "staff@example.org") || usertext.SameEmail("", "") {
		t.Fatal("different or empty addresses are the same")
	}
}
