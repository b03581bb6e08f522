// Package demoimage draws the demo's placeholder pictures — product photos and merchant
// logos — and serves them from the binary at /assets/demo/<name>, so the seeded catalogue
// shows pictures offline and on any host, with nothing to download or commit.
//
// The pictures are drawn with the image package the first time each is asked for and kept:
// a fixed set of names (ProductImages products, Logos logos), so a client cannot make the
// server draw or keep anything else.
package demoimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Path is where the handler is mounted.
const Path = "/assets/demo/"

// How many distinct pictures there are of each kind.
const (
	ProductImages = 24
	Logos         = 8
	size          = 240
)

// CacheControl is sent with every picture: a day in any cache. The pictures change only
// when this package's drawing does, and then their ETag changes too.
const CacheControl = "public, max-age=86400"

// ProductImage names the picture of a product: pictures of one key (a category, say) start
// at the same place, and k (the picture's position on the product) steps through the set.
func ProductImage(key string, k int) string {
	return fmt.Sprintf("product-%02d.png", 1+(int(hash(key))+k)%ProductImages)
}

// Logo names the logo of a merchant with the given key (its slug).
func Logo(key string) string {
	return fmt.Sprintf("logo-%02d.png", 1+int(hash(key))%Logos)
}

// URL is the absolute address of the picture name on a server reached at base
// (http://localhost:8080, say).
func URL(base, name string) string {
	return strings.TrimSuffix(base, "/") + Path + name
}

func hash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

type picture struct {
	once sync.Once
	data []byte
	etag string
	draw func() image.Image
}

var pictures = func() map[string]*picture {
	m := map[string]*picture{}
	for i := range ProductImages {
		m[fmt.Sprintf("product-%02d.png", i+1)] = &picture{draw: func() image.Image { return draw(i, ProductImages, false) }}
	}
	for i := range Logos {
		m[fmt.Sprintf("logo-%02d.png", i+1)] = &picture{draw: func() image.Image { return draw(i, Logos, true) }}
	}
	return m
}()

// Names lists every picture the handler serves.
func Names() []string {
	out := make([]string, 0, len(pictures))
	for n := range pictures {
		out = append(out, n)
	}
	return out
}

func (p *picture) bytes() ([]byte, string) {
	p.once.Do(func() {
		var b bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.DefaultCompression}
		if err := enc.Encode(&b, p.draw()); err != nil {
			panic(fmt.Sprintf("demoimage: encoding a picture: %v", err)) // an in-memory RGBA always encodes
		}
		p.data = b.Bytes()
		sum := sha256.Sum256(p.data)
		p.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	})
	return p.data, p.etag
}

// Handler serves the pictures under Path (GET and HEAD; conditional requests answered with
// 304). Storefronts on other origins show them, so they are shared cross-origin.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := pictures[strings.TrimPrefix(r.URL.Path, Path)]
		if p == nil || !strings.HasPrefix(r.URL.Path, Path) {
			http.NotFound(w, r)
			return
		}
		data, etag := p.bytes()
		h := w.Header()
		h.Set("Content-Type", "image/png")
		h.Set("Cache-Control", CacheControl)
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
}

// draw paints picture i of n: a soft vertical gradient in the picture's own hue and a
// light shape in the middle — a disc on a plinth for products, a rounded badge for logos.
func draw(i, n int, logo bool) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	hue := float64(i) * 360 / float64(n)
	if logo {
		hue = math.Mod(hue+20, 360)
	}
	top, bottom := hsv(hue, 0.25, 0.98), hsv(hue, 0.55, 0.85)
	shape := hsv(hue, 0.1, 1)
	c := float64(size) / 2
	for y := range size {
		t := float64(y) / float64(size-1)
		bg := mix(top, bottom, t)
		for x := range size {
			px := bg
			fx, fy := float64(x)+0.5, float64(y)+0.5
			if logo {
				if d := roundedBox(fx-c, fy-c, 70, 28); d < 0 {
					px = shape
				} else if d < 1 {
					px = mix(shape, bg, d)
				}
			} else {
				if d := math.Hypot(fx-c, fy-c*0.9) - 62; d < 0 {
					px = shape
				} else if d < 1 {
					px = mix(shape, bg, d)
				}
				if fy > 190 && fy < 200 && math.Abs(fx-c) < 80 {
					px = mix(bottom, color.NRGBA{0, 0, 0, 255}, 0.12)
				}
			}
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = px.R, px.G, px.B, px.A
		}
	}
	return img
}

// roundedBox is the signed distance from (x, y) to a square of half-side h with corners of
// radius r, centred on the origin.
func roundedBox(x, y, h, r float64) float64 {
	qx, qy := math.Abs(x)-h+r, math.Abs(y)-h+r
	out := math.Hypot(math.Max(qx, 0), math.Max(qy, 0))
	return out + math.Min(math.Max(qx, qy), 0) - r
}

func mix(a, b color.NRGBA, t float64) color.NRGBA {
	l := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-t) + float64(y)*t)) }
	return color.NRGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), 255}
}

func hsv(h, s, v float64) color.NRGBA {
	c := v * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	m := v - c
	var r, g, b float64
	switch {
	case h < 60:
		r, g, b = c, x, 0
	case h < 120:
		r, g, b = x, c, 0
	case h < 180:
		r, g, b = 0, c, x
	case h < 240:
		r, g, b = 0, x, c
	case h < 300:
		r, g, b = x, 0, c
	default:
		r, g, b = c, 0, x
	}
	to := func(f float64) uint8 { return uint8(math.Round((f + m) * 255)) }
	return color.NRGBA{to(r), to(g), to(b), 255}
}
