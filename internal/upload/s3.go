package upload

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Store keeps files in an S3-compatible bucket (AWS S3, Aliyun OSS, Tencent COS,
// MinIO) through the AWS SDK for Go v2. Clients put their bytes straight into the bucket
// with a presigned PUT; public files are read from UPLOAD_PUBLIC_URL (the bucket's public
// address or a CDN in front of it), private ones through presigned GETs.
type S3Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	base    string
	now     func() time.Time
}

// NewS3Store returns the store of cfg.S3, with public files under publicURL.
func NewS3Store(cfg S3Config, publicURL string, now func() time.Time) *S3Store {
	client := s3.New(s3.Options{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey.Reveal(), ""),
		UsePathStyle: cfg.ForcePathStyle,
		// The SDK's default CRC32 checksums are not understood by every S3-compatible
		// service (OSS, COS and older MinIO refuse or ignore them): send them only where
		// the API requires one.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &S3Store{client: client, presign: s3.NewPresignClient(client), bucket: cfg.Bucket,
		base: strings.TrimSuffix(publicURL, "/"), now: now}
}

// PresignPut signs a PUT whose Content-Type and Content-Length are part of the
// signature, so the bucket refuses another type or size.
func (s *S3Store) PresignPut(ctx context.Context, key, contentType string, size int64, expires time.Time) (Presigned, error) {
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key),
		ContentType: aws.String(contentType), ContentLength: aws.Int64(size),
	}, s3.WithPresignExpires(expires.Sub(s.now())))
	if err != nil {
		return Presigned{}, err
	}
	h := http.Header{}
	for name, vs := range req.SignedHeader {
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length": // set by every HTTP client from the URL and body
		default:
			h[http.CanonicalHeaderKey(name)] = vs
		}
	}
	return Presigned{Method: req.Method, URL: req.URL, Header: h, Expires: expires}, nil
}

// Get opens the object at key.
func (s *S3Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *types.NoSuchKey
		var api smithy.APIError
		if errors.As(err, &nsk) || (errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound")) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return out.Body, nil
}

// Put stores data at key.
func (s *S3Store) Put(ctx context.Context, key, contentType string, data []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(data),
		ContentType: aws.String(contentType), ContentLength: aws.Int64(int64(len(data))),
	})
	return err
}

// Delete removes the objects one by one (DeleteObjects needs a Content-MD5 that not every
// S3-compatible service computes the same way).
func (s *S3Store) Delete(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)}); err != nil {
			return err
		}
	}
	return nil
}

// URL is the public address of a public object, a presigned GET of a private one.
func (s *S3Store) URL(ctx context.Context, key string, public bool, expires time.Time) (string, error) {
	if public {
		return s.base + "/" + key, nil
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)},
		s3.WithPresignExpires(expires.Sub(s.now())))
	if err != nil {
		return "", err
	}
	return req.URL, nil
}
