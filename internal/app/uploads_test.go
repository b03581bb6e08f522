package app_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "image/jpeg"
	_ "image/png"

	"github.com/xiadan/xiadan/ent/merchant"
	entupload "github.com/xiadan/xiadan/ent/upload"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/upload"
)

// storedBytes reads what the store holds for an upload.
func storedBytes(t *testing.T, s *apitest.Server, id string) []byte {
	t.Helper()
	client, ctx := s.Client()
	n, _ := strconv.Atoi(id)
	u, err := client.Upload.Get(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := s.App.Uploads.Store().Get(ctx, u.StorageKey)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return b
}

func dims(t *testing.T, b []byte) (int, int, string) {
	t.Helper()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not an image: %v", err)
	}
	return cfg.Width, cfg.Height, format
}

// The presigned flow end to end on the disk store: createUpload signs a PUT to the binary,
// the client makes it, completeUpload sniffs and processes the bytes (EXIF orientation
// applied, then every EXIF byte gone), thumbnails are made at 200 and 800 px, the file is
// readable at its signed URL, and binding it to a product makes it public.
func TestUploadPresignedFlowProcessesAndBindsAProductImage(t *testing.T) {
	t.Parallel()
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, _ *apitest.Clock) {
		m := s.NewMerchant(t, "upload-shop", merchant.StatusACTIVE)
		photo := testJPEG(t, 1200, 900, 6) // a phone photo taken upright: stored sideways
		p := createUpload(t, s, m.Owner.AccessToken, "PRODUCT_IMAGE", "image/jpeg", len(photo))
		if p.Method != http.MethodPut || p.Upload.State != "PENDING" || !strings.HasPrefix(p.URL, s.Config.Upload.PublicURL+"/incoming/") {
			t.Fatalf("createUpload: %+v", p)
		}
		// Completing before the bytes arrived says so.
		r := s.Query(m.Owner.AccessToken, `mutation($id: ID!) { completeUpload(id: $id) { id } }`, map[string]any{"id": p.Upload.ID})
		if r.Code() != "BAD_USER_INPUT" || reason(r) != upload.ReasonNotUploaded {
			t.Fatalf("complete before PUT: %s", r.Raw)
		}
		if status, body := putFile(t, p, "", photo); status != http.StatusOK {
			t.Fatalf("PUT: %d %s", status, body)
		}
		r = s.MustQuery(m.Owner.AccessToken, `mutation($id: ID!) { completeUpload(id: $id) { `+uploadedFileFields+` } }`,
			map[string]any{"id": p.Upload.ID})
		var done struct{ CompleteUpload uploadedFile }
		r.Decode(t, &done)
		u := done.CompleteUpload
		if u.State != "READY" || u.ContentType != "image/jpeg" || u.Width == nil || *u.Width != 900 || *u.Height != 1200 ||
			u.Filename != "photo.jpg" || len(u.Sha256) != 64 || u.URL == nil {
			t.Fatalf("completed: %s", r.Raw)
		}
		stored := storedBytes(t, s, u.ID)
		if bytes.Contains(stored, []byte("Exif")) || bytes.Contains(stored, []byte("SECRET-SERIAL")) {
			t.Fatal("the stored file still carries the EXIF block")
		}
		if w, h, format := dims(t, stored); w != 900 || h != 1200 || format != "jpeg" || len(stored) != u.Size {
			t.Fatalf("stored %dx%d %s (%d bytes)", w, h, format, len(stored))
		}
		wantThumbs := [][3]int{{200, 150, 200}, {800, 600, 800}}
		if len(u.Thumbnails) != 2 {
			t.Fatalf("thumbnails: %+v", u.Thumbnails)
		}
		for i, th := range u.Thumbnails {
			status, _, b := fetchFile(t, th.URL)
			w, h, _ := dims(t, b)
			if status != http.StatusOK || [3]int{th.Size, th.Width, th.Height} != wantThumbs[i] || w != th.Width || h != th.Height {
				t.Fatalf("thumbnail %d: %+v, served %d %dx%d", i, th, status, w, h)
			}
		}
		// The file is private until bound: the signed URL works, the bare one does not.
		status, hdr, b := fetchFile(t, *u.URL)
		if status != http.StatusOK || hdr.Get("Content-Type") != "image/jpeg" || hdr.Get("X-Content-Type-Options") != "nosniff" || !bytes.Equal(b, stored) {
			t.Fatalf("signed GET: %d %v", status, hdr)
		}
		bare, _, _ := strings.Cut(*u.URL, "?")
		if status, _, _ := fetchFile(t, bare); status != http.StatusNotFound {
			t.Fatalf("unsigned GET of a private file: %d", status)
		}
		// Completing again returns the same upload.
		again := s.MustQuery(m.Owner.AccessToken, `mutation($id: ID!) { completeUpload(id: $id) { id state sha256 } }`, map[string]any{"id": u.ID})
		if !again.Contains(u.Sha256) || !again.Contains(`"READY"`) {
			t.Fatalf("complete again: %s", again.Raw)
		}
		// The presigned PUT cannot replace the checked file afterwards.
		if status, _ := putFile(t, p, "", photo); status != http.StatusConflict {
			t.Fatalf("PUT after completion: %d", status)
		}

		r = s.MustQuery(m.Owner.AccessToken, `mutation($i: CreateProductInput!) { createProduct(input: $i) {
		  id images { url alt uploadID width height thumbnails { size width height url } } featuredImage { url } } }`,
			map[string]any{"i": map[string]any{"title": "青花瓷杯", "images": []any{map[string]any{"uploadID": u.ID, "alt": "杯子"}},
				"variants": []any{map[string]any{"sku": "CUP-1", "price": "9.90", "stock": 3}}}})
		var created struct {
			CreateProduct struct {
				ID     string
				Images []struct {
					URL, Alt, UploadID string
					Width, Height      int
					Thumbnails         []struct {
						Size, Width, Height int
						URL                 string
					}
				}
			}
		}
		r.Decode(t, &created)
		img := created.CreateProduct.Images[0]
		if img.UploadID != u.ID || img.Alt != "杯子" || img.Width != 900 || img.Height != 1200 || len(img.Thumbnails) != 2 ||
			strings.Contains(img.URL, "?") || !strings.HasPrefix(img.URL, s.Config.Upload.PublicURL+"/product-image/") {
			t.Fatalf("product images: %s", r.Raw)
		}
		// Bound to a product, the image and its thumbnails are public at stable URLs.
		for _, link := range []string{img.URL, img.Thumbnails[0].URL, img.Thumbnails[1].URL} {
			status, hdr, _ := fetchFile(t, link)
			if status != http.StatusOK || !strings.Contains(hdr.Get("Cache-Control"), "public") {
				t.Fatalf("public GET %s: %d %v", link, status, hdr)
			}
		}
		state := s.MustQuery(m.Owner.AccessToken, `query($id: ID!) { upload(id: $id) { state } }`, map[string]any{"id": u.ID})
		if !state.Contains(`"BOUND"`) {
			t.Fatalf("after binding: %s", state.Raw)
		}
		// Updating the product with the images as read back (by URL) keeps the upload.
		r = s.MustQuery(m.Owner.AccessToken, `mutation($id: ID!, $i: UpdateProductInput!) { updateProduct(id: $id, input: $i) { images { uploadID } } }`,
			map[string]any{"id": created.CreateProduct.ID, "i": map[string]any{"images": []any{map[string]any{"url": img.URL, "alt": "杯子"}}}})
		if !r.Contains(`"uploadID":"` + u.ID + `"`) {
			t.Fatalf("update by URL lost the upload: %s", r.Raw)
		}
	})
}

// Small files go inline with the GraphQL multipart request spec; the request is read
// strictly (operations, map, files), capped, and only with an Authorization header.
func TestUploadFileMultipartRequest(t *testing.T) {
	t.Parallel()
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, _ *apitest.Clock) {
		buyer := s.Register("buyer-mp@example.com", "Buyer")
		const q = `mutation($file: Upload!, $purpose: UploadPurpose!) { uploadFile(file: $file, purpose: $purpose) { ` + uploadedFileFields + ` } }`
		img := testPNG(t, 300, 100)
		r := multipartUpload(t, s, buyer.AccessToken, q, map[string]any{"purpose": "REVIEW_PHOTO"}, "../../etc/review.png", "image/png", img)
		var out struct{ UploadFile uploadedFile }
		if len(r.Errors) > 0 || r.Status != http.StatusOK {
			t.Fatalf("uploadFile: %d %s", r.Status, r.Raw)
		}
		r.Decode(t, &out)
		u := out.UploadFile
		if u.State != "READY" || u.ContentType != "image/png" || *u.Width != 300 || *u.Height != 100 || u.Filename != "review.png" {
			t.Fatalf("uploaded: %s", r.Raw)
		}
		// Transparency keeps the PNG a PNG; thumbnails keep the proportions.
		if w, h, format := dims(t, storedBytes(t, s, u.ID)); w != 300 || h != 100 || format != "png" {
			t.Fatalf("stored %dx%d %s", w, h, format)
		}
		if u.Thumbnails[0].Width != 200 || u.Thumbnails[0].Height != 67 || u.Thumbnails[1].Width != 300 || u.Thumbnails[1].Height != 100 {
			t.Fatalf("thumbnails: %+v", u.Thumbnails)
		}

		// No Authorization header: refused before anything is read (forms on other sites
		// can post multipart bodies, but not that header).
		r = multipartUpload(t, s, "", q, map[string]any{"purpose": "REVIEW_PHOTO"}, "a.png", "image/png", img)
		if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("without a token: %d %s", r.Status, r.Raw)
		}
		// A "file" sent as JSON is not a file.
		r = s.Query(buyer.AccessToken, q, map[string]any{"purpose": "REVIEW_PHOTO", "file": "data:image/png;base64,AAAA"})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "file" {
			t.Fatalf("a string as the file: %s", r.Raw)
		}
		// Parts out of the spec's order.
		var body bytes.Buffer
		body.WriteString("--XX\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{}\r\n--XX--\r\n")
		r = rawPost(t, s, buyer.AccessToken, "multipart/form-data; boundary=XX", body.Bytes())
		if r.Status != http.StatusBadRequest || r.Code() != "BAD_USER_INPUT" || reason(r) != "MALFORMED_MULTIPART" {
			t.Fatalf("map first: %d %s", r.Status, r.Raw)
		}
		// A map naming a variable the operation does not have.
		body.Reset()
		body.WriteString("--XX\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n" +
			`{"query": "mutation($file: Upload!) { uploadFile(file: $file, purpose: REVIEW_PHOTO) { id } }", "variables": {"file": null}}` +
			"\r\n--XX\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n" + `{"0": ["variables.picture"]}` +
			"\r\n--XX\r\nContent-Disposition: form-data; name=\"0\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n" +
			string(img) + "\r\n--XX--\r\n")
		r = rawPost(t, s, buyer.AccessToken, "multipart/form-data; boundary=XX", body.Bytes())
		if r.Status != http.StatusBadRequest || reason(r) != "MALFORMED_MULTIPART" {
			t.Fatalf("bad map: %d %s", r.Status, r.Raw)
		}
		// Over UPLOAD_MULTIPART_MAX_BYTES: 413.
		big := make([]byte, s.Config.Upload.MultipartMaxBytes)
		r = multipartUpload(t, s, buyer.AccessToken, q, map[string]any{"purpose": "REVIEW_PHOTO"}, "big.png", "image/png", big)
		if r.Status != http.StatusRequestEntityTooLarge || reason(r) != "BODY_TOO_LARGE" {
			t.Fatalf("too large: %d %s", r.Status, r.Raw)
		}
	}, func(c *config.Config) { c.Upload.MultipartMaxBytes = 256 << 10 })
}

// The server believes the bytes, not the name or the declared type: HTML, SVG and an
// executable named .jpg are refused with UNSUPPORTED_CONTENT, through both ways in.
func TestUploadContentIsSniffed(t *testing.T) {
	t.Parallel()
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, _ *apitest.Clock) {
		buyer := s.Register("buyer-sniff@example.com", "Buyer")
		const q = `mutation($file: Upload!) { uploadFile(file: $file, purpose: REVIEW_PHOTO) { id } }`
		for name, data := range map[string][]byte{
			"html": []byte("<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"),
			"svg":  []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>`),
			"exe":  append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 200)...),
		} {
			r := multipartUpload(t, s, buyer.AccessToken, q, map[string]any{}, "photo.jpg", "image/jpeg", data)
			if r.Code() != "BAD_USER_INPUT" || reason(r) != upload.ReasonUnsupportedContent || r.Field() != "file" {
				t.Fatalf("%s as .jpg: %s", name, r.Raw)
			}
		}
		// The same through the presigned flow: declared image/jpeg, really HTML.
		html := []byte("<html><body>not a picture</body></html>")
		p := createUpload(t, s, buyer.AccessToken, "REVIEW_PHOTO", "image/jpeg", len(html))
		if status, body := putFile(t, p, "", html); status != http.StatusOK {
			t.Fatalf("PUT: %d %s", status, body)
		}
		r := s.Query(buyer.AccessToken, `mutation($id: ID!) { completeUpload(id: $id) { id } }`, map[string]any{"id": p.Upload.ID})
		if r.Code() != "BAD_USER_INPUT" || reason(r) != upload.ReasonUnsupportedContent || r.Errors[0].Extensions["detectedType"] != "text/html" {
			t.Fatalf("HTML declared as JPEG: %s", r.Raw)
		}
		// A type the purpose does not take is refused up front.
		r = s.Query(buyer.AccessToken, createUploadMutation, map[string]any{"i": map[string]any{
			"purpose": "REVIEW_PHOTO", "contentType": "image/svg+xml", "size": 100}})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "contentType" {
			t.Fatalf("SVG declared: %s", r.Raw)
		}
	})
}

// Size and pixel limits: a declared size over the purpose's limit is refused at once; a
// PNG whose header claims 20000×20000 pixels is refused from its header, never decoded.
func TestUploadSizeAndPixelLimits(t *testing.T) {
	t.Parallel()
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, _ *apitest.Clock) {
		buyer := s.Register("buyer-limits@example.com", "Buyer")
		limit := s.Config.Upload.Limits[entupload.PurposeREVIEW_PHOTO]
		r := s.Query(buyer.AccessToken, createUploadMutation, map[string]any{"i": map[string]any{
			"purpose": "REVIEW_PHOTO", "contentType": "image/jpeg", "size": limit.MaxBytes + 1}})
		if r.Code() != "BAD_USER_INPUT" || reason(r) != upload.ReasonFileTooLarge || r.Field() != "size" {
			t.Fatalf("declared too large: %s", r.Raw)
		}
		const q = `mutation($file: Upload!) { uploadFile(file: $file, purpose: REVIEW_PHOTO) { id } }`
		r = multipartUpload(t, s, buyer.AccessToken, q, map[string]any{}, "big.png", "image/png", make([]byte, limit.MaxBytes+1))
		if r.Code() != "BAD_USER_INPUT" || reason(r) != upload.ReasonFileTooLarge {
			t.Fatalf("file too large: %s", r.Raw)
		}
		bomb := pngClaiming(t, 20000, 20000)
		if len(bomb) > 200 {
			t.Fatalf("the test PNG is %d bytes", len(bomb))
		}
		r = multipartUpload(t, s, buyer.AccessToken, q, map[string]any{}, "bomb.png", "image/png", bomb)
		if r.Code() != "BAD_USER_INPUT" || reason(r) != upload.ReasonTooManyPixels ||
			r.Errors[0].Extensions["width"] != float64(20000) || r.Errors[0].Extensions["height"] != float64(20000) {
			t.Fatalf("20000×20000 PNG: %s", r.Raw)
		}
	}, func(c *config.Config) {
		l := c.Upload.Limits[entupload.PurposeREVIEW_PHOTO]
		l.MaxBytes = 64 << 10
		c.Upload.Limits[entupload.PurposeREVIEW_PHOTO] = l
	})
}

// An upload is bound only by its owner, only to a use of its purpose, only when READY;
// a product's images it no longer shows are let go and cleaned up.
func TestUploadBindingRules(t *testing.T) {
	t.Parallel()
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, _ *apitest.Clock) {
		m := s.NewMerchant(t, "bind-shop", merchant.StatusACTIVE)
		staff := s.AddStaff(t, m, "bind-staff@example.com")
		other := s.NewMerchant(t, "other-shop", merchant.StatusACTIVE)
		const q = `mutation($file: Upload!, $purpose: UploadPurpose!) { uploadFile(file: $file, purpose: $purpose) { id } }`
		uploadAs := func(token, purpose string) string {
			r := multipartUpload(t, s, token, q, map[string]any{"purpose": purpose}, "p.png", "image/png", testPNG(t, 20, 20))
			var out struct{ UploadFile struct{ ID string } }
			if len(r.Errors) > 0 {
				t.Fatalf("upload: %s", r.Raw)
			}
			r.Decode(t, &out)
			return out.UploadFile.ID
		}
		mine := uploadAs(m.Owner.AccessToken, "PRODUCT_IMAGE")
		staffs := uploadAs(staff.AccessToken, "PRODUCT_IMAGE")
		othersMerchant := uploadAs(other.Owner.AccessToken, "PRODUCT_IMAGE")
		review := uploadAs(m.Owner.AccessToken, "REVIEW_PHOTO")
		pending := createUpload(t, s, m.Owner.AccessToken, "PRODUCT_IMAGE", "image/png", 100).Upload.ID

		create := func(uploadID string) *apitest.Response {
			return s.Query(m.Owner.AccessToken, `mutation($i: CreateProductInput!) { createProduct(input: $i) { id images { uploadID } } }`,
				map[string]any{"i": map[string]any{"title": "Bound", "images": []any{map[string]any{"url": "https://cdn.example.com/a.jpg"}, map[string]any{"uploadID": uploadID}},
					"variants": []any{map[string]any{"sku": "B-" + uploadID, "price": "1.00"}}}})
		}
		for _, tc := range []struct {
			name, id, code string
		}{
			{"a colleague's upload", staffs, "NOT_FOUND"},
			{"another merchant's upload", othersMerchant, "NOT_FOUND"},
			{"an upload that never was", "999999999", "NOT_FOUND"},
			{"a review photo", review, "BAD_USER_INPUT"},
			{"a pending upload", pending, "INVALID_STATE"},
		} {
			r := create(tc.id)
			if r.Code() != tc.code || r.Field() != "images[1].uploadID" {
				t.Fatalf("%s: %s", tc.name, r.Raw)
			}
		}
		// Staff may see their colleague's upload (it is the merchant's) but not use it.
		seen := s.MustQuery(m.Owner.AccessToken, `query($id: ID!) { upload(id: $id) { id } }`, map[string]any{"id": staffs})
		if !seen.Contains(staffs) {
			t.Fatalf("the merchant's upload is hidden from its owner: %s", seen.Raw)
		}
		hidden := s.MustQuery(other.Owner.AccessToken, `query($id: ID!) { upload(id: $id) { id } }`, map[string]any{"id": mine})
		if !hidden.Contains(`"upload":null`) {
			t.Fatalf("another merchant's upload is visible: %s", hidden.Raw)
		}
		// Both url and uploadID in one image.
		r := s.Query(m.Owner.AccessToken, `mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"title": "Both", "images": []any{map[string]any{"url": "https://cdn.example.com/a.jpg", "uploadID": mine}},
				"variants": []any{map[string]any{"sku": "BOTH", "price": "1.00"}}}})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "images[0]" {
			t.Fatalf("url and uploadID: %s", r.Raw)
		}

		r = create(mine)
		var created struct{ CreateProduct struct{ ID string } }
		if len(r.Errors) > 0 {
			t.Fatalf("create: %s", r.Raw)
		}
		r.Decode(t, &created)
		// Bound once, it cannot be bound to a second product.
		if r := create(mine); r.Code() != "INVALID_STATE" {
			t.Fatalf("bound twice: %s", r.Raw)
		}
		// Dropping the image lets the upload go; cleanup removes its files.
		s.MustQuery(m.Owner.AccessToken, `mutation($id: ID!) { updateProduct(id: $id, input: {images: []}) { id } }`,
			map[string]any{"id": created.CreateProduct.ID})
		client, ctx := s.Client()
		id, _ := strconv.Atoi(mine)
		u, err := client.Upload.Get(ctx, id)
		if err != nil || u.State != entupload.StateEXPIRED {
			t.Fatalf("released upload: %+v %v", u, err)
		}
		if n, err := s.App.Uploads.Cleanup(context.Background()); err != nil || n != 1 {
			t.Fatalf("cleanup: %d %v", n, err)
		}
		if _, err := s.App.Uploads.Store().Get(ctx, u.StorageKey); err == nil {
			t.Fatal("the released upload's file is still stored")
		}
	})
}

// The disk store's URLs are signed: a changed signature, path, type or size is refused,
// and so is a URL past its expiry (by the server's clock).
func TestUploadSignedURLsRefuseTamperingAndExpiry(t *testing.T) {
	t.Parallel()
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, clock *apitest.Clock) {
		buyer := s.Register("buyer-sig@example.com", "Buyer")
		img := testPNG(t, 10, 10)
		p := createUpload(t, s, buyer.AccessToken, "AFTER_SALES_EVIDENCE", "image/png", len(img))
		tamper := func(rawURL, key, value string) presigned {
			u, _ := url.Parse(rawURL)
			qs := u.Query()
			qs.Set(key, value)
			u.RawQuery = qs.Encode()
			q := p
			q.URL = u.String()
			return q
		}
		for _, tc := range []struct {
			name   string
			p      presigned
			ct     string
			body   []byte
			status int
		}{
			{"signature changed", tamper(p.URL, "signature", "AAAA"), "", img, http.StatusForbidden},
			{"size changed", tamper(p.URL, "size", "99999"), "", img, http.StatusForbidden},
			{"type changed", tamper(p.URL, "type", "text/html"), "text/html", img, http.StatusForbidden},
			{"another content type", p, "text/html", img, http.StatusBadRequest},
			{"another size", p, "", append(img, 0), http.StatusRequestEntityTooLarge},
		} {
			if status, body := putFile(t, tc.p, tc.ct, tc.body); status != tc.status {
				t.Fatalf("%s: %d %s", tc.name, status, body)
			}
		}
		clock.Advance(s.Config.Upload.PresignTTL + time.Second)
		if status, body := putFile(t, p, "", img); status != http.StatusForbidden || !strings.Contains(body, "URL_EXPIRED") {
			t.Fatalf("expired PUT: %d %s", status, body)
		}
		// A new upload, completed; its download URL expires after UPLOAD_URL_TTL.
		buyer = s.Login(buyer.Email) // the clock moved on: a fresh token
		p = createUpload(t, s, buyer.AccessToken, "AFTER_SALES_EVIDENCE", "image/png", len(img))
		if status, body := putFile(t, p, "", img); status != http.StatusOK {
			t.Fatalf("PUT: %d %s", status, body)
		}
		r := s.MustQuery(buyer.AccessToken, `mutation($id: ID!) { completeUpload(id: $id) { url } }`, map[string]any{"id": p.Upload.ID})
		var out struct{ CompleteUpload struct{ URL string } }
		r.Decode(t, &out)
		link := out.CompleteUpload.URL
		if status, _, _ := fetchFile(t, link); status != http.StatusOK {
			t.Fatalf("signed GET: %d", status)
		}
		other := strings.Replace(link, "after-sales-evidence/", "product-image/", 1)
		if status, _, _ := fetchFile(t, other); status != http.StatusForbidden {
			t.Fatalf("signature on another path: %d", status)
		}
		clock.Advance(s.Config.Upload.URLTTL + time.Second)
		if status, _, body := fetchFile(t, link); status != http.StatusForbidden || !strings.Contains(string(body), "URL_EXPIRED") {
			t.Fatalf("expired GET: %d %s", status, body)
		}
	})
}

// Uploads nobody bound are removed, file and row, after UPLOAD_PENDING_TTL; bound ones
// stay. Two cleanups at once remove each upload once.
func TestUploadCleanupRemovesExpiredUploads(t *testing.T) {
	t.Parallel()
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, clock *apitest.Clock) {
		m := s.NewMerchant(t, "cleanup-shop", merchant.StatusACTIVE)
		const q = `mutation($file: Upload!) { uploadFile(file: $file, purpose: PRODUCT_IMAGE) { id } }`
		ids := make([]string, 3)
		for i := range ids {
			r := multipartUpload(t, s, m.Owner.AccessToken, q, map[string]any{}, "p.png", "image/png", testPNG(t, 30, 30))
			var out struct{ UploadFile struct{ ID string } }
			r.Decode(t, &out)
			ids[i] = out.UploadFile.ID
		}
		pending := createUpload(t, s, m.Owner.AccessToken, "PRODUCT_IMAGE", "image/png", 10)
		if status, _ := putFile(t, pending, "", []byte("0123456789")); status != http.StatusOK {
			t.Fatal("PUT failed")
		}
		s.MustQuery(m.Owner.AccessToken, `mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"title": "Kept", "images": []any{map[string]any{"uploadID": ids[0]}},
				"variants": []any{map[string]any{"sku": "KEPT", "price": "1.00"}}}})
		if n, err := s.App.Uploads.Cleanup(context.Background()); err != nil || n != 0 {
			t.Fatalf("cleanup before expiry: %d %v", n, err)
		}
		clock.Advance(s.Config.Upload.PendingTTL + time.Minute)
		results := make(chan int, 2)
		for range 2 {
			go func() {
				n, err := s.App.Uploads.Cleanup(context.Background())
				if err != nil {
					t.Error(err)
				}
				results <- n
			}()
		}
		if total := <-results + <-results; total != 3 {
			t.Fatalf("cleanups removed %d uploads, want 3 (two unbound, one pending)", total)
		}
		client, ctx := s.Client()
		left, err := client.Upload.Query().All(ctx)
		if err != nil || len(left) != 1 || strconv.Itoa(left[0].ID) != ids[0] || left[0].State != entupload.StateBOUND {
			t.Fatalf("left: %+v %v", left, err)
		}
		pu, _ := url.Parse(pending.URL)
		if _, err := s.App.Uploads.Store().Get(ctx, strings.TrimPrefix(pu.Path, "/uploads/")); !errors.Is(err, upload.ErrNotFound) {
			t.Fatalf("the pending upload's file is still stored: %v", err)
		}
	})
}

// The presigned flow against S3-compatible storage: createUpload presigns a PUT with the
// AWS SDK, the client puts the file straight into the bucket (whose server checks the
// signature), completeUpload reads it back, processes it and stores the result and its
// thumbnails in the bucket; a bound product image is linked at UPLOAD_PUBLIC_URL.
func TestUploadPresignedFlowOnS3(t *testing.T) {
	t.Parallel()
	s3 := apitest.StartS3(t)
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, _ *apitest.Clock) {
		m := s.NewMerchant(t, "s3-shop", merchant.StatusACTIVE)
		photo := testJPEG(t, 1000, 500, 1)
		p := createUpload(t, s, m.Owner.AccessToken, "PRODUCT_IMAGE", "image/jpeg", len(photo))
		if !strings.HasPrefix(p.URL, s3.Config.Endpoint+"/xiadan-test/incoming/") || !strings.Contains(p.URL, "X-Amz-Signature=") {
			t.Fatalf("presigned: %+v", p)
		}
		if status, body := putFile(t, p, "image/png", photo); status != http.StatusForbidden {
			t.Fatalf("PUT with another type than signed: %d %s", status, body)
		}
		if status, body := putFile(t, p, "", photo); status != http.StatusOK {
			t.Fatalf("PUT: %d %s", status, body)
		}
		r := s.MustQuery(m.Owner.AccessToken, `mutation($id: ID!) { completeUpload(id: $id) { `+uploadedFileFields+` } }`,
			map[string]any{"id": p.Upload.ID})
		var done struct{ CompleteUpload uploadedFile }
		r.Decode(t, &done)
		u := done.CompleteUpload
		if u.State != "READY" || *u.Width != 1000 || *u.Height != 500 || u.Thumbnails[0].Height != 100 || u.Thumbnails[1].Width != 800 {
			t.Fatalf("completed: %s", r.Raw)
		}
		if bytes.Contains(storedBytes(t, s, u.ID), []byte("Exif")) {
			t.Fatal("EXIF kept")
		}
		// A private file is read through a presigned GET the bucket checks.
		if status, _, b := fetchFile(t, *u.URL); status != http.StatusOK || !bytes.Equal(b, storedBytes(t, s, u.ID)) {
			t.Fatalf("presigned GET: %d", status)
		}
		r = s.MustQuery(m.Owner.AccessToken, `mutation($i: CreateProductInput!) { createProduct(input: $i) { images { url thumbnails { url } } } }`,
			map[string]any{"i": map[string]any{"title": "S3", "images": []any{map[string]any{"uploadID": u.ID}},
				"variants": []any{map[string]any{"sku": "S3-1", "price": "1.00"}}}})
		if !r.Contains(`"url":"` + s3.PublicURL + "/product-image/") {
			t.Fatalf("public URL: %s", r.Raw)
		}
	}, func(c *config.Config) {
		c.Upload.Store = upload.StoreS3
		c.Upload.S3 = s3.Config
		c.Upload.PublicURL = s3.PublicURL
	})
	if s3.Requests.Load() == 0 {
		t.Fatal("the S3 server was never reached")
	}
}

// A merchant application carries its licence scan; the owner, staff and admins see it on
// the merchant, nobody else does.
func TestUploadMerchantLicenceOnApplication(t *testing.T) {
	t.Parallel()
	forEachUploadServer(t, func(t *testing.T, s *apitest.Server, _ *apitest.Clock) {
		applicant := s.Register("applicant@example.com", "Applicant")
		const q = `mutation($file: Upload!) { uploadFile(file: $file, purpose: MERCHANT_LICENCE) { id } }`
		r := multipartUpload(t, s, applicant.AccessToken, q, map[string]any{}, "licence.pdf", "application/pdf",
			[]byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"))
		var out struct{ UploadFile struct{ ID string } }
		if len(r.Errors) > 0 {
			t.Fatalf("licence upload: %s", r.Raw)
		}
		r.Decode(t, &out)
		apply := func(ids []string) *apitest.Response {
			return s.Query(applicant.AccessToken, `mutation($i: ApplyForMerchantInput!) { applyForMerchant(input: $i) { id licenceFiles { id contentType } } }`,
				map[string]any{"i": map[string]any{"name": "执照茶行", "slug": "licence-tea", "contactName": "王芳", "contactPhone": "13800000000",
					"contactEmail": "licence@example.com", "licenceNumber": "91310000MA1FL8XQ37", "legalName": "执照茶行有限公司", "licenceUploadIDs": ids}})
		}
		if r := apply([]string{"123456789"}); r.Code() != "NOT_FOUND" || r.Field() != "licenceUploadIDs[0]" {
			t.Fatalf("someone else's licence: %s", r.Raw)
		}
		r = apply([]string{out.UploadFile.ID})
		if len(r.Errors) > 0 || !r.Contains(`"contentType":"application/pdf"`) {
			t.Fatalf("apply: %s", r.Raw)
		}
		var applied struct{ ApplyForMerchant struct{ ID string } }
		r.Decode(t, &applied)
		admin := s.NewAdmin(t, "licence-admin@example.com")
		const read = `query($id: ID!) { node(id: $id) { ... on Merchant { licenceFiles { id url } } } }`
		if r := s.MustQuery(admin.AccessToken, read, map[string]any{"id": applied.ApplyForMerchant.ID}); !r.Contains(out.UploadFile.ID) {
			t.Fatalf("admin: %s", r.Raw)
		}
		stranger := s.Register("stranger@example.com", "Stranger")
		client, ctx := s.Client()
		mid, _ := strconv.Atoi(applied.ApplyForMerchant.ID)
		if err := client.Merchant.UpdateOneID(mid).SetStatus(merchant.StatusACTIVE).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if r := s.MustQuery(stranger.AccessToken, read, map[string]any{"id": applied.ApplyForMerchant.ID}); !r.Contains(`"licenceFiles":[]`) {
			t.Fatalf("a stranger sees the licence: %s", r.Raw)
		}
		if r := s.MustQuery("", read, map[string]any{"id": applied.ApplyForMerchant.ID}); !r.Contains(`"licenceFiles":[]`) {
			t.Fatalf("anonymous sees the licence: %s", r.Raw)
		}
	})
}
