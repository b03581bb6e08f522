package search

import "strings"

// Where a text of a product comes from, which sets its tokens' weight.
const (
	FieldTitle       = "title"
	FieldAttribute   = "attribute"
	FieldDescription = "description"
)

// Text is one piece of a product's text in one locale. The index is built from a product's
// texts through IndexTexts alone, so translations (more texts, in other locales) add rows
// to the same index without another code path. Locale "" is the product's own text
// (zh-CN by default).
type Text struct {
	Locale string
	Field  string
	Text   string
}

// ProductTexts returns the texts of a product in its own locale: its title, its
// description and each attribute ("name value").
func ProductTexts(title, description string, attributes ...string) []Text {
	out := make([]Text, 0, 2+len(attributes))
	out = append(out, Text{Field: FieldTitle, Text: title}, Text{Field: FieldDescription, Text: description})
	for _, a := range attributes {
		out = append(out, Text{Field: FieldAttribute, Text: a})
	}
	return out
}

// FieldWeight is the weight of a token found in field.
func FieldWeight(field string) int {
	switch field {
	case FieldTitle:
		return TitleWeight
	case FieldAttribute:
		return AttributeWeight
	}
	return DescriptionWeight
}

// chineseLocale reports whether texts of locale are Chinese (or the product's own text).
func chineseLocale(locale string) bool {
	return locale == "" || strings.HasPrefix(strings.ToLower(locale), "zh")
}

// IndexTexts returns the index entries of a product's texts: every distinct token with the
// sum of the weights of the texts it appears in (each text counts once per token). Besides
// Tokenize's tokens, the Chinese words of titles and attributes (segmented by Words) add
// their toneless pinyin as a Latin token, so that 西湖龙井 is found by "longjing" and
// "xihu longjing".
func IndexTexts(texts []Text) map[string]int {
	out := map[string]int{}
	for _, t := range texts {
		text := capRunes(t.Text)
		w := FieldWeight(t.Field)
		tokens := Tokenize(text)
		if t.Field != FieldDescription && chineseLocale(t.Locale) {
			tokens = appendPinyin(tokens, text)
		}
		for _, tok := range tokens {
			out[tok] += w
		}
	}
	return out
}

// appendPinyin adds the pinyin tokens of text's Chinese words of two or more characters
// that tokens does not hold yet.
func appendPinyin(tokens []string, text string) []string {
	seen := map[string]bool{}
	for _, t := range tokens {
		seen[t] = true
	}
	scan(text, func(string) {}, func(run []rune) {
		if len(run) < 2 {
			return
		}
		for _, w := range Words(string(run)) {
			if len([]rune(w)) < 2 {
				continue
			}
			if py := latinToken(Pinyin(w)); py != "" && !seen[py] {
				seen[py] = true
				tokens = append(tokens, py)
			}
		}
	})
	return tokens
}

func capRunes(text string) string {
	if len(text) > MaxFieldRunes { // bytes ≥ runes: only then can it be too long
		if runes := []rune(text); len(runes) > MaxFieldRunes {
			return string(runes[:MaxFieldRunes])
		}
	}
	return text
}
