package search_test

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/xiadan/xiadan/internal/search"
)

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"empty", "", nil},
		{"punctuation only", " ，。!?…— ", nil},
		{"English words are lower-cased", "West Lake LONGJING", []string{"west", "lake", "longjing"}},
		{"Chinese runs become bigrams and their last character", "西湖龙井", []string{"西湖", "湖龙", "龙井", "井"}},
		{"a one-character run is kept", "茶", []string{"茶"}},
		{"punctuation splits runs", "龙井，绿茶", []string{"龙井", "井", "绿茶", "茶"}},
		{"mixed scripts split", "2025新款T恤", []string{"2025", "新款", "款", "t", "恤"}},
		{"full-width letters and digits are normalised", "ＡＢＣ１２３　Ｔｅａ", []string{"abc123", "tea"}},
		{"accents are folded", "Café crème Straße", []string{"cafe", "creme", "strasse"}},
		{"plurals are folded", "cups boxes berries glasses watches dishes earbuds",
			[]string{"cup", "box", "berry", "glass", "watch", "dish", "earbud"}},
		{"short words and -ss/-us/-is words keep their s", "gas bus glass status analysis", []string{"gas", "bus", "glass", "status", "analysis"}},
		{"stop words are dropped", "The tea of the day and a cup", []string{"tea", "day", "cup"}},
		{"apostrophes and decimal points inside words", "Pu'er Kids' Bluetooth 5.3 end.", []string{"puer", "kid", "bluetooth", "5.3", "end"}},
		{"hyphens split", "USB-C no-questions-asked", []string{"usb", "c", "no", "question", "asked"}},
		{"repeats are listed once", "tea Tea TEA 茶茶", []string{"tea", "茶茶", "茶"}},
		{"Japanese kana are runs too", "おちゃ", []string{"おち", "ちゃ", "ゃ"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := search.Tokenize(tc.text); !slices.Equal(got, tc.want) {
				t.Fatalf("Tokenize(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

// Tokenize runs in many requests at once (hooks, the seeder's workers, suggestions); the
// accent folding it shares must not race (run under -race).
func TestTokenizeConcurrently(t *testing.T) {
	texts := []string{"Café crème Straße", "Ångström naïve façade", "Pu'er Kids' Bluetooth", "Crème brûlée 茶"}
	want := make([][]string, len(texts))
	for i, s := range texts {
		want[i] = search.Tokenize(s)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 200 {
				i := (g + n) % len(texts)
				if got := search.Tokenize(texts[i]); !slices.Equal(got, want[i]) {
					t.Errorf("Tokenize(%q) = %q, want %q", texts[i], got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestTokensFitTheColumn(t *testing.T) {
	long := strings.Repeat("a", 40) + " " + strings.Repeat("é", 40) + " " + strings.Repeat("ab", 30) + "s"
	for _, tok := range search.Tokenize(long) {
		if len(tok) > search.MaxTokenBytes {
			t.Fatalf("token %q is %d bytes", tok, len(tok))
		}
	}
	// A long word is cut the same way when indexing and searching, so it still matches.
	q := search.ParseQuery(strings.Repeat("a", 40))
	if got := search.Tokenize(strings.Repeat("a", 40)); q.Terms[0].Token != got[0] {
		t.Fatalf("query %q, index %q", q.Terms[0].Token, got[0])
	}
}

func TestParseQuery(t *testing.T) {
	exact := func(tokens ...string) []search.Term {
		out := make([]search.Term, len(tokens))
		for i, tok := range tokens {
			out[i] = search.Term{Token: tok}
		}
		return out
	}
	for _, tc := range []struct {
		keyword  string
		terms    []search.Term
		minMatch int
	}{
		{"tea", exact("tea"), 1},
		{"red tea", exact("red", "tea"), 2},
		{"longjing green tea", exact("longjing", "green", "tea"), 2},
		{"a b c d e f g h i j", exact("b", "c", "d", "e", "f", "g", "h", "i", "j"), 6},
		{"龙井", exact("龙井"), 1},
		// Half of a run's bigrams, rounded up.
		{"龙井茶", exact("龙井", "井茶"), 1},
		{"西湖龙井", exact("西湖", "湖龙", "龙井"), 2},
		{"降噪蓝牙耳机", exact("降噪", "噪蓝", "蓝牙", "牙耳", "耳机"), 3},
		{"龙井 tea", exact("龙井", "tea"), 2},
		{"茶", []search.Term{{Token: "茶", Prefix: true}}, 1},
		{"绿 茶", []search.Term{{Token: "绿", Prefix: true}, {Token: "茶", Prefix: true}}, 2},
		{"tea TEA Tea", exact("tea"), 1},
		{"the and of", nil, 0},
		{"   ", nil, 0},
	} {
		t.Run(tc.keyword, func(t *testing.T) {
			q := search.ParseQuery(tc.keyword)
			if !slices.Equal(q.Terms, tc.terms) || q.MinMatch != tc.minMatch {
				t.Fatalf("ParseQuery(%q) = %+v, want terms %+v, minMatch %d", tc.keyword, q, tc.terms, tc.minMatch)
			}
			if q.Empty() != (len(tc.terms) == 0) {
				t.Fatalf("Empty() = %v", q.Empty())
			}
		})
	}
}

func TestParseQueryBoundsTerms(t *testing.T) {
	var words []string
	for i := range 40 {
		words = append(words, "w"+strconv.Itoa(i))
	}
	q := search.ParseQuery("一二三四五六七八九十 " + strings.Join(words, " "))
	if len(q.Terms) != search.MaxTerms || q.MinMatch < 1 || q.MinMatch > len(q.Terms) {
		t.Fatalf("%d terms, minMatch %d", len(q.Terms), q.MinMatch)
	}
	// The score's weight part never reaches the matched part.
	most := search.MaxTerms * (search.TitleWeight + search.AttributeWeight + search.DescriptionWeight)
	if most >= search.ScoreScale {
		t.Fatalf("summed weights reach %d, ScoreScale is %d", most, search.ScoreScale)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []string{"茶", "a", "龙"} {
		end := search.PrefixEnd(c)
		for _, inside := range []string{c, c + "叶", c + "\U0010FFFF"} {
			if !(inside >= c && inside < end) {
				t.Fatalf("%q is not in [%q, %q)", inside, c, end)
			}
		}
	}
}

func TestWeigh(t *testing.T) {
	w := search.Weigh(
		search.Field{Text: "西湖龙井 Longjing", Weight: search.TitleWeight},
		search.Field{Text: "产地 西湖", Weight: search.AttributeWeight},
		search.Field{Text: "Longjing from West Lake, 西湖 西湖", Weight: search.DescriptionWeight},
	)
	for tok, want := range map[string]int{
		"西湖":       search.TitleWeight + search.AttributeWeight + search.DescriptionWeight,
		"longjing": search.TitleWeight + search.DescriptionWeight,
		"产地":       search.AttributeWeight,
		"west":     search.DescriptionWeight,
	} {
		if w[tok] != want {
			t.Fatalf("weight of %q = %d, want %d (all: %v)", tok, w[tok], want, w)
		}
	}
	if got := search.SortedTokens(map[string]int{"b": 1, "a": 1, "茶": 1}); !slices.Equal(got, []string{"a", "b", "茶"}) {
		t.Fatalf("SortedTokens = %q", got)
	}
}

func TestWeighBoundsLongText(t *testing.T) {
	long := strings.Repeat("一二三四五六七八九十", 1000) // 10,000 characters
	w := search.Weigh(search.Field{Text: long + "尾巴", Weight: 1})
	if _, ok := w["尾巴"]; ok {
		t.Fatal("text past MaxFieldRunes was indexed")
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"西湖龙井 West Lake", "ＡＢＣ", "Pu'er 5.3", "'.'.", "a'", "é́́"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range search.Tokenize(s) {
			if tok == "" || len(tok) > search.MaxTokenBytes {
				t.Fatalf("bad token %q of %q", tok, s)
			}
		}
		q := search.ParseQuery(s)
		if len(q.Terms) > search.MaxTerms || (len(q.Terms) > 0) != (q.MinMatch > 0) || q.MinMatch > len(q.Terms) {
			t.Fatalf("bad query %+v of %q", q, s)
		}
	})
}

func TestAnalyzeSegmentsChinese(t *testing.T) {
	for _, tc := range []struct {
		keyword  string
		required []string // tokens of the required one-term clauses
		minMatch int
	}{
		// One word of three characters: half of its bigrams.
		{"龙井茶", []string{"龙井", "井茶"}, 1},
		// Three words: all required; the joining bigrams are optional.
		{"降噪蓝牙耳机", []string{"降噪", "蓝牙", "耳机"}, 3},
		{"西湖龙井", []string{"西湖", "龙井"}, 2},
	} {
		a := search.Analyze(tc.keyword, search.Dict{})
		var got []string
		for _, c := range a.Clauses {
			if !c.Optional && len(c.Any) == 1 && len(c.Any[0]) == 1 {
				got = append(got, c.Any[0][0].Token)
			}
		}
		if !slices.Equal(got, tc.required) || a.MinMatch != tc.minMatch {
			t.Errorf("Analyze(%q): required %v, minMatch %d; want %v, %d", tc.keyword, got, a.MinMatch, tc.required, tc.minMatch)
		}
	}
}

func TestAnalyzeSynonymsAndTypos(t *testing.T) {
	d := search.Dict{
		Synonyms: search.NewSynonyms([][]string{{"T恤", "tshirt", "t-shirt"}}),
		Vocab:    search.NewVocabulary(map[string]int{"bluetooth": 3, "speaker": 2, "umbrella": 1, "wireless": 1}),
	}
	for _, kw := range []string{"T恤", "tshirt", "T-Shirts", "t shirt"} {
		a := search.Analyze(kw, d)
		if len(a.Clauses) != 1 || len(a.Clauses[0].Any) != 3 || a.MinMatch != 1 {
			t.Errorf("Analyze(%q) = %+v", kw, a)
		}
	}
	for kw, want := range map[string]string{"blutooth": "bluetooth", "bleutooth": "bluetooth", "umbrela": "umbrella", "wireles": "wireless", "speakr": "speaker"} {
		a := search.Analyze(kw, d)
		if fixes := a.Corrections[strings.TrimSuffix(kw, "s")]; len(fixes) == 0 && len(a.Corrections) == 0 {
			t.Errorf("Analyze(%q): no corrections, want %s", kw, want)
		}
	}
	// Short words and known words are not corrected.
	if a := search.Analyze("spea tea", d); len(a.Corrections) != 0 {
		t.Errorf("corrected %v", a.Corrections)
	}
}

func TestIndexTextsAddsPinyin(t *testing.T) {
	idx := search.IndexTexts(search.ProductTexts("西湖龙井", "杭州产区"))
	if idx["longjing"] != search.TitleWeight || idx["xihu"] != search.TitleWeight || idx["龙井"] != search.TitleWeight {
		t.Fatalf("%v", idx)
	}
	if _, ok := idx["hangzhou"]; ok {
		t.Fatalf("description pinyin indexed: %v", idx)
	}
}
