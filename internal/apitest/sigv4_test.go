package apitest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The verifier accepts AWS's own worked example of a presigned URL ("Authenticating
// Requests: Using Query Parameters", GET examplebucket/test.txt) and nothing else: it
// computes signatures as S3 does.
func TestSigV4VerifierAgreesWithAWSDocumentedExample(t *testing.T) {
	const example = "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
		"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	reached := 0
	v := &SigV4Verifier{Region: "us-east-1", Service: "s3",
		Secrets: map[string]string{"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		Now:     func() time.Time { return time.Date(2013, 5, 24, 1, 0, 0, 0, time.UTC) },
		Next:    http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ })}
	for _, tc := range []struct {
		name, url string
		now       time.Time
		want      int
	}{
		{"as documented", example, time.Date(2013, 5, 24, 1, 0, 0, 0, time.UTC), http.StatusOK},
		{"another object", strings.Replace(example, "test.txt", "test2.txt", 1), time.Date(2013, 5, 24, 1, 0, 0, 0, time.UTC), http.StatusForbidden},
		{"expired", example, time.Date(2013, 5, 25, 0, 0, 1, 0, time.UTC), http.StatusForbidden},
		{"tampered", example[:len(example)-1] + "5", time.Date(2013, 5, 24, 1, 0, 0, 0, time.UTC), http.StatusForbidden},
	} {
		v.Now = func() time.Time { return tc.now }
		before := reached
		rec := httptest.NewRecorder()
		v.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.url, nil))
		if rec.Code != tc.want || (tc.want == http.StatusOK) != (reached > before) {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.want, rec.Body)
		}
	}
}
