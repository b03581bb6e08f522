// Package upload takes files from people — product images, review photos, after-sales
// evidence, merchant licences — checks what they really are, makes them safe to serve, and
// binds each to the one use its purpose allows. Files go to a Store (the local disk, served
// by the binary, or an S3-compatible bucket); clients put them there with a presigned PUT
// and createUpload/completeUpload, or send small ones inline with the GraphQL multipart
// request spec (uploadFile). Unbound uploads expire (Cleanup). docs/UPLOADS.md.
package upload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	entupload "github.com/xiadan/xiadan/ent/upload"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Service is the upload service of one server.
type Service struct {
	client *ent.Client // the base client, for the file server and Cleanup
	cfg    Config
	store  Store
	disk   *DiskStore // the store when it is the disk; nil with s3
	logger *slog.Logger
	// sem bounds the images decoded at once: a decoded image takes up to
	// 4 bytes × MaxPixels of memory.
	sem chan struct{}

	mu    sync.RWMutex
	clock func() time.Time
	// private are the files other packages keep in the store (ServePrivate).
	private []privateFiles
}

// privateFiles is a key prefix whose files another package stores and vouches for.
type privateFiles struct {
	prefix string
	served func(ctx context.Context, key string) (contentType string, ok bool)
}

// ServePrivate has the disk store's file server serve files under prefix (which no
// upload purpose uses) through signed URLs only, when served vouches for the key: for
// files a package writes itself, such as reports (internal/reports). Call it before serving.
func (s *Service) ServePrivate(prefix string, served func(ctx context.Context, key string) (contentType string, ok bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.private = append(s.private, privateFiles{prefix: prefix, served: served})
}

// New returns the service of cfg. Outside production, the disk store's URL key is
// generated in dataDir when UPLOAD_URL_SECRET is not set.
func New(cfg Config, client *ent.Client, dataDir string, logger *slog.Logger) (*Service, error) {
	s := &Service{client: client, cfg: cfg, logger: logger, sem: make(chan struct{}, 2), clock: time.Now}
	if !cfg.Enabled {
		return s, nil
	}
	switch cfg.Store {
	case StoreS3:
		s.store = NewS3Store(cfg.S3, cfg.PublicURL, s.now)
	default:
		key := []byte(cfg.URLSecret.Reveal())
		if len(key) == 0 {
			var err error
			if key, err = devKey(dataDir); err != nil {
				return nil, err
			}
		}
		d, err := NewDiskStore(cfg.Dir, cfg.PublicURL, key, s.now)
		if err != nil {
			return nil, err
		}
		s.store, s.disk = d, d
	}
	return s, nil
}

// devKey reads (or first makes) the development URL key in dataDir.
func devKey(dataDir string) ([]byte, error) {
	p := filepath.Join(dataDir, "upload-url.key")
	if b, err := os.ReadFile(p); err == nil && len(b) >= 32 {
		return b, nil
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	k := []byte(hex.EncodeToString(b))
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, k, 0o600); err != nil {
		return nil, fmt.Errorf("upload: writing the development URL key: %w", err)
	}
	return k, nil
}

// SetNow makes the service (and its disk store's signatures) go by now. Call it before
// serving; tests use it to expire URLs and uploads without waiting.
func (s *Service) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

func (s *Service) now() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.clock()
}

// Store is where the files are.
func (s *Service) Store() Store { return s.store }

// Config is the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// Routes mounts the disk store's file server (GET, HEAD, presigned PUT) at /uploads/.
func (s *Service) Routes(mux *http.ServeMux) {
	if s.disk != nil {
		mux.Handle(HandlerPath, s.disk.Handler(gate{s}))
	}
}

// CreateInput is what createUpload asks for.
type CreateInput struct {
	Purpose     entupload.Purpose
	ContentType string
	Size        int64
	Filename    string
	// MerchantID is the merchant a product image is for (admins; staff use their own).
	MerchantID *int
}

// Header is one HTTP header of a presigned request.
type Header struct{ Name, Value string }

// Created is a new upload and the request that puts its bytes.
type Created struct {
	Upload    *ent.Upload
	Method    string
	URL       string
	Headers   []*Header
	ExpiresAt time.Time
}

// Create starts a presigned upload: it checks the purpose, the caller's right to it, the
// declared type and size, records a PENDING upload and signs a PUT of exactly that many
// bytes of that type. The bytes are checked for real by Complete.
func (s *Service) Create(ctx context.Context, db *ent.Client, in CreateInput) (*Created, error) {
	limit, err := s.limit(in.Purpose)
	if err != nil {
		return nil, err
	}
	mt, _, perr := mime.ParseMediaType(in.ContentType)
	if perr != nil || !slices.Contains(limit.Types, mt) {
		return nil, refused("contentType", ReasonUnsupportedContent, "%s uploads accept %v", in.Purpose, limit.Types)
	}
	switch {
	case in.Size < 1:
		return nil, apperror.BadInput("size", "must be at least 1 byte")
	case in.Size > limit.MaxBytes:
		e := refused("size", ReasonFileTooLarge, "%s uploads are at most %d bytes", in.Purpose, limit.MaxBytes)
		e.Extensions["limit"] = limit.MaxBytes
		return nil, e
	}
	owner, merchantID, err := s.scope(ctx, db, in.Purpose, in.MerchantID)
	if err != nil {
		return nil, err
	}
	if err := s.checkPending(ctx, db, owner); err != nil {
		return nil, err
	}
	now := s.now()
	random := randomName()
	u, err := db.Upload.Create().
		SetOwnerID(owner).SetNillableMerchantID(merchantID).SetPurpose(in.Purpose).
		SetFilename(cleanFilename(in.Filename)).SetDeclaredContentType(mt).SetDeclaredSize(in.Size).
		SetIncomingKey("incoming/" + random).SetStorageKey(storageKey(in.Purpose, now, random)).
		SetCreatedAt(now.UTC()).SetExpiresAt(now.Add(s.cfg.PendingTTL).UTC()).
		Save(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	p, err := s.store.PresignPut(ctx, u.IncomingKey, mt, in.Size, now.Add(s.cfg.PresignTTL))
	if err != nil {
		return nil, fmt.Errorf("upload: presigning: %w", err)
	}
	out := &Created{Upload: u, Method: p.Method, URL: p.URL, ExpiresAt: p.Expires}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range p.Header {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range p.Header[name] {
			out.Headers = append(out.Headers, &Header{Name: name, Value: v})
		}
	}
	return out, nil
}

// Complete checks and processes the bytes a client put at a presigned upload's URL and
// makes the upload READY: the content is sniffed (never taken from the name or the
// declared type), size and pixel limits applied before decoding, images re-encoded
// without EXIF and thumbnailed. Completing a READY or BOUND upload again returns it.
func (s *Service) Complete(ctx context.Context, db *ent.Client, id int) (*ent.Upload, error) {
	u, err := s.owned(ctx, db, id, "id")
	if err != nil {
		return nil, err
	}
	switch u.State {
	case entupload.StateREADY, entupload.StateBOUND:
		return u, nil
	case entupload.StateEXPIRED:
		return nil, apperror.WrongState(string(u.State), "the upload has expired; create a new one")
	}
	limit, err := s.limit(u.Purpose)
	if err != nil {
		return nil, err
	}
	rc, err := s.store.Get(ctx, u.IncomingKey)
	if errors.Is(err, ErrNotFound) {
		return nil, refused("id", ReasonNotUploaded, "nothing has been uploaded yet: PUT the file to the upload's URL first")
	}
	if err != nil {
		return nil, fmt.Errorf("upload: reading the uploaded file: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(rc, limit.MaxBytes+1))
	_ = rc.Close()
	if err != nil {
		return nil, fmt.Errorf("upload: reading the uploaded file: %w", err)
	}
	p, err := s.process(ctx, raw, limit, "id")
	if err != nil {
		var ae *apperror.Error
		if errors.As(err, &ae) { // the file is refused: it may be put again while the URL works
			if derr := s.store.Delete(ctx, u.IncomingKey); derr != nil {
				s.logger.WarnContext(ctx, "upload: removing a refused file", "upload_id", u.ID, "err", derr)
			}
		}
		return nil, err
	}
	if err := s.save(ctx, u.StorageKey, p); err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	n, err := db.Upload.Update().Where(entupload.ID(u.ID), entupload.StateEQ(entupload.StatePENDING)).
		SetState(entupload.StateREADY).SetContentType(p.contentType).SetSize(int64(len(p.data))).
		SetNillableWidth(positive(p.width)).SetNillableHeight(positive(p.height)).SetSha256(p.sha256).
		SetThumbnails(thumbnails(u.StorageKey, p)).
		Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 1 {
		if err := s.store.Delete(ctx, u.IncomingKey); err != nil {
			s.logger.WarnContext(ctx, "upload: removing the incoming file", "upload_id", u.ID, "err", err)
		}
	}
	// n == 0: another request completed it meanwhile, with the same bytes.
	return db.Upload.Get(sys, u.ID)
}

// Direct stores a file sent inline (GraphQL multipart request): it is checked and
// processed as Complete does and recorded READY at once.
func (s *Service) Direct(ctx context.Context, db *ent.Client, purpose entupload.Purpose, merchantID *int, filename string, size int64, body io.Reader) (*ent.Upload, error) {
	limit, err := s.limit(purpose)
	if err != nil {
		return nil, err
	}
	if size > limit.MaxBytes {
		e := refused("file", ReasonFileTooLarge, "%s uploads are at most %d bytes", purpose, limit.MaxBytes)
		e.Extensions["limit"] = limit.MaxBytes
		return nil, e
	}
	owner, mid, err := s.scope(ctx, db, purpose, merchantID)
	if err != nil {
		return nil, err
	}
	if err := s.checkPending(ctx, db, owner); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(body, limit.MaxBytes+1))
	if err != nil {
		return nil, apperror.BadInput("file", "the file could not be read")
	}
	p, err := s.process(ctx, raw, limit, "file")
	if err != nil {
		return nil, err
	}
	now := s.now()
	random := randomName()
	key := storageKey(purpose, now, random)
	if err := s.save(ctx, key, p); err != nil {
		return nil, err
	}
	return db.Upload.Create().
		SetOwnerID(owner).SetNillableMerchantID(mid).SetPurpose(purpose).SetState(entupload.StateREADY).
		SetFilename(cleanFilename(filename)).SetDeclaredSize(size).
		SetIncomingKey("direct/" + random).SetStorageKey(key).
		SetContentType(p.contentType).SetSize(int64(len(p.data))).
		SetNillableWidth(positive(p.width)).SetNillableHeight(positive(p.height)).SetSha256(p.sha256).
		SetThumbnails(thumbnails(key, p)).
		SetCreatedAt(now.UTC()).SetExpiresAt(now.Add(s.cfg.PendingTTL).UTC()).
		Save(viewer.SystemContext(ctx))
}

// process runs process with at most cap(s.sem) images being decoded at once.
func (s *Service) process(ctx context.Context, raw []byte, limit Limit, field string) (*processed, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	return process(raw, limit, field)
}

// save writes a processed file and its thumbnails.
func (s *Service) save(ctx context.Context, key string, p *processed) error {
	if err := s.store.Put(ctx, key, p.contentType, p.data); err != nil {
		return fmt.Errorf("upload: storing: %w", err)
	}
	for _, t := range p.thumbs {
		if err := s.store.Put(ctx, thumbKey(key, t.size), t.contentType, t.data); err != nil {
			return fmt.Errorf("upload: storing a thumbnail: %w", err)
		}
	}
	return nil
}

func thumbnails(key string, p *processed) []schematype.Thumbnail {
	out := make([]schematype.Thumbnail, len(p.thumbs))
	for i, t := range p.thumbs {
		out[i] = schematype.Thumbnail{Size: t.size, Width: t.width, Height: t.height, Key: thumbKey(key, t.size), ContentType: t.contentType}
	}
	return out
}

func positive(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

func (s *Service) limit(p entupload.Purpose) (Limit, error) {
	if s.store == nil {
		return Limit{}, apperror.New(apperror.Forbidden, "this server takes no uploads (UPLOAD_STORE is not set)")
	}
	l, ok := s.cfg.Limits[p]
	if !ok {
		return Limit{}, apperror.BadInput("purpose", "is not an upload purpose")
	}
	return l, nil
}

// scope decides who owns a new upload of purpose and which merchant's staff share it:
// product images are made by the staff of the merchant (or an admin naming it); a
// licence by its applicant or the merchant's owner; review photos and after-sales
// evidence by the customer, shared with the merchant when they are bound.
func (s *Service) scope(ctx context.Context, db *ent.Client, purpose entupload.Purpose, merchantID *int) (int, *int, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return 0, nil, apperror.New(apperror.Forbidden, "files are uploaded by people signed in with their own account")
	}
	switch purpose {
	case entupload.PurposePRODUCT_IMAGE:
		switch {
		case v.Has(viewer.RoleMerchant) && v.MerchantID != 0:
			if merchantID != nil && *merchantID != v.MerchantID {
				return 0, nil, apperror.NotFoundf("no such merchant")
			}
			id := v.MerchantID
			return v.UserID, &id, nil
		case v.IsAdmin():
			if merchantID == nil {
				return 0, nil, apperror.BadInput("merchantID", "admins name the merchant a product image is for")
			}
			ok, err := db.Merchant.Query().Where(merchant.ID(*merchantID)).Exist(viewer.SystemContext(ctx))
			if err != nil {
				return 0, nil, err
			}
			if !ok {
				return 0, nil, apperror.NotFoundf("no such merchant")
			}
			return v.UserID, merchantID, nil
		}
		return 0, nil, apperror.New(apperror.Forbidden, "product images are uploaded by merchant staff")
	case entupload.PurposeMERCHANT_LICENCE:
		if merchantID == nil {
			return v.UserID, nil, nil // an application's licence: shared once the merchant exists
		}
		if !v.IsMerchantOwner(*merchantID) && !v.IsAdmin() {
			return 0, nil, apperror.NotFoundf("no such merchant")
		}
		return v.UserID, merchantID, nil
	default:
		if merchantID != nil {
			return 0, nil, apperror.BadInput("merchantID", "%s uploads belong to their customer; leave merchantID out", purpose)
		}
		return v.UserID, nil, nil
	}
}

// checkPending refuses a new upload to someone with MaxPendingPerUser uploads not yet bound.
func (s *Service) checkPending(ctx context.Context, db *ent.Client, owner int) error {
	sys := viewer.SystemContext(ctx)
	n, err := db.Upload.Query().Where(entupload.OwnerID(owner),
		entupload.StateIn(entupload.StatePENDING, entupload.StateREADY)).Count(sys)
	if err != nil {
		return err
	}
	if n < s.cfg.MaxPendingPerUser {
		return nil
	}
	first, err := db.Upload.Query().Where(entupload.OwnerID(owner),
		entupload.StateIn(entupload.StatePENDING, entupload.StateREADY)).
		Order(ent.Asc(entupload.FieldExpiresAt)).First(sys)
	if err != nil {
		return err
	}
	e := apperror.Limited(first.ExpiresAt.Sub(s.now()))
	e.Message = fmt.Sprintf("%d uploads are waiting to be used; use or let them expire first. %s", n, e.Message)
	return e
}

// owned is the caller's own upload id; anyone else's is NOT_FOUND, as a missing one.
func (s *Service) owned(ctx context.Context, db *ent.Client, id int, field string) (*ent.Upload, error) {
	v := viewer.FromContext(ctx)
	u, err := db.Upload.Get(viewer.SystemContext(ctx), id)
	if ent.IsNotFound(err) || (err == nil && (v.UserID == 0 || u.OwnerID != v.UserID)) {
		e := apperror.NotFoundf("no such upload")
		e.Field = field
		return nil, e
	}
	return u, err
}

// Public reports whether an upload is served to anyone: a bound product image or review
// photo (reviews are public).
func Public(u *ent.Upload) bool {
	return u.State == entupload.StateBOUND &&
		(u.Purpose == entupload.PurposePRODUCT_IMAGE || u.Purpose == entupload.PurposeREVIEW_PHOTO)
}

// URL is where the caller reads a processed upload: its public address when Public, a
// signed one valid for URLTTL otherwise; "" before it is READY.
func (s *Service) URL(ctx context.Context, u *ent.Upload) (string, error) {
	if s.store == nil || u.State != entupload.StateREADY && u.State != entupload.StateBOUND {
		return "", nil
	}
	return s.store.URL(ctx, u.StorageKey, Public(u), s.now().Add(s.cfg.URLTTL))
}

// Thumbnails are the thumbnails of an upload with their URLs, smallest first.
func (s *Service) Thumbnails(ctx context.Context, u *ent.Upload) ([]*schematype.ImageThumbnail, error) {
	if s.store == nil || u.State != entupload.StateREADY && u.State != entupload.StateBOUND {
		return []*schematype.ImageThumbnail{}, nil
	}
	out := make([]*schematype.ImageThumbnail, 0, len(u.Thumbnails))
	for _, t := range u.Thumbnails {
		url, err := s.store.URL(ctx, t.Key, Public(u), s.now().Add(s.cfg.URLTTL))
		if err != nil {
			return nil, err
		}
		out = append(out, &schematype.ImageThumbnail{Size: t.Size, Width: t.Width, Height: t.Height, URL: url})
	}
	return out, nil
}

// randomName is 128 random bits: keys are unguessable, so a public file's address is
// known only to those shown it.
func randomName() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// storageKey is where a processed file lives: purpose/yyyy-mm/random.
func storageKey(p entupload.Purpose, now time.Time, random string) string {
	return strings.ToLower(strings.ReplaceAll(string(p), "_", "-")) + "/" + now.UTC().Format("2006-01") + "/" + random
}

// thumbKey is where the thumbnail of size of the file at key lives.
func thumbKey(key string, size int) string { return key + "-t" + strconv.Itoa(size) }

// cleanFilename keeps the last path element of a client's file name, without control
// characters, at most 255 characters.
func cleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if r := []rune(name); len(r) > 255 {
		name = string(r[:255])
	}
	return name
}

// gate is what the disk store's file server may serve and accept.
type gate struct{ s *Service }

// Served finds the processed file or thumbnail at key.
func (g gate) Served(ctx context.Context, key string) (string, bool, bool) {
	g.s.mu.RLock()
	private := g.s.private
	g.s.mu.RUnlock()
	for _, p := range private {
		if strings.HasPrefix(key, p.prefix) {
			ct, ok := p.served(ctx, key)
			return ct, false, ok
		}
	}
	base, size := key, 0
	if i := strings.LastIndex(key, "-t"); i > 0 {
		if n, err := strconv.Atoi(key[i+2:]); err == nil {
			base, size = key[:i], n
		}
	}
	u, err := g.s.client.Upload.Query().Where(entupload.StorageKey(base),
		entupload.StateIn(entupload.StateREADY, entupload.StateBOUND)).Only(viewer.SystemContext(ctx))
	if err != nil {
		return "", false, false
	}
	if size == 0 {
		return u.ContentType, Public(u), true
	}
	for _, t := range u.Thumbnails {
		if t.Size == size {
			return t.ContentType, Public(u), true
		}
	}
	return "", false, false
}

// AcceptsPut reports whether key is the incoming key of a PENDING upload.
func (g gate) AcceptsPut(ctx context.Context, key string) bool {
	ok, err := g.s.client.Upload.Query().Where(entupload.IncomingKey(key),
		entupload.StateEQ(entupload.StatePENDING)).Exist(viewer.SystemContext(ctx))
	return err == nil && ok
}
