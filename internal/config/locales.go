package config

import (
	"fmt"
	"strings"

	"golang.org/x/text/language"
)

// DefaultLocales are the locales served when LOCALES is unset: Chinese (the default, the
// language of the records' own columns) and English.
var DefaultLocales = []string{"zh-CN", "en"}

func localesOr(list []string) []string {
	if len(list) == 0 {
		return DefaultLocales
	}
	return list
}

// validateLocales checks LOCALES: well-formed, known BCP 47 tags, each once.
func validateLocales(list []string) []error {
	var errs []error
	seen := map[string]bool{}
	for _, s := range list {
		t, err := language.Parse(strings.ReplaceAll(s, "_", "-"))
		if err != nil {
			errs = append(errs, fmt.Errorf("LOCALES: %q is not a BCP 47 language tag such as zh-CN or en-GB", s))
			continue
		}
		if seen[t.String()] {
			errs = append(errs, fmt.Errorf("LOCALES: %s is listed twice", t))
		}
		seen[t.String()] = true
	}
	return errs
}
