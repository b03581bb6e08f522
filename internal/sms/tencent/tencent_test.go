package tencent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/sms"
)

// TestAuthorizationMatchesTencentsExample checks the signer against the worked example
// of Tencent Cloud's TC3-HMAC-SHA256 documentation.
func TestAuthorizationMatchesTencentsExample(t *testing.T) {
	payload := `{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`
	got := Authorization("AKIDEXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "cvm", "cvm.tencentcloudapi.com", time.Unix(1551113065, 0), []byte(payload))
	want := "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

func TestSend(t *testing.T) {
	now := time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC)
	answers := map[string]string{
		"+8613800138000": `{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8613800138000","Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6-cf91-4f3e-a81f-9198114a2279"}}`,
		"+8613800138001": `{"Response":{"SendStatusSet":[{"SerialNo":"","PhoneNumber":"+8613800138001","Fee":0,"SessionContext":"","Code":"LimitExceeded.PhoneNumberDailyLimit","Message":"the number of SMS messages sent from a single mobile number every day exceeds the upper limit","IsoCode":"CN"}],"RequestId":"b"}}`,
		"+8613800138002": `{"Response":{"SendStatusSet":[{"SerialNo":"","PhoneNumber":"+8613800138002","Fee":0,"Code":"InvalidParameterValue.IncorrectPhoneNumber","Message":"incorrect phone number","IsoCode":"CN"}],"RequestId":"c"}}`,
		"+8613800138003": `{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated. Please check your signature is correct."},"RequestId":"d"}}`,
		"+8613800138004": `{"Response":{"Error":{"Code":"FailedOperation.TemplateIncorrectOrUnapproved","Message":"template is not approved"},"RequestId":"e"}}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		host := strings.TrimPrefix(strings.TrimPrefix(r.Host, "http://"), "https://")
		if want := Authorization("sid", "skey", "sms", host, now, body); r.Header.Get("Authorization") != want {
			t.Errorf("authorization %q", r.Header.Get("Authorization"))
		}
		if r.Header.Get("X-TC-Action") != "SendSms" || r.Header.Get("X-TC-Version") != "2021-01-11" || r.Header.Get("X-TC-Timestamp") != "1796518923" {
			t.Errorf("headers %v", r.Header)
		}
		var req struct {
			PhoneNumberSet, TemplateParamSet  []string
			SmsSdkAppId, SignName, TemplateId string
		}
		if err := json.Unmarshal(body, &req); err != nil || len(req.PhoneNumberSet) != 1 || req.SmsSdkAppId != "1400000000" ||
			strings.Join(req.TemplateParamSet, ",") != "123456,5" {
			t.Errorf("body %s", body)
		}
		_, _ = w.Write([]byte(answers[req.PhoneNumberSet[0]]))
	}))
	defer srv.Close()
	s := New(Options{SecretID: "sid", SecretKey: "skey", SDKAppID: "1400000000", SignName: "下单", TemplateID: "123", Endpoint: srv.URL,
		Now: func() time.Time { return now }})
	for to, want := range map[string]error{
		"+8613800138000": nil, "+8613800138001": sms.ErrRateLimited, "+8613800138002": sms.ErrInvalidNumber,
		"+8613800138003": sms.ErrInvalidSignature, "+8613800138004": sms.ErrConfig,
	} {
		err := s.Send(context.Background(), sms.Message{To: to, Code: "123456", Minutes: 5})
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", to, err, want)
		}
	}
}
