package search

import (
	"sync"

	"github.com/go-ego/gse"
	"github.com/mozillazg/go-pinyin"
)

// The Chinese word segmenter is gse (github.com/go-ego/gse, pure Go, a jieba-style
// dictionary DAG with an HMM for unknown words) with its simplified-Chinese dictionary,
// embedded in the binary. Loading it takes about 1.4 s and 130 MB, so it happens once,
// on first use (or earlier with WarmUp).
var segmenter struct {
	once sync.Once
	seg  gse.Segmenter
}

// WarmUp loads the segmenter's dictionary now, so that the first search does not wait for
// it. Safe to call more than once, from any goroutine.
func WarmUp() {
	segmenter.once.Do(func() {
		segmenter.seg.SkipLog = true
		if err := segmenter.seg.LoadDictEmbed("zh_s"); err != nil {
			// The dictionary is embedded: failing to read it is a build error. Words then
			// come from the HMM alone, which still splits text.
			segmenter.seg.SkipLog = true
		}
	})
}

// Words splits a run of CJK characters into words, with the dictionary and the HMM for
// words the dictionary does not know: 降噪蓝牙耳机 → 降噪 蓝牙 耳机, 龙井茶 → 龙井茶.
func Words(run string) []string {
	WarmUp()
	out := segmenter.seg.Cut(run, true)
	kept := out[:0]
	for _, w := range out {
		if w != "" {
			kept = append(kept, w)
		}
	}
	return kept
}

var pinyinArgs = pinyin.Args{Style: pinyin.Normal}

// Pinyin is the toneless pinyin of a Chinese word written as one Latin word (龙井 →
// longjing, 西湖 → xihu), or "" when a character has none.
func Pinyin(word string) string {
	var b []byte
	for _, r := range word {
		py := pinyin.SinglePinyin(r, pinyinArgs)
		if len(py) == 0 || py[0] == "" {
			return ""
		}
		b = append(b, py[0]...)
	}
	return string(b)
}
