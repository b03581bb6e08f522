package seed

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/demoimage"
	"github.com/xiadan/xiadan/internal/i18n"
	"github.com/xiadan/xiadan/internal/slug"
)

// productDraft is a product and its variants, ready to be inserted.
type productDraft struct {
	merchantID int
	categoryID int
	// title, description and attributes are the Chinese (the default locale); en holds
	// their English translation, written as internal/i18n rows.
	title string
	en    []i18n.Input
	// slugBase is the English title as a slug; the seeder makes it unique.
	slugBase    string
	description string
	kind        product.Kind
	status      product.Status
	images      []schematype.Image
	attributes  []schematype.Attribute
	salesCount  int
	createdAt   time.Time
	publishedAt *time.Time
	variants    []variantDraft
}

// variantDraft is one variant of a productDraft.
type variantDraft struct {
	sku               string
	options           []schematype.OptionValue
	price             int64
	stock             int
	lowStockThreshold int
}

// listing is one item of one family: what a product is about before it gets a title.
type listing struct {
	fam *family
	it  *item
}

// shop is a merchant as the generator needs it once it is in the database.
type shop struct {
	spec     *merchantSpec
	id       int
	joined   time.Time
	listings []listing // every item of every family, interleaved across families
	seq      int       // products generated so far; numbers the SKUs
}

func newShop(spec *merchantSpec, id int, joined time.Time) *shop {
	s := &shop{spec: spec, id: id, joined: joined}
	for round := 0; ; round++ {
		added := false
		for i := range spec.families {
			f := &spec.families[i]
			if round < len(f.items) {
				s.listings = append(s.listings, listing{fam: f, it: &f.items[round]})
				added = true
			}
		}
		if !added {
			return s
		}
	}
}

// generator turns listings into product drafts. All randomness comes from rng, so the same
// seed yields the same catalogue.
type generator struct {
	rng        *rand.Rand
	now        time.Time
	categories map[string]int // leaf slug → id
	publicURL  string         // where the demo pictures are served (Options.PublicURL)
}

// plainTitle is a listing's own name; decoratedTitle dresses it up so that repeat listings
// and scale products read like the many near-duplicates of a real marketplace.
func plainTitle(l listing) bi { return l.it.bi }

func (g *generator) decoratedTitle(l listing) bi {
	adj := pick(g.rng, adjectives[l.fam.kind])
	words := series[l.fam.kind]
	if len(l.fam.series) > 0 && g.rng.IntN(2) == 0 {
		words = l.fam.series
	}
	ser := pick(g.rng, words)
	return bi{
		zh: adj.zh + l.it.zh + ser.zh,
		en: adj.en + " " + l.it.en + ", " + ser.en,
	}
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// product drafts one product of shop s from listing l.
func (g *generator) product(s *shop, l listing, title bi, status product.Status, created time.Time) productDraft {
	fam := l.fam
	d := productDraft{
		merchantID: s.id,
		categoryID: g.categories[fam.category],
		title:      title.zh,
		slugBase:   slug.FromTitle(cmp.Or(title.en, title.zh)),
		kind:       fam.kind,
		status:     status,
		createdAt:  created,
	}
	var descriptionEn string
	d.description, descriptionEn = g.description(fam, title)
	d.images = g.pictures(fam.category, title)
	var attrsEn []schematype.Attribute
	d.attributes, attrsEn = g.attributes(l)
	d.en = append(d.en, i18n.Input{Field: "title", Value: cmp.Or(title.en, title.zh)}, i18n.Input{Field: "description", Value: descriptionEn})
	for i, a := range attrsEn {
		d.en = append(d.en, i18n.Input{Field: i18n.AttributeName(i), Value: a.Name}, i18n.Input{Field: i18n.AttributeValue(i), Value: a.Value})
	}
	if status != product.StatusDRAFT {
		p := created.Add(time.Duration(1+g.rng.IntN(72)) * time.Hour)
		if p.After(g.now) {
			p = g.now
		}
		d.publishedAt = &p
	}
	switch status {
	case product.StatusACTIVE:
		d.salesCount = int(g.rng.ExpFloat64() * 250)
		if g.rng.IntN(30) == 0 { // a few best-sellers
			d.salesCount = d.salesCount*10 + 2000
		}
	case product.StatusDELISTED:
		d.salesCount = int(g.rng.ExpFloat64() * 60)
	}
	s.seq++
	d.variants = g.variants(s, fam)
	return d
}

func (g *generator) description(fam *family, title bi) (zh, en string) {
	note := kindNotes[fam.kind]
	blurb := pick(g.rng, fam.blurbs)
	zh = title.zh + "：" + blurb.zh + note.zh
	en = title.en + ". " + blurb.en + " " + note.en
	return zh, en
}

// pictures are the product's photos: placeholders served by the binary itself
// (internal/demoimage), alike within a category.
func (g *generator) pictures(category string, title bi) []schematype.Image {
	n := 1 + g.rng.IntN(4)
	imgs := make([]schematype.Image, n)
	for k := range imgs {
		alt := title.zh + "主图 " + title.en + ", main photo"
		if k > 0 {
			alt = fmt.Sprintf("%s细节图%d %s, detail %d", title.zh, k, title.en, k)
		}
		imgs[k] = schematype.Image{URL: demoimage.URL(g.publicURL, demoimage.ProductImage(category, k)), Alt: alt}
	}
	return imgs
}

// attributes are a product's specifications in Chinese and in English, in the same order.
func (g *generator) attributes(l listing) (zh, en []schematype.Attribute) {
	n := len(l.it.attrs) + len(l.fam.attrs)
	zh, en = make([]schematype.Attribute, 0, n), make([]schematype.Attribute, 0, n)
	add := func(name, value bi) {
		zh = append(zh, schematype.Attribute{Name: name.zh, Value: value.zh})
		en = append(en, schematype.Attribute{Name: cmp.Or(name.en, name.zh), Value: cmp.Or(value.en, value.zh)})
	}
	for _, a := range l.it.attrs {
		add(a.name, a.value)
	}
	for _, a := range l.fam.attrs {
		add(a.name, pick(g.rng, a.values))
	}
	return zh, en
}

// variantCounts weighs how many variants a product wants. Short option lists cap the
// count, so products end up with about three on average.
var variantCounts = []int{1, 2, 3, 3, 4, 4, 5, 6, 6, 6}

// variants drafts 1–6 variants of a product of family fam. Every variant takes a value of
// every option of the family, so a product's variants share their option names.
func (g *generator) variants(s *shop, fam *family) []variantDraft {
	want := pick(g.rng, variantCounts)
	// Choose a run of consecutive values in each option (sizes stay in order).
	picked := make([][]choice, len(fam.options))
	left := want
	for i, o := range fam.options {
		k := min(len(o.values), left)
		if i == 0 && len(fam.options) > 1 {
			k = 1 + g.rng.IntN(k) // leave room for the second option
		}
		k = max(k, 1)
		start := g.rng.IntN(len(o.values) - k + 1)
		picked[i] = o.values[start : start+k]
		left = max(left/k, 1)
	}
	n := 1
	for _, p := range picked {
		n *= len(p)
	}
	base := fam.price[0]
	if span := fam.price[1] - fam.price[0]; span > 0 {
		base += g.rng.Int64N(span + 1)
	}
	threshold, most := 10, 500
	switch fam.kind {
	case product.KindVIRTUAL:
		threshold = 20
	case product.KindSERVICE:
		threshold, most = 3, 40
	default:
		threshold = pick(g.rng, []int{5, 10, 10, 20})
	}
	out := make([]variantDraft, n)
	for i := range out {
		price := float64(base)
		var fixed int64
		opts := make([]schematype.OptionValue, len(picked))
		rest := i
		for d := len(picked) - 1; d >= 0; d-- {
			c := picked[d][rest%len(picked[d])]
			rest /= len(picked[d])
			opts[d] = schematype.OptionValue{Name: fam.options[d].name.String(), Value: c.String()}
			if c.mult > 0 {
				price *= c.mult
			}
			if c.price > 0 {
				fixed = c.price
			}
		}
		p := fixed
		if p == 0 {
			p = retailPrice(price)
		}
		out[i] = variantDraft{
			sku:               fmt.Sprintf("%s-%06d-%d", s.spec.skuPrefix, s.seq, i+1),
			options:           opts,
			price:             p,
			stock:             g.stock(threshold, most),
			lowStockThreshold: threshold,
		}
	}
	return out
}

// retailPrice rounds fen to a shelf price: whole yuan ending in 9 (¥39, ¥129) from ¥20,
// and ¥x.90 below.
func retailPrice(fen float64) int64 {
	yuan := int64(math.Round(fen / 100))
	switch {
	case yuan < 1:
		return 90
	case yuan < 20:
		return yuan*100 - 10
	}
	return (yuan/10*10 + 9) * 100
}

// stock is usually comfortable, sometimes low and now and then sold out.
func (g *generator) stock(threshold, most int) int {
	switch r := g.rng.IntN(100); {
	case r < 5:
		return 0
	case r < 15:
		return 1 + g.rng.IntN(threshold-1)
	}
	return threshold + g.rng.IntN(most-threshold+1)
}

// between returns a random time in [from, to), to the second.
func (g *generator) between(from, to time.Time) time.Time {
	span := to.Sub(from)
	if span <= time.Second {
		return from
	}
	return from.Add(time.Duration(g.rng.Int64N(int64(span/time.Second))) * time.Second)
}

// The unified social credit code (统一社会信用代码) alphabet, without I, O, S, V and Z.
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// licenceNumber makes a well-formed 18-character unified social credit code for a company
// (91) registered in region, with valid check characters (GB 32100 and GB 11714).
func licenceNumber(rng *rand.Rand, region string) string {
	org := []byte("MA")
	for range 5 {
		org = append(org, usccAlphabet[rng.IntN(len(usccAlphabet))])
	}
	org = append(org, usccAlphabet[rng.IntN(10)])
	org = append(org, orgCodeCheck(org))
	code := "91" + region + string(org)
	return code + string(usccCheck(code))
}

// orgCodeCheck is the check character of an 8-character organisation code (GB 11714).
func orgCodeCheck(code []byte) byte {
	weights := [8]int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range code[:8] {
		v := int(c - '0')
		if c >= 'A' {
			v = int(c-'A') + 10
		}
		sum += v * weights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		return 'X'
	case 11:
		return '0'
	default:
		return byte('0' + c)
	}
}

// usccCheck is the 18th character of a unified social credit code (GB 32100).
func usccCheck(code17 string) byte {
	sum := 0
	for i := range 17 {
		sum += strings.IndexByte(usccAlphabet, code17[i]) * usccWeights[i]
	}
	return usccAlphabet[(31-sum%31)%31]
}
