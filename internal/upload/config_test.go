package upload

import (
	"strings"
	"testing"

	entupload "github.com/xiadan/xiadan/ent/upload"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaultsAndValidation(t *testing.T) {
	c, err := ConfigFromEnv(env(nil), false, ":9090", ".xiadan")
	if err != nil || !c.Enabled || c.Store != StoreDisk || c.PublicURL != "http://localhost:9090/uploads" ||
		c.Dir != ".xiadan/uploads" || c.Limits[entupload.PurposePRODUCT_IMAGE].MaxBytes != 10<<20 {
		t.Fatalf("development defaults: %+v %v", c, err)
	}
	// Production takes no uploads until they are configured…
	if c, err := ConfigFromEnv(env(nil), true, ":8080", ".xiadan"); err != nil || c.Enabled {
		t.Fatalf("production without settings: %+v %v", c, err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"disk without a URL secret or public URL", map[string]string{"UPLOAD_STORE": "disk"}, []string{"UPLOAD_URL_SECRET", "UPLOAD_PUBLIC_URL"}},
		{"plain http in production", map[string]string{"UPLOAD_PUBLIC_URL": "http://shop.example.com/uploads",
			"UPLOAD_URL_SECRET": strings.Repeat("k", 32)}, []string{"must be https"}},
		{"s3 without bucket and keys", map[string]string{"UPLOAD_STORE": "s3", "S3_ENDPOINT": "oss-cn-hangzhou"},
			[]string{"S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_ENDPOINT", "UPLOAD_PUBLIC_URL"}},
		{"unknown store and bad limits", map[string]string{"UPLOAD_STORE": "ftp", "UPLOAD_PRODUCT_IMAGE_MAX_BYTES": "lots",
			"UPLOAD_PENDING_TTL": "1s", "S3_FORCE_PATH_STYLE": "maybe"},
			[]string{"UPLOAD_STORE", "UPLOAD_PRODUCT_IMAGE_MAX_BYTES", "UPLOAD_PENDING_TTL", "S3_FORCE_PATH_STYLE"}},
	} {
		_, err := ConfigFromEnv(env(tc.env), true, ":8080", ".xiadan")
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: want %q in %v", tc.name, w, err)
			}
		}
	}
	c, err = ConfigFromEnv(env(map[string]string{"UPLOAD_STORE": "s3", "S3_BUCKET": "shop", "S3_ACCESS_KEY_ID": "id",
		"S3_SECRET_ACCESS_KEY": "secret", "S3_ENDPOINT": "https://oss-cn-hangzhou.aliyuncs.com", "S3_REGION": "oss-cn-hangzhou",
		"UPLOAD_PUBLIC_URL": "https://img.example.com/", "UPLOAD_REVIEW_PHOTO_MAX_PIXELS": "12000000"}), true, ":8080", ".xiadan")
	if err != nil || c.PublicURL != "https://img.example.com" || c.S3.SecretAccessKey.Reveal() != "secret" ||
		c.Limits[entupload.PurposeREVIEW_PHOTO].MaxPixels != 12_000_000 {
		t.Fatalf("s3 in production: %+v %v", c, err)
	}
}

// jpegOrientation reads the tag from a little-endian EXIF block and ignores garbage.
func TestJPEGOrientation(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want int
	}{
		{"not a JPEG", []byte("GIF89a"), 1},
		{"no EXIF", []byte{0xFF, 0xD8, 0xFF, 0xDA, 0, 2}, 1},
		{"truncated segment", []byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E'}, 1},
		{"orientation 8", append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0, 30}, []byte("Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x08\x00\x00\x00")...), 8},
	} {
		if got := jpegOrientation(tc.b); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
