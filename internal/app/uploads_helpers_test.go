package app_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/testdb"
)

// forEachUploadServer runs fn on SQLite and MySQL with a server whose disk store is served
// by itself and which goes by a manual clock.
func forEachUploadServer(t *testing.T, fn func(t *testing.T, s *apitest.Server, clock *apitest.Clock), opts ...func(*config.Config)) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			clock := apitest.NewClock(time.Now())
			fn(t, apitest.NewForUploads(t, d.URL(t), clock, opts...), clock)
		})
	}
}

// testJPEG is a w×h JPEG with an EXIF block holding orientation and a GPS-like secret
// that must not survive processing.
func testJPEG(t *testing.T, w, h, orientation int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	// TIFF header (little-endian), one IFD entry: Orientation (0x0112), SHORT, 1 value;
	// then a trailing string that stands for GPS and camera data.
	tiff := []byte("II*\x00\x08\x00\x00\x00")
	tiff = binary.LittleEndian.AppendUint16(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.LittleEndian.AppendUint16(tiff, 3)
	tiff = binary.LittleEndian.AppendUint32(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, uint16(orientation))
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	tiff = append(tiff, "GPS 31.2304N 121.4737E SECRET-SERIAL"...)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1}
	app1 = binary.BigEndian.AppendUint16(app1, uint16(len(seg)+2))
	app1 = append(app1, seg...)
	b := buf.Bytes()
	return append(append(append([]byte{}, b[:2]...), app1...), b[2:]...)
}

// testPNG is a w×h PNG with some transparency.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{200, uint8(x), uint8(y), uint8(128 + x%100)})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngClaiming is a small PNG whose header claims w×h pixels: decoding it would need
// w×h×4 bytes, so it must be refused from the header alone.
func pngClaiming(t *testing.T, w, h uint32) []byte {
	t.Helper()
	b := testPNG(t, 1, 1)
	// The IHDR chunk starts at byte 8: length (4), "IHDR" (4), width, height, …, CRC.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// multipartUpload sends a GraphQL multipart request (the spec's curl example) with one
// file mapped to variables.file.
func multipartUpload(t *testing.T, s *apitest.Server, token, query string, vars map[string]any, filename, contentType string, data []byte) *apitest.Response {
	t.Helper()
	vars["file"] = nil
	ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("operations", string(ops))
	_ = mw.WriteField("map", `{"0": ["variables.file"]}`)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="0"; filename="`+filename+`"`)
	h.Set("Content-Type", contentType)
	part, _ := mw.CreatePart(h)
	_, _ = part.Write(data)
	_ = mw.Close()
	return rawPost(t, s, token, mw.FormDataContentType(), body.Bytes())
}

func rawPost(t *testing.T, s *apitest.Server, token, contentType string, body []byte) *apitest.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.HTTP.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &apitest.Response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", res.StatusCode, raw)
	}
	return out
}

// presigned is what createUpload returns.
type presigned struct {
	Upload    struct{ ID, State string }
	Method    string
	URL       string
	Headers   []struct{ Name, Value string }
	ExpiresAt string
}

const createUploadMutation = `mutation($i: CreateUploadInput!) { createUpload(input: $i) {
  upload { id state } method url headers { name value } expiresAt } }`

func createUpload(t *testing.T, s *apitest.Server, token, purpose, contentType string, size int) presigned {
	t.Helper()
	r := s.MustQuery(token, createUploadMutation, map[string]any{"i": map[string]any{
		"purpose": purpose, "contentType": contentType, "size": size, "filename": "C:\\Users\\me\\photo.jpg"}})
	var out struct{ CreateUpload presigned }
	r.Decode(t, &out)
	return out.CreateUpload
}

// putFile makes the presigned request with body, as a browser's fetch would.
func putFile(t *testing.T, p presigned, contentType string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(p.Method, p.URL, bytes.NewReader(body))
	for _, h := range p.Headers {
		req.Header.Set(h.Name, h.Value)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}

func fetchFile(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, raw
}

// uploadedFile is the UploadedFile fields the tests read.
type uploadedFile struct {
	ID, State, ContentType, Sha256, Filename string
	Size                                     int
	Width, Height                            *int
	URL                                      *string
	Thumbnails                               []struct {
		Size, Width, Height int
		URL                 string
	}
}

const uploadedFileFields = `id state contentType size width height sha256 filename url thumbnails { size width height url }`
