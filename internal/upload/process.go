package upload

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"net/http"
	"slices"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers the WebP decoder with image.Decode

	"github.com/xiadan/xiadan/internal/apperror"
)

// Reasons (extensions.reason) of a file the server refuses.
const (
	// ReasonUnsupportedContent: the bytes are not of a type the purpose accepts,
	// whatever the name or declared type said (HTML, SVG, executables…).
	ReasonUnsupportedContent = "UNSUPPORTED_CONTENT"
	// ReasonFileTooLarge: over the purpose's UPLOAD_<PURPOSE>_MAX_BYTES.
	ReasonFileTooLarge = "FILE_TOO_LARGE"
	// ReasonTooManyPixels: an image over UPLOAD_<PURPOSE>_MAX_PIXELS, refused from its
	// header before it is decoded.
	ReasonTooManyPixels = "TOO_MANY_PIXELS"
	// ReasonCorruptImage: an image whose header or data does not decode.
	ReasonCorruptImage = "CORRUPT_IMAGE"
	// ReasonNotUploaded: completeUpload before the file was put at its URL.
	ReasonNotUploaded = "NOT_UPLOADED"
	// ReasonEmptyFile: a file of no bytes.
	ReasonEmptyFile = "EMPTY_FILE"
)

// ThumbnailSizes bound the longest side of the thumbnails made of every image.
var ThumbnailSizes = []int{200, 800}

// processed is a checked file ready to be stored.
type processed struct {
	contentType   string
	data          []byte
	width, height int
	sha256        string
	thumbs        []processedThumb
}

type processedThumb struct {
	size, width, height int
	contentType         string
	data                []byte
}

func refused(field, reason, format string, args ...any) *apperror.Error {
	e := apperror.BadInput(field, format, args...)
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["reason"] = reason
	return e
}

// sniff is the type of data as its first bytes say (http.DetectContentType, which follows
// the WHATWG MIME sniffing standard), without parameters.
func sniff(data []byte) string {
	ct := http.DetectContentType(data[:min(len(data), 512)])
	if i := bytes.IndexByte([]byte(ct), ';'); i >= 0 {
		ct = ct[:i]
	}
	return ct
}

// process checks raw against limit and makes what is stored: images re-encoded (which
// drops EXIF and every other metadata block, after applying the EXIF orientation) with
// their thumbnails; PDFs and videos as they are. field names the input in errors.
func process(raw []byte, limit Limit, field string) (*processed, error) {
	if len(raw) == 0 {
		return nil, refused(field, ReasonEmptyFile, "the file is empty")
	}
	if int64(len(raw)) > limit.MaxBytes {
		return nil, refused(field, ReasonFileTooLarge, "the file is larger than %d bytes", limit.MaxBytes)
	}
	ct := sniff(raw)
	if !slices.Contains(limit.Types, ct) {
		e := refused(field, ReasonUnsupportedContent, "the file's content is %s, which is not accepted here (accepted: %v)", ct, limit.Types)
		e.Extensions["detectedType"] = ct
		return nil, e
	}
	if !slices.Contains(imageTypes, ct) {
		return &processed{contentType: ct, data: raw, sha256: digest(raw)}, nil
	}
	// The header alone says how large the decoded image would be: a small file can
	// claim 20000×20000 pixels (1.6 GB decoded), so check before decoding anything.
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, refused(field, ReasonCorruptImage, "the image cannot be read: %v", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > limit.MaxPixels {
		e := refused(field, ReasonTooManyPixels, "the image is %d×%d pixels; at most %d pixels are accepted", cfg.Width, cfg.Height, limit.MaxPixels)
		e.Extensions["width"], e.Extensions["height"] = cfg.Width, cfg.Height
		return nil, e
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, refused(field, ReasonCorruptImage, "the image cannot be decoded: %v", err)
	}
	if ct == TypeJPEG {
		img = orient(img, jpegOrientation(raw))
	}
	out := &processed{}
	out.contentType, out.data, err = encode(img, ct != TypeJPEG && !opaque(img), 90)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	out.width, out.height = b.Dx(), b.Dy()
	out.sha256 = digest(out.data)
	src := img
	for _, size := range slices.Backward(ThumbnailSizes) { // largest first, each from the last
		t := scale(src, size)
		tct, data, err := encode(t, out.contentType == TypePNG, 82)
		if err != nil {
			return nil, err
		}
		tb := t.Bounds()
		out.thumbs = append(out.thumbs, processedThumb{size: size, width: tb.Dx(), height: tb.Dy(), contentType: tct, data: data})
		src = t
	}
	slices.Reverse(out.thumbs)
	return out, nil
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// encode writes img as PNG (keeping transparency) or JPEG. Go's encoders write pixels and
// nothing else: no EXIF, no GPS position, no camera serial number.
func encode(img image.Image, asPNG bool, quality int) (string, []byte, error) {
	var buf bytes.Buffer
	if asPNG {
		if err := (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&buf, img); err != nil {
			return "", nil, fmt.Errorf("upload: encoding PNG: %w", err)
		}
		return TypePNG, buf.Bytes(), nil
	}
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return "", nil, fmt.Errorf("upload: encoding JPEG: %w", err)
	}
	return TypeJPEG, buf.Bytes(), nil
}

func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// scale fits img within size×size, keeping its proportions and never enlarging it.
func scale(img image.Image, size int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= size && h <= size {
		dst := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
		return dst
	}
	if w >= h {
		h = max(1, (h*size+w/2)/w)
		w = size
	} else {
		w = max(1, (w*size+h/2)/h)
		h = size
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, b, xdraw.Src, nil)
	return dst
}
