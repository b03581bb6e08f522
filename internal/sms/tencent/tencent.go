// Package tencent sends codes with Tencent Cloud SMS (SendSms, API version 2021-01-11),
// signed with TC3-HMAC-SHA256.
package tencent

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xiadan/xiadan/internal/sms"
)

// Endpoint is Tencent Cloud SMS's API endpoint.
const Endpoint = "https://sms.tencentcloudapi.com"

const (
	service     = "sms"
	version     = "2021-01-11"
	contentType = "application/json; charset=utf-8"
)

// Options configure the sender.
type Options struct {
	SecretID, SecretKey string
	// SDKAppID is the SMS application (1400…); SignName the approved signature;
	// TemplateID a template whose {1} is the code and {2} the minutes it works.
	SDKAppID, SignName, TemplateID string
	// Region defaults to ap-guangzhou; Endpoint overrides https://sms.tencentcloudapi.com.
	Region, Endpoint string
	HTTPClient       *http.Client
	// Now is the clock (tests fix it).
	Now func() time.Time
}

// Sender is the Tencent Cloud adapter. It is safe for concurrent use.
type Sender struct{ o Options }

var _ sms.Sender = (*Sender)(nil)

// New returns the sender.
func New(o Options) *Sender {
	if o.Region == "" {
		o.Region = "ap-guangzhou"
	}
	if o.Endpoint == "" {
		o.Endpoint = Endpoint
	}
	o.Endpoint = strings.TrimSuffix(o.Endpoint, "/")
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sender{o}
}

// FromConfig returns the sender of c.
func FromConfig(c sms.Config, hc *http.Client) *Sender {
	return New(Options{SecretID: c.TencentSecretID, SecretKey: c.TencentSecretKey.Reveal(), SDKAppID: c.TencentSDKAppID,
		SignName: c.TencentSignName, TemplateID: c.TencentTemplateID, Region: c.TencentRegion, Endpoint: c.TencentEndpoint, HTTPClient: hc})
}

// Send calls SendSms for one E.164 number. Request-level failures come back as HTTP 200
// with Response.Error; per-number failures in SendStatusSet[].Code.
func (s *Sender) Send(ctx context.Context, m sms.Message) error {
	payload, _ := json.Marshal(map[string]any{
		"PhoneNumberSet":   []string{m.To},
		"SmsSdkAppId":      s.o.SDKAppID,
		"SignName":         s.o.SignName,
		"TemplateId":       s.o.TemplateID,
		"TemplateParamSet": []string{m.Code, strconv.Itoa(m.Minutes)},
	})
	u, err := url.Parse(s.o.Endpoint)
	if err != nil {
		return fmt.Errorf("%w: endpoint: %v", sms.ErrConfig, err)
	}
	now := s.o.Now().UTC()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.o.Endpoint+"/", bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("%w: %v", sms.ErrProvider, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-TC-Action", "SendSms")
	req.Header.Set("X-TC-Version", version)
	req.Header.Set("X-TC-Region", s.o.Region)
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("Authorization", Authorization(s.o.SecretID, s.o.SecretKey, service, u.Host, now, payload))
	res, err := s.o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: tencent SendSms: request failed", sms.ErrProvider)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil || res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: tencent SendSms: HTTP %d", sms.ErrProvider, res.StatusCode)
	}
	var a struct {
		Response struct {
			Error *struct {
				Code, Message string
			}
			SendStatusSet []struct {
				PhoneNumber, Code, Message string
			}
		}
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("%w: tencent SendSms: answer is not JSON", sms.ErrProvider)
	}
	if e := a.Response.Error; e != nil {
		return classify(e.Code, e.Message)
	}
	if len(a.Response.SendStatusSet) != 1 {
		return fmt.Errorf("%w: tencent SendSms: %d send statuses for one number", sms.ErrProvider, len(a.Response.SendStatusSet))
	}
	if st := a.Response.SendStatusSet[0]; st.Code != "Ok" {
		return classify(st.Code, st.Message)
	}
	return nil
}

// classify maps Tencent Cloud's error codes to the sms sentinels.
func classify(code, msg string) error {
	sentinel := sms.ErrProvider
	switch {
	case code == "AuthFailure.SignatureFailure" || code == "AuthFailure.SignatureExpire":
		sentinel = sms.ErrInvalidSignature
	case strings.HasPrefix(code, "LimitExceeded.PhoneNumber") || code == "RequestLimitExceeded" || code == "LimitExceeded.DeliveryFrequencyLimit":
		sentinel = sms.ErrRateLimited
	case code == "InvalidParameterValue.IncorrectPhoneNumber" || code == "FailedOperation.PhoneNumberInBlacklist" ||
		code == "FailedOperation.PhoneNumberParseFail" || code == "UnsupportedOperation.UnsupportedRegion":
		sentinel = sms.ErrInvalidNumber
	case strings.HasPrefix(code, "AuthFailure.") || code == "FailedOperation.InsufficientBalanceInSmsPackage" ||
		code == "FailedOperation.SignatureIncorrectOrUnapproved" || code == "FailedOperation.TemplateIncorrectOrUnapproved" ||
		code == "InvalidParameterValue.TemplateParameterFormatError" || code == "UnauthorizedOperation.SmsSdkAppIdVerifyFail":
		sentinel = sms.ErrConfig
	}
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return fmt.Errorf("%w: tencent SendSms: %s %s", sentinel, code, msg)
}

// Authorization is the TC3-HMAC-SHA256 Authorization header of a POST of payload (JSON)
// to host at t, signing the content-type and host headers.
func Authorization(secretID, secretKey, service, host string, t time.Time, payload []byte) string {
	date := t.UTC().Format("2006-01-02")
	const signedHeaders = "content-type;host"
	canonical := "POST\n/\n\ncontent-type:" + contentType + "\nhost:" + host + "\n\n" + signedHeaders + "\n" + sha256hex(payload)
	scope := date + "/" + service + "/tc3_request"
	toSign := "TC3-HMAC-SHA256\n" + strconv.FormatInt(t.Unix(), 10) + "\n" + scope + "\n" + sha256hex([]byte(canonical))
	key := hmacSHA256([]byte("TC3"+secretKey), date)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "tc3_request")
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	return "TC3-HMAC-SHA256 Credential=" + secretID + "/" + scope + ", SignedHeaders=" + signedHeaders + ", Signature=" + sig
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
