package i18n

import (
	"strings"
	"testing"
)

func TestLocaleResolution(t *testing.T) {
	l, err := NewLocales([]string{"zh_cn", "en", "en-GB", "zh-Hant", "zh-HK"})
	if err != nil {
		t.Fatal(err)
	}
	for code, chain := range map[string]string{
		"zh-CN": "zh-CN", "en": "en>zh-CN", "en-GB": "en-GB>en>zh-CN", "zh-Hant": "zh-Hant>zh-CN", "zh-HK": "zh-HK>zh-Hant>zh-CN",
	} {
		if got := strings.Join(l.Chain(code), ">"); got != chain {
			t.Errorf("chain of %s: %s, want %s", code, got, chain)
		}
	}
	for header, want := range map[string]string{
		"": "zh-CN", "en": "en", "EN-gb": "en-GB", "en-US": "en", "zh-TW": "zh-Hant", "zh-Hant-HK": "zh-HK",
		"fr, en;q=0.5": "en", "en;q=0.2, zh-HK;q=0.9": "zh-HK", "en;q=0": "zh-CN", "ja": "zh-CN",
		"*": "zh-CN", "garbage;;;q=": "zh-CN", strings.Repeat("en,", 400): "zh-CN",
	} {
		if got := l.FromHeader(header); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", header, got, want)
		}
	}
	for arg, want := range map[string]string{"en": "en", "ZH_CN": "zh-CN", "en-AU": "en-GB", "zh-HK": "zh-HK", "zh-MO": "zh-HK", "fr": "", "x!": "", "": ""} {
		got, err := l.Explicit("language", arg)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("@inContext(language: %q): %q, %v; want %q", arg, got, err, want)
		}
	}
	for _, bad := range [][]string{nil, {"en", "EN"}, {"not a tag"}} {
		if _, err := NewLocales(bad); err == nil {
			t.Errorf("NewLocales(%q) accepted", bad)
		}
	}
}
