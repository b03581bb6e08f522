package apitest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// SigV4Verifier is the request authentication of S3, written from AWS's specification
// ("Authenticating Requests (AWS Signature Version 4)"): it recomputes the signature of
// each request — the Authorization header form and the presigned query form — from the
// canonical request, and refuses with 403 one whose signature does not match, whose
// signed headers differ, whose presigned URL has expired, or whose body does not hash to
// the signed x-amz-content-sha256. Requests that pass go to Next.
type SigV4Verifier struct {
	Region, Service string
	// Secrets are the secret access keys by access key id.
	Secrets map[string]string
	Now     func() time.Time
	Next    http.Handler
	// Accepted counts the requests that passed.
	Accepted *atomic.Int64
}

func (v *SigV4Verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := v.verify(r); err != nil {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", err.code, err.msg)
		return
	}
	if v.Accepted != nil {
		v.Accepted.Add(1)
	}
	v.Next.ServeHTTP(w, r)
}

type sigError struct{ code, msg string }

func denied(code, format string, args ...any) *sigError {
	return &sigError{code: code, msg: fmt.Sprintf(format, args...)}
}

const sigAlgorithm = "AWS4-HMAC-SHA256"

func (v *SigV4Verifier) verify(r *http.Request) *sigError {
	q := r.URL.Query()
	var credential, signedHeaders, signature, amzDate, payloadHash string
	presigned := q.Get("X-Amz-Algorithm") != ""
	if presigned {
		if q.Get("X-Amz-Algorithm") != sigAlgorithm {
			return denied("AuthorizationQueryParametersError", "unsupported algorithm")
		}
		credential, signedHeaders, signature, amzDate = q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"), q.Get("X-Amz-Date")
		payloadHash = "UNSIGNED-PAYLOAD"
		if h := q.Get("X-Amz-Content-Sha256"); h != "" {
			payloadHash = h
		}
		expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
		t, terr := time.Parse("20060102T150405Z", amzDate)
		if err != nil || terr != nil || expires < 1 || expires > 604800 {
			return denied("AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed")
		}
		if v.Now().After(t.Add(time.Duration(expires) * time.Second)) {
			return denied("AccessDenied", "Request has expired")
		}
	} else {
		auth := r.Header.Get("Authorization")
		rest, ok := strings.CutPrefix(auth, sigAlgorithm+" ")
		if !ok {
			return denied("AccessDenied", "the request is not signed with %s", sigAlgorithm)
		}
		for part := range strings.SplitSeq(rest, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "Credential":
				credential = val
			case "SignedHeaders":
				signedHeaders = val
			case "Signature":
				signature = val
			}
		}
		amzDate = r.Header.Get("X-Amz-Date")
		payloadHash = r.Header.Get("X-Amz-Content-Sha256")
		if payloadHash == "" {
			return denied("InvalidRequest", "x-amz-content-sha256 is missing")
		}
	}
	cred := strings.Split(credential, "/")
	if len(cred) != 5 || cred[4] != "aws4_request" || cred[2] != v.Region || cred[3] != v.Service || !strings.HasPrefix(amzDate, cred[1]) {
		return denied("AuthorizationHeaderMalformed", "the credential scope %q is wrong", credential)
	}
	secret, ok := v.Secrets[cred[0]]
	if !ok {
		return denied("InvalidAccessKeyId", "unknown access key id")
	}
	names := strings.Split(signedHeaders, ";")
	if !slices.Contains(names, "host") || !slices.IsSorted(names) {
		return denied("AccessDenied", "the signed headers must include host, in order")
	}
	var ch strings.Builder
	for _, name := range names {
		var value string
		switch name {
		case "host":
			value = r.Host
		case "content-length":
			value = strconv.FormatInt(r.ContentLength, 10)
		default:
			value = strings.Join(r.Header.Values(name), ",")
		}
		ch.WriteString(name + ":" + strings.Join(strings.Fields(value), " ") + "\n")
	}
	canonical := strings.Join([]string{
		r.Method,
		r.URL.EscapedPath(),
		canonicalQuery(q, presigned),
		ch.String(),
		signedHeaders,
		payloadHash,
	}, "\n")
	scope := strings.Join(cred[1:], "/")
	sum := sha256.Sum256([]byte(canonical))
	stringToSign := sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+secret), cred[1])
	key = hmacSHA256(key, cred[2])
	key = hmacSHA256(key, cred[3])
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return denied("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
	}
	if len(payloadHash) == 64 { // a signed body must be that body
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return denied("IncompleteBody", "the body could not be read")
		}
		got := sha256.Sum256(body)
		if hex.EncodeToString(got[:]) != payloadHash {
			return denied("XAmzContentSHA256Mismatch", "the body does not match x-amz-content-sha256")
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return nil
}

// canonicalQuery is the query sorted by name, each name and value URI-encoded as AWS
// does (RFC 3986 unreserved characters kept, a space as %20), without the signature.
func canonicalQuery(q url.Values, presigned bool) string {
	var parts []string
	for k, vs := range q {
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		for _, val := range vs {
			parts = append(parts, awsEscape(k)+"="+awsEscape(val))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "&")
}

func awsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
