package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/xiadan/xiadan/internal/apperror"
)

// ReasonMalformedMultipart: a multipart/form-data request that does not follow the
// GraphQL multipart request spec (400).
const ReasonMalformedMultipart = "MALFORMED_MULTIPART"

// multipartTransport is the GraphQL multipart request spec
// (https://github.com/jaydenseric/graphql-multipart-request-spec) for uploadFile: an
// "operations" field (one operation, as a POST body), a "map" field (file field name →
// variable paths), then the files. It is read strictly, in that order, with the whole body
// capped at UPLOAD_MULTIPART_MAX_BYTES (413 past it, limitBody); anything else is refused
// with 400 and reason MALFORMED_MULTIPART. A multipart request must carry an
// Authorization header: forms on other sites can post multipart/form-data without a CORS
// preflight, but cannot set that header.
type multipartTransport struct {
	logger   *slog.Logger
	maxBytes int64
	// p answers the request as the JSON/SSE/multipart transport does.
	p *protocols
}

// Supports claims POSTs of multipart/form-data.
func (multipartTransport) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Upgrade") != "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// Do reads the request and runs it.
func (t multipartTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if r.Header.Get("Authorization") == "" {
		writeError(w, http.StatusUnauthorized, apperror.New(apperror.Unauthenticated,
			"multipart requests (file uploads) need an Authorization header"))
		return
	}
	start := graphql.Now()
	p, bad := t.read(r)
	if bad != nil {
		refuse(w, r, t.logger, bad)
		return
	}
	p.Headers = r.Header
	p.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	httpTransport{p: t.p}.serve(w, r, exec, p)
}

func badMultipart(field, format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, reason: ReasonMalformedMultipart, field: field,
		message: fmt.Sprintf(format, args...)}
}

// read parses the multipart body into a request whose variables hold the files.
func (t multipartTransport) read(r *http.Request) (*graphql.RawParams, *requestError) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badMultipart("", "the multipart body cannot be read: %v", err)
	}
	field := func(name string) ([]byte, *requestError) {
		part, err := mr.NextPart()
		if err != nil {
			return nil, t.partError(err, "the %q field is missing", name)
		}
		if part.FormName() != name || part.FileName() != "" {
			return nil, badMultipart(name, "the parts must be %q, then %q, then the files; got %q", "operations", "map", part.FormName())
		}
		b, err := io.ReadAll(io.LimitReader(part, MaxBodyBytes+1))
		if err != nil {
			return nil, t.partError(err, "the %q field cannot be read", name)
		}
		if len(b) > MaxBodyBytes {
			return nil, bodyTooLarge()
		}
		return b, nil
	}
	ops, bad := field("operations")
	if bad != nil {
		return nil, bad
	}
	p, bad := parsePOST(ops)
	if bad != nil {
		if bad.field == "" {
			bad.field = "operations"
		}
		return nil, bad
	}
	rawMap, bad := field("map")
	if bad != nil {
		return nil, bad
	}
	var fileMap map[string][]string
	if err := json.Unmarshal(rawMap, &fileMap); err != nil {
		return nil, badMultipart("map", `map must be a JSON object such as {"0": ["variables.file"]}`)
	}
	if len(fileMap) == 0 {
		return nil, badMultipart("map", "map names no file")
	}
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, t.partError(err, "a file part cannot be read")
		}
		name := part.FormName()
		paths, ok := fileMap[name]
		if !ok || seen[name] {
			return nil, badMultipart("map", "the part %q is not in map, or comes twice", name)
		}
		seen[name] = true
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, t.partError(err, "the file %q cannot be read", name)
		}
		ct := part.Header.Get("Content-Type")
		for _, path := range paths {
			up := graphql.Upload{File: bytes.NewReader(data), Filename: part.FileName(), Size: int64(len(data)), ContentType: ct}
			if err := setVariable(p, path, up); err != nil {
				return nil, badMultipart("map", "%s", err)
			}
		}
	}
	for name := range fileMap {
		if !seen[name] {
			return nil, badMultipart("map", "map names the file %q, which the request does not carry", name)
		}
	}
	return p, nil
}

// partError is a part that could not be read: past the size cap (413) or malformed.
func (t multipartTransport) partError(err error, format string, args ...any) *requestError {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		e := bodyTooLarge()
		e.limit = t.maxBytes
		e.message = fmt.Sprintf("request body larger than %d bytes (UPLOAD_MULTIPART_MAX_BYTES); send larger files with createUpload", t.maxBytes)
		return e
	}
	return badMultipart("", format, args...)
}

// setVariable puts a file at a map path such as variables.file or variables.files.1;
// the variable must be there, null, for it to take the file.
func setVariable(p *graphql.RawParams, path string, up graphql.Upload) error {
	parts := strings.Split(path, ".")
	if len(parts) < 2 || parts[0] != "variables" {
		return fmt.Errorf("the path %q does not start with variables.", path)
	}
	var parent any = p.Variables
	for i, key := range parts[1:] {
		last := i == len(parts)-2
		switch node := parent.(type) {
		case map[string]any:
			v, ok := node[key]
			if !ok {
				return fmt.Errorf("the path %q names no variable", path)
			}
			if last {
				if v != nil {
					return fmt.Errorf("the variable at %q must be null to take a file", path)
				}
				node[key] = up
				return nil
			}
			parent = v
		case []any:
			n, err := strconv.Atoi(key)
			if err != nil || n < 0 || n >= len(node) {
				return fmt.Errorf("the path %q names no list item", path)
			}
			if last {
				if node[n] != nil {
					return fmt.Errorf("the variable at %q must be null to take a file", path)
				}
				node[n] = up
				return nil
			}
			parent = node[n]
		default:
			return fmt.Errorf("the path %q names no variable", path)
		}
	}
	return fmt.Errorf("the path %q names no variable", path)
}
