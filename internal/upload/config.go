package upload

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	entupload "github.com/xiadan/xiadan/ent/upload"
	"github.com/xiadan/xiadan/internal/secret"
)

// Stores the files can live in.
const (
	StoreDisk = "disk"
	StoreS3   = "s3"
)

// Config is every upload setting (UPLOAD_*, S3_*). See docs/UPLOADS.md.
type Config struct {
	// Enabled is whether the server takes uploads: always outside production; in
	// production once UPLOAD_STORE or UPLOAD_PUBLIC_URL is set.
	Enabled bool
	// Store is disk (files under Dir, served by the binary at /uploads/) or s3 (any
	// S3-compatible service: AWS S3, Aliyun OSS, Tencent COS, MinIO).
	Store string
	// Dir is where the disk store keeps files.
	Dir string
	// PublicURL is the base URL the stored files are reached at: this server's /uploads
	// for the disk store; the bucket's or its CDN's address for s3. Product images are
	// linked from it.
	PublicURL string
	// URLSecret signs the disk store's upload and download URLs (HMAC-SHA256); every
	// replica must share it. Outside production, without it, a key is generated in the
	// data directory.
	URLSecret secret.Value
	// S3 is the bucket of the s3 store.
	S3 S3Config
	// PendingTTL is how long an upload may stay unbound before it is removed.
	PendingTTL time.Duration
	// PresignTTL is how long a presigned upload URL works.
	PresignTTL time.Duration
	// URLTTL is how long a signed download URL of a private file works.
	URLTTL time.Duration
	// MultipartMaxBytes caps a GraphQL multipart request (uploadFile), files included.
	MultipartMaxBytes int64
	// MaxPendingPerUser caps the uploads one person may have waiting to be bound.
	MaxPendingPerUser int
	// Limits are the size and pixel limits of each purpose.
	Limits map[entupload.Purpose]Limit
}

// S3Config is an S3-compatible bucket and the credentials that write to it.
type S3Config struct {
	Endpoint        string
	Region          string
	Bucket          string
	AccessKeyID     string
	SecretAccessKey secret.Value
	// ForcePathStyle addresses the bucket as endpoint/bucket/key rather than
	// bucket.endpoint/key (MinIO and most self-hosted servers need it).
	ForcePathStyle bool
}

// Limit is what a purpose accepts.
type Limit struct {
	// MaxBytes is the largest file.
	MaxBytes int64
	// MaxPixels is the largest image (width × height), checked from the image header
	// before anything is decoded.
	MaxPixels int64
	// Types are the content types accepted, as sniffed from the bytes.
	Types []string
}

// Content types the server can check.
const (
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
	TypeWebP = "image/webp"
	TypePDF  = "application/pdf"
	TypeMP4  = "video/mp4"
	TypeWebM = "video/webm"
)

var imageTypes = []string{TypeJPEG, TypePNG, TypeWebP}

// DefaultLimits are the limits of each purpose unless UPLOAD_<PURPOSE>_MAX_BYTES or
// _MAX_PIXELS say otherwise.
func DefaultLimits() map[entupload.Purpose]Limit {
	const mib = 1 << 20
	return map[entupload.Purpose]Limit{
		entupload.PurposePRODUCT_IMAGE:        {MaxBytes: 10 * mib, MaxPixels: 40_000_000, Types: imageTypes},
		entupload.PurposeREVIEW_PHOTO:         {MaxBytes: 10 * mib, MaxPixels: 40_000_000, Types: imageTypes},
		entupload.PurposeAFTER_SALES_EVIDENCE: {MaxBytes: 50 * mib, MaxPixels: 40_000_000, Types: append(append([]string{}, imageTypes...), TypeMP4, TypeWebM)},
		entupload.PurposeMERCHANT_LICENCE:     {MaxBytes: 10 * mib, MaxPixels: 40_000_000, Types: append(append([]string{}, imageTypes...), TypePDF)},
		entupload.PurposeTICKET_ATTACHMENT:    {MaxBytes: 10 * mib, MaxPixels: 40_000_000, Types: append(append([]string{}, imageTypes...), TypePDF)},
	}
}

// ConfigFromEnv reads the upload settings. listenAddr gives the development default of
// UPLOAD_PUBLIC_URL (http://localhost:<port>/uploads); production must set it.
func ConfigFromEnv(getenv func(string) string, production bool, listenAddr, dataDir string) (Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def, min, max time.Duration) time.Duration {
		v := str(name, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < min || d > max {
			bad(name, "must be a duration between %s and %s", min, max)
		}
		return d
	}
	num := func(name string, def, min, max int64) int64 {
		v := str(name, "")
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < min || n > max {
			bad(name, "must be an integer between %d and %d", min, max)
		}
		return n
	}
	c := Config{
		Enabled:   !production || str("UPLOAD_STORE", "") != "" || str("UPLOAD_PUBLIC_URL", "") != "",
		Store:     str("UPLOAD_STORE", StoreDisk),
		Dir:       str("UPLOAD_DIR", strings.TrimSuffix(dataDir, "/")+"/uploads"),
		PublicURL: strings.TrimSuffix(str("UPLOAD_PUBLIC_URL", ""), "/"),
		URLSecret: secret.Value(strings.TrimSpace(getenv("UPLOAD_URL_SECRET"))),
		S3: S3Config{
			Endpoint:        str("S3_ENDPOINT", ""),
			Region:          str("S3_REGION", "us-east-1"),
			Bucket:          str("S3_BUCKET", ""),
			AccessKeyID:     str("S3_ACCESS_KEY_ID", ""),
			SecretAccessKey: secret.Value(strings.TrimSpace(getenv("S3_SECRET_ACCESS_KEY"))),
		},
		PendingTTL:        dur("UPLOAD_PENDING_TTL", 24*time.Hour, 5*time.Minute, 30*24*time.Hour),
		PresignTTL:        dur("UPLOAD_PRESIGN_TTL", 15*time.Minute, time.Minute, 12*time.Hour),
		URLTTL:            dur("UPLOAD_URL_TTL", time.Hour, time.Minute, 7*24*time.Hour),
		MultipartMaxBytes: num("UPLOAD_MULTIPART_MAX_BYTES", 10<<20, 64<<10, 1<<30),
		MaxPendingPerUser: int(num("UPLOAD_MAX_PENDING_PER_USER", 100, 1, 100_000)),
		Limits:            DefaultLimits(),
	}
	if v := str("S3_FORCE_PATH_STYLE", ""); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("S3_FORCE_PATH_STYLE", "must be true or false")
		}
		c.S3.ForcePathStyle = b
	}
	for purpose, l := range c.Limits {
		p := string(purpose)
		l.MaxBytes = num("UPLOAD_"+p+"_MAX_BYTES", l.MaxBytes, 1024, 5<<30)
		l.MaxPixels = num("UPLOAD_"+p+"_MAX_PIXELS", l.MaxPixels, 1, 200_000_000)
		c.Limits[purpose] = l
	}
	if c.PublicURL == "" && !production && c.Store == StoreDisk {
		c.PublicURL = "http://localhost" + portOf(listenAddr) + "/uploads"
	}
	if c.PresignTTL > c.PendingTTL {
		bad("UPLOAD_PRESIGN_TTL", "must not be longer than UPLOAD_PENDING_TTL")
	}
	if c.Enabled {
		errs = append(errs, c.validate(production)...)
	}
	return c, errors.Join(errs...)
}

// portOf is ":port" of a listen address (":8080" when it has none).
func portOf(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil && port != "" && port != "0" {
		return ":" + port
	}
	return ":8080"
}

func (c Config) validate(production bool) []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	switch c.Store {
	case StoreDisk:
		if production && len(c.URLSecret.Reveal()) < 32 {
			bad("UPLOAD_URL_SECRET", "is required in production with UPLOAD_STORE=disk (at least 32 characters, the same on every replica)")
		}
	case StoreS3:
		if c.S3.Bucket == "" {
			bad("S3_BUCKET", "is required with UPLOAD_STORE=s3")
		}
		if c.S3.AccessKeyID == "" || c.S3.SecretAccessKey == "" {
			bad("S3_ACCESS_KEY_ID", "and S3_SECRET_ACCESS_KEY are required with UPLOAD_STORE=s3")
		}
		if c.S3.Endpoint != "" {
			if u, err := url.Parse(c.S3.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				bad("S3_ENDPOINT", "must be an absolute URL such as https://oss-cn-hangzhou.aliyuncs.com")
			}
		}
		if c.PublicURL == "" {
			bad("UPLOAD_PUBLIC_URL", "is required with UPLOAD_STORE=s3: the public address of the bucket or its CDN, which product images link to")
		}
	default:
		bad("UPLOAD_STORE", "must be disk or s3, not %q", c.Store)
	}
	if c.PublicURL == "" && c.Store == StoreDisk {
		bad("UPLOAD_PUBLIC_URL", "is required in production: this server's address as browsers reach it, followed by /uploads")
	} else if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
			bad("UPLOAD_PUBLIC_URL", "must be an absolute URL such as https://shop.example.com/uploads")
		case production && u.Scheme != "https":
			bad("UPLOAD_PUBLIC_URL", "must be https in production")
		case c.Store == StoreDisk && !strings.HasSuffix(u.Path, "/uploads"):
			bad("UPLOAD_PUBLIC_URL", "must end in /uploads with UPLOAD_STORE=disk (where this server serves the files)")
		}
	}
	return errs
}
