package aliyun

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/sms"
)

// TestSignMatchesAliyunsExample checks the signer against the worked example of Aliyun's
// SMS signature documentation (secret testSecret).
func TestSignMatchesAliyunsExample(t *testing.T) {
	q := CanonicalQuery(map[string]string{
		"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123", "PhoneNumbers": "15300000001",
		"RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
		"SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007",
		"TemplateParam": `{"customer":"test"}`, "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25",
	})
	if got := Sign("testSecret", "GET", q); got != "zJDF+Lrzhj/ThnlvIToysFRq6t4=" {
		t.Fatalf("signature %s", got)
	}
}

func TestSend(t *testing.T) {
	answers := map[string]struct {
		status int
		body   string
	}{
		"13800138000": {200, `{"Message":"OK","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990","Code":"OK","BizId":"900619746936498440^0"}`},
		"13800138001": {200, `{"Message":"触发号码天级流控Permits:10","RequestId":"2184201F-BFB3-446B-B1F2-C746B7BF0657","Code":"isv.BUSINESS_LIMIT_CONTROL"}`},
		"13800138002": {200, `{"Message":"手机号码格式错误","RequestId":"A5A35B1D-0E5F-4B22-9B1B-0D1E3C4A5B6C","Code":"isv.MOBILE_NUMBER_ILLEGAL"}`},
		"13800138003": {400, `{"RequestId":"B1C2D3E4-F5A6-4B7C-8D9E-0F1A2B3C4D5E","Message":"Specified signature is not matched with our calculation.","Recommend":"https://error-center.aliyun.com/status/search?Keyword=SignatureDoesNotMatch","HostId":"dysmsapi.aliyuncs.com","Code":"SignatureDoesNotMatch"}`},
		"13800138004": {200, `{"Message":"该账号下找不到对应模板","RequestId":"C1D2E3F4-A5B6-4C7D-8E9F-0A1B2C3D4E5F","Code":"isv.SMS_TEMPLATE_ILLEGAL"}`},
		"85291234567": {200, `{"Message":"OK","RequestId":"x","Code":"OK","BizId":"y"}`},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f := r.PostForm
		params := map[string]string{}
		for k := range f {
			if k != "Signature" {
				params[k] = f.Get(k)
			}
		}
		if Sign("k-secret", http.MethodPost, CanonicalQuery(params)) != f.Get("Signature") {
			t.Errorf("signature does not verify")
		}
		if f.Get("TemplateParam") != `{"code":"123456"}` || f.Get("SignName") != "下单" || f.Get("AccessKeyId") != "k-id" {
			t.Errorf("form %v", f)
		}
		a := answers[f.Get("PhoneNumbers")]
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	defer srv.Close()
	s := New(Options{AccessKeyID: "k-id", AccessKeySecret: "k-secret", SignName: "下单", TemplateCode: "SMS_1", Endpoint: srv.URL,
		Now: func() time.Time { return time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC) }})
	for to, want := range map[string]error{
		"+8613800138000": nil, "+8613800138001": sms.ErrRateLimited, "+8613800138002": sms.ErrInvalidNumber,
		"+8613800138003": sms.ErrInvalidSignature, "+8613800138004": sms.ErrConfig, "+85291234567": nil,
	} {
		err := s.Send(context.Background(), sms.Message{To: to, Code: "123456", Minutes: 5})
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", to, err, want)
		}
	}
}
